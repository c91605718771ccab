// Package federation holds the federation gateways benchmark: four subgraphs
// (cmd/subgraphs), a load generator (cmd/load) and run.sh. See README.md.
package federation

import "embed"

// Schemas holds the subgraph SDLs: schemas/<name>.graphql.
//
//go:embed schemas/*.graphql
var Schemas embed.FS
