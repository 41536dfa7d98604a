/**
 * Which GGML type each tensor of a model gets, as llama.cpp's `llama-quantize` chooses it, for the
 * presets hqq-wasm writes. Reimplemented from src/llama-quant.cpp (`tensor_allows_quantization`,
 * `tensor_get_category`, `llama_tensor_get_type`, `llama_tensor_get_type_impl`,
 * `tensor_type_fallback`, `llama_ftype_get_default_type`), include/llama.h (`llama_ftype` ids)
 * and tools/quantize/quantize.cpp (the flags). Pure functions; browser-safe.
 *
 * The rules, in the order llama.cpp applies them to one tensor (docs/gguf.md has a table per preset):
 *
 *  1. Is it quantized at all? Only tensors with at least 2 dims (ggml_n_dims: trailing 1s do not
 *     count) whose name ends in "weight", and not: "*_norm.weight", the MoE router
 *     "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "position_embd.weight", "token_types.weight",
 *     "attn_rel_b.weight", names containing "altup", "laurel", "per_layer_model_proj", "ssm_conv1d",
 *     "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight", RWKV's
 *     "time_mix_*" small weights, and multimodal tensors (".position_embd", "sam.pos_embd",
 *     "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
 *     "mm.a.code_embd"); with --leave-output-tensor, not "output.weight". Others keep their type.
 *  2. --token-embedding-type applies to the token embedding ("token_embd.weight",
 *     "per_layer_token_embd.weight"), --output-tensor-type to "output.weight", as given.
 *  3. Otherwise start from the preset's default type; the first --tensor-type whose regex matches
 *     the name (a search, not a full match) replaces it, and the preset's mixture (4) is skipped;
 *     --pure skips the mixture too.
 *  4. The mixture, by tensor category (substring matches on the name, first hit wins: output,
 *     token_embd, attn_qkv, attn_kv_b, attn_v, attn_k, attn_q, attn_output, ffn_up, ffn_gate,
 *     ffn_down):
 *     - output (and the token embedding when the model has no "output.weight", the tied case):
 *       Q6_K, unless the preset is Q8_0 (kept) or the row does not divide into the preset type's
 *       blocks (then Q8_0); Falcon: always Q8_0.
 *     - attn_v / attn_qkv / attn_kv_b, the i-th of n such tensors (i counts in llama.cpp's
 *       processing order, which for Llama is the layer index): Q2_K -> Q4_K if n_head/n_head_kv >= 4
 *       else Q3_K; Q3_K_M -> Q5_K for i < 2 else Q4_K; Q3_K_L -> Q5_K; Q4_K_M and Q5_K_M -> Q6_K
 *       on the "use more bits" layers (i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2); Q4_K_S -> Q5_K
 *       for i < 4. Then a 70B model (Llama with 80 layers and GQA...) bumps Q3_K/Q4_K to Q5_K, and
 *       a model with exactly 8 experts gets Q8_0. (llama.cpp's separate attn_qkv rule is never
 *       reached: attn_qkv is caught here first.)
 *     - attn_k: Q8_0 when the model has exactly 8 experts.
 *     - ffn_down, layer i of n (the layer from the name when the model has experts, else the
 *       count so far): Q2_K -> Q3_K; Q3_K_M -> Q5_K for i < n/16 else Q4_K (Falcon: Q4_K on the
 *       use-more-bits layers, else Q3_K); Q3_K_L -> Q5_K (Falcon Q4_K); Q4_K_M -> Q6_K on the
 *       use-more-bits layers (Falcon: Q6_K for i < n/16, Q5_K on use-more-bits, else Q4_K);
 *       Q5_K_M -> Q6_K on the use-more-bits layers; Q4_K_S -> Q5_K for i < n/8 (not Falcon).
 *     - attn_output: 8 experts: Q2_K, Q3_K_S, Q3_K_M, Q4_K_S, Q4_K_M -> Q5_K; otherwise Q2_K ->
 *       Q3_K, Q3_K_M -> Q4_K, Q3_K_L -> Q5_K (Falcon: only Q3_K_L -> Q4_K).
 *     - everything else (attn_q, ffn_gate, ffn_up, the token embedding when not tied...): the
 *       preset's type.
 *  5. Fallback when a row (ne[0]) is not a multiple of the chosen type's block: Q2_K, Q3_K ->
 *     Q4_0; Q4_K -> Q5_0; Q5_K -> Q5_1; Q6_K -> Q8_0; and F16 if even the fallback (or a 32-block
 *     type) does not fit. (Not applied to --token-embedding-type / --output-tensor-type, which are
 *     refused here when they do not fit, where llama.cpp would fail mid-run.)
 *  6. A tensor whose type does not change is copied. A tensor already quantized (not F32/F16/BF16)
 *     that would change type is refused unless --allow-requantize.
 *
 * llama.cpp's importance-matrix variants (Q4_0/Q5_0 ffn_down with an imatrix), the IQ*, TQ*, MXFP4
 * and Q2_K_S presets are not reproduced: hqq-wasm does not write those types.
 */
