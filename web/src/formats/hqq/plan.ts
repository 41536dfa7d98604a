/**
 * HQQ planning (browser-safe): which tensors are quantized into the reference `HQQLinear` layout
 * and with which config, why the others are copied, and the complete output layout (files, tensor
 * order, offsets via `planSafetensors`), from the input headers alone.
 *
 * Selection (in this order; the first rule that applies decides, and every skip has a reason):
 *  1. dtype must be F32, F16 or BF16;
 *  2. the name must end in `.weight`, unless `include` matches it;
 *  3. the tensor must be 2-D;
 *  4. `exclude` (a regex) must not match;
 *  5. when `include` is given it must match; a tensor matching `include` is quantized even when a
 *     built-in rule (2, 6) would skip it;
 *  6. built-in name rules: embeddings (`embed_tokens`, `wte`, `wpe`, `embed`), the output head
 *     (`lm_head`) and norms (`norm`, `ln_`, `layernorm`) are skipped;
 *  7. the config picked for it (the first matching `tensorConfig` override, else the global one)
 *     must fit: the group size divides the element count, the grouped row count is a multiple of
 *     2/4/8 for 4/2/1-bit packing, and the tensor fits one wasm instance.
 * Layer keys: `<layer>.weight` becomes `<layer>.W_q`, `<layer>.scale`, ...; a tensor selected by
 * `include` whose name does not end in `.weight` keeps its full name as the layer prefix
 * (`blk.0.ffn_up` becomes `blk.0.ffn_up.W_q`, ...).
 * Skipped tensors are copied through unchanged, except the bias of a quantized layer: HQQ-SPEC
 * section 5 stores `<layer>.bias` in the layer's compute dtype, so an F32/F16/BF16 bias of another
 * dtype is converted (by the wasm core, in the worker quantizing `<layer>.weight`).
 * An input that already holds HQQ layers is refused: requantizing quantized weights compounds
 * their error, and the output's config metadata would describe layers it does not have.
 */
