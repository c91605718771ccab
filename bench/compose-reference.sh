#!/usr/bin/env bash
# Compares our composition with Apollo's (@apollo/composition from npm) on the
# golden cases of router/compose/testdata (default: the auth* cases). Apollo's
# package is installed in a temporary folder outside the repository.
#
#   bench/compose-reference.sh                 # auth, auth_interfaces, auth_merge
#   bench/compose-reference.sh abstract enums  # any other cases
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
version=${APOLLO_COMPOSITION_VERSION:-2.14}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(auth auth_interfaces auth_merge)

(cd "$work" && npm init -y >/dev/null && npm install --silent "@apollo/composition@$version" >/dev/null)
cat >"$work/compose.js" <<'JS'
const fs = require('fs'), path = require('path');
const { composeServices } = require('@apollo/composition');
const { parse } = require('graphql');
const dir = process.argv[2];
const services = fs.readdirSync(dir).filter(f => f.endsWith('.graphql') && f !== 'supergraph.graphql').sort().map(f => {
  const name = f.replace(/\.graphql$/, '');
  return { name, url: `http://${name}:4000/graphql`, typeDefs: parse(fs.readFileSync(path.join(dir, f), 'utf8')) };
});
const r = composeServices(services);
if (r.errors) { for (const e of r.errors) console.error(e.extensions && e.extensions.code, e.message); process.exit(1); }
process.stdout.write(r.supergraphSdl);
JS
status=0
for c in "${cases[@]}"; do
  dir="$repo/router/compose/testdata/$c"
  if (cd "$work" && node compose.js "$dir") >"$work/$c.graphql" && diff -u "$work/$c.graphql" "$dir/supergraph.graphql" >"$work/$c.diff"; then
    echo "$c: identical"
  else
    echo "$c: DIFFERENT"; cat "$work/$c.diff"; status=1
  fi
done
exit $status
