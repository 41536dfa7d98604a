/**
 * Planning pieces every format shares (browser-safe): totals over the planned tensors and files,
 * and the warnings for patterns that match nothing or runs that quantize nothing.
 */
import type { PlannedFile, PlannedSmallFile, PlannedTensor, PlanTotals, PlanWarning } from './types.js';

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

/** A warning for every user pattern that matches none of `names`. */
export function unusedPatternWarnings(names: readonly string[], patterns: readonly { what: string; pattern: RegExp }[]): PlanWarning[] {
  const out: PlanWarning[] = [];
  for (const { what, pattern } of patterns) {
    const hit = names.some((n) => {
      pattern.lastIndex = 0;
      return pattern.test(n);
    });
    if (!hit) out.push({ code: 'PATTERN_UNUSED', message: `${what} /${pattern.source}/ matches no tensor name; check the pattern` });
  }
  return out;
}

/** The run-level warnings of a finished plan: nothing quantized, or most of the weights copied. */
export function runWarnings(tensors: readonly PlannedTensor[]): PlanWarning[] {
  const quantized = tensors.filter((t) => t.action === 'quantize');
  if (quantized.length === 0) {
    return [{ code: 'NOTHING_QUANTIZED', message: `no tensor is quantized (${tensors.length} tensor${tensors.length === 1 ? '' : 's'} copied); check the options, or the copy reasons with --dry-run` }];
  }
  // Candidates: 2-D float tensors. When most of their weights are copied for a config reason, say so.
  const misfits = tensors.filter((t) => t.action === 'copy' && t.shape.length === 2 && /does not divide|packing needs|would fit/.test(t.reason ?? ''));
  const misfitParams = misfits.reduce((a, t) => a + t.numel, 0);
  const quantParams = quantized.reduce((a, t) => a + t.numel, 0);
  if (misfitParams > quantParams) {
    return [{ code: 'MOSTLY_COPIED', message: `${misfits.length} matrices (${misfitParams} weights, more than the ${quantParams} quantized) are copied because the config does not fit them, e.g. ${misfits[0]!.name}: ${misfits[0]!.reason}` }];
  }
  return [];
}
