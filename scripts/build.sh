#!/usr/bin/env bash
# Builds everything: the native library and tests, the two wasm binaries (SIMD and scalar) with
# their shared Emscripten glue, and the TypeScript package (web/dist).
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs  # Emscripten 3.1.6's JS optimizer needs Debian's acorn

echo "== native build =="
cmake -S . -B build/native -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/native

for flavour in simd scalar; do
  echo "== wasm build ($flavour) =="
  simd=ON
  [ "$flavour" = scalar ] && simd=OFF
  if [ ! -f "build/wasm-$flavour/build.ninja" ]; then
    emcmake cmake -S . -B "build/wasm-$flavour" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DHQQ_WASM_MODULE=ON -DHQQ_BUILD_TESTS=OFF -DHQQ_SIMD=$simd >/dev/null
  fi
  cmake --build "build/wasm-$flavour"
done

# One glue module serves both binaries: the loader always hands it a compiled module. Make sure
# the two generated glues really are the same apart from the file name.
if ! cmp -s <(sed 's/hqq-simd/hqq/g' build/wasm-simd/hqq-simd.mjs) <(sed 's/hqq-scalar/hqq/g' build/wasm-scalar/hqq-scalar.mjs); then
  echo "build: the SIMD and scalar Emscripten glue differ; the loader needs one glue per build now" >&2
  exit 1
fi
mkdir -p web/wasm
cp build/wasm-simd/hqq-simd.wasm web/wasm/hqq-simd.wasm
cp build/wasm-scalar/hqq-scalar.wasm web/wasm/hqq-scalar.wasm
sed 's/hqq-simd/hqq/g' build/wasm-simd/hqq-simd.mjs > web/wasm/hqq.mjs

echo "== TypeScript =="
rm -rf web/dist
npx tsc -p tsconfig.json
