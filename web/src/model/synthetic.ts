/**
 * Synthetic Llama-style models for tests and benchmarks (browser-safe: no `node:` imports).
 *
 * - `syntheticLlamaSpec(config)` lists the tensors of a Llama-architecture checkpoint with the real
 *   Hugging Face names and shapes; `SYNTHETIC_PRESETS` holds tiny / 1b (TinyLlama-like) / 7b
 *   (Llama-2-7B-like) configurations.
 * - `generateTensorChunk(entry, seed, elementOffset, count)` produces any slice of a tensor's data
 *   directly, deterministically from (seed, tensor name, element index) with a counter-based hash,
 *   so a 7B model can be streamed without holding a tensor in memory, and a chunk is bit-identical
 *   to the same slice of the whole tensor.
 * - Values are heavy-tailed like real weights: Student-t with 5 degrees of freedom (sampled by
 *   inverse CDF from a 65,537-point quantile table with linear interpolation), scaled to a standard
 *   deviation of 0.02 for linear and embedding weights; norm weights are 1 + 0.02 * t.
 * - F32 -> F16 / BF16 conversion rounds to nearest even (test-data generation, not product numerics).
 */
import { HQQError } from '../errors.js';

export type SyntheticDType = 'F16' | 'BF16' | 'F32';

export interface SyntheticLlamaConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  vocabSize: number;
  numHeads: number;
  numKvHeads: number;
  dtype: SyntheticDType;
  /** When true there is no `lm_head.weight` (it shares `model.embed_tokens.weight`). */
  tieEmbeddings?: boolean;
}

export type SyntheticTensorKind = 'embedding' | 'linear' | 'norm';

export interface SyntheticTensor {
  name: string;
  dtype: SyntheticDType;
  shape: number[];
  kind: SyntheticTensorKind;
  numel: number;
  byteLength: number;
}

export type SyntheticPresetName = 'tiny' | '1b' | '7b';

export const SYNTHETIC_PRESETS: Readonly<Record<SyntheticPresetName, Readonly<Omit<SyntheticLlamaConfig, 'dtype'>>>> = Object.freeze({
  tiny: Object.freeze({ hiddenSize: 256, intermediateSize: 688, numLayers: 2, vocabSize: 1024, numHeads: 4, numKvHeads: 2 }),
  '1b': Object.freeze({ hiddenSize: 2048, intermediateSize: 5632, numLayers: 22, vocabSize: 32000, numHeads: 32, numKvHeads: 4 }),
  '7b': Object.freeze({ hiddenSize: 4096, intermediateSize: 11008, numLayers: 32, vocabSize: 32000, numHeads: 32, numKvHeads: 32 }),
});

/** A preset's configuration with a dtype (default F16) and optional overrides. */
export function syntheticPreset(
  name: SyntheticPresetName,
  dtype: SyntheticDType = 'F16',
  overrides: Partial<SyntheticLlamaConfig> = {},
): SyntheticLlamaConfig {
  const preset = SYNTHETIC_PRESETS[name];
  if (!preset) {
    throw new HQQError('INVALID_ARGUMENT', `syntheticPreset: unknown preset ${JSON.stringify(name)}; use one of ${Object.keys(SYNTHETIC_PRESETS).join(', ')}`);
  }
  return { ...preset, dtype, ...overrides };
}

const SIZES: Record<SyntheticDType, number> = { F16: 2, BF16: 2, F32: 4 };

function argError(message: string): HQQError {
  return new HQQError('INVALID_ARGUMENT', message);
}

