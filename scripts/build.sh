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

# One glue module serves both binaries: the loader always hands it a compiled module. The glue is
# patched to drop its default wasm reference (bundlers would follow it; scripts/patch-glue.mjs checks
# that nothing of the kind is left), and the two patched glues must be identical.
mkdir -p web/wasm
node scripts/patch-glue.mjs build/wasm-simd/hqq-simd.mjs hqq-simd web/wasm/hqq.mjs
node scripts/patch-glue.mjs build/wasm-scalar/hqq-scalar.mjs hqq-scalar build/wasm-scalar/hqq-patched.mjs
if ! cmp -s web/wasm/hqq.mjs build/wasm-scalar/hqq-patched.mjs; then
  echo "build: the SIMD and scalar Emscripten glue differ; the loader needs one glue per build now" >&2
  exit 1
fi
cp build/wasm-simd/hqq-simd.wasm web/wasm/hqq-simd.wasm
cp build/wasm-scalar/hqq-scalar.wasm web/wasm/hqq-scalar.wasm

echo "== TypeScript =="
rm -rf web/dist
npx tsc -p tsconfig.json
# protobufjs (ONNX reader/writer) bundled into web/dist, so the package needs no bare specifier at
# run time (pages without a bundler) and no dependency (web/src/io/onnx/protobuf.ts).
pb_banner="/*! protobufjs $(node -p "require('protobufjs/package.json').version"), bundled by the hqq-wasm build. Its license:
$(cat node_modules/protobufjs/LICENSE) */"
npx esbuild web/src/io/onnx/protobuf.ts --bundle --format=esm --target=es2022 --platform=browser --log-level=warning \
  --minify --legal-comments=inline --sourcemap --banner:js="$pb_banner" --outfile=web/dist/io/onnx/protobuf.js
mkdir -p web/dist/io/onnx/generated
cp web/src/io/onnx/generated/onnx-pb.d.ts web/dist/io/onnx/generated/  # the types protobuf.d.ts re-exports
# The ONNX code must run under a Content-Security-Policy without 'unsafe-eval' (README): protobufjs
# reflection (Function()-compiled decoders) must not creep back in (web/src/io/onnx/protobuf.ts).
if grep -lE 'Function\(|\beval\(' web/dist/io/onnx/*.js; then
  echo "build: web/dist/io/onnx has Function()/eval (protobufjs reflection?); the ONNX code must stay static (scripts/gen-onnx-protobuf.sh)" >&2
  exit 1
fi

# The pool's worker script, self-contained (no imports): a bundler that copies it as an asset
# (Rollup's asset plugins) or one that copies nothing (esbuild, see docs/bundlers.md) still gets a
# working worker, and the bundlers that bundle workers (Vite, webpack, Parcel, Next.js) have one
# module to process.
echo "== worker bundle =="
npx esbuild web/src/worker.ts --bundle --format=esm --target=es2022 --platform=browser --log-level=warning \
  --outfile=web/wasm/hqq-worker.js
node scripts/check-worker-bundle.mjs web/wasm/hqq-worker.js
