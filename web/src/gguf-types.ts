/**
 * The GGML (llama.cpp) tensor types hqq-wasm reads and writes: GGML's ids and names, weights per
 * block and bytes per block (cpp/src/gguf/blocks.hpp documents every layout). Browser-safe: no
 * wasm needed to plan sizes.
 */
import { HQQError } from './errors.js';

/** The GGML tensor types `HQQ.quantizeGGUF` writes (and `dequantizeGGUF` reads), by GGML's names. */
export type GGUFTypeName =
  | 'F32' | 'F16' | 'BF16'
  | 'Q8_0' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1'
  | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K';

/** A GGML tensor type's id and block geometry (`GGUF_TYPES`). */
export interface GGUFTypeInfo {
  /** The type's GGML name, e.g. "Q4_K". */
  readonly name: GGUFTypeName;
  /** GGML's type id, as a GGUF tensor info stores it. */
  readonly id: number;
  /** Weights per block (a row is a whole number of blocks). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

const info = (name: GGUFTypeName, id: number, blockSize: number, typeSize: number): GGUFTypeInfo =>
  Object.freeze({ name, id, blockSize, typeSize });

/** Every supported type, in order of bits per weight within each family. */
export const GGUF_TYPES: readonly GGUFTypeInfo[] = Object.freeze([
  info('F32', 0, 1, 4), info('F16', 1, 1, 2), info('BF16', 30, 1, 2),
  info('Q8_0', 8, 32, 34), info('Q4_0', 2, 32, 18), info('Q4_1', 3, 32, 20), info('Q5_0', 6, 32, 22), info('Q5_1', 7, 32, 24),
  info('Q2_K', 10, 256, 84), info('Q3_K', 11, 256, 110), info('Q4_K', 12, 256, 144), info('Q5_K', 13, 256, 176), info('Q6_K', 14, 256, 210),
]);

const BY_NAME = new Map<string, GGUFTypeInfo>(GGUF_TYPES.map((t) => [t.name, t]));

// llama-quantize's file-type presets, which are not tensor types: an error can point the way.
const PRESETS = /^Q[2-6]_K_(S|M|L)$/i;

/** The type called `name`; an HQQError naming `what` and the supported names otherwise. */
export function ggufType(name: unknown, what = 'type'): GGUFTypeInfo {
  const t = typeof name === 'string' ? BY_NAME.get(name) : undefined;
  if (t) return t;
  const list = GGUF_TYPES.map((x) => x.name).join(', ');
  if (typeof name === 'string' && BY_NAME.has(name.toUpperCase())) {
    throw new HQQError('INVALID_ARGUMENT', `${what} '${name}' is not a GGUF tensor type; type names are upper case: '${name.toUpperCase()}'`);
  }
  if (typeof name === 'string' && PRESETS.test(name)) {
    throw new HQQError('INVALID_ARGUMENT', `${what} '${name}' is a llama-quantize preset (a mix of tensor types), not a tensor type; use one of ${list}`);
  }
  throw new HQQError('INVALID_ARGUMENT', `${what} ${typeof name === 'string' ? `'${name}'` : String(name)} is not a supported GGUF tensor type; use one of ${list}`);
}

/** Bytes of `rows` rows of `cols` weights of type `t` (cols must be a multiple of its block). */
export function ggufTensorBytes(t: GGUFTypeInfo, rows: number, cols: number): number {
  return rows * (cols / t.blockSize) * t.typeSize;
}
