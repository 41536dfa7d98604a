/**
 * The quantizer API over one wasm instance. No numerics here: this file validates options, copies
 * input bytes into wasm memory, calls the C++ core through the Embind functions and turns their
 * results into plain objects. Errors become HQQError with the core's message.
 */
import { shown } from './arguments.js';
import { HQQError, type HQQErrorCode } from './errors.js';
import { ggufTensorBytes, ggufType, type GGUFTypeName } from './gguf-types.js';

export { GGUF_TYPES, type GGUFTypeInfo, type GGUFTypeName } from './gguf-types.js';

/** Bits per weight the reference supports; 1.58 is ternary (levels 0..2, packed as 2-bit). */
export type Nbits = 8 | 6 | 5 | 4 | 3 | 2 | 1.58 | 1;
/** Every supported `Nbits`, largest first. */
export const SUPPORTED_NBITS: readonly Nbits[] = [8, 6, 5, 4, 3, 2, 1.58, 1];
/**
 * The reference's packing format of `W_q`: levels per byte (8, 4: two per byte, 2: four, 1:
 * eight; 6 and 5 bits are stored one per byte in 8bit_u8) or, for 3 bits, ten levels per int32
 * word (3bit_32).
 */
export type PackingName = '8bit_u8' | '4bit_u8' | '3bit_32' | '2bit_u8' | '1bit_u8';
/** Element type of the input: float32 (a Float32Array), or float16 / bfloat16 bits (a Uint16Array). */
export type InputDtype = 'f32' | 'f16' | 'bf16';
/**
 * How the solver stops: 'global' (the reference) stops all groups when the whole tensor's error
 * stops falling; 'per-group-best' keeps each group's best zero point (lower error, not the
 * reference's answer).
 */
export type EarlyStop = 'global' | 'per-group-best';

/**
 * The largest tensor (in elements) one wasm instance quantizes: the core needs a few bytes of
 * working memory per element and refuses counts whose byte sizes could overflow its 32-bit
 * address space (numel > 2^32 / 16).
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 28 - 1;

/** Options of `HQQ.quantize`, with the reference's defaults. */
export interface QuantizeOptions {
  /** Bits per weight: 8, 6, 5, 4, 3, 2, 1.58 or 1. Default 4. */
  nbits?: Nbits;
  /** Values per quantization group; must divide the element count. Default 64. */
  groupSize?: number;
  /** 1: a group is `groupSize` consecutive values (default); 0: a column of the [g, N/g] view. */
  axis?: 0 | 1;
  /** Run the HQQ zero-point solver (default true); false is plain round-to-nearest. */
  optimize?: boolean;
  /** Round the initial zero point to an integer (reference default: false; HQQLinear 4-bit: true). */
  roundZero?: boolean;
  /** Solver lp-norm p, 0 < p <= 1. Default 0.7. */
  lpNorm?: number;
  /** Solver beta > 0. Default 10. */
  beta?: number;
  /** Solver beta growth >= 1. Default 1.01; 1 reproduces PyPI hqq 0.2.8 (constant beta). */
  kappa?: number;
  /** Solver iterations, 0..1000. Default 20. */
  iters?: number;
  /** 'global' (the reference, default) or 'per-group-best' (lower error, not the reference). */
  earlyStop?: EarlyStop;
  /** Element type of `data` when it is a Uint16Array: 'f16' or 'bf16'. */
  dtype?: InputDtype;
  /**
   * The dtype scale and zero will be stored in (the reference's compute dtype), default 'f32'.
   * With 'f16' or 'bf16' the returned `scale` and `zero` hold the rounded values (encode16 of
   * them is exact), `stats` describe the dequantization with them, and a value the dtype cannot
   * hold (a float16 scale above 65504) is an INVALID_VALUE error instead of an Inf in the file.
   */
  scaleDtype?: ScaleDtype;
}

/** The dtype scale and zero are rounded to (`QuantizeOptions.scaleDtype`). */
export type ScaleDtype = 'f32' | 'f16' | 'bf16';

/** Reconstruction error of a quantized tensor (W_r = dequantized W). */
export interface ErrorStatistics {
  /** mean |W - W_r| */
  meanAbs: number;
  /** max |W - W_r| */
  maxAbs: number;
  /** ||W - W_r||_F */
  frobenius: number;
  /** ||W - W_r||_F / ||W||_F */
  relFrobenius: number;
  /** ||W||_F, to aggregate relative errors over several tensors */
  weightFrobenius: number;
}

/** The result of `HQQ.quantize`: packed levels, per-group parameters, the config and the error. */
export interface QuantizedTensor {
  /** Packed levels in the reference layout (3bit_32: little-endian int32 words as bytes). */
  packed: Uint8Array;
  /** Per-group dequantization multiplier, in group order. */
  scale: Float32Array;
  /** Per-group zero point in level units, in group order. */
  zero: Float32Array;
  /** Original weight shape. */
  shape: number[];
  /** Bits per weight it was quantized with. */
  nbits: Nbits;
  /** Values per group it was quantized with. */
  groupSize: number;
  /** Grouping axis it was quantized with (see `QuantizeOptions.axis`). */
  axis: 0 | 1;
  /** Reference packing format name. */
  packing: PackingName;
  /** Shape of the packed array ([rows, cols]; 3-bit: int32 elements). */
  packedShape: [number, number];
  /** The grouped matrix the levels live in: [N/g, g] (axis 1) or [g, N/g] (axis 0). */
  groupedShape: [number, number];
  /** Whether the zero-point solver ran (false: plain round-to-nearest). */
  optimize: boolean;
  /** Whether the initial zero point was rounded to an integer. */
  roundZero: boolean;
  /** Solver iterations run, counted as the reference counts them (0 without optimize). */
  iterations: number;
  /** Whole-tensor mean |W - W_r| after each solver iteration (global early stop only). */
  errorTrace: Float32Array;
  /**
   * Groups (of nonzero range) whose grid spans at most half its levels because of the scale
   * limits the reference applies (a range of at most 1e-4 gets 1/scale = 1; 1/scale is at most
   * 2e4). Such groups hold very small weights (e.g. std below ~1e-4 at 4 bits, ~1e-3 at 8 bits)
   * and have at least twice the error their bits allow. 0 normally.
   */
  limitedGroups: number;
  /** Reconstruction error of this result. */
  stats: ErrorStatistics;
}

