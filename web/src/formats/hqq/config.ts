/**
 * The HQQ model config: options, their validation and defaults, per-tensor overrides, and the
 * config each tensor gets. Browser-safe.
 */
import { shown } from '../../arguments.js';
import { SUPPORTED_NBITS, normalizeOptions, type EarlyStop, type Nbits } from '../../engine.js';
import { HQQError } from '../../errors.js';
import { compileUserRegex } from '../../util/user-regex.js';
import { COMPUTE_DTYPES, type ComputeDtype, type LayerQuantConfig } from '../../model/hqqlinear.js';

/** A per-tensor override: tensors whose name matches `pattern` get these bits and group size. */
export interface TensorOverride {
  /** Tested (`RegExp.test`, unanchored unless it says `^...$`) on each tensor's full name; a string override `RE=BITS:GROUP` compiles to this. */
  pattern: RegExp;
  /** Bits per weight for the matching tensors. */
  nbits: Nbits;
  /** Group size for the matching tensors. */
  groupSize: number;
}

/** Solver parameters passed to every tensor (see `QuantizeOptions` in engine.ts). */
export interface SolverOptions {
  /** Solver lp-norm p, 0 < p <= 1 (default 0.7). */
  lpNorm?: number;
  /** Solver beta > 0 (default 10). */
  beta?: number;
  /** Solver beta growth per iteration, >= 1 (default 1.01; 1 reproduces PyPI hqq 0.2.8). */
  kappa?: number;
  /** Solver iterations, 0..1000 (default 20). */
  iters?: number;
  /** 'global' (the reference, default) or 'per-group-best'. */
  earlyStop?: EarlyStop;
}

/** The HQQ options of a whole-model run; every field optional, defaults as HQQLinear's. */
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
  /** Solver parameters for every tensor (defaults as `QuantizeOptions`). */
  solver?: SolverOptions;
}

/** A validated `ModelQuantConfig` with its defaults filled in (`resolveModelConfig`). */
export interface ResolvedModelConfig {
  /** Bits per weight of the tensors no override matches. */
  nbits: Nbits;
  /** Group size of the tensors no override matches. */
  groupSize: number;
  /** Grouping axis (see `QuantizeOptions.axis`). */
  axis: 0 | 1;
  /** Whether the HQQ solver runs. */
  optimize: boolean;
  /** undefined = per tensor, (nbits == 4) as the reference's HQQLinear default. */
  roundZero: boolean | undefined;
  /** dtype scale and zero are stored in. */
  computeDtype: ComputeDtype;
  /** The compiled `include` pattern, when given. */
  include?: RegExp;
  /** The compiled `exclude` pattern, when given. */
  exclude?: RegExp;
  /** Per-tensor overrides, compiled, in order (the first match wins). */
  tensorConfig: TensorOverride[];
  /** The solver parameters given (`{}`: the defaults). */
  solver: SolverOptions;
}

function invalid(message: string): never {
  throw new HQQError('INVALID_ARGUMENT', message);
}

export function toRegExp(v: RegExp | string, what: string): RegExp {
  if (v instanceof RegExp) return v;
  if (typeof v !== 'string') invalid(`${what} must be a regular expression or a string, got ${typeof v}`);
  return compileUserRegex(v, what); // refuses patterns that could backtrack catastrophically
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
  if (!SUPPORTED_NBITS.includes(nbits)) invalid(`nbits = ${shown(nbits)} is not supported; use one of ${SUPPORTED_NBITS.join(', ')}`);
  const groupSize = config.groupSize ?? 64;
  if (!Number.isSafeInteger(groupSize) || groupSize <= 0) invalid(`groupSize = ${shown(groupSize)} must be a positive integer (default 64)`);
  const axis = config.axis ?? 1;
  if (axis !== 0 && axis !== 1) invalid(`axis = ${shown(axis)} is invalid; use 1 (default) or 0`);
  const optimize = config.optimize ?? true;
  if (typeof optimize !== 'boolean') invalid(`optimize must be true or false`);
  if (config.roundZero !== undefined && typeof config.roundZero !== 'boolean') invalid(`roundZero must be true, false or omitted`);
  const computeDtype = config.computeDtype ?? 'float16';
  if (!COMPUTE_DTYPES.includes(computeDtype)) invalid(`computeDtype = ${JSON.stringify(computeDtype)} is invalid; use one of ${COMPUTE_DTYPES.join(', ')}`);
  if (config.tensorConfig !== undefined && !Array.isArray(config.tensorConfig)) {
    invalid(`tensorConfig must be an array of "RE=BITS:GROUP" strings or {pattern: RegExp, nbits, groupSize} objects, got ${shown(config.tensorConfig)}`);
  }
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
/** The HQQ config as recorded in the output metadata (`hqq_config`) and in reports. */
export interface HQQConfigRecord {
  /** Bits per weight (the default of tensors no override matches). */
  nbits: Nbits;
  /** Group size (the default of tensors no override matches). */
  group_size: number;
  /** Grouping axis. */
  axis: 0 | 1;
  /** Whether the HQQ solver ran. */
  optimize: boolean;
  /** true/false when given; otherwise the reference's HQQLinear default, on for 4-bit. */
  round_zero: boolean | 'nbits == 4';
  /** dtype of scale and zero. */
  compute_dtype: ComputeDtype;
  /** The `include` pattern's source, null when not set. */
  include: string | null;
  /** The `exclude` pattern's source, null when not set. */
  exclude: string | null;
  /** `RE=BITS:GROUP` overrides, first match wins. */
  tensor_config: string[];
  /** The solver parameters given; absent when all are defaults. */
  solver?: SolverOptions;
}

export function describeConfig(c: ResolvedModelConfig): HQQConfigRecord {
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


/** Whether `c` came out of `resolveModelConfig` (so it need not be resolved again). */
export function isResolvedModelConfig(c: unknown): c is ResolvedModelConfig {
  return typeof c === 'object' && c !== null && RESOLVED.has(c);
}

/** The first override whose pattern matches `name`, if any. */
export function overrideFor(name: string, c: ResolvedModelConfig): TensorOverride | undefined {
  return c.tensorConfig.find((t) => {
    t.pattern.lastIndex = 0;
    return t.pattern.test(name);
  });
}

/** The quantization config one tensor gets (first matching override, else the global config). */
export function tensorConfigFor(name: string, c: ResolvedModelConfig): LayerQuantConfig {
  const o = overrideFor(name, c);
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
