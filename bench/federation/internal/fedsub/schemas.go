package fedsub

import (
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"
)

// invProduct is inventory's view of a Product: the key plus the @requires fields
// that came in the representation.
type invProduct struct {
	p             *Product
	price, weight int
	hasRequires   bool
}

type service struct{ sdl string }

func scalar(fn func(parent any) any) *fieldDef {
	return &fieldDef{resolve: func(_ *execCtx, parent any, _ *ast.Field) any { return fn(parent) }}
}

func object(typ string, fn func(parent any) any) *fieldDef {
	return &fieldDef{typ: typ, resolve: func(_ *execCtx, parent any, _ *ast.Field) any { return fn(parent) }}
}

func userFields() map[string]*fieldDef {
	return map[string]*fieldDef{
		"id":       scalar(func(p any) any { return p.(*User).ID }),
		"name":     scalar(func(p any) any { return p.(*User).Name }),
		"username": scalar(func(p any) any { return p.(*User).Username }),
		"birthday": scalar(func(p any) any { return p.(*User).Birthday }),
	}
}

func productFields() map[string]*fieldDef {
	return map[string]*fieldDef{
		"upc":    scalar(func(p any) any { return p.(*Product).UPC }),
		"name":   scalar(func(p any) any { return p.(*Product).Name }),
		"price":  scalar(func(p any) any { return p.(*Product).Price }),
		"weight": scalar(func(p any) any { return p.(*Product).Weight }),
	}
}

func reviewFields() map[string]*fieldDef {
	return map[string]*fieldDef{
		"id":      scalar(func(p any) any { return p.(*Review).ID }),
		"body":    scalar(func(p any) any { return p.(*Review).Body }),
		"author":  object("User", func(p any) any { return p.(*Review).Author }),
		"product": object("Product", func(p any) any { return p.(*Review).Product }),
	}
}

func topProducts(st *Store) *fieldDef {
	return &fieldDef{typ: "Product", resolve: func(c *execCtx, _ any, f *ast.Field) any {
		n := 5
		if v := c.arg(f, "first"); v != nil {
			if i, ok := toInt(v); ok {
				n = i
			}
		}
		n = max(0, min(n, len(st.Products)))
		return st.Products[:n]
	}}
}

func serviceField(sdl string) *fieldDef {
	return object("_Service", func(any) any { return &service{sdl: sdl} })
}

// entities resolves _entities(representations:) with one lookup function per type.
func entities(lookup map[string]func(rep map[string]any) any) *fieldDef {
	return &fieldDef{typ: "_Entity", resolve: func(c *execCtx, _ any, f *ast.Field) any {
		reps, _ := c.arg(f, "representations").([]any)
		out := make([]any, len(reps))
		for i, r := range reps {
			rep, _ := r.(map[string]any)
			tn, _ := rep["__typename"].(string)
			fn := lookup[tn]
			if fn == nil {
				out[i] = resolveErr{msg: fmt.Sprintf("unknown entity type %q", tn)}
				continue
			}
			out[i] = fn(rep)
		}
		return out
	}}
}

func newSchema(name, sdl string, entityTypes []string, types map[string]map[string]*fieldDef) *Schema {
	types["_Service"] = map[string]*fieldDef{"sdl": scalar(func(p any) any { return p.(*service).sdl })}
	return &Schema{Name: name, SDL: sdl, types: types, entityTypes: entityTypes}
}

// Accounts: User @key(id), Query.me, Query.users.
func Accounts(st *Store, sdl string) *Schema {
	userByID := func(rep map[string]any) any {
		if id, ok := keyString(rep["id"]); ok {
			if u := st.userByID[id]; u != nil {
				return u
			}
		}
		return nil
	}
	return newSchema("accounts", sdl, []string{"User"}, map[string]map[string]*fieldDef{
		"Query": {
			"me":        object("User", func(any) any { return st.Users[0] }),
			"users":     object("User", func(any) any { return st.Users }),
			"_entities": entities(map[string]func(map[string]any) any{"User": userByID}),
			"_service":  serviceField(sdl),
		},
		"User": userFields(),
	})
}