/** Options of `HQQ.quantizeGGUF`. */
export interface GGUFQuantizeOptions {
  /** Element type of `data` when it is a Uint16Array: 'f16' or 'bf16'. */
  dtype?: 'f16' | 'bf16';
  /**
   * 'optimized' (default): hqq-wasm's quantizer, never worse than llama.cpp's on any block by both
   * sum |err| and sum err^2. 'reference': llama.cpp's own reference quantizer, byte for byte.
   */
  method?: 'optimized' | 'reference';
  /** Also report the error statistics of llama.cpp's quantizer on the same weights. */
  compareReference?: boolean;
}

/** The result of `HQQ.quantizeGGUF`: GGML blocks and their error. */
export interface GGUFQuantizedTensor {
  /** The GGML type the blocks are in. */
  type: GGUFTypeName;
  /** [rows, cols]: cols (GGUF's ne[0]) is a multiple of the type's block size. */
  shape: [number, number];
  /** The tensor's data as a GGUF file stores it: rows of blocks. */
  bytes: Uint8Array;
  /** Error of the bytes written, against the input. */
  stats: ErrorStatistics;
  /** Error of llama.cpp's reference quantizer (with compareReference, or method 'reference'). */
  reference?: ErrorStatistics;
}

/** Options of `HQQ.quantizeNBits` (onnxruntime's com.microsoft MatMulNBits). */
export interface NBitsOptions {
  /** Bits per weight: 2, 4 or 8. */
  bits: 2 | 4 | 8;
  /** Weights per block along K: 16, 32, 64, 128 or 256, the sizes onnxruntime runs (32 is the usual choice). */
  blockSize: number;
  /**
   * 'uint8': packed integer zero points (every execution provider, WebGPU included), from the
   * integer-zero HQQ solver; 'float': zero points in the scale type, exact HQQ (CPU/wasm EPs).
   */
  zeroPoints: 'uint8' | 'float';
  /** Layout of the input: MatMul's B is [K, N] ('KN'); Gemm with transB = 1 holds [N, K] ('NK'). */
  layout: 'KN' | 'NK';
  /** Element type of the input bytes, default 'F32'. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Type of scales (and float zero points): the graph's A type. Default 'float32'. */
  scaleType?: 'float32' | 'float16';
  /** Run the solver (default true); false is round-to-nearest (onnxruntime's for uint8 zero points). */
  optimize?: boolean;
  /** Also report the error of onnxruntime's RTN (asymmetric, uint8 zero points) on the same blocks. */
  compareBaseline?: boolean;
}

/** Error sums of a reconstruction (pool TaskStats): they add up over tensors exactly. */
export interface NBitsStats {
  /** Number of weights compared: K * N (the padding of a partial last block does not count). */
  count: number;
  /** Sum of |W - W_r| over them. */
  sumAbs: number;
  /** Sum of (W - W_r)^2. */
  sumSq: number;
  /** Largest |W - W_r|. */
  maxAbs: number;
  /** Sum of W^2 (for the relative error sqrt(sumSq / sumWSq)). */
  sumWSq: number;
}

/** The MatMulNBits initializers of one weight, with the error of the stored values. */
export interface NBitsResult {
  /** Input features (the reduction axis the blocks run along). */
  K: number;
  /** Output features (columns of B; each quantized on its own). */
  N: number;
  /** Blocks per output column: ceil(K / blockSize); the last is partial when blockSize does not divide K. */
  nBlocks: number;
  /** B: uint8 [N, nBlocks, blockSize * bits / 8], levels along K, low bits first. */
  qweight: Uint8Array;
  /** Raw little-endian bytes of scales [N, nBlocks] in scaleType. */
  scales: Uint8Array;
  /** uint8 packed [N, ceil(nBlocks * bits / 8)], or raw bytes of float [N, nBlocks] in scaleType. */
  zeroPoints: Uint8Array;
  /** Error of the stored (rounded) values against the input weights. */
  stats: NBitsStats;
  /** onnxruntime's RTN on the same blocks (with compareBaseline). */
  baseline?: NBitsStats;
  /** Solver iterations (the most any block ran; 0 without optimize). */
  iterations: number;
}

/** What `HQQ.dequantizeNBits` needs to know about the node. */
export interface NBitsDequantizeOptions {
  /** The node's K attribute: input features, a positive integer. */
  K: number;
  /** The node's N attribute: output features, a positive integer. */
  N: number;
  /** The node's bits attribute: 2, 4 or 8. */
  bits: number;
  /** The node's block_size attribute: a power of two >= 16. */
  blockSize: number;
  /** Element type of the scales bytes (and of float zero points): the node's A type. */
  scaleType: 'float32' | 'float16';
  /** 'none': the node has no zero_points input (the operator then uses 2^(bits-1)). */
  zeroPoints: 'uint8' | 'float' | 'none';
  /** Layout of the output: [K, N] ('KN') or [N, K] ('NK'). */
  layout: 'KN' | 'NK';
}

