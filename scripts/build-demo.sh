#!/usr/bin/env bash
# npm run build:demo: builds the static demo into demo/dist (works from any static host: relative
# paths). Builds the package first (scripts/build.sh) unless HQQ_SKIP_PACKAGE_BUILD=1, generates the
# built-in sample model into demo/public/sample/, type-checks the demo and runs the Vite build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${HQQ_SKIP_PACKAGE_BUILD:-0}" != 1 ]; then
  bash scripts/build.sh
fi
echo "== demo: sample model =="
node scripts/make-sample-model.mjs
echo "== demo: type check =="
npx tsc -p demo/tsconfig.json
echo "== demo: vite build =="
npx vite build --config demo/vite.config.ts --logLevel warn
du -sh demo/dist | awk '{print "demo: built demo/dist (" $1 ")"}'
