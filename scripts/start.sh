#!/usr/bin/env bash
# npm start: set up, build the package and the demo, then serve demo/dist on http://localhost:PORT
# (default 5173) with the page's Content-Security-Policy header.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
HQQ_SKIP_PACKAGE_BUILD=1 bash scripts/build-demo.sh
exec node demo/serve.mjs demo/dist --port "${PORT:-5173}"
