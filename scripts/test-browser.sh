#!/usr/bin/env bash
# Browser tests: the built package (web/dist + web/wasm) in Debian's headless Chromium through
# playwright-core. Needs `bash scripts/build.sh` first. Pass --no-bench to skip the 4096x4096 timing.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node tests/browser/run.mjs "$@"
