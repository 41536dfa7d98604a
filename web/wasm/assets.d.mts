// Types of web/wasm/assets.mjs (hand-written JavaScript, so that its URLs stay literal for bundlers).
// Internal to the package: no public declaration refers to this file.
export declare function shippedWasmUrl(flavour: 'simd' | 'scalar'): URL;
export declare function poolWorkerUrl(): URL;
