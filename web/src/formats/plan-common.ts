/**
 * Planning pieces every format shares (browser-safe): totals over the planned tensors and files,
 * and the warnings for patterns that match nothing or runs that quantize nothing.
 */
import type { Job, PlannedFile, PlannedSmallFile, PlannedTensor, PlanTotals, PlanWarning } from './types.js';

/**
 * The `jobs` of every tensor without work of its own (copies, drops, tensors another job
 * produces): one frozen array for all of them, not one per tensor (a plan can hold millions).
 */
export const NO_JOBS: Job[] = Object.freeze([]) as unknown as Job[];

/**
 * A plain-object copy of a planned tensor, with `patch` applied. An object spread misses fields
 * that are accessors (formats/hqq/copied-tensor.ts derives most of a copy's fields from its
 * header entry); this copies those too.
 */
export function plainTensor<T extends PlannedTensor>(t: T, patch: Partial<T> = {}): T {
  const out = { ...t } as Record<string, unknown>;
  for (let p = Object.getPrototypeOf(t) as object | null; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(p))) {
      if (d.get !== undefined && !(k in out)) out[k] = (t as Record<string, unknown>)[k];
    }
  }
  return Object.assign(out, patch) as T;
}

function byteLength(data: Uint8Array | string | undefined): number {
  if (data === undefined) return 0;
  return typeof data === 'string' ? new TextEncoder().encode(data).byteLength : data.byteLength;
}

export function planTotals(tensors: readonly PlannedTensor[], files: readonly PlannedFile[], smallFiles: readonly PlannedSmallFile[]): PlanTotals {
  let parameters = 0;
  let bytesBefore = 0;
  let bytesAfter = 0;
  let quantized = 0;
  let quantizedParameters = 0;
  let quantizedBytesBefore = 0;
  let quantizedBytesAfter = 0;
  for (const t of tensors) {
    parameters += t.numel;
    bytesBefore += t.bytesBefore;
    bytesAfter += t.bytesAfter;
    if (t.action !== 'quantize') continue;
    quantized++;
    quantizedParameters += t.numel;
    quantizedBytesBefore += t.bytesBefore;
    quantizedBytesAfter += t.bytesAfter;
  }
  let fileBytes = 0;
  for (const f of files) fileBytes += f.layout.totalSize;
  for (const f of smallFiles) fileBytes += byteLength(f.data);
  return {
    tensors: tensors.length,
    quantized,
    copied: tensors.length - quantized,
    parameters,
    quantizedParameters,
    bytesBefore,
    bytesAfter,
    fileBytes,
    quantizedBytesBefore,
    quantizedBytesAfter,
    bitsPerWeight: quantizedParameters > 0 ? (quantizedBytesAfter * 8) / quantizedParameters : 0,
  };
}

/** Whether `pattern` matches one of `names` (any iterable: no array of every name is needed). */
export function matchesAny(pattern: RegExp, names: Iterable<string>): boolean {
  for (const n of names) {
    pattern.lastIndex = 0;
    if (pattern.test(n)) return true;
  }
  return false;
}

/** A warning for every user pattern that matches none of `names` (any iterable). */
export function unusedPatternWarnings(names: Iterable<string>, patterns: readonly { what: string; pattern: RegExp }[]): PlanWarning[] {
  const out: PlanWarning[] = [];
  for (const { what, pattern } of patterns) {
    if (!matchesAny(pattern, names)) out.push({ code: 'PATTERN_UNUSED', message: `${what} /${pattern.source}/ matches no tensor name; check the pattern` });
  }
  return out;
}

/** The run-level warnings of a finished plan: nothing quantized, or most of the weights copied. */
export function runWarnings(tensors: readonly PlannedTensor[]): PlanWarning[] {
  // One pass with counters: no filtered copies of a plan that may hold millions of tensors.
  let quantized = 0;
  let quantParams = 0;
  let misfits = 0;
  let misfitParams = 0;
  let firstMisfit: PlannedTensor | undefined;
  for (const t of tensors) {
    if (t.action === 'quantize') {
      quantized++;
      quantParams += t.numel;
    } else if (t.action === 'copy' && t.shape.length === 2 && MISFIT.test(t.reason ?? '')) {
      // Candidates: 2-D float tensors copied for a config reason.
      misfits++;
      misfitParams += t.numel;
      firstMisfit ??= t;
    }
  }
  if (quantized === 0) {
    return [{ code: 'NOTHING_QUANTIZED', message: `no tensor is quantized (${tensors.length} tensor${tensors.length === 1 ? '' : 's'} copied); check the options, or the copy reasons with --dry-run` }];
  }
  if (misfitParams > quantParams) {
    return [{ code: 'MOSTLY_COPIED', message: `${misfits} matrices (${misfitParams} weights, more than the ${quantParams} quantized) are copied because the config does not fit them, e.g. ${firstMisfit!.name}: ${firstMisfit!.reason}` }];
  }
  return [];
}

const MISFIT = /does not divide|packing needs|would fit/;