import { HQQError } from '../../errors.js';
import { compileUserRegex } from '../../util/user-regex.js';
import { unusedPatternWarnings } from '../plan-common.js';
import type { PlanWarning } from '../types.js';
import {
  ggmlTypeByName,
  metadataInteger,
  metadataString,
  type GGMLTypeInfo,
  type GGMLTypeName,
  type GGUFValue,
} from '../../io/gguf.js';

/** The llama-quantize presets (`--ftype` names) hqq-wasm writes, from the most bits to the fewest. */
export type GGUFPresetName =
  | 'Q8_0'
  | 'Q6_K'
  | 'Q5_K_M'
  | 'Q5_K_S'
  | 'Q5_1'
  | 'Q5_0'
  | 'Q4_K_M'
  | 'Q4_K_S'
  | 'Q4_1'
  | 'Q4_0'
  | 'Q3_K_L'
  | 'Q3_K_M'
  | 'Q3_K_S'
  | 'Q2_K';

/** One llama-quantize preset: its name, its `general.file_type` id and its default tensor type. */
export interface GGUFPreset {
  /** The preset's name, as llama-quantize spells it (e.g. 'Q4_K_M'). */
  readonly name: GGUFPresetName;
  /** `llama_ftype` (include/llama.h): the value of `general.file_type`. */
  readonly ftype: number;
  /** `llama_ftype_get_default_type`: the type of every tensor the mixture does not change. */
  readonly defaultType: GGMLTypeName;
}

/** The presets, from the most bits to the fewest. */
export const GGUF_PRESETS: readonly GGUFPreset[] = Object.freeze(
  (
    [
      ['Q8_0', 7, 'Q8_0'],
      ['Q6_K', 18, 'Q6_K'],
      ['Q5_K_M', 17, 'Q5_K'],
      ['Q5_K_S', 16, 'Q5_K'],
      ['Q5_1', 9, 'Q5_1'],
      ['Q5_0', 8, 'Q5_0'],
      ['Q4_K_M', 15, 'Q4_K'],
      ['Q4_K_S', 14, 'Q4_K'],
      ['Q4_1', 3, 'Q4_1'],
      ['Q4_0', 2, 'Q4_0'],
      ['Q3_K_L', 13, 'Q3_K'],
      ['Q3_K_M', 12, 'Q3_K'],
      ['Q3_K_S', 11, 'Q3_K'],
      ['Q2_K', 10, 'Q2_K'],
    ] as [GGUFPresetName, number, GGMLTypeName][]
  ).map(([name, ftype, defaultType]) => Object.freeze({ name, ftype, defaultType })),
);

/** llama-quantize's aliases. */
const PRESET_ALIASES: Readonly<Record<string, GGUFPresetName>> = { Q3_K: 'Q3_K_M', Q4_K: 'Q4_K_M', Q5_K: 'Q5_K_M' };

/** `GGML_QNT_VERSION` (ggml.h): the value llama-quantize writes to `general.quantization_version`. */
export const GGML_QNT_VERSION = 2;

function arg(message: string): HQQError {
  return new HQQError('INVALID_ARGUMENT', message);
}

/** A preset by name (case-insensitive; Q3_K, Q4_K, Q5_K are the _M presets) or by ftype id. */
export function ggufPreset(name: string | number): GGUFPreset {
  const key = typeof name === 'string' ? name.trim().toUpperCase() : name;
  const resolved = typeof key === 'string' ? (PRESET_ALIASES[key] ?? key) : key;
  const preset = GGUF_PRESETS.find((p) => p.name === resolved || p.ftype === resolved || String(p.ftype) === resolved);
  if (!preset) {
    throw arg(`${JSON.stringify(name)} is not a GGUF preset hqq-wasm writes; use one of ${GGUF_PRESETS.map((p) => p.name).join(', ')} (or the aliases Q3_K, Q4_K, Q5_K)`);
  }
  return preset;
}

/**
 * The metadata changes llama-quantize makes to a quantized copy: `general.file_type` and
 * `general.quantization_version` set (u32), the split keys of a sharded input removed (null). Use
 * with `withMetadata(input.metadata, ...)`.
 */
export function quantizedMetadataChanges(preset: GGUFPreset): Record<string, GGUFValue | null> {
  return {
    'general.quantization_version': { type: 'u32', value: GGML_QNT_VERSION },
    'general.file_type': { type: 'u32', value: preset.ftype },
    'split.no': null,
    'split.count': null,
    'split.tensors.count': null,
  };
}

/** The model facts the rules read (llama.cpp's hparams). */
export interface GGUFModelFacts {
  /** `general.architecture`, e.g. "llama". */
  architecture: string;
  /** `<arch>.block_count`. */
  nLayer: number;
  /** `<arch>.attention.head_count` (of layer 0 when per layer). */
  nHead: number;
  /** `<arch>.attention.head_count_kv` (default nHead). */
  nHeadKv: number;
  /** `<arch>.expert_count` (default 0). */
  nExpert: number;
  /** llama.cpp's model type is 70B (see {@link is70B}); derived when absent. */
  is70B?: boolean;
}

/**
 * llama.cpp's LLM_TYPE_70B, which bumps attn_v: llama with 80 layers, not 8 experts, and
 * n_head != n_head_kv (a 65B otherwise); qwen2, deci, olmo with 80 layers; jais2 with 68.
 */
export function is70B(f: GGUFModelFacts): boolean {
  if (f.is70B !== undefined) return f.is70B;
  switch (f.architecture) {
    case 'llama':
      return f.nLayer === 80 && f.nExpert !== 8 && f.nHead !== f.nHeadKv;
    case 'qwen2':
    case 'deci':
    case 'olmo':
      return f.nLayer === 80;
    case 'jais2':
      return f.nLayer === 68;
    default:
      return false;
  }
}

/** Reads the facts from a GGUF's metadata; BAD_FILE when the architecture or block count is missing. */
export function ggufModelFacts(metadata: ReadonlyMap<string, GGUFValue>, fileName?: string): GGUFModelFacts {
  const o = { fileName };
  const where = fileName ? `${fileName}: ` : '';
  const architecture = metadataString(metadata, 'general.architecture', o);
  if (!architecture) throw new HQQError('BAD_FILE', `${where}metadata key "general.architecture" is missing; every llama.cpp model file names its architecture`);
  const nLayer = metadataInteger(metadata, `${architecture}.block_count`, o);
  if (nLayer === undefined || nLayer < 1) {
    throw new HQQError('BAD_FILE', `${where}metadata key "${architecture}.block_count" is ${nLayer === undefined ? 'missing' : nLayer}; the layer count is needed to choose tensor types`);
  }
  const nHead = metadataInteger(metadata, `${architecture}.attention.head_count`, { ...o, elementOfArray: 0 }) ?? 0;
  const nHeadKv = metadataInteger(metadata, `${architecture}.attention.head_count_kv`, { ...o, elementOfArray: 0 }) ?? nHead;
  const nExpert = metadataInteger(metadata, `${architecture}.expert_count`, o) ?? 0;
  return { architecture, nLayer, nHead, nHeadKv, nExpert };
}

export interface TensorTypeOverride {
  /** Searched in the tensor name (std::regex_search, ECMAScript grammar: a JS RegExp). */
  pattern: RegExp;
  type: GGMLTypeName;
}

export interface TensorTypeOptions {
  preset: GGUFPresetName | string | GGUFPreset;
  /** --tensor-type, in order (the first match wins): "NAME_RE=TYPE" strings or parsed overrides. */
  tensorTypes?: readonly (string | TensorTypeOverride | { pattern: string | RegExp; type: string })[];
  /** --pure: no mixture, every quantized tensor gets the preset's type (overrides still apply). */
  pure?: boolean;
  /** --output-tensor-type: the type of "output.weight". */
  outputTensorType?: GGMLTypeName | string;
  /** --token-embedding-type: the type of "token_embd.weight" (and "per_layer_token_embd.weight"). */
  tokenEmbeddingType?: GGMLTypeName | string;
  /** --leave-output-tensor: copy "output.weight" as it is. */
  leaveOutputTensor?: boolean;
  /** --allow-requantize: quantize tensors that already are (quality suffers). */
  allowRequantize?: boolean;
}

export interface TensorTypeInput {
  name: string;
  /** GGUF order (ne[0] = row length). */
  ne: readonly number[];
  /** The tensor's type in the input. */
  type: GGMLTypeName | string;
}

export interface TensorTypeChoice {
  name: string;
  inputType: GGMLTypeName;
  type: GGMLTypeName;
  /** 'copy': the bytes are kept; 'quantize': they are converted from inputType to type. */
  action: 'copy' | 'quantize';
  /** Why, in a few words (for per-tensor output lines). */
  reason: string;
}

/** Where a tensor stands in llama.cpp's pass over the model (its counters); see chooseTensorTypes. */
export interface TensorTypePosition {
  /** Number of attn_v / attn_qkv / attn_kv_b tensors in the model (default: nLayer). */
  nAttnV?: number;
  /** This tensor's index among them (default: its layer, "blk.N."). */
  attnVIndex?: number;
  /** The index llama.cpp uses for ffn_down without experts (default: its layer). */
  ffnDownIndex?: number;
  /** The model has no "output.weight": the token embedding is also the output (default false). */
  tiedEmbeddings?: boolean;
}

// ------------------------------------------------------------------------------------------------
// Options

interface Resolved {
  preset: GGUFPreset;
  defaultType: GGMLTypeInfo;
  overrides: { pattern: RegExp; type: GGMLTypeInfo; source: string }[];
  pure: boolean;
  output?: GGMLTypeInfo;
  tokenEmbedding?: GGMLTypeInfo;
  leaveOutput: boolean;
  allowRequantize: boolean;
}

/** A type hqq-wasm can write, by name; INVALID_ARGUMENT / UNSUPPORTED naming `what` otherwise. */
function writableType(name: string, what: string): GGMLTypeInfo {
  const t = typeof name === 'string' ? ggmlTypeByName(name.trim()) : undefined;
  if (!t) throw arg(`${what}: ${JSON.stringify(name)} is not a GGML type; use one of F32, F16, BF16, Q8_0, Q6_K, Q5_K, Q5_1, Q5_0, Q4_K, Q4_1, Q4_0, Q3_K, Q2_K`);
  if (!t.writable) {
    throw new HQQError('UNSUPPORTED', `${what}: hqq-wasm does not write ${t.name}; use one of F32, F16, BF16, Q8_0, Q6_K, Q5_K, Q5_1, Q5_0, Q4_K, Q4_1, Q4_0, Q3_K, Q2_K`);
  }
  return t;
}

/**
 * Parses one --tensor-type value, "NAME_RE=TYPE", as llama-quantize does: the part before the first
 * "=" is the pattern, lowercased; the type is matched case-insensitively.
 */
export function parseTensorTypeOverride(spec: string): TensorTypeOverride {
  if (typeof spec !== 'string') throw arg('--tensor-type: expected a string NAME_RE=TYPE');
  const eq = spec.indexOf('=');
  if (eq < 0) throw arg(`--tensor-type ${JSON.stringify(spec)}: expected NAME_RE=TYPE, e.g. attn_v=q8_0`);
  if (eq === 0) throw arg(`--tensor-type ${JSON.stringify(spec)}: the tensor name pattern before "=" is empty`);
  if (eq === spec.length - 1) throw arg(`--tensor-type ${JSON.stringify(spec)}: the type after "=" is missing`);
  const source = spec.slice(0, eq).toLowerCase();
  const type = writableType(spec.slice(eq + 1), `--tensor-type ${JSON.stringify(spec)}`);
  return { pattern: compile(source, spec), type: type.name };
}

function compile(source: string, spec: string): RegExp {
  return compileUserRegex(source, `--tensor-type ${JSON.stringify(spec)}`); // refuses catastrophic patterns too
}

function resolveOptions(options: TensorTypeOptions): Resolved {
  if (!options || typeof options !== 'object') throw arg('tensor type options: pass { preset, ... }');
  const p = options.preset;
  const preset = typeof p === 'object' && p !== null ? ggufPreset(p.name) : ggufPreset(p as string);
  if (options.tensorTypes !== undefined && !Array.isArray(options.tensorTypes)) throw arg('tensorTypes must be an array of "NAME_RE=TYPE" strings or { pattern, type } objects');
  const overrides = (options.tensorTypes ?? []).map((o, i) => {
    if (typeof o === 'string') {
      const parsed = parseTensorTypeOverride(o);
      return { pattern: parsed.pattern, type: ggmlTypeByName(parsed.type)!, source: o };
    }
    const what = `tensorTypes[${i}]`;
    if (!o || (typeof o.pattern !== 'string' && !(o.pattern instanceof RegExp))) throw arg(`${what}: expected { pattern: RegExp | string, type }`);
    const pattern = o.pattern instanceof RegExp ? new RegExp(o.pattern.source, o.pattern.flags.replace('g', '').replace('y', '')) : compile(o.pattern, String(o.pattern));
    return { pattern, type: writableType(o.type, what), source: `${pattern.source}=${o.type}` };
  });
  return {
    preset,
    defaultType: ggmlTypeByName(preset.defaultType)!,
    overrides,
    pure: options.pure === true,
    output: options.outputTensorType !== undefined ? writableType(options.outputTensorType, '--output-tensor-type') : undefined,
    tokenEmbedding: options.tokenEmbeddingType !== undefined ? writableType(options.tokenEmbeddingType, '--token-embedding-type') : undefined,
    leaveOutput: options.leaveOutputTensor === true,
    allowRequantize: options.allowRequantize === true,
  };
}

// ------------------------------------------------------------------------------------------------
// Names

/** The tensors llama-quantize leaves alone even when 2-D "weight"s (see the module comment). */
const NEVER_QUANTIZED: readonly string[] = [
  '_norm.weight', 'ffn_gate_inp.weight', 'ffn_gate_tid2eid.weight', 'altup', 'laurel', 'per_layer_model_proj', 'ssm_conv1d',
  'shortconv.conv.weight', 'indexer.k_proj.weight', 'indexer.q_proj.weight', 'time_mix_first.weight', 'time_mix_w0.weight',
  'time_mix_w1.weight', 'time_mix_w2.weight', 'time_mix_v0.weight', 'time_mix_v1.weight', 'time_mix_v2.weight', 'time_mix_a0.weight',
  'time_mix_a1.weight', 'time_mix_a2.weight', 'time_mix_g1.weight', 'time_mix_g2.weight', 'time_mix_decay_w1.weight',
  'time_mix_decay_w2.weight', 'time_mix_lerp_fused.weight', 'attn_rel_b.weight', '.position_embd', 'sam.pos_embd', 'sam.neck.',
  'sam.net_', '.rel_pos', '.patch_embd', '.patch_merger', 'a.rvq.codebook', 'mm.a.code_embd',
];

/** ggml_n_dims: the dims up to the last one that is not 1 (at least 1). */
function nDims(ne: readonly number[]): number {
  let n = ne.length;
  while (n > 1 && ne[n - 1] === 1) n--;
  return n;
}

/** Why llama-quantize would not quantize this tensor, or undefined when it would. */
function notQuantizedBecause(name: string, ne: readonly number[], o: Resolved): string | undefined {
  if (nDims(ne) < 2) return 'not quantized: fewer than 2 dims';
  if (!name.endsWith('weight')) return 'not quantized: not a weight';
  if (o.leaveOutput && name === 'output.weight') return '--leave-output-tensor';
  if (name === 'position_embd.weight' || name === 'token_types.weight') return 'not quantized: positional/token-type embedding';
  const hit = NEVER_QUANTIZED.find((s) => name.includes(s));
  if (hit) return hit === '_norm.weight' ? 'not quantized: a norm' : `not quantized: ${hit.replace(/^[._]|\.weight$/g, '')}`;
  return undefined;
}

type Category = 'output' | 'token_embd' | 'attn_qkv' | 'attn_kv_b' | 'attn_v' | 'attn_k' | 'attn_q' | 'attn_output' | 'ffn_up' | 'ffn_gate' | 'ffn_down' | 'other';

function category(name: string): Category {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight' || name === 'per_layer_token_embd.weight') return 'token_embd';
  for (const [needle, cat] of [
    ['attn_qkv.weight', 'attn_qkv'],
    ['attn_kv_b.weight', 'attn_kv_b'],
    ['attn_v.weight', 'attn_v'],
    ['attn_k.weight', 'attn_k'],
    ['attn_q.weight', 'attn_q'],
    ['attn_output.weight', 'attn_output'],
    ['ffn_up', 'ffn_up'],
    ['ffn_gate', 'ffn_gate'],
    ['ffn_down', 'ffn_down'],
  ] as const) {
    if (name.includes(needle)) return cat;
  }
  return 'other';
}

const isAttnVLike = (c: Category) => c === 'attn_v' || c === 'attn_qkv' || c === 'attn_kv_b';

/** The layer of "blk.N.<...>" as sscanf("blk.%d.") reads it, or undefined. */
function layerOf(name: string): number | undefined {
  const m = /^blk\.\s*([+-]?\d+)/.exec(name);
  return m ? Number.parseInt(m[1]!, 10) : undefined;
}

/** llama.cpp's use_more_bits (C integer division). */
function useMoreBits(i: number, n: number): boolean {
  const n8 = Math.trunc(n / 8);
  return i < n8 || i >= Math.trunc((7 * n) / 8) || (i - n8) % 3 === 2;
}

// ------------------------------------------------------------------------------------------------
// The choice

interface Counters {
  nAttnV: number;
  iAttnV: number;
  iFfnDown: number;
  iFfnGate: number;
  iFfnUp: number;
  tied: boolean;
  /** Whether to advance the counters (chooseTensorTypes) or take them as given (chooseTensorType). */
  advance: boolean;
}

/** llama_tensor_get_type_impl for our presets: the preset's mixture. Returns [type, why]. */
function mixture(name: string, ne: readonly number[], cat: Category, facts: GGUFModelFacts, o: Resolved, k: Counters): [GGMLTypeInfo, string] {
  const P = o.preset.name;
  const T = (n: GGMLTypeName) => ggmlTypeByName(n)!;
  const falcon = facts.architecture === 'falcon';
  const def = o.defaultType;
  const gqa = facts.nHeadKv > 0 ? Math.trunc(facts.nHead / facts.nHeadKv) : 0;
  const layerInfo = (counter: number): [number, number] => {
    if (Math.max(1, facts.nExpert) > 1) {
      const l = layerOf(name);
      if (l === undefined) throw new HQQError('BAD_FILE', `tensor ${JSON.stringify(name)}: cannot tell its layer (no "blk.N." prefix), which the rules for MoE models need`);
      if (l < 0 || l >= facts.nLayer) throw new HQQError('BAD_FILE', `tensor ${JSON.stringify(name)}: layer ${l} is outside the model's ${facts.nLayer} layers (block_count)`);
      return [l, facts.nLayer];
    }
    return [counter, facts.nLayer];
  };

  if (cat === 'output' || (k.tied && cat === 'token_embd')) {
    const what = cat === 'output' ? 'output' : 'tied token embedding (also the output)';
    if (o.output) return [o.output, `${what}: --output-tensor-type`];
    if (falcon || ne[0]! % def.blockSize !== 0) return [T('Q8_0'), `${what}: Q8_0`];
    if (def.name !== 'Q8_0') return [T('Q6_K'), `${what}: Q6_K`];
    return [def, `${what}: ${P} default`];
  }
  if (cat === 'token_embd') return [def, `${P} default`];

  if (isAttnVLike(cat)) {
    const i = k.iAttnV;
    const n = k.nAttnV;
    let t = def;
    let why = `${P} default`;
    if (P === 'Q2_K') [t, why] = gqa >= 4 ? [T('Q4_K'), 'attn_v, GQA >= 4'] : [T('Q3_K'), 'attn_v'];
    else if (P === 'Q3_K_M') [t, why] = i < 2 ? [T('Q5_K'), `attn_v #${i} < 2`] : [T('Q4_K'), 'attn_v'];
    else if (P === 'Q3_K_L') [t, why] = [T('Q5_K'), 'attn_v'];
    else if ((P === 'Q4_K_M' || P === 'Q5_K_M') && useMoreBits(i, n)) [t, why] = [T('Q6_K'), `attn_v #${i} of ${n}: more bits`];
    else if (P === 'Q4_K_S' && i < 4) [t, why] = [T('Q5_K'), `attn_v #${i} < 4`];
    if (is70B(facts) && (t.name === 'Q3_K' || t.name === 'Q4_K')) [t, why] = [T('Q5_K'), `${why}; 70B: Q5_K`];
    if (facts.nExpert === 8) [t, why] = [T('Q8_0'), 'attn_v, 8 experts'];
    if (k.advance) k.iAttnV++;
    return [t, why];
  }
  if (cat === 'attn_k') return facts.nExpert === 8 ? [T('Q8_0'), 'attn_k, 8 experts'] : [def, `${P} default`];
  if (cat === 'ffn_down') {
    const [i, n] = layerInfo(k.iFfnDown);
    if (k.advance) k.iFfnDown++;
    const n8 = Math.trunc(n / 8);
    const n16 = Math.trunc(n / 16);
    const more = useMoreBits(i, n);
    if (P === 'Q2_K') return [T('Q3_K'), 'ffn_down'];
    if (P === 'Q3_K_M') {
      if (i < n16) return [T('Q5_K'), `ffn_down layer ${i} < ${n}/16`];
      return !falcon || more ? [T('Q4_K'), 'ffn_down'] : [T('Q3_K'), 'ffn_down'];
    }
    if (P === 'Q3_K_L') return [T(falcon ? 'Q4_K' : 'Q5_K'), 'ffn_down'];
    if (P === 'Q4_K_M') {
      if (falcon) return i < n16 ? [T('Q6_K'), `ffn_down layer ${i} < ${n}/16`] : more ? [T('Q5_K'), `ffn_down layer ${i} of ${n}: more bits`] : [def, `${P} default`];
      return more ? [T('Q6_K'), `ffn_down layer ${i} of ${n}: more bits`] : [def, `${P} default`];
    }
    if (P === 'Q5_K_M' && more) return [T('Q6_K'), `ffn_down layer ${i} of ${n}: more bits`];
    if (P === 'Q4_K_S' && !falcon && i < n8) return [T('Q5_K'), `ffn_down layer ${i} < ${n}/8`];
    return [def, `${P} default`];
  }
  if (cat === 'attn_output') {
    if (!falcon) {
      if (facts.nExpert === 8) {
        return ['Q2_K', 'Q3_K_S', 'Q3_K_M', 'Q4_K_S', 'Q4_K_M'].includes(P) ? [T('Q5_K'), 'attn_output, 8 experts'] : [def, `${P} default`];
      }
      if (P === 'Q2_K') return [T('Q3_K'), 'attn_output'];
      if (P === 'Q3_K_M') return [T('Q4_K'), 'attn_output'];
      if (P === 'Q3_K_L') return [T('Q5_K'), 'attn_output'];
    } else if (P === 'Q3_K_L') return [T('Q4_K'), 'attn_output'];
    return [def, `${P} default`];
  }
  if (cat === 'ffn_gate' || cat === 'ffn_up') {
    // No rule for these presets, but llama.cpp still resolves the layer (and fails without one in MoE models).
    layerInfo(cat === 'ffn_gate' ? k.iFfnGate : k.iFfnUp);
    if (k.advance) {
      if (cat === 'ffn_gate') k.iFfnGate++;
      else k.iFfnUp++;
    }
  }
  return [def, `${P} default`];
}

/** tensor_type_fallback: a type whose blocks fit the row. */
function fallback(t: GGMLTypeInfo, ne0: number): [GGMLTypeInfo, string | undefined] {
  if (ne0 % t.blockSize === 0) return [t, undefined];
  const map: Partial<Record<GGMLTypeName, GGMLTypeName>> = { Q2_K: 'Q4_0', Q3_K: 'Q4_0', Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' };
  let next = t;
  const to = map[t.name];
  if (to) next = ggmlTypeByName(to)!;
  else if (t.blockSize > 32) throw new HQQError('INTERNAL', `no fallback type is defined for ${t.name}`);
  if (ne0 % next.blockSize !== 0) next = ggmlTypeByName('F16')!;
  return [next, `row of ${ne0} does not divide into ${t.name}'s ${t.blockSize}-weight blocks: ${next.name}`];
}

function checkTensor(t: TensorTypeInput): { input: GGMLTypeInfo; ne: readonly number[] } {
  const where = `tensor ${JSON.stringify(t?.name)}`;
  if (!t || typeof t.name !== 'string' || t.name.length === 0) throw arg('tensor type choice: each tensor needs a name');
  const input = typeof t.type === 'string' ? ggmlTypeByName(t.type) : undefined;
  if (!input) throw arg(`${where}: input type ${JSON.stringify(t.type)} is not a GGML type`);
  if (!Array.isArray(t.ne) || t.ne.length < 1 || t.ne.length > 4 || !t.ne.every((d) => Number.isSafeInteger(d) && d >= 1)) {
    throw arg(`${where}: ne must hold 1 to 4 dims >= 1 (GGUF order), got ${JSON.stringify(t.ne)}`);
  }
  return { input, ne: t.ne };
}

/** The whole decision for one tensor (llama_tensor_get_type plus the copy/requantize rule). */
function decide(t: TensorTypeInput, facts: GGUFModelFacts, o: Resolved, k: Counters): TensorTypeChoice {
  const { input, ne } = checkTensor(t);
  const name = t.name;
  const done = (type: GGMLTypeInfo, reason: string): TensorTypeChoice => finish(name, input, type, reason, o);
  const skip = notQuantizedBecause(name, ne, o);
  if (skip) return done(input, skip);
  const cat = category(name);

  const explicit = (type: GGMLTypeInfo, flag: string): TensorTypeChoice => {
    if (ne[0]! % type.blockSize !== 0) {
      throw arg(`${flag} ${type.name}: tensor ${JSON.stringify(name)} has rows of ${ne[0]} weights, not a multiple of ${type.name}'s ${type.blockSize}-weight blocks; choose a type with smaller blocks (Q8_0, Q4_0...) or F16`);
    }
    return done(type, flag);
  };
  if (o.tokenEmbedding && cat === 'token_embd') {
    // per_layer_token_embd follows --token-embedding-type unless a --tensor-type names it.
    const named = name === 'per_layer_token_embd.weight' && o.overrides.some((r) => r.pattern.test(name));
    if (!named) return explicit(o.tokenEmbedding, '--token-embedding-type');
  }
  if (o.output && cat === 'output') return explicit(o.output, '--output-tensor-type');

  let type = o.defaultType;
  let reason = `${o.preset.name} default`;
  const manual = o.overrides.find((r) => r.pattern.test(name));
  if (manual) {
    type = manual.type;
    reason = `--tensor-type ${manual.source}`;
  } else if (o.pure) {
    reason = `--pure: ${type.name}`;
  } else {
    [type, reason] = mixture(name, ne, cat, facts, o, k);
  }
  const [fitted, why] = fallback(type, ne[0]!);
  return done(fitted, why ? `${reason}; ${why}` : reason);
}

/** Copy or quantize; refuses requantizing unless allowed, and inputs hqq-wasm cannot decode. */
function finish(name: string, input: GGMLTypeInfo, type: GGMLTypeInfo, reason: string, o: Resolved): TensorTypeChoice {
  if (type.id === input.id) return { name, inputType: input.name, type: type.name, action: 'copy', reason };
  if (input.quantized && !o.allowRequantize) {
    throw arg(
      `tensor ${JSON.stringify(name)} is already quantized (${input.name}); requantizing it to ${type.name} loses quality, so it is refused. Start from an F32/F16/BF16 model, or pass --allow-requantize (allowRequantize: true) to do it anyway`,
    );
  }
  if (!input.writable) {
    throw new HQQError('UNSUPPORTED', `tensor ${JSON.stringify(name)}: hqq-wasm cannot read ${input.name} data to convert it to ${type.name}; it decodes F32, F16, BF16, Q8_0, Q6_K, Q5_K, Q5_1, Q5_0, Q4_K, Q4_1, Q4_0, Q3_K, Q2_K`);
  }
  return { name, inputType: input.name, type: type.name, action: 'quantize', reason };
}

function checkFacts(facts: GGUFModelFacts): void {
  const ok = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!facts || typeof facts.architecture !== 'string' || !ok(facts.nLayer) || facts.nLayer < 1 || !ok(facts.nHead) || !ok(facts.nHeadKv) || !ok(facts.nExpert)) {
    throw arg('model facts: pass { architecture, nLayer >= 1, nHead, nHeadKv, nExpert } (see ggufModelFacts)');
  }
}

