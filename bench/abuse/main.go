// Command abuse measures what an abusive client costs normal clients: the
// whole graph (router with the public profile, its Redis edge and default
// limits; identity and compliance on PostgreSQL) on loopback, normal clients
// (closed loop, the README's dashboard query, each from its own address)
// measured alone, then while an open-loop abuser sends a fixed rate of
// requests that the router refuses: a one-address flood (429), many
// addresses sending queries over the cost limit (400) and password guesses
// as aliases (429 after the login budget). It prints the normal clients'
// p50/p95/p99 alone and under abuse, and the abuser's answers by status.
//
//	go run ./bench/abuse [-vus 10] [-rate 2000] [-duration 10s]
//
// PostgreSQL, Redis and MinIO come from DATABASE_URL / REDIS_URL / S3_URL when set (e.g.
// under `studio stack`), otherwise a private stack is started in a
// temporary directory.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/studio-platform/studio/internal/devstack"
	"github.com/studio-platform/studio/internal/platform"
	"github.com/studio-platform/studio/router"
	"github.com/studio-platform/studio/router/config"
	"github.com/studio-platform/studio/subgraphs/demo"
	"github.com/studio-platform/studio/subgraphs/documents/objects"
)

func main() {
	vus := flag.Int("vus", 10, "normal clients (closed loop)")
	rate := flag.Int("rate", 2000, "abusive requests per second (open loop)")
	duration := flag.Duration("duration", 10*time.Second, "length of each phase")
	supergraph := flag.String("supergraph", "schema/supergraph.graphql", "supergraph file")
	flag.Parse()
	if err := run(*vus, *rate, *duration, *supergraph); err != nil {
		fmt.Fprintln(os.Stderr, "abuse:", err)
		os.Exit(1)
	}
}

func run(vus, rate int, duration time.Duration, supergraph string) error {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "bench-abuse-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := devstack.Start(ctx, dir, devstack.WithoutNATS(), devstack.WithoutNeo4j(),
		devstack.WithFastUnsafePostgres(), devstack.WithLogger(quiet))
	if err != nil {
		return err
	}
	defer st.Close()
	db, err := devstack.CreateDatabase(ctx, st.DatabaseURL, fmt.Sprintf("bench_abuse_%d", time.Now().UnixNano()))
	if err != nil {
		return err
	}

	pub := router.ConfigFrom(config.Default(config.ProfilePublic))
	edge := pub.Edge
	edge.Redis.URL = st.RedisURL
	edge.Redis.KeyPrefix = fmt.Sprintf("bench:%d:", time.Now().UnixNano())
	edge.TrustedProxies = []string{"127.0.0.1/32"} // the addresses come in X-Forwarded-For
	// Every normal client is the demo user: its quota is out of the way; an
	// address keeps the public default (1,200 a minute), with a burst of 100.
	edge.RateLimit.PerUser = config.Rate{Requests: 10_000_000, Per: time.Minute, Burst: 1_000_000}
	edge.RateLimit.PerIP = config.Rate{Requests: 1_200, Per: time.Minute, Burst: 100}
	p, err := platform.Start(ctx, platform.Config{
		DatabaseURL:    db,
		SupergraphFile: supergraph,
		RouterAddr:     "127.0.0.1:0",
		IdentityAddr:   "127.0.0.1:0",
		ComplianceAddr: "127.0.0.1:0",
		DocumentsAddr:  "127.0.0.1:0",
		S3:             objects.Config{URL: st.S3URL, AccessKey: st.S3AccessKey, SecretKey: st.S3SecretKey, Bucket: "bench-abuse"},
		Seed:           true,
		RouterEdge:     edge,
	}, platform.WithLogger(quiet), platform.WithRouterConfig(func(c *router.Config) {
		c.DisableIntrospection = pub.DisableIntrospection
		c.DisableGraphiQL = pub.DisableGraphiQL
		c.HideQueryPlans = pub.HideQueryPlans
		c.Limits = pub.Limits
	}))
	if err != nil {
		return err
	}
	defer p.Close()
	url := p.RouterURL + "/graphql"
	token, err := login(url)
	if err != nil {
		return err
	}

	fmt.Printf("normal: %d clients, dashboard query; abuser: %d req/s open loop; %s per phase\n", vus, rate, duration)
	normal(url, token, vus, duration/5) // warm-up: plans, connections, buffer pools
	alone := normal(url, token, vus, duration)
	stop := make(chan struct{})
	counts := make(chan map[string]int, 1)
	go func() { counts <- abuse(url, rate, stop) }()
	under := normal(url, token, vus, duration)
	close(stop)
	report("alone", alone, duration)
	report("under abuse", under, duration)
	fmt.Printf("p95 under abuse / alone: %.2f\n", float64(pct(under, 95))/float64(pct(alone, 95)))
	byStatus := <-counts
	keys := make([]string, 0, len(byStatus))
	for k := range byStatus {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Print("abuser answers:")
	for _, k := range keys {
		fmt.Printf(" %s=%d", k, byStatus[k])
	}
	fmt.Println()
	return nil
}

