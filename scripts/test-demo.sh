#!/usr/bin/env bash
# npm run test:demo: builds the demo (demo/dist) and runs its end-to-end tests in headless Chromium
# (tests/demo/demo.e2e.mjs). Writes test-artifacts/demo-results.png; pass --update-screenshot to
# also refresh docs/screenshot-demo.png. Set HQQ_SKIP_DEMO_BUILD=1 to test an existing demo/dist.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${HQQ_SKIP_DEMO_BUILD:-0}" != 1 ]; then
  bash scripts/build-demo.sh
fi
echo "== demo: end-to-end tests (headless Chromium) =="
node tests/demo/demo.e2e.mjs --dist demo/dist "$@"
