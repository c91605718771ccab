# Studio Platform — the two commands a newcomer needs are `make dev` and `make test`.
GO      ?= go
STUDIO  := bin/studio
DATA    ?= .data

.PHONY: dev test build vet generate compose check-generated test-go clean

## dev: start PostgreSQL, Redis, NATS, Neo4j, MinIO, every subgraph and the router (GraphiQL on :4000)
dev: build
	exec ./$(STUDIO) dev --data $(DATA)

## build: build the one binary
build:
	$(GO) build -o $(STUDIO) ./cmd/studio

## test: everything CI runs, from a clean clone with nothing running
test: build
	./$(STUDIO) stack --fast-unsafe --data $(DATA)/test -- $(MAKE) --no-print-directory check-generated vet test-go

## generate: regenerate gqlgen code for every subgraph
generate:
	$(GO) generate ./...

## compose: compose supergraph.yaml into schema/supergraph.graphql
compose: build
	./$(STUDIO) compose --config supergraph.yaml --out schema/supergraph.graphql

## check-generated: fail when `go generate` or `studio compose` would change a committed file
check-generated: generate compose
	@if [ -n "$$(git status --porcelain -- . ':!$(DATA)')" ]; then \
		echo "generated files are out of date (run 'make generate compose' and commit):"; \
		git status --porcelain; git --no-pager diff --stat; exit 1; fi

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The Node clients of the subscription tests (test/js: graphql-ws, graphql-sse),
# installed from the committed lock file; run by internal/platform's tests.
JS_DEPS := test/js/node_modules/.package-lock.json
$(JS_DEPS): test/js/package-lock.json
	npm ci --prefix test/js --no-audit --no-fund

test-go: $(JS_DEPS)
	$(GO) test -race -count=1 ./...

clean:
	rm -rf bin