/** What the Embind module exposes (see cpp/bindings/embind.cpp). */
export interface HQQWasmModule {
  /** The wasm heap as bytes (replaced when memory grows: read it after every call that allocates). */
  HEAPU8: Uint8Array;
  /** Allocates `bytes` on the wasm heap; returns the address, 0 when out of memory. */
  _malloc(bytes: number): number;
  /** Frees an address `_malloc` returned. */
  _free(ptr: number): void;
  /** HQQ quantization of the tensor at `ptr` (the binding behind `HQQ.quantize`). */
  quantize(ptr: number, dtype: number, shape: number[], options: NormalizedOptions, packedInto: Uint8Array | undefined): WasmResult;
  /** Unpacks packed levels to one byte per level (behind `HQQ.unpack`). */
  unpack(ptr: number, bytes: number, nbits: number, rows: number, cols: number): WasmResult;
  /** Dequantizes packed levels with per-group scale and zero (behind `HQQ.dequantize`). */
  dequantize(ptr: number, bytes: number, nbits: number, axis: number, rows: number, cols: number,
    scalePtr: number, zeroPtr: number, nGroups: number): WasmResult;
  /** Rounds `n` float32 values to float16 or bfloat16 bits (behind `HQQ.encode16`). */
  encode16(ptr: number, n: number, kind: number): WasmResult;
  /** Widens `n` float16 or bfloat16 values to float32 (behind `HQQ.decode16`). */
  decode16(ptr: number, n: number, kind: number): WasmResult;
  /** GGML block quantization of `rows` x `cols` values (behind `HQQ.quantizeGGUF`). */
  quantizeGGUF(ptr: number, dtype: number, rows: number, cols: number, typeId: number, method: number, compareReference: boolean): WasmResult;
  /** Decodes GGML blocks to float32 (behind `HQQ.dequantizeGGUF`). */
  dequantizeGGUF(ptr: number, bytes: number, rows: number, cols: number, typeId: number): WasmResult;
  /** MatMulNBits quantization of `rows` x `cols` weights, dtype 0 f32, 1 f16, 2 bf16 (behind `HQQ.quantizeNBits`). */
  quantizeNBits(ptr: number, dtype: number, rows: number, cols: number, options: Required<Omit<NBitsOptions, 'dtype'>>): WasmResult;
  /** MatMulNBits initializers to float32 (behind `HQQ.dequantizeNBits`); scaleType 0 f32, 1 f16; zeros 0 none, 1 uint8, 2 float; layout 0 KN, 1 NK. */
  dequantizeNBits(q: number, qBytes: number, s: number, sBytes: number, z: number, zBytes: number, K: number, N: number,
    bits: number, blockSize: number, scaleType: number, zeros: number, layout: number): WasmResult;
  /** The name of the kernel set this build runs (SIMD or scalar). */
  kernelName(): string;
  /** Bytes of the wasm heap in use (malloc's `uordblks`), for leak checks. */
  heapInUse(): number;
}

/**
 * What a binding returns: `ok` true with its outputs under their names (`[key: string]`: typed
 * arrays copied out of the heap, numbers, statistics), or `ok` false with the HQQError `code` and
 * the `message`, which the engine turns into an HQQError.
 */
type WasmResult = { ok: true; [key: string]: any } | { ok: false; code: string; message: string };

/** `QuantizeOptions` validated, with every default filled in (`normalizeOptions`). */
interface NormalizedOptions {
  /** As `QuantizeOptions.nbits` (default 4). */
  nbits: Nbits;
  /** As `QuantizeOptions.groupSize` (default 64). */
  groupSize: number;
  /** As `QuantizeOptions.axis` (default 1). */
  axis: 0 | 1;
  /** As `QuantizeOptions.optimize` (default true). */
  optimize: boolean;
  /** As `QuantizeOptions.roundZero` (default false). */
  roundZero: boolean;
  /** As `QuantizeOptions.lpNorm` (default 0.7). */
  lpNorm: number;
  /** As `QuantizeOptions.beta` (default 10). */
  beta: number;
  /** As `QuantizeOptions.kappa` (default 1.01). */
  kappa: number;
  /** As `QuantizeOptions.iters` (default 20). */
  iters: number;
  /** As `QuantizeOptions.earlyStop` (default 'global'). */
  earlyStop: EarlyStop;
  /** As `QuantizeOptions.scaleDtype` (default 'f32'). */
  scaleDtype: ScaleDtype;
}

const DEFAULTS: NormalizedOptions = {
  nbits: 4, groupSize: 64, axis: 1, optimize: true, roundZero: false,
  lpNorm: 0.7, beta: 10, kappa: 1.01, iters: 20, earlyStop: 'global', scaleDtype: 'f32',
};

const OPTION_NAMES = new Set([...Object.keys(DEFAULTS), 'dtype']);
const SNAKE_TO_CAMEL: Record<string, string> = {
  group_size: 'groupSize', round_zero: 'roundZero', lp_norm: 'lpNorm', early_stop: 'earlyStop', scale_dtype: 'scaleDtype',
};

function invalid(message: string): never {
  throw new HQQError('INVALID_ARGUMENT', message);
}

