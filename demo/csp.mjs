// The demo's Content-Security-Policy. Everything the page needs comes from its own origin:
// scripts, module workers, the wasm (compiled under 'wasm-unsafe-eval'), styles, the built-in
// sample. Downloads use blob: URLs; the favicon is a data: URL. Nothing else is allowed.
//
// The policy goes into the built index.html as a <meta> tag (vite.config.ts) and serve.mjs sends
// the same policy as a header, read back from the built page so the two cannot drift apart.
//
// 'unsafe-eval' is NOT wanted: it is only added when the package's Emscripten glue
// (web/wasm/hqq.mjs) still builds Embind invokers with `new Function` (a link without
// -sDYNAMIC_EXECUTION=0), or when the package's protobufjs (web/dist/io/onnx/protobuf.js, used to
// read ONNX models) compiles its message decoders with `Function(...)` (protobufjs reflection
// does, until the package ships static decoders); the build prints a warning when that happens.
export function demoCsp({ unsafeEval = false } = {}) {
  return [
    "default-src 'none'",
    `script-src 'self' 'wasm-unsafe-eval'${unsafeEval ? " 'unsafe-eval'" : ''}`,
    "worker-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/** The policy as written in demo/index.html. */
export const CSP = demoCsp();

/** Only meaningful as a header (browsers ignore it in <meta>). */
export const CSP_HEADER_ONLY = "frame-ancestors 'none'";

/** Whether Emscripten glue source evaluates strings as code. */
export function glueNeedsEval(source) {
  return /\bnew Function\s*\(|[^\w.]eval\s*\(/.test(source);
}

/** Whether the package's protobufjs bundle compiles code from strings (reflection codegen). */
export function protobufNeedsEval(source) {
  return /(^|[^\w.])Function(\.apply)?\s*\(/.test(source);
}

const META = /<meta http-equiv="Content-Security-Policy" content="([^"]*)"\s*\/?>/;

/** The policy of a built index.html (undefined when it has none). */
export function cspOfHtml(html) {
  return META.exec(html)?.[1];
}

export { META as CSP_META_RE };
