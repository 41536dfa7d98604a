/**
 * Whole-model planning (browser-safe): which tensors are quantized and with which config, why the
 * others are skipped, and the complete output layout (shards, tensor order, offsets via
 * `planSafetensors`) — all from the input headers alone, before any tensor is read.
 *
 * Selection (in this order; the first rule that applies decides, and every skip has a reason):
 *  1. dtype must be F32, F16 or BF16;
 *  2. the name must end in `.weight`;
 *  3. the tensor must be 2-D;
 *  4. `exclude` (a regex) must not match;
 *  5. when `include` is given it must match; a tensor matching `include` is quantized even when a
 *     built-in name rule (6) would skip it;
 *  6. built-in name rules: embeddings (`embed_tokens`, `wte`, `wpe`, `embed`), the output head
 *     (`lm_head`) and norms (`norm`, `ln_`, `layernorm`) are skipped;
 *  7. the config picked for it (the first matching `tensorConfig` override, else the global one)
 *     must fit: the group size divides the element count, the grouped row count is a multiple of
 *     2/4/8 for 4/2/1-bit packing, and the tensor fits the 32-bit wasm heap.
 * Skipped tensors are copied through unchanged, except the bias of a quantized layer: HQQ-SPEC
 * section 5 stores `<name>.bias` in the layer's compute dtype, so an F32/F16/BF16 bias of another
 * dtype is converted (by the wasm core, in the worker quantizing `<name>.weight`).
 */
import { MAX_TENSOR_ELEMENTS, SUPPORTED_NBITS, normalizeOptions, type EarlyStop, type Nbits } from '../engine.js';
import { HQQError } from '../errors.js';
import { compileUserRegex } from '../util/user-regex.js';
import { buildIndexJson, type IndexJson } from '../io/index-json.js';
import { DTYPE_SIZES, type DType, type SafetensorsHeader, type TensorInfo } from '../io/safetensors.js';
import { planSafetensors, type PlanEntry, type SafetensorsPlan } from '../io/writer.js';
import {
  COMPUTE_DTYPES, computeDtypeToDType, configProblem, hqqLinearBytes, hqqLinearEntries, type ComputeDtype, type LayerQuantConfig,
} from './hqqlinear.js';

/** The version written into output metadata (kept equal to package.json's by a test). */
export const HQQ_WASM_VERSION = '0.1.0';
export const HQQ_WASM_TOOL = 'hqq-wasm';

/** A per-tensor override: tensors whose name matches `pattern` get these bits and group size. */
export interface TensorOverride {
  pattern: RegExp;
  nbits: Nbits;
  groupSize: number;
}

/** Solver parameters passed to every tensor (see `QuantizeOptions` in engine.ts). */
export interface SolverOptions {
  lpNorm?: number;
  beta?: number;
  kappa?: number;
  iters?: number;
  earlyStop?: EarlyStop;
}

export interface ModelQuantConfig {
  /** Default 4. */
  nbits?: Nbits;
  /** Default 64. */
  groupSize?: number;
  /** Default 1. */
  axis?: 0 | 1;
  /** Run the HQQ solver (default true). */
  optimize?: boolean;
  /** Round the initial zero point; default as the reference's HQQLinear: true for 4-bit, else false. */
  roundZero?: boolean;
  /** dtype of scale/zero (default 'float16', the reference's compute dtype). */
  computeDtype?: ComputeDtype;
  /** Only tensors matching this are quantized (and a match overrides the built-in name rules). */
  include?: RegExp | string;
  /** Tensors matching this are never quantized. */
  exclude?: RegExp | string;
  /** Per-tensor overrides, `RE=BITS:GROUP` strings or objects; the first match wins. */
  tensorConfig?: readonly (TensorOverride | string)[];
  solver?: SolverOptions;
}

export interface ResolvedModelConfig {
  nbits: Nbits;
  groupSize: number;
  axis: 0 | 1;
  optimize: boolean;
  /** undefined = per tensor, (nbits == 4) as the reference's HQQLinear default. */
  roundZero: boolean | undefined;
  computeDtype: ComputeDtype;
  include?: RegExp;
  exclude?: RegExp;
  tensorConfig: TensorOverride[];
  solver: SolverOptions;
}