/** Validates user options and fills in the reference's defaults. */
export function normalizeOptions(options: QuantizeOptions | undefined): NormalizedOptions {
  if (options === undefined) return { ...DEFAULTS };
  if (options === null || typeof options !== 'object') invalid(`options must be an object, got ${options === null ? 'null' : typeof options}`);
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) {
      const hint = SNAKE_TO_CAMEL[key] ? `; did you mean ${SNAKE_TO_CAMEL[key]}?` : `; known options: ${[...OPTION_NAMES].join(', ')}`;
      invalid(`unknown option "${key}"${hint}`);
    }
  }
  const o = { ...DEFAULTS } as NormalizedOptions;
  const given = options as Record<string, unknown>;
  const pick = <K extends keyof NormalizedOptions>(k: K) => (given[k] === undefined ? DEFAULTS[k] : given[k]);
  const nbits = pick('nbits');
  if (typeof nbits !== 'number' || !SUPPORTED_NBITS.includes(nbits as Nbits)) {
    invalid(`nbits = ${shown(nbits)} is not supported; use one of ${SUPPORTED_NBITS.join(', ')}`);
  }
  o.nbits = nbits as Nbits;
  const g = pick('groupSize');
  if (typeof g !== 'number' || !Number.isSafeInteger(g) || g <= 0 || g > MAX_TENSOR_ELEMENTS) invalid(`groupSize = ${shown(g)} is invalid; use a positive integer that divides the element count (default 64)`);
  o.groupSize = g;
  const axis = pick('axis');
  if (axis !== 0 && axis !== 1) invalid(`axis = ${shown(axis)} is invalid; use 1 (default: groups of consecutive values) or 0`);
  o.axis = axis;
  for (const k of ['optimize', 'roundZero'] as const) {
    const v = pick(k);
    if (typeof v !== 'boolean') invalid(`${k} must be true or false, got ${String(v)}`);
    o[k] = v;
  }
  for (const k of ['lpNorm', 'beta', 'kappa'] as const) {
    const v = pick(k);
    if (typeof v !== 'number' || !Number.isFinite(v)) invalid(`${k} must be a finite number, got ${String(v)}`);
    o[k] = v;
  }
  const iters = pick('iters');
  if (typeof iters !== 'number' || !Number.isInteger(iters)) invalid(`iters must be an integer (0..1000, default 20), got ${String(iters)}`);
  if (iters < 0 || iters > 1000) invalid(`iters = ${iters} is out of range; use 0..1000 (default 20)`);
  o.iters = iters;
  const stop = pick('earlyStop');
  if (stop !== 'global' && stop !== 'per-group-best') invalid(`earlyStop = ${shown(stop)} is invalid; use 'global' (the reference) or 'per-group-best'`);
  o.earlyStop = stop;
  const sd = pick('scaleDtype');
  if (sd !== 'f32' && sd !== 'f16' && sd !== 'bf16') invalid(`scaleDtype = ${shown(sd)} is invalid; use 'f32' (default), 'f16' or 'bf16' (the dtype scale/zero are stored in)`);
  o.scaleDtype = sd;
  return o; // value ranges of lpNorm, beta and kappa are checked by the C++ core with its messages
}

/** True when `buf` was detached (transferred to a worker, or resized away): its views read nothing. */
function isDetached(buf: ArrayBufferLike): boolean {
  const flag = (buf as { detached?: unknown }).detached; // Node >= 22, current browsers
  if (typeof flag === 'boolean') return flag;
  if (buf.byteLength !== 0) return false;
  try {
    new Uint8Array(buf); // throws on a detached buffer
    return false;
  } catch {
    return true;
  }
}

/** Refuses a typed array whose buffer was transferred away (its length reads as 0). */
function checkAttached(view: ArrayBufferView, name: string): void {
  if (isDetached(view.buffer)) {
    invalid(`${name} is a view on a detached ArrayBuffer (it was transferred, e.g. with postMessage to a worker, and holds nothing any more); pass the data before transferring it, or a copy`);
  }
}

const GGUF_OPTION_NAMES = new Set(['dtype', 'method', 'compareReference']);

/** [rows, cols] of a GGUF tensor, checked against the data length and the type's block. */
function checkGGUFShape(fn: string, shape: unknown, blockSize: number, type: string, length?: number): [number, number] {
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d > 0)) {
    invalid(`${fn}: shape must be [rows, cols] of positive integers (cols = GGUF's ne[0], along which blocks run), got ${JSON.stringify(shape)}`);
  }
  const [rows, cols] = shape as [number, number];
  if (cols % blockSize !== 0) {
    invalid(`${fn}: shape ${JSON.stringify(shape)}: ${type} stores rows in blocks of ${blockSize} weights, and ${cols} columns are not a multiple of ${blockSize}; pick a type whose block divides the row length`);
  }
  if (rows * cols > MAX_TENSOR_ELEMENTS) {
    invalid(`${fn}: shape ${JSON.stringify(shape)} has ${rows * cols} weights, more than one wasm instance handles per call (${MAX_TENSOR_ELEMENTS}); split the tensor into row ranges (blocks never span rows, so the ranges' bytes concatenate)`);
  }
  if (length !== undefined && rows * cols !== length) invalid(`${fn}: shape ${JSON.stringify(shape)} has ${rows * cols} weights but data holds ${length} values`);
  return [rows, cols];
}

function checkShape(shape: unknown, length: number): number[] {
  if (!Array.isArray(shape) || shape.length === 0) invalid(`shape must be a non-empty array of dimensions such as [rows, cols], got ${JSON.stringify(shape)}`);
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d <= 0) invalid(`shape ${JSON.stringify(shape)} must hold positive integers`);
    n *= d;
  }
  if (n !== length) invalid(`shape ${JSON.stringify(shape)} has ${n} elements but data holds ${length} values`);
  return [...shape];
}

/** An HQQ quantizer bound to one wasm instance. Create it with `loadHQQ()`. */
export class HQQ {
  /** 'simd' or 'scalar': which wasm build this instance runs. */
  readonly flavour: 'simd' | 'scalar';
  /**
   * The compiled module, to share with workers without compiling again:
   * `createWebPool({ module: hqq.module })`, `createNodePool(...)`, or `loadHQQ({ wasm: hqq.module })`.
   */
  readonly module: WebAssembly.Module;
  readonly #m: HQQWasmModule;

