#!/usr/bin/env bash
# Packaging test: npm pack, install the tarball into an empty project, then use it from a Node ESM
# script, a Vite app (in headless Chromium) and a plain static page. Needs `bash scripts/build.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node tests/package/run.mjs "$@"
