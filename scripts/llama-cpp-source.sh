#!/usr/bin/env bash
# Prints a directory holding the requested files of the llama.cpp source that node-llama-cpp ships
# (node_modules/node-llama-cpp/llama/gitRelease.bundle, a git bundle), extracting them on first use
# into ${XDG_CACHE_HOME:-$HOME/.cache}/hqq-wasm/llama-cpp-src-<bundle hash>/ (outside the repo;
# nothing is vendored). Arguments are git pathspecs, e.g. ':(glob)ggml/src/*.c' or
# 'tests/snapshots'. With LLAMA_CPP_DIR set, prints that checkout instead.
#   usage: scripts/llama-cpp-source.sh PATHSPEC...
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${LLAMA_CPP_DIR:-}" ]; then
  echo "$LLAMA_CPP_DIR"
  exit 0
fi
BUNDLE=$PWD/node_modules/node-llama-cpp/llama/gitRelease.bundle
[ -f "$BUNDLE" ] || { echo "llama-cpp-source: $BUNDLE is missing; run npm ci (node-llama-cpp is a devDependency) or set LLAMA_CPP_DIR" >&2; exit 1; }
(($#)) || { echo "usage: $0 PATHSPEC..." >&2; exit 2; }
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hqq-wasm
DEST=$CACHE/llama-cpp-src-$(sha256sum "$BUNDLE" | cut -c1-16)
marker=$DEST/.extracted-$(printf '%s\n' "$@" | sha256sum | cut -c1-16)
if [ ! -f "$marker" ]; then
  mkdir -p "$CACHE"
  work=$(mktemp -d "$CACHE/tmp.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  git init -q "$work/repo"
  git -C "$work/repo" fetch -q "$BUNDLE" 2>/dev/null
  mkdir -p "$work/out"
  git -C "$work/repo" archive FETCH_HEAD -- "$@" | tar -x -C "$work/out"
  mkdir -p "$DEST"
  cp -r "$work/out/." "$DEST/"
  touch "$marker"
fi
echo "$DEST"