// Products: Product @key(upc), Query.topProducts(first).
func Products(st *Store, sdl string) *Schema {
	byUPC := func(rep map[string]any) any {
		if upc, ok := keyString(rep["upc"]); ok {
			if p := st.prodByUP[upc]; p != nil {
				return p
			}
		}
		return nil
	}
	return newSchema("products", sdl, []string{"Product"}, map[string]map[string]*fieldDef{
		"Query": {
			"topProducts": topProducts(st),
			"_entities":   entities(map[string]func(map[string]any) any{"Product": byUPC}),
			"_service":    serviceField(sdl),
		},
		"Product": productFields(),
	})
}

// Reviews: Review, User.reviews, Product.reviews, Review.author @provides(username).
func Reviews(st *Store, sdl string) *Schema {
	lookup := map[string]func(map[string]any) any{
		"User": func(rep map[string]any) any {
			if id, ok := keyString(rep["id"]); ok {
				if u := st.userByID[id]; u != nil {
					return u
				}
			}
			return nil
		},
		"Product": func(rep map[string]any) any {
			if upc, ok := keyString(rep["upc"]); ok {
				if p := st.prodByUP[upc]; p != nil {
					return p
				}
			}
			return nil
		},
	}
	return newSchema("reviews", sdl, []string{"Product", "User"}, map[string]map[string]*fieldDef{
		"Query": {
			"_entities": entities(lookup),
			"_service":  serviceField(sdl),
		},
		"Review": reviewFields(),
		"User": {
			"id":       scalar(func(p any) any { return p.(*User).ID }),
			"username": scalar(func(p any) any { return p.(*User).Username }), // provided by Review.author
			"reviews":  object("Review", func(p any) any { return p.(*User).Reviews }),
		},
		"Product": {
			"upc":     scalar(func(p any) any { return p.(*Product).UPC }),
			"reviews": object("Review", func(p any) any { return p.(*Product).Reviews }),
		},
	})
}

// Inventory: Product.inStock, Product.shippingEstimate @requires(price weight).
func Inventory(st *Store, sdl string) *Schema {
	byUPC := func(rep map[string]any) any {
		upc, ok := keyString(rep["upc"])
		if !ok {
			return nil
		}
		p := st.prodByUP[upc]
		if p == nil {
			return nil
		}
		ip := &invProduct{p: p}
		price, ok1 := toInt(rep["price"])
		weight, ok2 := toInt(rep["weight"])
		ip.price, ip.weight, ip.hasRequires = price, weight, ok1 && ok2
		return ip
	}
	return newSchema("inventory", sdl, []string{"Product"}, map[string]map[string]*fieldDef{
		"Query": {
			"_entities": entities(map[string]func(map[string]any) any{"Product": byUPC}),
			"_service":  serviceField(sdl),
		},
		"Product": {
			"upc":     scalar(func(p any) any { return p.(*invProduct).p.UPC }),
			"inStock": scalar(func(p any) any { return p.(*invProduct).p.InStock }),
			"price":   scalar(func(p any) any { return p.(*invProduct).price }),
			"weight":  scalar(func(p any) any { return p.(*invProduct).weight }),
			"shippingEstimate": scalar(func(p any) any {
				ip := p.(*invProduct)
				if !ip.hasRequires {
					return resolveErr{msg: "shippingEstimate requires price and weight in the representation"}
				}
				return ShippingEstimate(ip.price, ip.weight)
			}),
		},
	})
}

// Monolith is the four schemas merged into one, resolved directly from the store:
// the reference for what a gateway must answer.
func Monolith(st *Store) *Schema {
	user := userFields()
	user["reviews"] = object("Review", func(p any) any { return p.(*User).Reviews })
	product := productFields()
	product["reviews"] = object("Review", func(p any) any { return p.(*Product).Reviews })
	product["inStock"] = scalar(func(p any) any { return p.(*Product).InStock })
	product["shippingEstimate"] = scalar(func(p any) any {
		pp := p.(*Product)
		return ShippingEstimate(pp.Price, pp.Weight)
	})
	return newSchema("monolith", "", nil, map[string]map[string]*fieldDef{
		"Query": {
			"me":          object("User", func(any) any { return st.Users[0] }),
			"users":       object("User", func(any) any { return st.Users }),
			"topProducts": topProducts(st),
		},
		"User":    user,
		"Product": product,
		"Review":  reviewFields(),
	})
}