  /** Internal: use `loadHQQ()`, which instantiates the wasm module and its glue. */
  constructor(m: HQQWasmModule, module: WebAssembly.Module) {
    this.#m = m;
    this.module = module;
    this.flavour = m.kernelName() === 'scalar' ? 'scalar' : 'simd';
  }

  /** Name of the kernel set in use ('wasm-simd128' or 'scalar'). */
  get kernel(): string {
    return this.#m.kernelName();
  }

  /** Bytes currently allocated on the wasm heap (for leak checks). */
  heapInUse(): number {
    return this.#m.heapInUse();
  }

  /**
   * Quantizes one weight tensor: `data` holds `shape`'s elements row-major (a Float32Array, or a
   * Uint16Array of float16 / bfloat16 bits with `options.dtype`). The input is copied; the result
   * owns its arrays. Throws HQQError: INVALID_ARGUMENT (options, shape, a group size or row count
   * the packing cannot hold), INVALID_VALUE (NaN/Inf, with the first position), OUT_OF_MEMORY.
   *
   * `into.packed`: a Uint8Array to receive the packed levels instead of a fresh one, used only when
   * it is exactly their length (else a fresh array is returned, and `into.packed` is untouched), so
   * always use the returned `packed`. Callers that quantize many tensors of one shape (the model
   * pipeline) recycle their output memory with it.
   */
  quantize(data: Float32Array | Uint16Array, shape: readonly number[], options?: QuantizeOptions,
    into?: {
      /** Receives the packed levels when it is exactly their length (see above). */
      packed?: Uint8Array;
    }): QuantizedTensor {
    const opts = normalizeOptions(options);
    const packedInto = into?.packed;
    if (packedInto !== undefined) {
      if (!(packedInto instanceof Uint8Array)) invalid(`into.packed must be a Uint8Array, got ${describe(packedInto)}`);
      checkAttached(packedInto, 'into.packed');
    }
    const dtype = options?.dtype;
    let dtypeCode: number;
    if (data instanceof Float32Array) {
      if (dtype !== undefined && dtype !== 'f32') invalid(`dtype '${dtype}' needs a Uint16Array of raw 16-bit values; data is a Float32Array`);
      dtypeCode = 0;
    } else if (data instanceof Uint16Array) {
      if (dtype !== 'f16' && dtype !== 'bf16') invalid(`a Uint16Array holds 16-bit floats: pass dtype: 'f16' or 'bf16' in the options`);
      dtypeCode = dtype === 'f16' ? 1 : 2;
    } else {
      invalid(`data must be a Float32Array, or a Uint16Array with dtype 'f16' | 'bf16'; got ${describe(data)}`);
    }
    checkAttached(data, 'data');
    const dims = checkShape(shape, data.length);
    // 16-bit input is handed over to the core, which frees it once decoded (lower peak memory).
    const r = this.#withInput([data], ([ptr]) => this.#m.quantize(ptr, dtypeCode, dims, opts, packedInto), dtypeCode !== 0);
    const groupedShape: [number, number] = [r.groupedRows, r.groupedCols];
    return {
      packed: r.packed, scale: r.scale, zero: r.zero, shape: dims, nbits: opts.nbits,
      groupSize: opts.groupSize, axis: opts.axis, packing: r.packing,
      packedShape: [r.packedRows, r.packedCols], groupedShape, optimize: opts.optimize,
      roundZero: opts.roundZero, iterations: r.iterations, errorTrace: r.errorTrace, limitedGroups: r.limitedGroups,
      stats: {
        meanAbs: r.meanAbs, maxAbs: r.maxAbs, frobenius: r.frobenius, relFrobenius: r.relFrobenius,
        weightFrobenius: r.weightFrobenius,
      },
    };
  }

  /** The levels (0..2^nbits-1), one byte each, in the grouped layout `q.groupedShape`. */
  unpack(q: Pick<QuantizedTensor, 'packed' | 'nbits' | 'groupedShape'>): Uint8Array {
    const [rows, cols] = checkGrouped(q);
    checkAttached(asBytes(q.packed, 'q.packed'), 'q.packed');
    const r = this.#withInput([q.packed], ([ptr]) => this.#m.unpack(ptr, q.packed.byteLength, q.nbits, rows, cols));
    return r.levels;
  }

  /** (level - zero) * scale in float32, in the original shape (row-major). */
  dequantize(q: Pick<QuantizedTensor, 'packed' | 'nbits' | 'groupedShape' | 'axis' | 'scale' | 'zero'>): Float32Array {
    const [rows, cols] = checkGrouped(q);
    if (q.axis !== 0 && q.axis !== 1) invalid(`q.axis = ${shown(q.axis)} is invalid; it must be the axis the tensor was quantized with, 0 or 1`);
    if (!(q.scale instanceof Float32Array) || !(q.zero instanceof Float32Array)) invalid('q.scale and q.zero must be Float32Arrays');
    checkAttached(asBytes(q.packed, 'q.packed'), 'q.packed');
    checkAttached(q.scale, 'q.scale');
    checkAttached(q.zero, 'q.zero');
    if (q.scale.length !== q.zero.length) invalid(`q.scale has ${q.scale.length} values but q.zero has ${q.zero.length}`);
    const r = this.#withInput([asBytes(q.packed, 'q.packed'), q.scale, q.zero], ([p, s, z]) =>
      this.#m.dequantize(p, q.packed.byteLength, q.nbits, q.axis, rows, cols, s, z, q.scale.length));
    return r.values;
  }

