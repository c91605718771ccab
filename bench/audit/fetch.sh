#!/usr/bin/env bash
# Downloads what a running federation-gateway-audit server serves for each suite
# into OUT/<suite>/: supergraph.graphql (composed by the official tooling),
# <subgraph>.graphql (each subgraph's SDL) and tests.json (queries + expected).
#
#   bench/audit/fetch.sh http://localhost:4200 OUT SUITE...
#
# The audit itself (github.com/graphql-hive/federation-gateway-audit) is not part
# of this repository: check it out and start `npm start -- serve` beside it; the
# suite names are the folders of its src/test-suites/.
set -euo pipefail
url=${1:?audit server URL}; out=${2:?output folder}; shift 2
[ $# -gt 0 ] || { echo "name at least one suite" >&2; exit 2; }
for suite in "$@"; do
  dir="$out/$suite"; mkdir -p "$dir"
  curl -sSf "$url/$suite/supergraph" -o "$dir/supergraph.graphql"
  curl -sSf "$url/$suite/tests" -o "$dir/tests.json"
  curl -sSf "$url/$suite/subgraphs" | python3 -c '
import json, sys, os
for sg in json.load(sys.stdin):
    open(os.path.join(sys.argv[1], sg["name"] + ".graphql"), "w").write(sg["sdl"])
' "$dir"
done
echo "fetched $# suites into $out"
