/** Everything both entry points export besides `loadHQQ`. */
export { HQQ, SUPPORTED_NBITS, normalizeOptions } from './engine.js';
export type {
  EarlyStop, ErrorStatistics, InputDtype, Nbits, PackingName, QuantizeOptions, QuantizedTensor,
} from './engine.js';
export { HQQError } from './errors.js';
export type { HQQErrorCode } from './errors.js';
export { simdSupported } from './wasm-loader.js';
export type { LoadOptions, WasmSource } from './wasm-loader.js';