  /**
   * Quantizes a [rows, cols] tensor to a GGML (llama.cpp) type: the block bytes a GGUF file stores
   * for it, with error statistics. 16-bit input (`dtype` 'f16' | 'bf16') is decoded a block run
   * at a time inside the core: no float32 copy is made. At most MAX_TENSOR_ELEMENTS weights per
   * call: split larger tensors into row ranges.
   */
  quantizeGGUF(data: Float32Array | Uint16Array, shape: readonly [number, number], type: GGUFTypeName, options?: GGUFQuantizeOptions): GGUFQuantizedTensor {
    const fn = 'quantizeGGUF';
    const t = ggufType(type, `${fn}: type`);
    if (options !== undefined && (options === null || typeof options !== 'object')) invalid(`${fn}: options must be an object, got ${options === null ? 'null' : typeof options}`);
    for (const key of Object.keys(options ?? {})) {
      if (!GGUF_OPTION_NAMES.has(key)) invalid(`${fn}: unknown option "${key}"; known options: ${[...GGUF_OPTION_NAMES].join(', ')}`);
    }
    const { dtype, method = 'optimized', compareReference = false } = options ?? {};
    if (method !== 'optimized' && method !== 'reference') invalid(`${fn}: method must be 'optimized' (default) or 'reference', got ${String(method)}`);
    if (typeof compareReference !== 'boolean') invalid(`${fn}: compareReference must be true or false, got ${String(compareReference)}`);
    let dtypeCode: number;
    if (data instanceof Float32Array) {
      if (dtype !== undefined) invalid(`${fn}: dtype '${String(dtype)}' needs a Uint16Array of raw 16-bit values; data is a Float32Array`);
      dtypeCode = 0;
    } else if (data instanceof Uint16Array) {
      if (dtype !== 'f16' && dtype !== 'bf16') invalid(`${fn}: a Uint16Array holds 16-bit floats: pass dtype: 'f16' or 'bf16' in the options (got ${String(dtype)})`);
      dtypeCode = dtype === 'f16' ? 1 : 2;
    } else {
      invalid(`${fn}: data must be a Float32Array, or a Uint16Array with dtype 'f16' | 'bf16'; got ${describe(data)}`);
    }
    checkAttached(data, `${fn}: data`);
    const [rows, cols] = checkGGUFShape(fn, shape, t.blockSize, t.name, data.length);
    // 16-bit input is handed over: the core frees it after the call.
    const r = this.#withInput([data], ([ptr]) =>
      this.#m.quantizeGGUF(ptr, dtypeCode, rows, cols, t.id, method === 'reference' ? 0 : 1, compareReference), dtypeCode !== 0);
    const out: GGUFQuantizedTensor = { type: t.name, shape: [rows, cols], bytes: r.bytes, stats: r.stats };
    if (r.reference) out.reference = r.reference;
    return out;
  }

  /** The float32 values of a GGUF tensor's block bytes, bit-identical to llama.cpp's dequantization. */
  dequantizeGGUF(bytes: Uint8Array, shape: readonly [number, number], type: GGUFTypeName): Float32Array {
    const fn = 'dequantizeGGUF';
    const t = ggufType(type, `${fn}: type`);
    if (!(bytes instanceof Uint8Array)) invalid(`${fn}: bytes must be a Uint8Array of the tensor's block data, got ${describe(bytes)}`);
    checkAttached(bytes, `${fn}: bytes`);
    const [rows, cols] = checkGGUFShape(fn, shape, t.blockSize, t.name);
    const expected = ggufTensorBytes(t, rows, cols);
    if (bytes.byteLength !== expected) {
      invalid(`${fn}: ${t.name} data of shape ${JSON.stringify(shape)} is ${expected} bytes, but bytes holds ${bytes.byteLength}`);
    }
    return this.#withInput([bytes], ([p]) => this.#m.dequantizeGGUF(p, bytes.byteLength, rows, cols, t.id)).values;
  }

