/**
 * HQQ folders for transformers and vLLM: config.json's `quantization_config`, which runtimes
 * accept a config, and the per-layer keys each runtime reads. Browser-safe.
 *
 * Facts (read from the sources; see docs/hqq-folders.md):
 *  - transformers `HqqConfig.to_dict()` (src/transformers/utils/quantization_config.py) is
 *    {"quant_config": ..., "quant_method": "hqq", "skip_modules": [...]}; `quant_config` is hqq's
 *    `BaseQuantizeConfig(...)`: {"weight_quant_params": {nbits, channel_wise: true, group_size,
 *    optimize: true, round_zero: nbits == 4, axis, view_as_float}, "scale_quant_params": null,
 *    "zero_quant_params": null, "offload_meta": false}, or, with `dynamic_config`, a map from
 *    linear tag ("self_attn.q_proj", "mlp.down_proj": the module name without "model", "layers"
 *    and layer numbers, integrations/hqq.py `name_to_linear_tag`) to such a dict. skip_modules
 *    defaults to ["lm_head"].
 *  - Loading a saved HQQ model (src/transformers/quantizers/quantizer_hqq.py) rebuilds every
 *    layer from its own keys (`HQQLinear.load_state_dict`, stores_quant_config); the keys are
 *    `HQQLinear.state_dict_keys()` minus "bias".
 *  - vLLM's `hqq` method (vllm/model_executor/layers/quantization/hqq_marlin.py) reads
 *    quant_config.weight_quant_params.{nbits, group_size} and skip_modules, asserts nbits 4 and
 *    group size 64, and registers W_q, scale, zero plus 16 ignored config keys per layer.
 */
import { HQQError } from '../../errors.js';
import { parseHFJson } from './json.js';

/** What one layer was quantized with. */
export interface HQQLayerParams {
  /** Bits per weight (8, 6, 5, 4, 3, 2, 1.58 or 1). */
  nbits: number;
  /** Values per quantization group. */
  groupSize: number;
  /** Grouping axis (1: consecutive values, the only axis vLLM takes). */
  axis: 0 | 1;
  /** Whether the HQQ solver ran. */
  optimize: boolean;
  /** Whether the initial zero point was rounded. */
  roundZero: boolean;
}

/** One nn.Linear of the model: its module name and its HQQ parameters, or null when kept unquantized. */
export interface HQQLinearLayer {
  /** Module name, e.g. "model.layers.0.self_attn.q_proj" (a trailing ".weight" is ignored). */
  module: string;
  /** Its HQQ parameters; null for a layer kept unquantized (it goes into skip_modules). */
  quant: HQQLayerParams | null;
}

/** hqq's BaseQuantizeConfig dict. */
export interface HQQBaseQuantizeConfig {
  /** How the weights are quantized. */
  weight_quant_params: {
    /** Bits per weight. */
    nbits: number;
    /** Always true: per-group scale and zero. */
    channel_wise: true;
    /** Values per group. */
    group_size: number;
    /** Whether the HQQ solver ran. */
    optimize: boolean;
    /** Whether the initial zero point was rounded. */
    round_zero: boolean;
    /** Grouping axis. */
    axis: 0 | 1;
    /** Always false: levels are stored as integers. */
    view_as_float: false;
  };
  /** Always null: scales are not quantized again. */
  scale_quant_params: null;
  /** Always null: zero points are not quantized again. */
  zero_quant_params: null;
  /** Always false: no metadata offloading. */
  offload_meta: false;
}

/** config.json's `quantization_config` for an HQQ folder, as transformers' `HqqConfig.to_dict()` writes it. */
export interface HQQQuantizationConfig {
  /** One config for every quantized layer (global form), or one per linear tag such as "self_attn.q_proj" (per-layer form). */
  quant_config: HQQBaseQuantizeConfig | Record<string, HQQBaseQuantizeConfig>;
  /** Always 'hqq'. */
  quant_method: 'hqq';
  /** Module names or linear tags left unquantized ("lm_head" unless it is quantized). */
  skip_modules: string[];
}