function invalid(message: string): never {
  throw new HQQError('INVALID_ARGUMENT', message);
}

function toRegExp(v: RegExp | string, what: string): RegExp {
  if (v instanceof RegExp) return v;
  if (typeof v !== 'string') invalid(`${what} must be a regular expression or a string, got ${typeof v}`);
  return compileUserRegex(v, what); // linear-time matching: a user pattern cannot hang the run
}

function parseNbits(s: string, what: string): Nbits {
  const n = Number(s);
  if (s.trim() === '' || !SUPPORTED_NBITS.includes(n as Nbits)) invalid(`${what}: bits ${JSON.stringify(s)} is not supported; use one of ${SUPPORTED_NBITS.join(', ')}`);
  return n as Nbits;
}

function parseGroup(s: string, what: string): number {
  const g = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(g) || g <= 0) invalid(`${what}: group size ${JSON.stringify(s)} must be a positive integer`);
  return g;
}

/** Parses `RE=BITS:GROUP` (or `RE=BITS`, keeping `defaultGroup`). The last `=` separates the regex. */
export function parseTensorOverride(text: string, defaultGroup = 64): TensorOverride {
  const what = `tensor config ${JSON.stringify(text)}`;
  if (typeof text !== 'string') invalid(`tensor config must be a string RE=BITS:GROUP, got ${typeof text}`);
  const eq = text.lastIndexOf('=');
  if (eq <= 0) invalid(`${what} must look like RE=BITS:GROUP, e.g. "mlp\\.down_proj=8:64"`);
  const [bits, group, extra] = text.slice(eq + 1).split(':');
  if (extra !== undefined) invalid(`${what} must look like RE=BITS:GROUP, e.g. "mlp\\.down_proj=8:64"`);
  return {
    pattern: toRegExp(text.slice(0, eq), `${what}: the pattern`),
    nbits: parseNbits(bits ?? '', what),
    groupSize: group === undefined ? defaultGroup : parseGroup(group, what),
  };
}

const SOLVER_KEYS: readonly (keyof SolverOptions)[] = ['lpNorm', 'beta', 'kappa', 'iters', 'earlyStop'];

/**
 * Picks and validates the solver options (types and ranges), so a bad value fails before any
 * output exists. Only `SOLVER_KEYS` are accepted: the quantization config itself (nbits, group
 * size, axis...) comes from the model config and the per-tensor overrides, never from `solver`.
 */
function resolveSolver(solver: unknown): SolverOptions {
  if (solver === undefined) return {};
  if (typeof solver !== 'object' || solver === null || Array.isArray(solver)) {
    invalid(`solver must be an object such as { iters: 20, lpNorm: 0.7 }, got ${solver === null ? 'null' : Array.isArray(solver) ? 'an array' : typeof solver}`);
  }
  const given = solver as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(given)) {
    if (!(SOLVER_KEYS as readonly string[]).includes(k)) {
      invalid(`unknown solver option "${k}"; known solver options: ${SOLVER_KEYS.join(', ')}${CONFIG_KEYS.has(k) ? ` (${k} is a model config option, not a solver one)` : ''}`);
    }
    if (given[k] !== undefined) out[k] = given[k];
  }
  try {
    normalizeOptions(out); // types, iters 0..1000, earlyStop
  } catch (e) {
    if (e instanceof HQQError) invalid(`solver: ${e.message}`);
    throw e;
  }
  const { lpNorm, beta, kappa } = out as SolverOptions;
  if (lpNorm !== undefined && !(lpNorm > 0 && lpNorm <= 1)) invalid(`solver: lpNorm = ${lpNorm} is out of range; use 0 < lpNorm <= 1 (default 0.7)`);
  if (beta !== undefined && !(beta > 0)) invalid(`solver: beta = ${beta} is out of range; use a finite beta > 0 (default 10)`);
  if (kappa !== undefined && !(kappa >= 1)) invalid(`solver: kappa = ${kappa} is out of range; use a finite kappa >= 1 (default 1.01)`);
  return out as SolverOptions;
}

const CONFIG_KEYS = new Set(['nbits', 'groupSize', 'axis', 'optimize', 'roundZero', 'computeDtype', 'include', 'exclude', 'tensorConfig', 'solver']);