  /**
   * Quantizes one MatMul/Gemm weight to onnxruntime's MatMulNBits initializers. `weights` holds
   * `shape` = [rows, cols] row-major in `options.layout` ([K, N] for 'KN', [N, K] for 'NK'): a
   * Float32Array, a Uint16Array of float16/bfloat16 bits (dtype 'F16' | 'BF16'), or a Uint8Array
   * of the raw bytes of `options.dtype`. K need not be a multiple of blockSize. Throws HQQError:
   * INVALID_ARGUMENT (options, shape, data length), INVALID_VALUE (NaN/Inf with its position, a
   * float16 scale or zero point that overflows), OUT_OF_MEMORY.
   */
  quantizeNBits(weights: Uint8Array | Float32Array | Uint16Array, shape: readonly [number, number], options: NBitsOptions): NBitsResult {
    const fn = 'quantizeNBits';
    const o = normalizeNBitsOptions(options);
    const dtypeCode = nbitsDtypeCode(weights, o.dtype);
    checkAttached(weights, `${fn}: weights`);
    const elements = weights.byteLength / (dtypeCode === 0 ? 4 : 2);
    if (!Number.isInteger(elements)) invalid(`${fn}: weights hold ${weights.byteLength} bytes, not a whole number of ${o.dtype} values`);
    if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
      invalid(`${fn}: shape must be [rows, cols] of positive integers ([K, N] for layout 'KN', [N, K] for 'NK'), got ${JSON.stringify(shape)}`);
    }
    const [rows, cols] = shape;
    if (rows * cols !== elements) invalid(`${fn}: shape ${JSON.stringify(shape)} has ${rows * cols} weights but weights hold ${elements} ${o.dtype} values`);
    if (elements > MAX_TENSOR_ELEMENTS) invalid(`${fn}: ${elements} weights are more than one wasm instance handles per call (${MAX_TENSOR_ELEMENTS}); split the weight along N (output columns are independent)`);
    const { dtype: _dtype, ...core } = o;
    const r = this.#withInput([weights], ([ptr]) => this.#m.quantizeNBits(ptr, dtypeCode, rows, cols, core));
    const out: NBitsResult = {
      K: r.K, N: r.N, nBlocks: r.nBlocks, qweight: r.qweight, scales: r.scales, zeroPoints: r.zeroPoints,
      stats: r.stats, iterations: r.iterations,
    };
    if (r.baseline) out.baseline = r.baseline;
    return out;
  }

  /**
   * MatMulNBits initializers -> float32 weights ([K, N] or [N, K]), as the operator computes them.
   * Sizes are checked against `opts` (INVALID_ARGUMENT); non-finite scales or float zero points are
   * INVALID_VALUE.
   * @param q.qweight The node's B bytes, uint8 [N, nBlocks, blockSize * bits / 8] (as `NBitsResult.qweight`).
   * @param q.scales Raw little-endian bytes of scales [N, nBlocks] in `opts.scaleType`.
   * @param q.zeroPoints The zero_points bytes, required unless `opts.zeroPoints` is 'none'.
   */
  dequantizeNBits(q: { qweight: Uint8Array; scales: Uint8Array; zeroPoints?: Uint8Array }, opts: NBitsDequantizeOptions): Float32Array {
    const fn = 'dequantizeNBits';
    if (q === null || typeof q !== 'object') invalid(`${fn}: q must be { qweight, scales, zeroPoints? }`);
    if (opts === null || typeof opts !== 'object') invalid(`${fn}: opts must be { K, N, bits, blockSize, scaleType, zeroPoints, layout }`);
    const { K, N, bits, blockSize, scaleType, zeroPoints, layout } = opts;
    for (const [k, v] of Object.entries({ K, N, bits, blockSize })) {
      if (!Number.isSafeInteger(v) || (v as number) <= 0 || (v as number) >= 2 ** 32) invalid(`${fn}: ${k} must be a positive integer, got ${String(v)}`);
    }
    if (scaleType !== 'float32' && scaleType !== 'float16') invalid(`${fn}: scaleType must be 'float32' or 'float16', got ${String(scaleType)}`);
    if (zeroPoints !== 'uint8' && zeroPoints !== 'float' && zeroPoints !== 'none') invalid(`${fn}: zeroPoints must be 'uint8', 'float' or 'none', got ${String(zeroPoints)}`);
    if (layout !== 'KN' && layout !== 'NK') invalid(`${fn}: layout must be 'KN' or 'NK', got ${String(layout)}`);
    if (K * N > MAX_TENSOR_ELEMENTS) invalid(`${fn}: K * N = ${K * N} is more than one wasm instance handles per call (${MAX_TENSOR_ELEMENTS})`);
    const inputs: Uint8Array[] = [asBytes(q.qweight, `${fn}: q.qweight`), asBytes(q.scales, `${fn}: q.scales`)];
    if (zeroPoints !== 'none') {
      if (q.zeroPoints === undefined) invalid(`${fn}: q.zeroPoints is missing but zeroPoints is '${zeroPoints}'; pass it, or zeroPoints: 'none'`);
      inputs.push(asBytes(q.zeroPoints, `${fn}: q.zeroPoints`));
    }
    inputs.forEach((a, i) => checkAttached(a, `${fn}: ${['q.qweight', 'q.scales', 'q.zeroPoints'][i]}`));
    const zeros = zeroPoints === 'none' ? 0 : zeroPoints === 'uint8' ? 1 : 2;
    return this.#withInput(inputs, ([qp, sp, zp]) => this.#m.dequantizeNBits(qp!, inputs[0]!.byteLength, sp!, inputs[1]!.byteLength,
      zp ?? 0, inputs[2]?.byteLength ?? 0, K, N, bits, blockSize, scaleType === 'float16' ? 1 : 0, zeros, layout === 'NK' ? 1 : 0)).values;
  }

  /** float32 -> float16 or bfloat16 bits (round to nearest even), e.g. for scale/zero storage. */
  encode16(values: Float32Array, kind: 'f16' | 'bf16'): Uint16Array {
    if (!(values instanceof Float32Array)) invalid('encode16 needs a Float32Array');
    checkAttached(values, 'values');
    if (kind !== 'f16' && kind !== 'bf16') invalid(`encode16 kind must be 'f16' or 'bf16', got ${String(kind)}`);
    return this.#withInput([values], ([p]) => this.#m.encode16(p, values.length, kind === 'f16' ? 1 : 2)).values;
  }

  /** float16 or bfloat16 bits -> float32. */
  decode16(values: Uint16Array, kind: 'f16' | 'bf16'): Float32Array {
    if (!(values instanceof Uint16Array)) invalid('decode16 needs a Uint16Array');
    checkAttached(values, 'values');
    if (kind !== 'f16' && kind !== 'bf16') invalid(`decode16 kind must be 'f16' or 'bf16', got ${String(kind)}`);
    return this.#withInput([values], ([p]) => this.#m.decode16(p, values.length, kind === 'f16' ? 1 : 2)).values;
  }

  /**
   * Copies inputs into wasm memory, runs `call`, frees them whatever happens; with
   * `firstConsumed` the callee owns (and frees) the first input once the call has started.
   */
  #withInput(inputs: ArrayBufferView[], call: (ptrs: number[]) => WasmResult, firstConsumed = false): any {
    const ptrs: number[] = [];
    let handedOver = false;
    try {
      for (const input of inputs) {
        const bytes = input.byteLength;
        const ptr = bytes >= 2 ** 32 ? 0 : this.#m._malloc(Math.max(bytes, 1)) >>> 0; // _malloc takes a u32: 4 GiB would wrap to 0
        if (ptr === 0) {
          throw new HQQError('OUT_OF_MEMORY', `cannot allocate ${bytes} bytes of wasm memory for the input (the 4 GiB wasm address space is full); process smaller tensors or fewer at once`);
        }
        ptrs.push(ptr);
        // HEAPU8 is replaced when memory grows: read it after every allocation.
        this.#m.HEAPU8.set(new Uint8Array(input.buffer, input.byteOffset, bytes), ptr);
      }
      handedOver = firstConsumed;
      const r = call(ptrs);
      if (!r.ok) throw new HQQError(r.code as HQQErrorCode, jsOptionNames(r.message));
      return r;
    } finally {
      ptrs.forEach((ptr, i) => {
        if (!(handedOver && i === 0)) this.#m._free(ptr);
      });
    }
  }
}