/** The per-layer keys transformers loads: hqq's HQQLinear.state_dict_keys() without "bias". */
export const TRANSFORMERS_HQQ_KEYS: readonly string[] = Object.freeze([
  'W_q', 'nbits', 'group_size', 'shape', 'scale', 'zero', 'axis', 'packing', 'unpack_view_dtype', 'view_as_float',
  'quant_scale', 'quant_zero', 'compute_dtype', 'offload_meta', 'encoded_state_dict', 'stores_quant_config',
  'channel_wise', 'optimize', 'round_zero',
]);

/** The per-layer keys vLLM registers (hqq_marlin.py: W_q, zero, scale, then its ignore list). */
export const VLLM_HQQ_KEYS: readonly string[] = Object.freeze([
  'W_q', 'zero', 'scale',
  'axis', 'channel_wise', 'compute_dtype', 'encoded_state_dict', 'group_size', 'nbits', 'offload_meta', 'optimize',
  'packing', 'quant_scale', 'quant_zero', 'round_zero', 'shape', 'stores_quant_config', 'unpack_view_dtype', 'view_as_float',
]);

/** Keys of one layer (suffixes after "<module>.", without "bias") each runtime lacks or does not know. */
export function hqqLayerKeyProblems(suffixes: readonly string[]): { transformers: { missing: string[]; unexpected: string[] }; vllm: { missing: string[]; unexpected: string[] } } {
  const have = new Set(suffixes.filter((k) => k !== 'bias'));
  const diff = (want: readonly string[]) => ({ missing: want.filter((k) => !have.has(k)), unexpected: [...have].filter((k) => !want.includes(k)) });
  return { transformers: diff(TRANSFORMERS_HQQ_KEYS), vllm: diff(VLLM_HQQ_KEYS) };
}

/** transformers' name_to_linear_tag: "model.layers.31.self_attn.k_proj" -> "self_attn.k_proj". */
export function linearTag(module: string): string {
  const name = module.endsWith('.weight') ? module.slice(0, -'.weight'.length) : module;
  return name.split('.').filter((n) => n !== 'model' && n !== 'layers' && !/^\d+$/.test(n)).join('.');
}

/** hqq's BaseQuantizeConfig for one layer's parameters. */
export function baseQuantizeConfig(p: HQQLayerParams): HQQBaseQuantizeConfig {
  return {
    weight_quant_params: { nbits: p.nbits, channel_wise: true, group_size: p.groupSize, optimize: p.optimize, round_zero: p.roundZero, axis: p.axis, view_as_float: false },
    scale_quant_params: null,
    zero_quant_params: null,
    offload_meta: false,
  };
}

const paramsKey = (p: HQQLayerParams) => `${p.nbits}/${p.groupSize}/${p.axis}/${p.optimize}/${p.roundZero}`;
const describeParams = (p: HQQLayerParams) => `${p.nbits}-bit g${p.groupSize} axis ${p.axis}`;

function checkLayers(layers: readonly HQQLinearLayer[]): void {
  if (!Array.isArray(layers) || layers.length === 0) throw new HQQError('INVALID_ARGUMENT', 'hqqQuantizationConfig: pass every linear layer of the model as { module, quant }');
  for (const l of layers) {
    if (!l || typeof l.module !== 'string' || l.module.length === 0) throw new HQQError('INVALID_ARGUMENT', 'hqqQuantizationConfig: every layer needs a module name');
    const q = l.quant;
    if (q === null) continue;
    if (!q || typeof q.nbits !== 'number' || !(q.nbits > 0) || !Number.isSafeInteger(q.groupSize) || q.groupSize <= 0 || (q.axis !== 0 && q.axis !== 1)) {
      throw new HQQError('INVALID_ARGUMENT', `hqqQuantizationConfig: layer ${JSON.stringify(l.module)}: quant must be { nbits, groupSize, axis: 0|1, optimize, roundZero } or null`);
    }
  }
}

/**
 * The `quantization_config` of an HQQ folder, as transformers' HqqConfig.to_dict() produces it:
 * the global form when every quantized layer shares one config, else the per-layer form keyed by
 * linear tag. skip_modules: "lm_head" unless it is quantized, plus every tag none of whose layers
 * is quantized (or `options.skipModules`). A tag whose layers differ (say layer 0's q_proj at
 * 8 bits, the others at 4) gets its most common config with a warning: config.json cannot say
 * more, but transformers loads each layer from its own stored keys.
 * @param options.skipModules The skip_modules to write instead of the computed ones.
 * @returns `config`: the quantization_config; `form`: 'global' or 'per-layer'; `warnings`: one sentence per tag whose layers differ.
 */
export function hqqQuantizationConfig(layers: readonly HQQLinearLayer[], options: { skipModules?: readonly string[] } = {}): { config: HQQQuantizationConfig; form: 'global' | 'per-layer'; warnings: string[] } {
  checkLayers(layers);
  const warnings: string[] = [];
  const quantized = layers.filter((l) => l.quant !== null) as (HQQLinearLayer & { quant: HQQLayerParams })[];
  if (quantized.length === 0) throw new HQQError('INVALID_ARGUMENT', 'hqqQuantizationConfig: no layer is quantized, so there is no HQQ model to describe');
  const byTag = new Map<string, { params: Map<string, { p: HQQLayerParams; count: number }>; quantized: number }>();
  for (const l of layers) {
    const tag = linearTag(l.module);
    const entry = byTag.get(tag) ?? { params: new Map(), quantized: 0 };
    byTag.set(tag, entry);
    if (!l.quant) continue;
    entry.quantized++;
    const k = paramsKey(l.quant);
    const seen = entry.params.get(k);
    if (seen) seen.count++;
    else entry.params.set(k, { p: l.quant, count: 1 });
  }
  const distinct = new Set(quantized.map((l) => paramsKey(l.quant)));
  const skip = options.skipModules ? [...options.skipModules] : [
    ...(byTag.get('lm_head')?.quantized ? [] : ['lm_head']),
    ...[...byTag].filter(([tag, e]) => tag !== 'lm_head' && e.quantized === 0).map(([tag]) => tag),
  ];
  if (distinct.size === 1) {
    return { config: { quant_config: baseQuantizeConfig(quantized[0]!.quant), quant_method: 'hqq', skip_modules: skip }, form: 'global', warnings };
  }
  const perTag: Record<string, HQQBaseQuantizeConfig> = {};
  for (const [tag, e] of byTag) {
    if (e.quantized === 0) continue;
    const ranked = [...e.params.values()].sort((a, b) => b.count - a.count);
    perTag[tag] = baseQuantizeConfig(ranked[0]!.p);
    if (ranked.length > 1) {
      warnings.push(`layers tagged ${JSON.stringify(tag)} use ${ranked.length} configs (${ranked.map((r) => `${r.count} x ${describeParams(r.p)}`).join(', ')}); config.json's per-layer form keys configs by tag, so it records ${describeParams(ranked[0]!.p)}. transformers loads each layer from its own stored keys, so the model still loads as quantized`);
    }
  }
  return { config: { quant_config: perTag, quant_method: 'hqq', skip_modules: skip }, form: 'per-layer', warnings };
}

/**
 * config.json's text with `quantization_config` added. The input's text is kept byte for byte
 * and the key appended before its closing brace (2-space indent, like save_pretrained), so
 * every other field stays as the model's authors wrote it. A config that already has a
 * quantization_config is refused.
 */
