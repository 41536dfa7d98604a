#!/usr/bin/env bash
# npm test: set up (apt packages, npm ci), build, then every test suite:
#   native C++ (Catch2 via CTest), the same under ASan+UBSan, Vitest in Node (wasm module, models,
#   CLI, safetensors), the output fault-injection test, the browser suite in headless Chromium, the
#   packaging test, the demo e2e.
#   CLI, safetensors), the GGML block types against llama.cpp's own ggml, the browser suite in headless Chromium, the packaging test, the demo e2e.
# Every suite runs even when an earlier one fails; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
bash scripts/build.sh || exit 1

failed=()
suite() {
  local name=$1
  shift
  echo
  echo "=================== $name ==================="
  if "$@"; then echo "[suite] $name: ok"; else echo "[suite] $name: FAILED"; failed+=("$name"); fi
}

sanitized_ctest() {
  cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHQQ_SANITIZE=ON >/dev/null &&
    cmake --build build/sanitize --target hqq_tests &&
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build/sanitize --output-on-failure -j2
}

suite "C++ tests (native, Release)" ctest --test-dir build/native --output-on-failure -j2
suite "C++ conformance summary" bash -c './build/native/hqq_tests "[conformance]" | grep "^\[conformance\]"'
suite "C++ tests (AddressSanitizer + UndefinedBehaviorSanitizer)" sanitized_ctest
suite "Vitest (Node: wasm module, safetensors, models, CLI)" npx vitest run
suite "Fault injection (the CLI killed at 200 random moments; docs/outputs.md)" node tests/faults/kill-points.mjs --kills 200
suite "Runtimes: llama.cpp (block types vs ggml; our GGUF files in node-llama-cpp); ONNX in onnxruntime-node, onnxruntime-web (Chromium), transformers.js" \
  npx vitest run --config tests/runtimes/vitest.config.ts
suite "Browser (headless Chromium)" bash scripts/test-browser.sh
suite "Packaging (npm pack -> Node, TypeScript, Vite, webpack, esbuild, Rollup, Parcel, Next.js, static page)" bash scripts/test-package.sh
if [ -f scripts/test-demo.sh ]; then
  suite "Demo (headless Chromium)" bash scripts/test-demo.sh
fi

echo
if ((${#failed[@]})); then
  echo "npm test: FAILED suites: ${failed[*]}"
  exit 1
fi
echo "npm test: all suites passed"
