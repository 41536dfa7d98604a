#!/usr/bin/env bash
# Packaging test: npm pack, then one fixture per bundler and environment installs the tarball and
# uses it (Node, strict TypeScript + docs snippets, Vite, webpack, esbuild, Rollup, Parcel, Next.js,
# a plain page, failure messages; see tests/package/run.mjs). Needs `bash scripts/build.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node tests/package/run.mjs "$@"