/**
 * The type of one tensor. llama.cpp's choice depends on two counters over the whole model (how
 * many attn_v and ffn_down tensors came before); `position` gives them, defaulting to the layer
 * index in the name, which is what they are for Llama-family models. For a whole model use
 * {@link chooseTensorTypes}, which runs the counters exactly as llama.cpp does.
 */
export function chooseTensorType(
  tensor: TensorTypeInput,
  facts: GGUFModelFacts,
  options: TensorTypeOptions,
  position: TensorTypePosition = {},
): TensorTypeChoice {
  checkFacts(facts);
  const layer = layerOf(tensor?.name ?? '') ?? 0;
  const k: Counters = {
    nAttnV: position.nAttnV ?? facts.nLayer,
    iAttnV: position.attnVIndex ?? layer,
    iFfnDown: position.ffnDownIndex ?? layer,
    iFfnGate: layer,
    iFfnUp: layer,
    tied: position.tiedEmbeddings ?? false,
    advance: false,
  };
  return decide(tensor, facts, resolveOptions(options), k);
}

const utf8 = new TextEncoder();

/**
 * Compares as std::string does (bytes of UTF-8), which is how llama.cpp orders names. UTF-16 code
 * unit order is the same unless a surrogate pair meets U+E000-U+FFFF, so only then encode.
 */
function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  if (!/[\ud800-\uffff]/.test(a + b)) return a < b ? -1 : 1;
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** A `PATTERN_UNUSED` warning for every --tensor-type override that matches none of `names` (GGUF tensor names). */
export function unusedTensorTypeWarnings(names: Iterable<string>, options: TensorTypeOptions): PlanWarning[] {
  const o = resolveOptions(options);
  return unusedPatternWarnings(names, o.overrides.map((r) => ({ what: `--tensor-type ${JSON.stringify(r.source)}:`, pattern: r.pattern })));
}

/**
 * The types of all tensors of a model, in the input order, exactly as llama-quantize picks them:
 * tensors are visited in llama.cpp's order (by layer "blk.N.", then by name; tensors without a
 * layer first), the attn_v / ffn_down counters advance as in llama.cpp, the token embedding is
 * treated as the output when there is no "output.weight". Throws on the first tensor refused
 * (already quantized without allowRequantize, a type that does not fit...).
 */
export function chooseTensorTypes(tensors: readonly TensorTypeInput[], facts: GGUFModelFacts, options: TensorTypeOptions): TensorTypeChoice[] {
  checkFacts(facts);
  if (!Array.isArray(tensors)) throw arg('chooseTensorTypes: tensors must be an array of { name, ne, type }');
  const o = resolveOptions(options);
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t?.name)) throw arg(`chooseTensorTypes: tensor ${JSON.stringify(t.name)} appears twice`);
    names.add(t?.name);
  }
  const k: Counters = {
    nAttnV: tensors.filter((t) => isAttnVLike(category(t.name))).length,
    iAttnV: 0,
    iFfnDown: 0,
    iFfnGate: 0,
    iFfnUp: 0,
    tied: !names.has('output.weight'),
    advance: true,
  };
  const order = tensors.map((t, i) => ({ t, i, layer: layerOf(t.name) ?? -1 }));
  order.sort((a, b) => a.layer - b.layer || compareNames(a.t.name, b.t.name));
  const out = new Array<TensorTypeChoice>(tensors.length);
  for (const { t, i } of order) out[i] = decide(t, facts, o, k);
  return out;
}