// The C++ core names options as its Config fields do; say them the way JavaScript callers spell them.
const CPP_TO_JS_OPTION: Record<string, string> = {
  group_size: 'groupSize', lp_norm: 'lpNorm', round_zero: 'roundZero', early_stop: 'earlyStop',
  'solver lpNorm': 'lpNorm', 'solver beta': 'beta', 'solver kappa': 'kappa', 'solver iters': 'iters',
};
function jsOptionNames(message: string): string {
  return message
    .replace(/\b(group_size|lp_norm|round_zero|early_stop)\b/g, (m) => CPP_TO_JS_OPTION[m] ?? m)
    .replace(/\bsolver (lpNorm|beta|kappa|iters)\b/g, '$1');
}

const NBITS_OPTION_NAMES = new Set(['bits', 'blockSize', 'zeroPoints', 'layout', 'dtype', 'scaleType', 'optimize', 'compareBaseline']);

/** Checks `quantizeNBits` options and fills in the defaults. */
function normalizeNBitsOptions(options: NBitsOptions): Required<NBitsOptions> {
  const fn = 'quantizeNBits';
  if (options === null || typeof options !== 'object') invalid(`${fn}: options { bits, blockSize, zeroPoints, layout } are required, got ${options === null ? 'null' : typeof options}`);
  for (const key of Object.keys(options)) {
    if (!NBITS_OPTION_NAMES.has(key)) invalid(`${fn}: unknown option "${key}"; known options: ${[...NBITS_OPTION_NAMES].join(', ')}`);
  }
  const { bits, blockSize, zeroPoints, layout, dtype = 'F32', scaleType = 'float32', optimize = true, compareBaseline = false } = options;
  if (bits !== 2 && bits !== 4 && bits !== 8) invalid(`${fn}: bits = ${shown(bits)} is not supported; use 2, 4 or 8`);
  if (!Number.isSafeInteger(blockSize) || blockSize < 16 || blockSize > 256 || (blockSize & (blockSize - 1)) !== 0) {
    invalid(`${fn}: blockSize = ${shown(blockSize)} is invalid; onnxruntime's MatMulNBits takes 16, 32, 64, 128 or 256`);
  }
  if (zeroPoints !== 'uint8' && zeroPoints !== 'float') invalid(`${fn}: zeroPoints must be 'uint8' (every execution provider, WebGPU included) or 'float' (CPU/wasm), got ${String(zeroPoints)}`);
  if (layout !== 'KN' && layout !== 'NK') invalid(`${fn}: layout must be 'KN' (MatMul B, [K, N]) or 'NK' (Gemm transB = 1, [N, K]), got ${String(layout)}`);
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') invalid(`${fn}: dtype must be 'F32', 'F16' or 'BF16', got ${String(dtype)}`);
  if (scaleType !== 'float32' && scaleType !== 'float16') invalid(`${fn}: scaleType must be 'float32' or 'float16' (the graph's A type), got ${String(scaleType)}`);
  if (typeof optimize !== 'boolean') invalid(`${fn}: optimize must be true or false, got ${String(optimize)}`);
  if (typeof compareBaseline !== 'boolean') invalid(`${fn}: compareBaseline must be true or false, got ${String(compareBaseline)}`);
  return { bits, blockSize, zeroPoints, layout, dtype, scaleType, optimize, compareBaseline };
}

/** The core's dtype code of `quantizeNBits` input (0 f32, 1 f16, 2 bf16), checked against the array type. */
function nbitsDtypeCode(weights: unknown, dtype: 'F32' | 'F16' | 'BF16'): number {
  const fn = 'quantizeNBits';
  if (weights instanceof Float32Array) {
    if (dtype !== 'F32') invalid(`${fn}: dtype '${dtype}' needs a Uint16Array (or Uint8Array) of raw 16-bit values; weights is a Float32Array`);
  } else if (weights instanceof Uint16Array) {
    if (dtype === 'F32') invalid(`${fn}: a Uint16Array holds 16-bit floats: pass dtype 'F16' or 'BF16'`);
  } else if (!(weights instanceof Uint8Array)) {
    invalid(`${fn}: weights must be a Float32Array, a Uint16Array (dtype 'F16' | 'BF16') or a Uint8Array of raw bytes; got ${describe(weights)}`);
  }
  return dtype === 'F32' ? 0 : dtype === 'F16' ? 1 : 2;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

function asBytes(a: unknown, name: string): Uint8Array {
  if (!(a instanceof Uint8Array)) invalid(`${name} must be a Uint8Array`);
  return a;
}

function checkGrouped(q: { groupedShape: readonly number[]; nbits: number }): [number, number] {
  const gs = q.groupedShape;
  if (!Array.isArray(gs) || gs.length !== 2 || !gs.every((d) => Number.isSafeInteger(d) && d > 0)) {
    invalid(`groupedShape must be [rows, cols] of positive integers, got ${JSON.stringify(gs)}`);
  }
  if (!SUPPORTED_NBITS.includes(q.nbits as Nbits)) invalid(`nbits = ${shown(q.nbits)} is not supported; use one of ${SUPPORTED_NBITS.join(', ')}`);
  return [gs[0]!, gs[1]!];
}
