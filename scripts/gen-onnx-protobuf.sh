#!/usr/bin/env bash
# Regenerates the static protobuf code of the ONNX reader/writer (web/src/io/onnx/generated/) from
# the message descriptor web/src/io/onnx/onnx-schema.json, with protobufjs-cli (devDependency).
# Static code, not protobufjs reflection: reflection compiles its encoders/decoders with Function()
# at run time, which a Content-Security-Policy without 'unsafe-eval' forbids. The generated code
# imports only protobufjs/minimal (Reader, Writer, util; no codegen).
#   usage: scripts/gen-onnx-protobuf.sh [OUT_DIR]   (default web/src/io/onnx/generated)
# tests/web/onnx/onnx-generated.test.ts regenerates into a temp dir and checks the committed copy.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/web/src/io/onnx/generated}"
mkdir -p "$out"
cd "$root"
# -r: a root name of our own, so another protobufjs user on the page (protobuf.roots.default) is
# left alone. --dependency with the .js extension: Node's ESM resolver needs it (no exports map).
npx --no-install pbjs -t static-module -w esm --keep-case --no-verify --no-delimited --no-service --no-typeurl \
  -r hqq-wasm-onnx --dependency protobufjs/minimal.js -d -o "$out/onnx-pb.js" web/src/io/onnx/onnx-schema.json
