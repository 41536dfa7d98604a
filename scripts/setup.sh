#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian bookworm machine, and nothing that is
# already there: Debian packages (compilers, Emscripten, Catch2, Chromium) and the npm dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  cmake ninja-build g++              # native build of the core and its tests
  catch2 nlohmann-json3-dev          # C++ tests (Catch2 v2) and reading the reference manifest
  emscripten binaryen wabt           # the WebAssembly build (Emscripten 3.1.6 on bookworm)
  chromium                           # browser tests and the demo tests, run headless
  git                                # unpacks the llama.cpp source node-llama-cpp ships (test harnesses)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi
