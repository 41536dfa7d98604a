/**
 * Hyper-parameters of a Hugging Face config.json, read the way llama.cpp's converter reads them
 * (`conversion/base.py` TextModel.__init__ / set_gguf_parameters, `conversion/llama.py`
 * LlamaModel.set_gguf_parameters), and the GGUF keys it writes from them, in its order.
 * Browser-safe.
 *
 * Key lists the converter searches (first key present wins, `find_hparam`):
 *   block count      n_layers, num_hidden_layers, n_layer, num_layers
 *   context length   max_position_embeddings, n_ctx, n_positions, max_length, max_sequence_length, model_max_length
 *   embedding        hidden_size, n_embd, dim
 *   feed-forward     prefix_dense_intermediate_size, dense_intermediate_size, intermediate_size, n_inner, hidden_dim
 *   heads / kv heads num_attention_heads, n_head, n_heads / num_key_value_heads, n_kv_heads
 *   rms epsilon      rms_norm_eps, norm_eps
 *   rope theta       global_rope_theta, rope_global_theta, rope_theta_global, rope_theta, rotary_emb_base
 * RoPE parameters come from `rope_parameters` (transformers 5) or `rope_scaling`, with the top-level
 * rope_theta mirrored in. `head_dim`, when config.json has it, is written as key_length and
 * value_length.
 */
import { HQQError } from '../../errors.js';
import { ggufValue, type GGUFValue } from '../../io/gguf-metadata.js';
import type { ArchitectureSpec } from './architectures.js';
import { describeJson, isObject, shownJson, type JsonObject } from './json.js';

/**
 * The RoPE scaling the converter recognises (anything else is refused or ignored, see below), by
 * `type`:
 * - 'none': plain RoPE (no scaling, or dynamic NTK, which llama.cpp has no equivalent for).
 * - 'linear': positions divided by `factor`.
 * - 'yarn': YaRN; `factor` extends the context, `originalContextLength` is the context before
 *   scaling (`original_max_position_embeddings`); `extFactor` (`extrapolation_factor`),
 *   `attnFactor` (`attention_factor` or `attn_factor`), `betaFast` and `betaSlow` when given.
 * - 'llama3': Llama 3 frequency scaling; `factor` (default 8), `lowFreqFactor` (1),
 *   `highFreqFactor` (4), `originalContextLength` (8192).
 */
export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | {
      type: 'yarn';
      factor: number;
      originalContextLength: number;
      extFactor?: number;
      attnFactor?: number;
      betaFast?: number;
      betaSlow?: number;
    }
  /** Llama 3.x: no keys; a `rope_freqs.weight` tensor of per-frequency factors instead. */
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalContextLength: number };

/** A config.json's hyper-parameters, read as llama.cpp's converter reads them (the config keys it searches are listed above). */
export interface HyperParameters {
  /** Number of transformer blocks (layers). */
  blockCount: number;
  /** Context length in tokens (`max_position_embeddings` or the first key of the list above), when config.json states one. */
  contextLength?: number;
  /** Embedding (hidden) size. */
  embeddingLength: number;
  /** Feed-forward (MLP intermediate) size. */
  feedForwardLength: number;
  /** Attention heads. */
  headCount: number;
  /** Key/value heads (grouped-query attention); `headCount` when not stated. */
  headCountKV: number;
  /** Per-head size: config `head_dim`, else embedding / heads. */
  headDim: number;
  /** True when config.json states head_dim (then key_length/value_length are written). */
  headDimExplicit: boolean;
  /** `vocab_size`. */
  vocabSize: number;
  /** RMS norm epsilon, when stated. */
  rmsEps?: number;
  /** RoPE base frequency, when stated. */
  ropeTheta?: number;
  /** The RoPE scaling to write. */
  ropeScaling: RopeScaling;
  /** Whether the output projection shares the token embedding (`tie_word_embeddings`, else the architecture's default). */
  tieWordEmbeddings: boolean;
}

function bad(message: string): never {
  throw new HQQError('BAD_FILE', message);
}

/** The value of the first key of `keys` present in `config` (present with null counts: undefined). */
function findParam(config: JsonObject, keys: readonly string[]): { key: string; value: unknown } | undefined {
  for (const k of keys) if (Object.prototype.hasOwnProperty.call(config, k)) return { key: k, value: config[k] };
  return undefined;
}

function intParam(config: JsonObject, keys: readonly string[], fileName: string, required: boolean, what: string): number | undefined {
  const found = findParam(config, keys);
  if (!found || found.value === null || found.value === undefined) {
    if (required) bad(`${fileName}: no ${what}; config.json must set one of ${keys.map((k) => `"${k}"`).join(', ')}`);
    return undefined;
  }
  const v = found.value;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) bad(`${fileName}: "${found.key}" (${what}) is ${shownJson(v)}; it must be a positive integer`);
  return v;
}

function numParam(config: JsonObject, keys: readonly string[], fileName: string, what: string): number | undefined {
  const found = findParam(config, keys);
  if (!found || found.value === null || found.value === undefined) return undefined;
  const v = found.value;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(`${fileName}: "${found.key}" (${what}) is ${shownJson(v)}; it must be a finite number`);
  return v;
}

/** The converter's merged RoPE parameter object (rope_parameters or rope_scaling, plus rope_theta). */
function ropeParameters(config: JsonObject, fileName: string): JsonObject {
  const raw = config.rope_parameters ?? config.rope_scaling;
  if (raw !== undefined && raw !== null && !isObject(raw)) bad(`${fileName}: "rope_scaling" is ${describeJson(raw)}; it must be an object or null`);
  const params: JsonObject = { ...(raw ?? {}) };
  const full = isObject(params.full_attention) ? { ...params.full_attention } : undefined;
  const target = full ?? params;
  if (!full && !isObject(params.sliding_attention)) {
    const theta = numParam(config, ['global_rope_theta', 'rope_global_theta', 'rope_theta_global', 'rope_theta', 'rotary_emb_base'], fileName, 'rope theta');
    if (target.rope_theta === undefined && theta !== undefined) target.rope_theta = theta;
    if (target.rope_type === undefined && target.type !== undefined) target.rope_type = target.type;
    const orig = numParam(config, ['original_max_position_embeddings'], fileName, 'original context length');
    if (target.original_max_position_embeddings === undefined && orig !== undefined) target.original_max_position_embeddings = orig;
  }
  return target;
}

function positive(params: JsonObject, key: string, fileName: string, fallback?: number): number {
  const v = params[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) bad(`${fileName}: rope scaling "${key}" is ${JSON.stringify(params[key])}; it must be a positive number`);
  return v;
}

