#!/usr/bin/env bash
# npm test: set up, build, then every test (native C++, sanitizers, wasm in Node, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh

echo "== native C++ tests (Release) =="
ctest --test-dir build/native --output-on-failure -j2
./build/native/hqq_tests "[conformance]" | grep '^\[conformance\]'

echo "== native C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHQQ_SANITIZE=ON >/dev/null
cmake --build build/sanitize
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/sanitize --output-on-failure -j2
