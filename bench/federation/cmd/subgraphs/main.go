// Command subgraphs serves the four subgraphs of the federation gateways benchmark
// (accounts :4201, products :4202, reviews :4203, inventory :4204) from memory.
//
//	subgraphs                       serve all four on 127.0.0.1
//	subgraphs -expected query.graphql   print what a gateway must answer, and exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/studio-platform/studio/bench/federation"
	"github.com/studio-platform/studio/bench/federation/internal/fedsub"
)

func main() {
	host := flag.String("host", "127.0.0.1", "listen host (loopback)")
	base := flag.Int("port", 4201, "port of accounts; products, reviews and inventory take the next three")
	expected := flag.String("expected", "", "print the monolith answer to this query file and exit")
	record := flag.String("record", "", "append requests whose Authorization is \"Bearer record\" to this JSON-lines file")
	requireAuth := flag.Bool("require-auth", true, "answer a GraphQL error to requests without a bearer token")
	cache := flag.Bool("cache", true, "answer a request body seen before from a response cache (the data is immutable)")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this loopback address (e.g. 127.0.0.1:6061)")
	flag.Parse()
	if *pprofAddr != "" {
		go func() { log.Print(http.ListenAndServe(*pprofAddr, nil)) }()
	}

	st := fedsub.NewStore()
	if *expected != "" {
		q, err := os.ReadFile(*expected)
		if err != nil {
			log.Fatal(err)
		}
		os.Stdout.Write(fedsub.Monolith(st).Execute(string(q), "", nil))
		return
	}
	var rec *fedsub.Recorder
	if *record != "" {
		var err error
		if rec, err = fedsub.NewRecorder(*record); err != nil {
			log.Fatal(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctors := []func(*fedsub.Store, string) *fedsub.Schema{fedsub.Accounts, fedsub.Products, fedsub.Reviews, fedsub.Inventory}
	names := []string{"accounts", "products", "reviews", "inventory"}
	errc := make(chan error, len(names))
	var servers []*http.Server
	for i, name := range names {
		sdl, err := federation.Schemas.ReadFile("schemas/" + name + ".graphql")
		if err != nil {
			log.Fatal(err)
		}
		addr := net.JoinHostPort(*host, fmt.Sprint(*base+i))
		h := &fedsub.Handler{Schema: ctors[i](st, string(sdl)), RequireAuth: *requireAuth, Cache: *cache, Recorder: rec, URL: "http://" + addr + "/graphql"}
		// HTTP/1.1, and HTTP/2 without TLS for a gateway that speaks it (studio router --subgraph-h2c).
		var protocols http.Protocols
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, Protocols: &protocols}
		servers = append(servers, srv)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("subgraph %s at http://%s/graphql", name, addr)
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
}
