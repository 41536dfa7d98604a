// The package's runtime files, each named by a literal new-URL-relative-to-import.meta.url
// expression in this module, which sits beside them. Bundlers that follow the pattern (Vite, webpack 5, Parcel, Next.js,
// Rollup with an import-meta-assets plugin) copy the files and rewrite the URLs; with one that copies
// nothing (esbuild), the URLs point beside the bundle, where docs/bundlers.md has the files copied.
// Keep every URL literal and relative: that is what bundlers can see. The worker script is
// self-contained (the build bundles it), so a plain copy of it works.

/** @param {'simd' | 'scalar'} flavour */
export function shippedWasmUrl(flavour) {
  return flavour === 'simd' ? new URL('./hqq-simd.wasm', import.meta.url) : new URL('./hqq-scalar.wasm', import.meta.url);
}

/** The pool's worker script (`hqq-wasm/worker`). */
export function poolWorkerUrl() {
  return new URL('./hqq-worker.js', import.meta.url);
}
