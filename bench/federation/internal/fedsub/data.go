// Package fedsub serves the four subgraphs of the federation gateways benchmark
// (accounts, products, reviews, inventory) from deterministic in-memory data, with a
// tiny executor over gqlparser ASTs that writes JSON straight into a buffer.
//
// It also answers the benchmark query as a monolith (all four schemas merged), which
// gives the expected gateway response without going through any gateway.
package fedsub

import "fmt"

// Data sizes: chosen so that the benchmark query's response is about 87 KB.
const (
	NumUsers    = 5
	NumProducts = 9
	NumReviews  = 24
)

// User is owned by accounts; reviews adds User.reviews.
type User struct {
	ID       string
	Name     string
	Username string
	Birthday int
	Reviews  []*Review
}

// Product is owned by products; reviews adds Product.reviews, inventory adds
// inStock and shippingEstimate (which @requires price and weight).
type Product struct {
	UPC     string
	Name    string
	Price   int
	Weight  int
	InStock bool
	Reviews []*Review
}

// Review is owned by reviews.
type Review struct {
	ID      string
	Body    string
	Author  *User
	Product *Product
}

// Store is the whole data set, with lookup indexes by key.
type Store struct {
	Users    []*User
	Products []*Product
	Reviews  []*Review
	userByID map[string]*User
	prodByUP map[string]*Product
}

var words = []string{
	"solid", "sturdy", "light", "bright", "quiet", "handy", "smooth", "compact",
	"reliable", "elegant", "cheap", "durable", "warm", "crisp", "simple", "clever",
}

// NewStore builds the deterministic data set.
func NewStore() *Store {
	s := &Store{userByID: map[string]*User{}, prodByUP: map[string]*Product{}}
	for i := 1; i <= NumUsers; i++ {
		u := &User{
			ID:       fmt.Sprint(i),
			Name:     fmt.Sprintf("User Number %d", i),
			Username: fmt.Sprintf("@user%d", i),
			Birthday: 1_000_000_000 + i*86_400*97,
		}
		s.Users = append(s.Users, u)
		s.userByID[u.ID] = u
	}
	for i := 1; i <= NumProducts; i++ {
		p := &Product{
			UPC:     fmt.Sprint(i),
			Name:    fmt.Sprintf("Product %s %s %d", words[i%len(words)], words[(i*5)%len(words)], i),
			Price:   100 + (i*397)%1900, // some above 1000: free shipping
			Weight:  50 + (i*131)%950,
			InStock: i%3 != 0,
		}
		s.Products = append(s.Products, p)
		s.prodByUP[p.UPC] = p
	}
	for i := 1; i <= NumReviews; i++ {
		u := s.Users[(i-1)%NumUsers]
		p := s.Products[((i-1)*7)%NumProducts]
		r := &Review{
			ID: fmt.Sprint(i),
			Body: fmt.Sprintf("Review %d: %s, %s and %s. Good buy.", i,
				words[i%len(words)], words[(i*3)%len(words)], words[(i*11)%len(words)]),
			Author:  u,
			Product: p,
		}
		u.Reviews = append(u.Reviews, r)
		p.Reviews = append(p.Reviews, r)
		s.Reviews = append(s.Reviews, r)
	}
	return s
}

// ShippingEstimate is free above a price of 1000, otherwise half the weight.
func ShippingEstimate(price, weight int) int {
	if price > 1000 {
		return 0
	}
	return weight / 2
}