func login(url string) (string, error) {
	q, _ := json.Marshal(map[string]string{"query": fmt.Sprintf(`mutation { login(email: %q, password: %q) { accessToken } }`, demo.DemoUser.Email, demo.Password)})
	resp, err := http.Post(url, "application/json", strings.NewReader(string(q)))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Login struct{ AccessToken string } `json:"login"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Data.Login.AccessToken == "" {
		return "", fmt.Errorf("login: %d %v", resp.StatusCode, err)
	}
	return out.Data.Login.AccessToken, nil
}

// normal runs vus closed-loop clients for d and returns every latency; a
// failed request ends the run with an error.
func normal(url, token string, vus int, d time.Duration) []time.Duration {
	body, _ := json.Marshal(map[string]string{"query": platform.DashboardQuery})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: vus}}
	var mu sync.Mutex
	var all []time.Duration
	var failed atomic.Int64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range vus {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(end) {
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i+1))
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || strings.Contains(string(raw), `"errors"`) {
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		fmt.Printf("normal clients: %d requests FAILED\n", n)
	}
	slices.Sort(all)
	return all
}

// abuse sends rate requests per second, each in its own goroutine (at most
// 1,024 outstanding: beyond, a request is counted as "skipped"), until stop.
func abuse(url string, rate int, stop chan struct{}) map[string]int {
	var aliases, guesses strings.Builder
	for i := range 100 {
		fmt.Fprintf(&aliases, "a%d: projects(first: 100) { nodes { name owner { email } controls(first: 100) { nodes { evidence(first: 100) { nodes { submittedBy { email } } } } } } } ", i)
	}
	for i := range 20 {
		fmt.Fprintf(&guesses, " g%d: login(email: %q, password: \"guess-%d\") { accessToken }", i, demo.DemoUser.Email, i)
	}
	bodies := [][]byte{
		mustJSON(`{ me { email } }`),
		mustJSON("{ " + aliases.String() + "}"),
		mustJSON("mutation {" + guesses.String() + " }"),
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}, Timeout: 10 * time.Second}
	var mu sync.Mutex
	counts := map[string]int{}
	count := func(k string) { mu.Lock(); counts[k]++; mu.Unlock() }
	sem := make(chan struct{}, 1024)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	for i := 0; ; i++ {
		select {
		case <-stop:
			wg.Wait()
			return counts
		default:
		}
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d) // the open loop's pace
		}
		select {
		case sem <- struct{}{}:
		default:
			count("skipped")
			continue
		}
		kind := i % 3
		wg.Go(func() {
			defer func() { <-sem }()
			req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(bodies[kind])))
			req.Header.Set("Content-Type", "application/json")
			addr := "203.0.113.7" // the one-address flood
			if kind > 0 {
				addr = fmt.Sprintf("198.18.%d.%d", rand.IntN(256), rand.IntN(256))
			}
			req.Header.Set("X-Forwarded-For", addr)
			resp, err := client.Do(req)
			if err != nil {
				count("error")
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			count(fmt.Sprint(resp.StatusCode))
		})
	}
}

func mustJSON(query string) []byte {
	b, _ := json.Marshal(map[string]string{"query": query})
	return b
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

func report(name string, lat []time.Duration, d time.Duration) {
	fmt.Printf("%-12s %6d requests (%4.0f/s)  p50 %6.1f ms  p95 %6.1f ms  p99 %6.1f ms\n", name, len(lat),
		float64(len(lat))/d.Seconds(), ms(pct(lat, 50)), ms(pct(lat, 95)), ms(pct(lat, 99)))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