/** Validates a model config and fills in the defaults. */
export function resolveModelConfig(config: ModelQuantConfig = {}): ResolvedModelConfig {
  if (typeof config !== 'object' || config === null) invalid('the model quantization config must be an object');
  if (RESOLVED.has(config)) return config as ResolvedModelConfig;
  for (const k of Object.keys(config)) {
    if (!CONFIG_KEYS.has(k) && (config as Record<string, unknown>)[k] !== undefined) {
      invalid(`unknown model config option "${k}"; known options: ${[...CONFIG_KEYS].join(', ')}`);
    }
  }
  const nbits = config.nbits ?? 4;
  if (!SUPPORTED_NBITS.includes(nbits)) invalid(`nbits = ${String(nbits)} is not supported; use one of ${SUPPORTED_NBITS.join(', ')}`);
  const groupSize = config.groupSize ?? 64;
  if (!Number.isSafeInteger(groupSize) || groupSize <= 0) invalid(`groupSize = ${String(groupSize)} must be a positive integer (default 64)`);
  const axis = config.axis ?? 1;
  if (axis !== 0 && axis !== 1) invalid(`axis = ${String(axis)} is invalid; use 1 (default) or 0`);
  const optimize = config.optimize ?? true;
  if (typeof optimize !== 'boolean') invalid(`optimize must be true or false`);
  if (config.roundZero !== undefined && typeof config.roundZero !== 'boolean') invalid(`roundZero must be true, false or omitted`);
  const computeDtype = config.computeDtype ?? 'float16';
  if (!COMPUTE_DTYPES.includes(computeDtype)) invalid(`computeDtype = ${JSON.stringify(computeDtype)} is invalid; use one of ${COMPUTE_DTYPES.join(', ')}`);
  const tensorConfig = (config.tensorConfig ?? []).map((t, i) => {
    if (typeof t === 'string') return parseTensorOverride(t, groupSize);
    if (!t || !(t.pattern instanceof RegExp)) invalid(`tensorConfig[${i}] must be "RE=BITS:GROUP" or {pattern: RegExp, nbits, groupSize}`);
    parseNbits(String(t.nbits), `tensorConfig[${i}]`);
    parseGroup(String(t.groupSize), `tensorConfig[${i}]`);
    return { pattern: t.pattern, nbits: t.nbits, groupSize: t.groupSize };
  });
  const resolved: ResolvedModelConfig = {
    nbits, groupSize, axis, optimize, roundZero: config.roundZero, computeDtype,
    include: config.include === undefined ? undefined : toRegExp(config.include, 'include'),
    exclude: config.exclude === undefined ? undefined : toRegExp(config.exclude, 'exclude'),
    tensorConfig, solver: resolveSolver(config.solver),
  };
  RESOLVED.add(resolved);
  return resolved;
}

const RESOLVED = new WeakSet<object>();

/** The config as JSON-friendly data (recorded in the output metadata and reports). */
export function describeConfig(c: ResolvedModelConfig): Record<string, unknown> {
  return {
    nbits: c.nbits,
    group_size: c.groupSize,
    axis: c.axis,
    optimize: c.optimize,
    round_zero: c.roundZero ?? 'nbits == 4',
    compute_dtype: c.computeDtype,
    include: c.include?.source ?? null,
    exclude: c.exclude?.source ?? null,
    tensor_config: c.tensorConfig.map((t) => `${t.pattern.source}=${t.nbits}:${t.groupSize}`),
    ...(Object.keys(c.solver).length ? { solver: c.solver } : {}),
  };
}

const FLOAT_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16'];
const EMBEDDING = /embed|(^|\.)(wte|wpe)(\.|$)/; // embed_tokens, embed_in, embeddings, wte, wpe
const HEAD = /lm_head/;
const NORM = /norm|(^|\.)ln_|layernorm/i;

export type TensorAction = 'quantize' | 'copy';

export interface PlannedTensor {
  /** Input tensor name. */
  name: string;
  dtype: DType;
  shape: number[];
  numel: number;
  /** Position in the whole model (0-based, input order over all shards). */
  index: number;
  /** Which input source (and output shard) it lives in. */
  sourceIndex: number;
  /** The input header entry. */
  info: TensorInfo;
  action: TensorAction;
  /** Why the tensor is copied instead of quantized. */
  reason?: string;
  config?: LayerQuantConfig;
  /**
   * A copied tensor written in another dtype: the bias of a quantized layer, stored in the layer's
   * compute dtype (HQQ-SPEC section 5). Converted along with `biasOf`.
   */
  convertTo?: DType;
  /** With `convertTo`: the `index` of the quantized `<name>.weight` whose task converts this bias. */
  biasOf?: number;
  /** A quantized weight: the `index` of its `<name>.bias`, converted to the compute dtype by the same task. */
  bias?: number;
  /** Output entries: the HQQLinear keys, or the tensor itself when copied. */
  outputs: PlanEntry[];
  bytesBefore: number;
  bytesAfter: number;
  /** Output bits per weight (quantized tensors: all HQQLinear keys / numel). */
  bitsPerWeight: number;
}

export interface PlannedShard {
  /** Output file name (sharded: the input shard's name). */
  fileName: string;
  /** The input file it is made from. */
  inputName: string;
  tensors: PlannedTensor[];
  layout: SafetensorsPlan;
}

export interface ModelPlanTotals {
  tensors: number;
  quantized: number;
  copied: number;
  parameters: number;
  quantizedParameters: number;
  /** Input tensor bytes. */
  bytesBefore: number;
  /** Output tensor bytes. */
  bytesAfter: number;
  /** Output file bytes (headers included). */
  fileBytes: number;
  /** Input bytes of the quantized tensors, and their output bytes. */
  quantizedBytesBefore: number;
  quantizedBytesAfter: number;
  /** Output bits per weight over the quantized tensors. */
  bitsPerWeight: number;
}

export interface ModelPlan {
  config: ResolvedModelConfig;
  sharded: boolean;
  shards: PlannedShard[];
  /** Every input tensor in order. */
  tensors: PlannedTensor[];
  metadata: Record<string, string>;
  /** Sharded output: the new index.json. */
  index?: { fileName: string; text: string };
  totals: ModelPlanTotals;
}

export interface ModelInputFile {
  /** The input file's name (in a sharded model: the shard name from the index). */
  fileName: string;
  header: SafetensorsHeader;
}

export interface PlanModelOptions {
  /** A parsed index.json when the input is sharded. */
  index?: IndexJson;
  /** Output file name of a single-file model (default: the input's name). */
  outputFileName?: string;
}

function skipReason(t: TensorInfo, c: ResolvedModelConfig): string | undefined {
  if (!FLOAT_DTYPES.includes(t.dtype)) return `dtype ${t.dtype} is not a float weight (F32/F16/BF16)`;
  if (!t.name.endsWith('.weight')) return 'not a .weight tensor';
  if (t.shape.length !== 2) return `${t.shape.length}-D, only 2-D weight matrices are quantized`;
  if (c.exclude?.test(t.name)) return `matches exclude /${c.exclude.source}/`;
  const included = c.include?.test(t.name);
  if (c.include && !included) return `does not match include /${c.include.source}/`;
  if (!included) {
    if (EMBEDDING.test(t.name)) return 'embedding (kept in full precision)';
    if (HEAD.test(t.name)) return 'output head lm_head (kept in full precision)';
    if (NORM.test(t.name)) return 'norm weight (kept in full precision)';
  }
  return undefined;
}

/** The quantization config one tensor gets (first matching override, else the global config). */
export function tensorConfigFor(name: string, c: ResolvedModelConfig): LayerQuantConfig {
  const o = c.tensorConfig.find((t) => {
    t.pattern.lastIndex = 0;
    return t.pattern.test(name);
  });
  const nbits = o?.nbits ?? c.nbits;
  return {
    nbits,
    groupSize: o?.groupSize ?? c.groupSize,
    axis: c.axis,
    optimize: c.optimize,
    roundZero: c.roundZero ?? nbits === 4,
    computeDtype: c.computeDtype,
  };
}

function planTensor(t: TensorInfo, index: number, sourceIndex: number, c: ResolvedModelConfig): PlannedTensor {
  const base = { name: t.name, dtype: t.dtype, shape: t.shape.slice(), numel: t.numel, index, sourceIndex, info: t, bytesBefore: t.byteLength };
  const copy = (reason: string): PlannedTensor => ({
    ...base, action: 'copy', reason, outputs: [{ name: t.name, dtype: t.dtype, shape: t.shape }], bytesAfter: t.byteLength,
    bitsPerWeight: t.numel > 0 ? (t.byteLength * 8) / t.numel : 0,
  });
  if (c.include) c.include.lastIndex = 0;
  if (c.exclude) c.exclude.lastIndex = 0;
  const reason = skipReason(t, c);
  if (reason) return copy(reason);
  const cfg = tensorConfigFor(t.name, c);
  const problem = configProblem(t.shape, cfg.nbits, cfg.groupSize, cfg.axis);
  if (problem) return copy(`cannot hold ${cfg.nbits}-bit g${cfg.groupSize} axis ${cfg.axis}: ${problem}`);
  if (t.numel > MAX_TENSOR_ELEMENTS) return copy(`${t.numel} elements is more than one wasm instance can quantize (at most ${MAX_TENSOR_ELEMENTS})`);
  const prefix = t.name.slice(0, -'weight'.length);
  const outputs = hqqLinearEntries(prefix, t.shape, cfg);
  const bytesAfter = hqqLinearBytes(outputs);
  return { ...base, action: 'quantize', config: cfg, outputs, bytesAfter, bitsPerWeight: (bytesAfter * 8) / t.numel };
}

/**
 * The bias of every quantized layer is stored in the layer's compute dtype (HQQ-SPEC section 5, as
 * the reference's HQQLinear state dict): marks `<name>.bias` (F32/F16/BF16) of a quantized
 * `<name>.weight` for conversion when its dtype differs. Other biases stay byte-identical copies.
 */
function planBiasConversions(tensors: readonly PlannedTensor[]): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const b of tensors) {
    if (b.action !== 'copy' || !(b.name === 'bias' || b.name.endsWith('.bias')) || !FLOAT_DTYPES.includes(b.dtype)) continue;
    const w = byName.get(b.name.slice(0, -'bias'.length) + 'weight');
    if (!w || w.action !== 'quantize') continue;
    const to = computeDtypeToDType(w.config!.computeDtype);
    if (to === b.dtype) continue;
    b.convertTo = to;
    b.biasOf = w.index;
    w.bias = b.index;
    b.reason = `bias of quantized ${w.name}: stored in its compute dtype ${w.config!.computeDtype} (${b.dtype} -> ${to})`;
    b.outputs = [{ name: b.name, dtype: to, shape: b.shape }];
    b.bytesAfter = b.numel * DTYPE_SIZES[to];
    b.bitsPerWeight = b.numel > 0 ? (b.bytesAfter * 8) / b.numel : 0;
  }
}

/** Output metadata: the input's metadata plus the tool, its version and the config as JSON. */
export function outputMetadata(input: Record<string, string>, c: ResolvedModelConfig): Record<string, string> {
  return {
    ...input,
    format: input.format ?? 'pt',
    hqq_tool: HQQ_WASM_TOOL,
    hqq_tool_version: HQQ_WASM_VERSION,
    hqq_config: JSON.stringify(describeConfig(c)),
  };
}

/**
 * Plans the whole output from the input headers. Single file: one output shard named
 * `outputFileName`. Sharded (`options.index`): one output shard per input shard with the same
 * file name, plus a new index.json (same file name as the input index).
 */
