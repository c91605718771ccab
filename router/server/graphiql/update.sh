#!/usr/bin/env bash
# Reinstalls the pinned GraphiQL/React packages (package.json + package-lock.json)
# and copies the browser builds the router embeds into assets/.
# Run after changing a version in package.json (then `npm install` once to update
# the lock file) — `go build` itself never needs npm.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "update.sh: npm not found; install Node.js (e.g. apt-get install -y nodejs npm)" >&2
  exit 1
fi

npm ci --no-audit --no-fund --ignore-scripts

rm -rf assets
mkdir -p assets
cp node_modules/graphiql/graphiql.min.js       assets/graphiql.min.js
cp node_modules/graphiql/graphiql.min.css      assets/graphiql.min.css
cp node_modules/react/umd/react.production.min.js         assets/react.production.min.js
cp node_modules/react-dom/umd/react-dom.production.min.js assets/react-dom.production.min.js
# The packages are MIT licensed: ship their notices next to the code.
cp node_modules/graphiql/LICENSE  assets/LICENSE.graphiql.txt
cp node_modules/react/LICENSE     assets/LICENSE.react.txt
cp node_modules/react-dom/LICENSE assets/LICENSE.react-dom.txt

# Record the exact versions that were copied.
node -e '
  const v = n => require("./node_modules/" + n + "/package.json").version;
  console.log(JSON.stringify({graphiql: v("graphiql"), react: v("react"), "react-dom": v("react-dom")}, null, 2));
' > assets/versions.json

ls -l assets