export function withQuantizationConfig(configText: string, qc: HQQQuantizationConfig): string {
  let parsed: unknown;
  try {
    parsed = parseHFJson(configText);
  } catch (e) {
    throw new HQQError('BAD_FILE', `config.json: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HQQError('BAD_FILE', 'config.json: the top level must be an object');
  if ('quantization_config' in parsed) throw new HQQError('UNSUPPORTED', 'config.json already has a quantization_config; start from the unquantized model');
  const body = JSON.stringify(qc, null, 2).replace(/\n/g, '\n  ');
  const end = configText.lastIndexOf('}');
  const before = configText.slice(0, end).replace(/\s*$/, '');
  const empty = Object.keys(parsed).length === 0;
  return `${before}${empty ? '' : ','}\n  "quantization_config": ${body}\n}${configText.slice(end + 1).trim() ? configText.slice(end + 1) : '\n'}`;
}

/** Whether one runtime loads an HQQ folder, and why. */
export interface RuntimeVerdict {
  /** The runtime loads this folder. */
  ok: boolean;
  /** Why not (when !ok), or what to know (when ok). */
  reasons: string[];
}

/** Which runtimes load an HQQ folder (`runtimeSupport`). */
export interface RuntimeSupport {
  /** transformers' HQQ integration. */
  transformers: RuntimeVerdict;
  /** vLLM's `hqq` method (4-bit, group size 64, axis 1 only). */
  vllm: RuntimeVerdict;
  /** One line per runtime that refuses the config, and cautions; for the console and the demo. */
  warnings: string[];
}

const TRANSFORMERS_NBITS = [8, 4, 3, 2, 1];
const TRANSFORMERS_NEWER_NBITS = [6, 5, 1.58];

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The weight params of every config in a quant_config (global: one; per-layer: one per tag). */
function weightParams(qc: Record<string, unknown>): { tag?: string; p: Record<string, unknown> }[] {
  const q = qc.quant_config;
  if (!isObj(q)) throw new HQQError('INVALID_ARGUMENT', 'runtimeSupport: quantization_config.quant_config must be an object');
  if (isObj(q.weight_quant_params)) return [{ p: q.weight_quant_params }];
  return Object.entries(q).map(([tag, c]) => {
    if (!isObj(c) || !isObj(c.weight_quant_params)) throw new HQQError('INVALID_ARGUMENT', `runtimeSupport: quant_config[${JSON.stringify(tag)}] has no weight_quant_params`);
    return { tag, p: c.weight_quant_params };
  });
}

function transformersVerdict(list: { tag?: string; p: Record<string, unknown> }[]): RuntimeVerdict {
  const reasons: string[] = [];
  let ok = true;
  const cautions = new Set<string>();
  for (const { tag, p } of list) {
    const where = tag ? `${tag}: ` : '';
    const nbits = p.nbits as number;
    if (TRANSFORMERS_NEWER_NBITS.includes(nbits)) cautions.add(`${nbits}-bit layers need an hqq release whose Quantizer lists ${nbits} bits (SUPPORTED_BITS [8, 6, 5, 4, 3, 2, 1.58, 1]); HqqConfig documents 8, 4, 3, 2 and 1`);
    else if (!TRANSFORMERS_NBITS.includes(nbits)) {
      ok = false;
      reasons.push(`${where}nbits ${nbits} is not a width hqq packs`);
    }
    if (p.axis !== 0 && p.axis !== 1) {
      ok = false;
      reasons.push(`${where}axis ${String(p.axis)} (hqq groups along axis 0 or 1)`);
    }
    if (p.view_as_float === true) {
      ok = false;
      reasons.push(`${where}view_as_float is true (hqq-wasm writes integer W_q)`);
    }
    const g = p.group_size as number;
    if (Number.isSafeInteger(g) && g % 8 !== 0) cautions.add(`group size ${g} is not a multiple of 8: loading works (each layer stores its config), but HqqConfig / BaseQuantizeConfig cannot re-create it in Python`);
  }
  reasons.push(...cautions);
  reasons.push('needs the hqq package; older transformers releases also refuse to load HQQ models without a CUDA GPU');
  return { ok, reasons };
}

function vllmVerdict(qc: Record<string, unknown>, list: { tag?: string; p: Record<string, unknown> }[], layers?: readonly HQQLinearLayer[]): RuntimeVerdict {
  const reasons: string[] = [];
  if (list.length !== 1 || list[0]!.tag !== undefined) {
    reasons.push('the per-layer quant_config form: HQQMarlinConfig.from_config reads quant_config.weight_quant_params, which only the global form has');
  }
  for (const { tag, p } of list) {
    const where = tag ? `${tag}: ` : '';
    if (p.nbits !== 4) reasons.push(`${where}nbits ${String(p.nbits)} (vLLM's hqq method asserts 4-bit)`);
    if (p.group_size !== 64) reasons.push(`${where}group size ${String(p.group_size)} (vLLM's hqq method asserts group size 64)`);
    if (p.axis !== 1) reasons.push(`${where}axis ${String(p.axis)} (vLLM reshapes W_q, scale and zero as groups along the input dimension, i.e. axis 1)`);
  }
  if (layers) {
    const skip = Array.isArray(qc.skip_modules) ? (qc.skip_modules as unknown[]).filter((s): s is string => typeof s === 'string') : [];
    const skipped = (m: string) => m.split('.').some((c) => skip.includes(c)) || m === 'lm_head' || m.endsWith('.lm_head');
    const plain = layers.filter((l) => l.quant === null && !skipped(l.module.replace(/\.weight$/, '')));
    if (plain.length > 0) {
      reasons.push(`${plain.length} linear layer(s) are not quantized (${plain.slice(0, 3).map((l) => l.module).join(', ')}${plain.length > 3 ? ', ...' : ''}); vLLM quantizes every linear layer whose name has no component in skip_modules`);
    }
    const odd = layers.filter((l) => l.quant && (l.quant.nbits !== 4 || l.quant.groupSize !== 64 || l.quant.axis !== 1));
    if (odd.length > 0 && list.length === 1 && list[0]!.p.nbits === 4) reasons.push(`${odd.length} layer(s) are not 4-bit g64 axis 1 (e.g. ${odd[0]!.module}: ${describeParams(odd[0]!.quant!)})`);
  }
  const ok = reasons.length === 0;
  reasons.push('runs on GPUs with compute capability 8.0 or newer (Marlin kernels), float16/bfloat16 activations');
  return { ok, reasons };
}

/**
 * Which runtimes load an HQQ folder with this `quantization_config` (and, when given, these
 * layers), with the reasons and a warning per runtime that would refuse it.
 */
export function runtimeSupport(qc: HQQQuantizationConfig | Record<string, unknown>, layers?: readonly HQQLinearLayer[]): RuntimeSupport {
  if (!isObj(qc) || qc.quant_method !== 'hqq') throw new HQQError('INVALID_ARGUMENT', 'runtimeSupport: pass an HQQ quantization_config ({ quant_method: "hqq", quant_config, skip_modules })');
  const list = weightParams(qc as Record<string, unknown>);
  const transformers = transformersVerdict(list);
  const vllm = vllmVerdict(qc as Record<string, unknown>, list, layers);
  const warnings: string[] = [];
  const problems = (v: RuntimeVerdict) => v.reasons.slice(0, v.reasons.length - 1).join('; ');
  if (!transformers.ok) warnings.push(`transformers will not load this HQQ folder: ${problems(transformers)}`);
  if (!vllm.ok) warnings.push(`vLLM's hqq method will not load this folder (it takes 4-bit, group size 64, axis 1 only): ${problems(vllm)}. transformers ${transformers.ok ? 'loads it' : 'does not either'}`);
  for (const r of transformers.reasons.slice(0, -1)) if (transformers.ok) warnings.push(`transformers: ${r}`);
  return { transformers, vllm, warnings };
}