import { MAX_TENSOR_ELEMENTS, type Nbits } from '../../engine.js';
import { HQQError } from '../../errors.js';
import { buildIndexJson, type IndexJson } from '../../io/index-json.js';
import { DTYPE_SIZES, hasDistinctNames, type DType, type SafetensorsHeader, type TensorInfo } from '../../io/safetensors.js';
import { planSafetensors, type PlanEntry, type SafetensorsPlan } from '../../io/writer.js';
import {
  computeDtypeToDType, configProblem, hqqLinearBytes, hqqLinearEntries, packingRowMultiple, type LayerQuantConfig,
} from '../../model/hqqlinear.js';
import { requantizeProblem } from '../../model/hqq-detect.js';
import { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from '../../version.js';
import { matchesAny, plainTensor, planTotals, unusedPatternWarnings } from '../plan-common.js';
import { CopiedTensor } from './copied-tensor.js';
import type { FormatPlan, Job, PlannedFile, PlannedSmallFile, PlannedTensor, PlanWarning } from '../types.js';
import {
  describeConfig, isResolvedModelConfig, overrideFor, resolveModelConfig, tensorConfigFor,
  type ModelQuantConfig, type ResolvedModelConfig,
} from './config.js';

export type TensorAction = PlannedTensor['action'];

/** A planned tensor of the HQQ format, with its safetensors entries. */
export interface HQQPlannedTensor extends PlannedTensor {
  /** Its input dtype. */
  dtype: DType;
  /** The input header entry. */
  info: TensorInfo;
  /** A quantized weight: its layer config (bits, group size, axis, compute dtype...). */
  config?: LayerQuantConfig;
  /**
   * A bias written in another dtype: the bias of a quantized layer, stored in the layer's compute
   * dtype (HQQ-SPEC section 5). Converted by the job of `biasOf`.
   */
  convertTo?: DType;
  /** With `convertTo`: the `index` of the quantized weight whose job converts this bias. */
  biasOf?: number;
  /** A quantized weight: the `index` of its bias, converted to the compute dtype by the same job. */
  bias?: number;
  /** The output entries with their dtypes and shapes (the HQQLinear keys, or the tensor itself). */
  entries: PlanEntry[];
  /** A quantized weight: the layer prefix of its keys (`<layer>.`). */
  prefix?: string;
}

/** One output safetensors file of an HQQ plan. */
export interface PlannedShard {
  /** Output file name (sharded: the input shard's name). */
  fileName: string;
  /** The input file it is made from. */
  inputName: string;
  /** The planned tensors written into it, in file order. */
  tensors: HQQPlannedTensor[];
  /** Its header bytes and entry offsets. */
  layout: SafetensorsPlan;
}

/** The HQQ format's plan (`planModel`): safetensors shards, each tensor's HQQLinear entries, the output metadata. */
export interface ModelPlan extends FormatPlan {
  /** Always `'hqq'`. */
  format: 'hqq';
  /** The validated config the plan was made with. */
  resolved: ResolvedModelConfig;
  /** Whether the input, and so the output, is sharded (an index.json). */
  sharded: boolean;
  /** The output files, one per input file. */
  shards: PlannedShard[];
  /** Every input tensor, in input order. */
  tensors: HQQPlannedTensor[];
  /** Output metadata of the (first) file. */
  metadata: Record<string, string>;
  /** Sharded output: the new index.json, its `fileName` and JSON `text`. */
  index?: { fileName: string; text: string };
}

/** Former name of the totals type. */
export type { PlanTotals as ModelPlanTotals } from '../types.js';

/** One input safetensors file by its parsed header (`planModel`'s input). */
export interface ModelInputFile {
  /** The input file's name (in a sharded model: the shard name from the index). */
  fileName: string;
  /** Its parsed header. */
  header: SafetensorsHeader;
}

/** Options of `planModel`: the index of a sharded input, the output name. */
export interface PlanModelOptions {
  /** A parsed index.json when the input is sharded. */
  index?: IndexJson;
  /** Output file name of a single-file model (default: the input's name). */
  outputFileName?: string;
  /** The index's name in the output of a sharded model (default: the input index's name). */
  indexOutputName?: string;
}

function invalid(message: string): never {
  throw new HQQError('INVALID_ARGUMENT', message);
}

const FLOAT_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16'];
const EMBEDDING = /embed|(^|\.)(wte|wpe)(\.|$)/; // embed_tokens, embed_in, embeddings, wte, wpe
const HEAD = /lm_head/;
const NORM = /norm|(^|\.)ln_|layernorm/i;

function test(re: RegExp | undefined, name: string): boolean {
  if (!re) return false;
  re.lastIndex = 0;
  return re.test(name);
}

function skipReason(t: TensorInfo, c: ResolvedModelConfig): string | undefined {
  if (!FLOAT_DTYPES.includes(t.dtype)) return `${t.dtype}, not a float weight`;
  // Its keys would be ".W_q"..., which dequantize reads back as a layer ".": not the tensor "".
  if (t.name === '') return 'empty name: no layer to name its HQQ keys after';
  const included = test(c.include, t.name);
  if (!included && !t.name.endsWith('.weight')) return 'not a .weight tensor';
  if (t.shape.length !== 2) return `${t.shape.length}-D, only 2-D matrices are quantized`;
  if (test(c.exclude, t.name)) return `matches exclude /${c.exclude!.source}/`;
  if (c.include && !included) return `does not match include /${c.include.source}/`;
  if (!included) {
    if (EMBEDDING.test(t.name)) return 'embedding (kept in full precision)';
    if (HEAD.test(t.name)) return 'output head (kept in full precision)';
    if (NORM.test(t.name)) return 'norm (kept in full precision)';
  }
  return undefined;
}

/**
 * A group size near `g` that fits `shape` with this packing: the closest divisor of the element
 * count that is a multiple of 8 (else any divisor), preferring powers of two. Undefined if none.
 */
export function suggestGroupSize(shape: readonly number[], nbits: Nbits, g: number, axis: 0 | 1): number | undefined {
  const numel = shape.reduce((a, b) => a * b, 1);
  const fits = (x: number) => x >= 1 && x <= numel && configProblem(shape, nbits, x, axis) === undefined;
  const score = (x: number) => Math.abs(Math.log2(x / g)) - (Number.isInteger(Math.log2(x)) ? 0.5 : 0);
  let best: number | undefined;
  const consider = (x: number) => {
    if (fits(x) && (best === undefined || score(x) < score(best))) best = x;
  };
  for (let p = 8; p <= Math.min(numel, 1 << 16); p *= 2) consider(p);
  for (let x = 8; x <= Math.min(numel, 4096); x += 8) consider(x);
  if (best === undefined) for (let x = 1; x <= Math.min(numel, 4096); x++) consider(x);
  return best;
}

/** Where the keys of a quantized tensor go: `<layer>.weight` -> `<layer>.`, anything else -> `<name>.`. */
export function layerPrefix(name: string): string {
  if (name === 'weight') return '';
  return name.endsWith('.weight') ? name.slice(0, -'weight'.length) : `${name}.`;
}

function fitReason(t: TensorInfo, cfg: LayerQuantConfig): string | undefined {
  const problem = configProblem(t.shape, cfg.nbits, cfg.groupSize, cfg.axis);
  if (problem) {
    const alt = suggestGroupSize(t.shape, cfg.nbits, cfg.groupSize, cfg.axis);
    const short = problem.startsWith('group size')
      ? `g${cfg.groupSize} does not divide ${t.numel} elements`
      : `${cfg.nbits}-bit packing needs grouped rows in multiples of ${packingRowMultiple(cfg.nbits)}`;
    return `${short}${alt !== undefined ? ` (g${alt} would fit)` : ''}`;
  }
  if (t.numel > MAX_TENSOR_ELEMENTS) return `${t.numel} elements, over one wasm instance's ${MAX_TENSOR_ELEMENTS}`;
  return undefined;
}

function planTensor(t: TensorInfo, index: number, sourceIndex: number, c: ResolvedModelConfig): HQQPlannedTensor {
  const reason = skipReason(t, c);
  if (reason) return new CopiedTensor(t, index, sourceIndex, reason);
  const cfg = tensorConfigFor(t.name, c);
  const problem = fitReason(t, cfg);
  if (problem) return new CopiedTensor(t, index, sourceIndex, problem);
  const prefix = layerPrefix(t.name);
  const entries = hqqLinearEntries(prefix, t.shape, cfg);
  const bytesAfter = hqqLinearBytes(entries);
  const job: Job = { tensor: index, offset: 0, length: t.byteLength, spec: {} };
  return {
    name: t.name, dtype: t.dtype, shape: t.shape.slice(), numel: t.numel, index, sourceIndex, info: t, bytesBefore: t.byteLength,
    action: 'quantize', label: `q${cfg.nbits} g${cfg.groupSize}`, config: cfg, prefix, entries,
    hqq: { ...cfg }, jobs: [job], bytesAfter, bitsPerWeight: (bytesAfter * 8) / t.numel,
    outputs: entries.map((e) => ({ file: sourceIndex, name: e.name, byteLength: e.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[e.dtype] })),
  };
}

/**
 * The bias of every quantized layer is stored in the layer's compute dtype (HQQ-SPEC section 5, as
 * the reference's HQQLinear state dict): marks `<layer>.bias` (F32/F16/BF16) of a quantized
 * weight for conversion when its dtype differs. Other biases stay byte-identical copies.
 */
function planBiasConversions(tensors: HQQPlannedTensor[]): void {
  const byPrefix = new Map<string, HQQPlannedTensor>();
  for (const w of tensors) if (w.action === 'quantize' && w.prefix !== undefined) byPrefix.set(w.prefix, w);
  if (byPrefix.size === 0) return;
  for (const b of tensors) {
    if (b.action !== 'copy' || !(b.name === 'bias' || b.name.endsWith('.bias')) || !FLOAT_DTYPES.includes(b.dtype)) continue;
    const w = byPrefix.get(b.name.slice(0, -'bias'.length));
    if (!w) continue;
    const to = computeDtypeToDType(w.config!.computeDtype);
    if (to === b.dtype) continue;
    const bytesAfter = b.numel * DTYPE_SIZES[to];
    // A new plain object in its place: a copy's fields are derived (copied-tensor.ts), not writable.
    tensors[b.index] = plainTensor(b, {
      action: 'convert', label: to, convertTo: to, biasOf: w.index, producedBy: w.index, copyTo: undefined,
      reason: `bias of quantized ${w.name}, in its compute dtype (${b.dtype} -> ${to})`,
      entries: [{ name: b.name, dtype: to, shape: b.shape }],
      outputs: [{ file: b.sourceIndex, name: b.name, byteLength: bytesAfter }],
      bytesAfter, bitsPerWeight: b.numel > 0 ? (bytesAfter * 8) / b.numel : 0,
    });
    w.bias = b.index;
    w.jobs[0]!.with = [b.index];
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

/** Refuses an input that already holds HQQ layers (a `<prefix>W_q` next to its `scale` and `zero`, in any shard). */
function refuseQuantizedInput(files: readonly ModelInputFile[]): void {
  const all = { tensors: files.length === 1 ? files[0]!.header.tensors : files.flatMap((f) => f.header.tensors) };
  const problem = requantizeProblem(files.length === 1 ? files[0]!.fileName : 'the model', all);
  if (problem) invalid(problem);
}

/**
 * Whether two entries may claim one output name. A copy's name is its input name; with
 * `distinctInputs` (parsed headers, and an index mapping each name to one shard) those are
 * distinct, so a clash needs an entry the plan makes (HQQLinear keys, converted biases): only
 * those are hashed, and every copy looked up among them (no map of a million names).
 */
function mayClash(tensors: readonly HQQPlannedTensor[], distinctInputs: boolean): boolean {
  if (!distinctInputs) return true;
  const made = new Set<string>();
  for (const p of tensors) {
    if (p instanceof CopiedTensor) continue;
    for (const e of p.entries) {
      if (made.has(e.name)) return true;
      made.add(e.name);
    }
  }
  if (made.size === 0) return false;
  for (const p of tensors) if (p instanceof CopiedTensor && made.has(p.info.name)) return true;
  return false;
}

/** Every output name once; a clash names the quantized tensor and the exclude that avoids it. */
function checkOutputNames(tensors: readonly HQQPlannedTensor[], distinctInputs: boolean): void {
  if (!mayClash(tensors, distinctInputs)) return;
  const owner = new Map<string, number>(); // name -> tensor index: strings and small integers only
  const claim = (name: string, p: HQQPlannedTensor) => {
    const prevIndex = owner.get(name);
    if (prevIndex !== undefined) {
      const prev = tensors[prevIndex]!;
      const q = p.action === 'quantize' ? p : prev.action === 'quantize' ? prev : undefined;
      const how = q
        ? `exclude /^${q.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$/ to keep ${q.name} unquantized`
        : 'rename one of them';
      invalid(`output tensor ${JSON.stringify(name)} would be written for both ${prev.name} and ${p.name}; ${how}`);
    }
    owner.set(name, p.index);
  };
  for (const p of tensors) {
    if (p instanceof CopiedTensor) claim(p.info.name, p); // its one entry, without making it
    else for (const e of p.entries) claim(e.name, p);
  }
}

/** The layout entries of `list`, one after the other (a copy's entry is its header entry: nothing new is made). */
export function* entriesOf(list: readonly HQQPlannedTensor[]): Generator<PlanEntry> {
  for (const p of list) {
    if (p instanceof CopiedTensor) yield p.info;
    else yield* p.entries;
  }
}

function checkShardedInput(files: readonly ModelInputFile[], idx: IndexJson): void {
  const names = new Set(files.map((f) => f.fileName));
  for (const s of idx.shards) if (!names.has(s)) invalid(`planModel: shard ${s} listed in ${idx.fileName} was not given`);
  for (const f of files) {
    for (const t of f.header.tensors) {
      const where = idx.weightMap.get(t.name);
      if (where === undefined) throw new HQQError('BAD_FILE', `${f.fileName}: tensor ${JSON.stringify(t.name)} is not listed in ${idx.fileName}; the index does not match the shards`);
      if (where !== f.fileName) throw new HQQError('BAD_FILE', `${idx.fileName}: tensor ${JSON.stringify(t.name)} is mapped to ${where} but it is stored in ${f.fileName}; the index does not match the shards`);
    }
  }
}

function* namesOf(tensors: readonly HQQPlannedTensor[]): Generator<string> {
  for (const t of tensors) yield t.name;
}

function hqqWarnings(tensors: readonly HQQPlannedTensor[], c: ResolvedModelConfig): PlanWarning[] {
  const names = { [Symbol.iterator]: () => namesOf(tensors) };
  const warnings = unusedPatternWarnings(names, [
    ...(c.include ? [{ what: 'include', pattern: c.include }] : []),
    ...(c.exclude ? [{ what: 'exclude', pattern: c.exclude }] : []),
  ]);
  const usedOverrides = new Set<unknown>();
  if (c.tensorConfig.length > 0) for (const t of tensors) if (t.action === 'quantize') usedOverrides.add(overrideFor(t.name, c));
  for (const o of c.tensorConfig) {
    if (!usedOverrides.has(o)) {
      const matched = matchesAny(o.pattern, names);
      warnings.push({
        code: 'OVERRIDE_UNUSED',
        message: matched
          ? `tensor config /${o.pattern.source}/=${o.nbits}:${o.groupSize} matches only tensors that are not quantized (or are caught by an earlier override)`
          : `tensor config /${o.pattern.source}/=${o.nbits}:${o.groupSize} matches no tensor; check the pattern`,
      });
    }
  }
  return warnings;
}

/**
 * Plans the whole output from the input headers. Single file: one output file named
 * `outputFileName`. Sharded (`options.index`): one output shard per input shard with the same
 * file name, plus a new index.json (same file name as the input index).
 */
export function planModel(files: readonly ModelInputFile[], config: ModelQuantConfig | ResolvedModelConfig = {}, options: PlanModelOptions = {}): ModelPlan {
  const c = isResolvedModelConfig(config) ? config : resolveModelConfig(config as ModelQuantConfig);
  if (files.length === 0) invalid('planModel: no input files');
  const sharded = options.index !== undefined;
  if (!sharded && files.length !== 1) invalid(`planModel: ${files.length} input files but no index.json; pass the index of a sharded model`);
  if (sharded) checkShardedInput(files, options.index!);
  refuseQuantizedInput(files);
  const tensors: HQQPlannedTensor[] = [];
  const starts: number[] = []; // where each file's tensors begin in `tensors`
  files.forEach((f, sourceIndex) => {
    starts.push(tensors.length);
    for (const t of f.header.tensors) tensors.push(planTensor(t, tensors.length, sourceIndex, c));
  });
  starts.push(tensors.length);
  planBiasConversions(tensors); // a bias may sit in another shard than its weight
  // Distinct input names: each header parsed (no name twice in a file) and, sharded, the index maps a name to one shard.
  checkOutputNames(tensors, files.every((f) => hasDistinctNames(f.header)));
  const shards: PlannedShard[] = files.map((f, sourceIndex) => {
    const list = files.length === 1 ? tensors : tensors.slice(starts[sourceIndex], starts[sourceIndex + 1]);
    const fileName = sharded ? f.fileName : (options.outputFileName ?? f.fileName);
    const layout = planSafetensors(entriesOf(list), outputMetadata(f.header.metadata, c), { distinctNames: true, fileName }); // checkOutputNames
    return { fileName, inputName: f.fileName, tensors: list, layout };
  });
  const smallFiles: PlannedSmallFile[] = [];
  let index: ModelPlan['index'];
  if (sharded) {
    const wm = new Map<string, string>();
    let total = 0;
    for (const s of shards) {
      for (const t of s.layout.tensors) wm.set(t.name, s.fileName);
      total += s.layout.totalSize - s.layout.dataOffset;
    }
    const extra: Record<string, unknown> = { ...options.index!.metadata, hqq_tool: HQQ_WASM_TOOL, hqq_tool_version: HQQ_WASM_VERSION, hqq_config: describeConfig(c) };
    index = { fileName: options.indexOutputName ?? options.index!.fileName, text: buildIndexJson(wm, total, extra) };
    smallFiles.push({ fileName: index.fileName, data: index.text });
  }
  const planned: PlannedFile[] = shards.map((s) => ({ fileName: s.fileName, layout: s.layout, inputName: s.inputName }));
  return {
    format: 'hqq', config: describeConfig(c), resolved: c, baselineName: 'round-to-nearest',
    files: planned, smallFiles, sharded, shards, tensors,
    metadata: shards[0]!.layout.metadata, index,
    totals: planTotals(tensors, planned, smallFiles),
    warnings: hqqWarnings(tensors, c),
  };
}