export function planModel(files: readonly ModelInputFile[], config: ModelQuantConfig | ResolvedModelConfig = {}, options: PlanModelOptions = {}): ModelPlan {
  const c = RESOLVED.has(config as object) ? (config as ResolvedModelConfig) : resolveModelConfig(config as ModelQuantConfig);
  if (files.length === 0) invalid('planModel: no input files');
  const sharded = options.index !== undefined;
  if (!sharded && files.length !== 1) invalid(`planModel: ${files.length} input files but no index.json; pass the index of a sharded model`);
  if (sharded) {
    const idx = options.index!;
    const names = new Set(files.map((f) => f.fileName));
    for (const s of idx.shards) if (!names.has(s)) invalid(`planModel: shard ${s} listed in ${idx.fileName} was not given`);
    // Every tensor in the index must be in the shard it names, and every shard tensor in the index.
    for (const f of files) {
      for (const t of f.header.tensors) {
        const where = idx.weightMap.get(t.name);
        if (where === undefined) throw new HQQError('BAD_FILE', `${f.fileName}: tensor ${JSON.stringify(t.name)} is not listed in ${idx.fileName}; the index does not match the shards`);
        if (where !== f.fileName) throw new HQQError('BAD_FILE', `${idx.fileName}: tensor ${JSON.stringify(t.name)} is mapped to ${where} but it is stored in ${f.fileName}; the index does not match the shards`);
      }
    }
    const have = new Set(files.flatMap((f) => f.header.tensors.map((t) => t.name)));
    for (const [name, shard] of idx.weightMap) {
      if (!have.has(name)) throw new HQQError('BAD_FILE', `${idx.fileName}: tensor ${JSON.stringify(name)} is mapped to ${shard} but that shard does not hold it; the index does not match the shards`);
    }
  }
  const tensors: PlannedTensor[] = [];
  const shards: PlannedShard[] = [];
  const seenOut = new Map<string, string>();
  const lists = files.map((f, sourceIndex) => {
    const list = f.header.tensors.map((t) => planTensor(t, tensors.length, sourceIndex, c));
    for (const p of list) {
      p.index = tensors.length;
      tensors.push(p);
    }
    return list;
  });
  planBiasConversions(tensors); // a bias may sit in another shard than its weight
  files.forEach((f, sourceIndex) => {
    const list = lists[sourceIndex]!;
    const fileName = sharded ? f.fileName : (options.outputFileName ?? f.fileName);
    const entries: PlanEntry[] = [];
    for (const p of list) {
      for (const e of p.outputs) {
        const prev = seenOut.get(e.name);
        if (prev !== undefined) {
          invalid(`output tensor ${JSON.stringify(e.name)} (from ${p.name}) would also be written for ${prev}; the input already holds HQQ keys for this layer? exclude /${p.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`);
        }
        seenOut.set(e.name, p.name);
        entries.push(e);
      }
    }
    const layout = planSafetensors(entries, outputMetadata(f.header.metadata, c));
    shards.push({ fileName, inputName: f.fileName, tensors: list, layout });
  });
  let index: ModelPlan['index'];
  if (sharded) {
    const wm = new Map<string, string>();
    let total = 0;
    for (const s of shards) {
      for (const t of s.layout.tensors) wm.set(t.name, s.fileName);
      total += s.layout.totalSize - s.layout.dataOffset;
    }
    const extra: Record<string, unknown> = { ...options.index!.metadata, hqq_tool: HQQ_WASM_TOOL, hqq_tool_version: HQQ_WASM_VERSION, hqq_config: describeConfig(c) };
    index = { fileName: options.index!.fileName, text: buildIndexJson(wm, total, extra) };
  }
  const q = tensors.filter((t) => t.action === 'quantize');
  const sum = (xs: PlannedTensor[], f: (t: PlannedTensor) => number) => xs.reduce((a, t) => a + f(t), 0);
  const quantizedParameters = sum(q, (t) => t.numel);
  const quantizedBytesAfter = sum(q, (t) => t.bytesAfter);
  const totals: ModelPlanTotals = {
    tensors: tensors.length,
    quantized: q.length,
    copied: tensors.length - q.length,
    parameters: sum(tensors, (t) => t.numel),
    quantizedParameters,
    bytesBefore: sum(tensors, (t) => t.bytesBefore),
    bytesAfter: sum(tensors, (t) => t.bytesAfter),
    fileBytes: shards.reduce((a, s) => a + s.layout.totalSize, 0),
    quantizedBytesBefore: sum(q, (t) => t.bytesBefore),
    quantizedBytesAfter,
    bitsPerWeight: quantizedParameters > 0 ? (quantizedBytesAfter * 8) / quantizedParameters : 0,
  };
  return { config: c, sharded, shards, tensors, metadata: shards[0]!.layout.metadata, index, totals };
}