/** The tensors of a Llama-style model, in checkpoint order (embeddings, layers 0.., final norm, lm_head). */
export function syntheticLlamaSpec(config: SyntheticLlamaConfig): SyntheticTensor[] {
  const { hiddenSize: h, intermediateSize: ff, numLayers, vocabSize: vocab, numHeads, numKvHeads, dtype } = config;
  for (const [k, v] of Object.entries({ hiddenSize: h, intermediateSize: ff, numLayers, vocabSize: vocab, numHeads, numKvHeads })) {
    if (!Number.isSafeInteger(v) || v < (k === 'numLayers' ? 0 : 1)) {
      throw argError(`syntheticLlamaSpec: ${k} is ${v}; it must be a positive integer${k === 'numLayers' ? ' (or 0)' : ''}`);
    }
  }
  if (!(dtype in SIZES)) throw argError(`syntheticLlamaSpec: dtype ${JSON.stringify(dtype)} must be F16, BF16 or F32`);
  if (h % numHeads !== 0) throw argError(`syntheticLlamaSpec: hiddenSize ${h} is not divisible by numHeads ${numHeads}; headDim = hiddenSize / numHeads must be an integer`);
  if (numHeads % numKvHeads !== 0) throw argError(`syntheticLlamaSpec: numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads} (grouped-query attention needs whole groups)`);
  const headDim = h / numHeads;
  const kv = numKvHeads * headDim;
  const size = SIZES[dtype];
  const out: SyntheticTensor[] = [];
  const add = (name: string, shape: number[], kind: SyntheticTensorKind) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    out.push({ name, dtype, shape, kind, numel, byteLength: numel * size });
  };
  add('model.embed_tokens.weight', [vocab, h], 'embedding');
  for (let i = 0; i < numLayers; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.self_attn.q_proj.weight`, [h, h], 'linear');
    add(`${p}.self_attn.k_proj.weight`, [kv, h], 'linear');
    add(`${p}.self_attn.v_proj.weight`, [kv, h], 'linear');
    add(`${p}.self_attn.o_proj.weight`, [h, h], 'linear');
    add(`${p}.mlp.gate_proj.weight`, [ff, h], 'linear');
    add(`${p}.mlp.up_proj.weight`, [ff, h], 'linear');
    add(`${p}.mlp.down_proj.weight`, [h, ff], 'linear');
    add(`${p}.input_layernorm.weight`, [h], 'norm');
    add(`${p}.post_attention_layernorm.weight`, [h], 'norm');
  }
  add('model.norm.weight', [h], 'norm');
  if (!config.tieEmbeddings) add('lm_head.weight', [vocab, h], 'linear');
  return out;
}

export function countParameters(spec: readonly SyntheticTensor[]): number {
  return spec.reduce((a, t) => a + t.numel, 0);
}

// ---------------------------------------------------------------------------------------------
// Random values: counter hash -> uniform 32 bits -> Student-t(5) quantile table.

const TABLE_BITS = 16;
const TABLE_N = 1 << TABLE_BITS; // cells; the table has TABLE_N + 1 points
let quantiles: Float64Array | undefined;

/** CDF of Student's t with 5 degrees of freedom (closed form for odd df). */
function t5Cdf(t: number): number {
  const th = Math.atan(Math.abs(t) / Math.sqrt(5));
  const c = Math.cos(th);
  const a = (2 / Math.PI) * (th + Math.sin(th) * c * (1 + (2 / 3) * c * c));
  return t >= 0 ? 0.5 + a / 2 : 0.5 - a / 2;
}

const T5_PDF0 = 8 / (3 * Math.PI * Math.sqrt(5));
function t5Pdf(t: number): number {
  const q = 1 + (t * t) / 5;
  return T5_PDF0 / (q * q * q);
}

/** Q[k] = t5 quantile at p = (k + 0.5) / (TABLE_N + 1), k = 0..TABLE_N (symmetric). */
function quantileTable(): Float64Array {
  if (quantiles) return quantiles;
  const q = new Float64Array(TABLE_N + 1);
  const mid = TABLE_N / 2; // p = 0.5 exactly -> 0
  q[mid] = 0;
  let t = 0;
  for (let k = mid + 1; k <= TABLE_N; k++) {
    const p = (k + 0.5) / (TABLE_N + 1);
    // Newton from the left on a concave CDF converges monotonically.
    for (let it = 0; it < 100; it++) {
      const step = (p - t5Cdf(t)) / t5Pdf(t);
      t += step;
      if (Math.abs(step) <= 1e-13 * Math.max(1, t)) break;
    }
    q[k] = t;
    q[TABLE_N - k] = -t;
  }
  quantiles = q;
  return q;
}

/** Standard deviation of Student-t(5): sqrt(5/3). */
const T5_STD = Math.sqrt(5 / 3);
const WEIGHT_STD = 0.02;

function fnv1a(s: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function tensorKeys(name: string, seed: number): [number, number] {
  const sLo = seed >>> 0;
  const sHi = Math.floor(seed / 0x1_0000_0000) >>> 0;
  const s = mix32(sLo ^ mix32(sHi + 0x9e3779b9));
  return [mix32(fnv1a(name, 0x811c9dc5) ^ s), mix32((fnv1a(name, 0x2f6b1a3d) + Math.imul(s, 0x85ebca6b)) >>> 0)];
}

function checkEntry(entry: SyntheticTensor, where: string): void {
  if (!entry || typeof entry.name !== 'string' || !(entry.dtype in SIZES) || !Number.isSafeInteger(entry.numel) || entry.numel < 0) {
    throw argError(`${where}: entry must come from syntheticLlamaSpec() (name, dtype F16/BF16/F32, numel)`);
  }
}

/**
 * Fills `out[0..count)` with float values for elements [elementOffset, elementOffset + count).
 * The value of element i depends only on (seed, name, i).
 */
function fillValues(out: Float32Array, entry: SyntheticTensor, seed: number, elementOffset: number, count: number): void {
  const table = quantileTable();
  const [ka, kb] = tensorKeys(entry.name, seed);
  const base = entry.kind === 'norm' ? 1 : 0;
  const scale = WEIGHT_STD / T5_STD;
  const inv = 1 / 65536;
  let j = 0;
  while (j < count) {
    const i = elementOffset + j;
    const hi = Math.floor(i / 0x1_0000_0000);
    const lo = i - hi * 0x1_0000_0000;
    // Run until the low word wraps (or the chunk ends); the high word enters the key.
    const n = Math.min(count - j, 0x1_0000_0000 - lo);
    const kaHi = hi === 0 ? ka : mix32((ka + Math.imul(hi, 0x9e3779b9)) >>> 0);
    for (let m = 0; m < n; m++) {
      let x = ((lo + m) ^ kaHi) | 0;
      x ^= x >>> 16;
      x = Math.imul(x, 0x7feb352d);
      x ^= x >>> 15;
      x = Math.imul(x, 0x846ca68b);
      x ^= x >>> 16;
      x = (x + kb) | 0;
      x ^= x >>> 16;
      x = Math.imul(x, 0x21f0aaad);
      x ^= x >>> 15;
      x = Math.imul(x, 0x735a2d97);
      x ^= x >>> 15;
      const u = x >>> 0;
      const idx = u >>> 16;
      const t0 = table[idx];
      out[j + m] = base + scale * (t0 + (u & 0xffff) * inv * (table[idx + 1] - t0));
    }
    j += n;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** f32 bit pattern -> f16 bit pattern, round to nearest even (overflow -> inf, NaN kept quiet). */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++; // a carry into the exponent is correct
  return sign | half;
}

/** f32 bit pattern -> bf16 bit pattern, round to nearest even (NaN kept quiet). */
export function f32BitsToBF16Bits(x: number): number {
  x >>>= 0;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

const scratchF = new Float32Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

export function f16BitsToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

export function bf16BitsToNumber(b: number): number {
  scratchU[0] = (b & 0xffff) << 16;
  return scratchF[0];
}

export function numberToF16Bits(v: number): number {
  scratchF[0] = v;
  return f32BitsToF16Bits(scratchU[0]);
}

export function numberToBF16Bits(v: number): number {
  scratchF[0] = v;
  return f32BitsToBF16Bits(scratchU[0]);
}

const BLOCK = 1 << 16;

/**
 * Bytes (little-endian, in the tensor's dtype) of elements [elementOffset, elementOffset + count)
 * of `entry`, identical to the same slice of {@link generateTensorData}.
 */
export function generateTensorChunk(entry: SyntheticTensor, seed: number, elementOffset: number, count: number): Uint8Array {
  checkEntry(entry, 'generateTensorChunk');
  if (!Number.isSafeInteger(seed) || seed < 0) throw argError(`generateTensorChunk: seed ${seed} must be a non-negative integer`);
  if (!Number.isSafeInteger(elementOffset) || elementOffset < 0 || !Number.isSafeInteger(count) || count < 0 || elementOffset + count > entry.numel) {
    throw argError(
      `generateTensorChunk: tensor ${JSON.stringify(entry.name)}: elements [${elementOffset}, ${elementOffset + count}) are outside its ${entry.numel} elements`,
    );
  }
  const size = SIZES[entry.dtype];
  const out = new Uint8Array(count * size);
  if (entry.dtype === 'F32') {
    if (LITTLE_ENDIAN) {
      fillValues(new Float32Array(out.buffer), entry, seed, elementOffset, count);
    } else {
      const tmp = new Float32Array(Math.min(count, BLOCK));
      const dv = new DataView(out.buffer);
      for (let j = 0; j < count; j += BLOCK) {
        const n = Math.min(BLOCK, count - j);
        fillValues(tmp, entry, seed, elementOffset + j, n);
        for (let m = 0; m < n; m++) dv.setFloat32((j + m) * 4, tmp[m], true);
      }
    }
    return out;
  }
  const tmp = new Float32Array(Math.min(count, BLOCK));
  const bits = new Uint32Array(tmp.buffer);
  const out16 = LITTLE_ENDIAN ? new Uint16Array(out.buffer) : undefined;
  const dv = LITTLE_ENDIAN ? undefined : new DataView(out.buffer);
  const conv = entry.dtype === 'F16' ? f32BitsToF16Bits : f32BitsToBF16Bits;
  for (let j = 0; j < count; j += BLOCK) {
    const n = Math.min(BLOCK, count - j);
    fillValues(tmp, entry, seed, elementOffset + j, n);
    if (out16 && entry.dtype === 'BF16') {
      // Generated values are always finite, so the NaN branch of f32BitsToBF16Bits is not needed.
      for (let m = 0; m < n; m++) {
        const x = bits[m];
        out16[j + m] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
      }
    } else if (out16) for (let m = 0; m < n; m++) out16[j + m] = conv(bits[m]);
    else for (let m = 0; m < n; m++) dv!.setUint16((j + m) * 2, conv(bits[m]), true);
  }
  return out;
}

/** The whole tensor's bytes. Use {@link generateTensorChunk} for tensors too large to hold at once. */
export function generateTensorData(entry: SyntheticTensor, seed: number): Uint8Array {
  checkEntry(entry, 'generateTensorData');
  return generateTensorChunk(entry, seed, 0, entry.numel);
}

export interface SyntheticShard {
  fileName: string;
  tensors: SyntheticTensor[];
  /** Sum of the tensors' data bytes (the header is not counted). */
  byteLength: number;
}

export interface SyntheticShardPlan {
  shards: SyntheticShard[];
  /** Tensor name -> shard file name, in spec order. */
  weightMap: Map<string, string>;
  /** Sum of all tensor data bytes (the index's metadata.total_size). */
  totalSize: number;
}

/**
 * Splits the tensors, in order, into shards of at most `maxShardBytes` data bytes (a tensor larger
 * than that gets a shard of its own), named `model-0000k-of-0000n.safetensors` (always, even when
 * there is a single shard).
 */
export function shardPlan(spec: readonly SyntheticTensor[], maxShardBytes: number): SyntheticShardPlan {
  if (!(maxShardBytes > 0) || !Number.isSafeInteger(maxShardBytes)) {
    throw argError(`shardPlan: maxShardBytes ${maxShardBytes} must be a positive integer number of bytes`);
  }
  const groups: SyntheticTensor[][] = [];
  let cur: SyntheticTensor[] = [];
  let curBytes = 0;
  for (const t of spec) {
    if (cur.length > 0 && curBytes + t.byteLength > maxShardBytes) {
      groups.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(t);
    curBytes += t.byteLength;
  }
  if (cur.length > 0) groups.push(cur);
  const total = groups.length;
  const pad = (k: number) => String(k).padStart(5, '0');
  const weightMap = new Map<string, string>();
  let totalSize = 0;
  const shards = groups.map((tensors, i) => {
    const fileName = `model-${pad(i + 1)}-of-${pad(total)}.safetensors`;
    let byteLength = 0;
    for (const t of tensors) {
      weightMap.set(t.name, fileName);
      byteLength += t.byteLength;
    }
    totalSize += byteLength;
    return { fileName, tensors, byteLength };
  });
  return { shards, weightMap, totalSize };
}