function optionalFinite(params: JsonObject, key: string, fileName: string): number | undefined {
  const v = params[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(`${fileName}: rope scaling "${key}" is ${shownJson(v)}; it must be a number`);
  return v;
}

function ropeScaling(params: JsonObject, fileName: string, warnings: string[]): RopeScaling {
  const t = params.rope_type;
  if (t === undefined || t === null || t === 'default') return { type: 'none' };
  if (typeof t !== 'string') bad(`${fileName}: rope scaling type is ${describeJson(t)}; it must be a string such as "linear", "yarn" or "llama3"`);
  const type = t.toLowerCase();
  const hasFactor = typeof params.factor === 'number';
  switch (type) {
    case 'linear':
      if (!hasFactor) return { type: 'none' }; // the converter writes nothing without a factor
      return { type: 'linear', factor: positive(params, 'factor', fileName) };
    case 'yarn':
      if (!hasFactor) return { type: 'none' };
      if (typeof params.original_max_position_embeddings !== 'number') {
        bad(`${fileName}: YaRN rope scaling needs "original_max_position_embeddings" (the context length before scaling); add it to rope_scaling`);
      }
      return {
        type: 'yarn',
        factor: positive(params, 'factor', fileName),
        originalContextLength: positive(params, 'original_max_position_embeddings', fileName),
        extFactor: optionalFinite(params, 'extrapolation_factor', fileName),
        attnFactor: optionalFinite(params, params.attention_factor !== undefined ? 'attention_factor' : 'attn_factor', fileName),
        betaFast: optionalFinite(params, 'beta_fast', fileName),
        betaSlow: optionalFinite(params, 'beta_slow', fileName),
      };
    case 'llama3':
      return {
        type: 'llama3',
        factor: positive(params, 'factor', fileName, 8),
        lowFreqFactor: positive(params, 'low_freq_factor', fileName, 1),
        highFreqFactor: positive(params, 'high_freq_factor', fileName, 4),
        originalContextLength: positive(params, 'original_max_position_embeddings', fileName, 8192),
      };
    case 'dynamic':
      // Dynamic NTK scaling is applied at run time by transformers; llama.cpp has no equivalent and
      // the converter writes nothing for it.
      warnings.push(`${fileName}: rope scaling "dynamic" (dynamic NTK) has no llama.cpp equivalent; the GGUF uses plain RoPE, as llama.cpp's converter does`);
      return { type: 'none' };
    default:
      throw new HQQError('UNSUPPORTED', `${fileName}: rope scaling type ${JSON.stringify(t)} is not supported for GGUF output (supported: linear, yarn, llama3, or none); llama.cpp would run the model with the wrong positions`);
  }
}

/** Reads and checks the hyper-parameters of `config` for `arch`. Warnings are appended to `warnings`. */
export function readHyperParameters(config: JsonObject, arch: ArchitectureSpec, fileName = 'config.json', warnings: string[] = []): HyperParameters {
  const blockCount = intParam(config, ['n_layers', 'num_hidden_layers', 'n_layer', 'num_layers'], fileName, true, 'block (layer) count')!;
  const contextLength = intParam(config, ['max_position_embeddings', 'n_ctx', 'n_positions', 'max_length', 'max_sequence_length', 'model_max_length'], fileName, false, 'context length');
  const embeddingLength = intParam(config, ['hidden_size', 'n_embd', 'dim'], fileName, true, 'embedding length')!;
  const feedForwardLength = intParam(config, ['prefix_dense_intermediate_size', 'dense_intermediate_size', 'intermediate_size', 'n_inner', 'hidden_dim'], fileName, true, 'feed-forward length')!;
  const headCount = intParam(config, ['num_attention_heads', 'n_head', 'n_heads'], fileName, true, 'attention head count')!;
  const headCountKV = intParam(config, ['num_key_value_heads', 'n_kv_heads'], fileName, false, 'key/value head count') ?? headCount;
  const vocabSize = intParam(config, ['vocab_size'], fileName, true, 'vocabulary size')!;
  const rmsEps = numParam(config, ['rms_norm_eps', 'norm_eps'], fileName, 'RMS norm epsilon');
  if (rmsEps !== undefined && !(rmsEps > 0)) bad(`${fileName}: "rms_norm_eps" is ${rmsEps}; it must be positive`);
  if (headCount % headCountKV !== 0) {
    bad(`${fileName}: num_attention_heads ${headCount} is not a multiple of num_key_value_heads ${headCountKV}; grouped-query attention needs whole groups`);
  }
  const explicitHeadDim = config.head_dim;
  let headDim: number;
  if (explicitHeadDim === undefined || explicitHeadDim === null) {
    if (embeddingLength % headCount !== 0) bad(`${fileName}: hidden_size ${embeddingLength} is not a multiple of num_attention_heads ${headCount}, and there is no "head_dim"`);
    headDim = embeddingLength / headCount;
    if (arch.gguf === 'qwen3' && headDim !== 128) {
      bad(`${fileName}: no "head_dim"; Qwen3's config class defaults it to 128 but hidden_size / num_attention_heads is ${headDim}, so the layout is ambiguous. Add "head_dim" to config.json`);
    }
  } else {
    if (typeof explicitHeadDim !== 'number' || !Number.isSafeInteger(explicitHeadDim) || explicitHeadDim <= 0) bad(`${fileName}: "head_dim" is ${JSON.stringify(explicitHeadDim)}; it must be a positive integer`);
    headDim = explicitHeadDim;
  }
  if (arch.permuteQK && headDim % 2 !== 0) bad(`${fileName}: head_dim ${headDim} is odd; rotary embeddings rotate pairs of dimensions`);
  if (arch.gguf === 'qwen2' && headDim * headCount !== embeddingLength) {
    throw new HQQError('UNSUPPORTED', `${fileName}: head_dim ${headDim} x ${headCount} heads != hidden_size ${embeddingLength}; llama.cpp's qwen2 architecture requires them equal`);
  }
  const tie = config.tie_word_embeddings;
  if (tie !== undefined && tie !== null && typeof tie !== 'boolean') bad(`${fileName}: "tie_word_embeddings" is ${JSON.stringify(tie)}; it must be true or false`);
  const params = ropeParameters(config, fileName);
  const theta = params.rope_theta;
  if (theta !== undefined && (typeof theta !== 'number' || !(theta > 0))) bad(`${fileName}: "rope_theta" is ${JSON.stringify(theta)}; it must be a positive number`);
  return {
    blockCount,
    contextLength,
    embeddingLength,
    feedForwardLength,
    headCount,
    headCountKV,
    headDim,
    headDimExplicit: explicitHeadDim !== undefined && explicitHeadDim !== null,
    vocabSize,
    rmsEps,
    ropeTheta: theta as number | undefined,
    ropeScaling: ropeScaling(params, fileName, warnings),
    tieWordEmbeddings: typeof tie === 'boolean' ? tie : arch.tieDefault,
  };
}

/**
 * The `<arch>.*` keys the converter writes for these hyper-parameters, in its order
 * (set_gguf_parameters, then LlamaModel's vocab_size and rope.dimension_count). `general.file_type`,
 * which the converter writes between them, is the GGUF format's business and is not included.
 */
export function hyperParameterEntries(arch: ArchitectureSpec, hp: HyperParameters): [string, GGUFValue][] {
  const a = arch.gguf;
  const out: [string, GGUFValue][] = [];
  const u32 = (k: string, v: number) => out.push([`${a}.${k}`, ggufValue.u32(v)]);
  const f32 = (k: string, v: number) => out.push([`${a}.${k}`, ggufValue.f32(v)]);
  u32('block_count', hp.blockCount);
  if (hp.contextLength !== undefined) u32('context_length', hp.contextLength);
  u32('embedding_length', hp.embeddingLength);
  u32('feed_forward_length', hp.feedForwardLength);
  u32('attention.head_count', hp.headCount);
  u32('attention.head_count_kv', hp.headCountKV);
  const rs = hp.ropeScaling;
  if (rs.type === 'linear') {
    out.push([`${a}.rope.scaling.type`, ggufValue.string('linear')]);
    f32('rope.scaling.factor', rs.factor);
  } else if (rs.type === 'yarn') {
    out.push([`${a}.rope.scaling.type`, ggufValue.string('yarn')]);
    f32('rope.scaling.factor', rs.factor);
    u32('rope.scaling.original_context_length', rs.originalContextLength);
    if (rs.extFactor !== undefined) f32('rope.scaling.yarn_ext_factor', rs.extFactor);
    if (rs.attnFactor !== undefined) f32('rope.scaling.yarn_attn_factor', rs.attnFactor);
    if (rs.betaFast !== undefined) f32('rope.scaling.yarn_beta_fast', rs.betaFast);
    if (rs.betaSlow !== undefined) f32('rope.scaling.yarn_beta_slow', rs.betaSlow);
  }
  if (hp.ropeTheta !== undefined) f32('rope.freq_base', hp.ropeTheta);
  if (hp.rmsEps !== undefined) f32('attention.layer_norm_rms_epsilon', hp.rmsEps);
  if (hp.headDimExplicit) {
    u32('attention.key_length', hp.headDim);
    u32('attention.value_length', hp.headDim);
  }
  if (arch.writesVocabAndRopeDims) {
    u32('vocab_size', hp.vocabSize);
    u32('rope.dimension_count', hp.headDim);
  }
  return out;
}

/**
 * Llama 3 RoPE frequency factors (`rope_freqs.weight`, F32 [head_dim / 2]), computed as the
 * converter's LlamaModel.generate_extra_tensors does, in float32 steps: for each rotary frequency
 * f = 1 / theta^(2i/d), wavelength 2*pi/f; short wavelengths keep factor 1, long ones get `factor`,
 * and the band between is blended smoothly.
 */
export function llama3RopeFactors(hp: HyperParameters): Float32Array {
  const rs = hp.ropeScaling;
  if (rs.type !== 'llama3') throw new HQQError('INVALID_ARGUMENT', 'llama3RopeFactors: the config does not use llama3 rope scaling');
  const f = Math.fround;
  const base = hp.ropeTheta ?? 10000;
  const dim = hp.headDim;
  const lowWavelen = rs.originalContextLength / rs.lowFreqFactor;
  const highWavelen = rs.originalContextLength / rs.highFreqFactor;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = f(1 / f(Math.pow(base, f(f(2 * i) / dim))));
    const wavelen = f((2 * Math.PI) / freq);
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = rs.factor;
    else {
      const smooth = f((f(rs.originalContextLength / wavelen) - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor));
      out[i] = f(1 / f(f(f(1 - smooth) / rs.factor) + smooth));
    }
  }
  return out;
}
