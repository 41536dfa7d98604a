/**
 * The protobuf code of the ONNX reader and writer: protobufjs's minimal build (Reader, Writer,
 * util) and the static message classes generated from onnx-schema.json (generated/onnx-pb.js,
 * scripts/gen-onnx-protobuf.sh). No protobufjs reflection: it compiles code with Function() at run
 * time, which pages with a Content-Security-Policy lacking 'unsafe-eval' forbid.
 *
 * scripts/build.sh replaces the compiled copy of this file in web/dist with a self-contained ESM
 * bundle of both (protobufjs's BSD-3-Clause notice kept, and checked free of Function()/eval), so
 * that a page loading web/dist without a bundler has no bare module specifier to resolve, and the
 * package has no run-time dependency for it.
 */
import protobuf from 'protobufjs/minimal.js';
import { onnx } from './generated/onnx-pb.js';

export const { Reader, Writer } = protobuf;
export { onnx };
