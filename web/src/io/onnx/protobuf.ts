/**
 * protobufjs (the light build: reflection, Reader, Writer), the one protobuf library the ONNX
 * reader and writer use. scripts/build.sh replaces the compiled copy of this file in web/dist with
 * a self-contained ESM bundle of protobufjs (its BSD-3-Clause notice kept), so that a page loading
 * web/dist without a bundler has no bare module specifier to resolve, and the package has no
 * run-time dependency for it.
 */
import protobuf from 'protobufjs/light.js';

export default protobuf;
