/** The version written into output metadata (kept equal to package.json's by a test). */
export const HQQ_WASM_VERSION = '0.2.0';
export const HQQ_WASM_TOOL = 'hqq-wasm';
