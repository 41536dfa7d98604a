#!/usr/bin/env bash
# Builds the llama.cpp harness of the GGUF tests and benchmarks (tests/runtimes/llama-harness/harness.c)
# against ggml's base library, OUTSIDE the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/hqq-wasm/llama.cpp-<tag>/          the source, cloned from the git
#                                                                     bundle node-llama-cpp ships
#   .../llama.cpp-<tag>/build-hqq-harness/                             ggml-base (static) and the harness
# The last line printed is the harness binary's path. Idempotent: a second run only checks.
#
# Build flags (so that llama.cpp's numbers are reproducible and comparable with ours):
#   cmake -DCMAKE_BUILD_TYPE=Release (-O3 -DNDEBUG, gcc) -DGGML_NATIVE=OFF (no -march=native: baseline
#   x86-64, so no FMA contraction either) -DGGML_OPENMP=OFF -DBUILD_SHARED_LIBS=OFF -DGGML_CPU=OFF
#   (only ggml-base: the reference quantizers and to_float live there); harness: cc -O2 -std=c11, linked with -lstdc++ (ggml-base has C++ parts).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
llama="$repo/node_modules/node-llama-cpp/llama"
if [ ! -f "$llama/gitRelease.bundle" ]; then
  echo "llama-harness: $llama/gitRelease.bundle is missing; run npm ci first (node-llama-cpp is a devDependency)" >&2
  exit 1
fi
tag="$(node -p "require('$llama/llama.cpp.info.json').tag")"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/hqq-wasm"
src="$cache/llama.cpp-$tag"
build="$src/build-hqq-harness"
bin="$build/hqq-llama-harness"
harness_src="$repo/tests/runtimes/llama-harness/harness.c"

if [ ! -f "$src/ggml/include/ggml.h" ]; then
  mkdir -p "$cache"
  rm -rf "$src.partial"
  echo "llama-harness: cloning llama.cpp $tag into $src" >&2
  git clone --quiet "$llama/gitRelease.bundle" "$src.partial" >&2
  mv "$src.partial" "$src"
fi

# Configured from the top level (the bundle's ggml/ alone lacks its pkg-config template); only the
# ggml-base target is built.
lib="$build/ggml/src/libggml-base.a"
if [ ! -f "$lib" ]; then
  echo "llama-harness: building ggml-base in $build" >&2
  cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DGGML_OPENMP=OFF -DBUILD_SHARED_LIBS=OFF -DGGML_CPU=OFF -DGGML_CCACHE=OFF \
    -DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF >&2
  cmake --build "$build" --target ggml-base >&2
fi

if [ ! -x "$bin" ] || [ "$harness_src" -nt "$bin" ] || [ "$lib" -nt "$bin" ]; then
  echo "llama-harness: compiling $harness_src" >&2
  cc -O2 -std=c11 -Wall -Wextra -I"$src/ggml/include" "$harness_src" "$lib" -lstdc++ -lm -lpthread -o "$bin.tmp" >&2
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
