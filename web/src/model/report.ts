/**
 * What a run reports, per tensor and for the whole model (browser-safe). Errors are aggregated
 * from summable sums (`TaskStats`), so row ranges, tensors and models combine exactly: mean |err|
 * weighted by element count, relative Frobenius error sqrt(sum err^2 / sum W^2).
 */
import type { FormatConfigRecord, FormatName, FormatPlan, PlannedTensor, PlanTotals, PlanWarning } from '../formats/types.js';
import type { TaskStats } from '../pool/types.js';

/** Reconstruction errors of one tensor (or a whole model). */
export interface ErrorSummary {
  /** mean |W - W_r| */
  meanAbs: number;
  /** max |W - W_r| */
  maxAbs: number;
  /** ||W - W_r||_F / ||W||_F (0 for an all-zero W) */
  relFrobenius: number;
}

/** What a run did with one input tensor: action, sizes and, for quantized tensors, the error. */
export interface TensorReport {
  /** The input tensor's name. */
  name: string;
  /** Its dims, row-major (PyTorch order). */
  shape: number[];
  /** Input dtype (as the container names it). */
  dtype: string;
  /** 'quantize'; 'copy' (bytes unchanged); 'convert' (another float dtype, e.g. a bias in the compute dtype); 'drop' (not in the output). */
  action: 'quantize' | 'copy' | 'convert' | 'drop';
  /** Why it was copied or converted rather than quantized. */
  reason?: string;
  /** What it became, in a few characters: "q4 g64" (HQQ), "Q4_K" (GGUF), "copy", "F16"... */
  label: string;
  /** A converted tensor's output dtype. */
  outputDtype?: string;
  /** HQQ: bits per weight of the levels (8, 6, 5, 4, 3, 2, 1.58, 1). */
  nbits?: number;
  /** HQQ: values per quantization group. */
  groupSize?: number;
  /** HQQ: grouping axis (1: consecutive values). */
  axis?: 0 | 1;
  /** GGUF: the GGML type written. */
  type?: string;
  /** Input bytes of this tensor. */
  bytesBefore: number;
  /** Output bytes (every entry it became). */
  bytesAfter: number;
  /** Output bits per weight (bytesAfter * 8 / elements). */
  bitsPerWeight: number;
  /** mean |W - W_r| (quantized tensors, after the run). */
  meanAbs?: number;
  /** max |W - W_r| (quantized tensors, after the run). */
  maxAbs?: number;
  /** ||W - W_r||_F / ||W||_F (quantized tensors, after the run). */
  relFrobenius?: number;
  /** HQQ solver iterations. */
  iterations?: number;
  /**
   * HQQ: groups whose grid spans at most half its levels because of the reference's scale limits
   * (`QuantizedTensor.limitedGroups`): very small weights, at least twice the error their bits
   * allow; present when any.
   */
  limitedGroups?: number;
  /** The baseline's errors on the same weights (option `compareRtn`), with its `name`: HQQ round-to-nearest, GGUF llama.cpp. */
  baseline?: ErrorSummary & { name: string };
  /** HQQ: the same errors with plain round-to-nearest (= `baseline` for HQQ runs). */
  rtn?: ErrorSummary;
  /** Worker time for this tensor (all its jobs). */
  seconds?: number;
}

/** What `quantizeModel` did (or, in a dry run, would do): files, totals, errors, every tensor. */
export interface QuantizeModelReport {
  /** True for a dry run: nothing was computed or written, and the error fields are 0. */
  dryRun: boolean;
  /** The output format. */
  format: FormatName;
  /** The resolved config as recorded in the output: `HQQConfigRecord` or `GGUFConfigRecord` (by `format`). */
  config: FormatConfigRecord;
  /** Workers used (the option, capped to the cores and to the number of jobs). */
  workers: number;
  /** Wall time of the whole run, opening the input included. */
  seconds: number;
  /** Output file names, in order (small files such as an index last). */
  files: string[];
  /** Sharded HQQ output: the index file name. */
  index?: string;
  /** Counts and byte sums over the plan. */
  totals: PlanTotals;
  /** Over all quantized weights: mean |W - W_r|. */
  meanAbs: number;
  /** Over all quantized weights: max |W - W_r|. */
  maxAbs: number;
  /** Over all quantized weights: ||W - W_r||_F / ||W||_F. */
  relFrobenius: number;
  /** The baseline over the same weights (option `compareRtn`), with its `name` ("round-to-nearest", "llama.cpp"). */
  baseline?: ErrorSummary & { name: string };
  /** HQQ: round-to-nearest over the same weights (= `baseline`): its `meanAbs` and `relFrobenius`. */
  rtn?: { meanAbs: number; relFrobenius: number };
  /** Things the user probably did not mean (a pattern matching nothing, nothing quantized...). */
  warnings: PlanWarning[];
  /**
   * A sharded run (option `shard`): which part this was, `index` (1-based) of `count`; the plan's
   * `fingerprint` (SHA-256 hex, the same on every part of one run); `record`, the file name of the
   * part record it wrote. `tensors` and `totals` are the part's.
   */
  part?: { index: number; count: number; fingerprint: string; record: string };
  /** Every input tensor, in input order. */
  tensors: TensorReport[];
}

export function emptySums(): TaskStats {
  return { count: 0, sumAbs: 0, sumSq: 0, maxAbs: 0, sumWSq: 0 };
}

export function addSums(into: TaskStats, s: TaskStats): void {
  into.count += s.count;
  into.sumAbs += s.sumAbs;
  into.sumSq += s.sumSq;
  into.maxAbs = Math.max(into.maxAbs, s.maxAbs);
  into.sumWSq += s.sumWSq;
}

/** Mean |err|, max |err| and relative Frobenius error from error sums (a task's, a tensor's or a model's). */
export function summarizeSums(s: TaskStats): ErrorSummary {
  return {
    meanAbs: s.count > 0 ? s.sumAbs / s.count : 0,
    maxAbs: s.maxAbs,
    relFrobenius: s.sumWSq > 0 ? Math.sqrt(s.sumSq / s.sumWSq) : 0,
  };
}

/** The report of a tensor from its plan (no errors yet). */
export function plannedReport(t: PlannedTensor): TensorReport {
  const r: TensorReport = {
    name: t.name, shape: t.shape, dtype: t.dtype, action: t.action, reason: t.reason, label: t.label,
    bytesBefore: t.bytesBefore, bytesAfter: t.bytesAfter, bitsPerWeight: t.bitsPerWeight,
  };
  if (t.action === 'convert') r.outputDtype = t.label;
  if (t.hqq && t.action === 'quantize') Object.assign(r, { nbits: t.hqq.nbits, groupSize: t.hqq.groupSize, axis: t.hqq.axis });
  if (t.ggufType) r.type = t.ggufType;
  return r;
}

/** Per-tensor sums collected during a run. */
export interface TensorSums {
  stats: TaskStats;
  baseline?: TaskStats;
  /** HQQ: groups whose scale the reference's limits set (`TensorReport.limitedGroups`). */
  limitedGroups?: number;
}

export function finishedReport(t: PlannedTensor, sums: TensorSums, iterations: number | undefined, ms: number, baselineName: string | undefined): TensorReport {
  const r = plannedReport(t);
  Object.assign(r, summarizeSums(sums.stats));
  if (iterations !== undefined) r.iterations = iterations;
  if (sums.limitedGroups) r.limitedGroups = sums.limitedGroups;
  r.seconds = ms / 1000;
  if (sums.baseline) {
    const b = summarizeSums(sums.baseline);
    r.baseline = { name: baselineName ?? 'baseline', ...b };
    if (t.hqq) r.rtn = b;
  }
  return r;
}

export function modelReport(
  plan: FormatPlan, tensors: TensorReport[], sums: ReadonlyMap<number, TensorSums>, extra: { dryRun: boolean; workers: number; seconds: number; warnings: PlanWarning[] },
): QuantizeModelReport {
  const all = emptySums();
  let base: TaskStats | undefined;
  for (const s of sums.values()) {
    addSums(all, s.stats);
    if (s.baseline) addSums((base ??= emptySums()), s.baseline);
  }
  const summary = summarizeSums(all);
  const b = base && summarizeSums(base);
  const indexFile = plan.format === 'hqq' && !plan.part ? plan.smallFiles.find((f) => f.fileName.endsWith('.json'))?.fileName : undefined;
  return {
    dryRun: extra.dryRun,
    format: plan.format,
    config: plan.config,
    workers: extra.workers,
    seconds: extra.seconds,
    files: [...plan.files.map((f) => f.fileName), ...plan.smallFiles.map((f) => f.fileName)],
    index: indexFile,
    totals: plan.totals,
    meanAbs: summary.meanAbs,
    maxAbs: summary.maxAbs,
    relFrobenius: summary.relFrobenius,
    baseline: b && { name: plan.baselineName ?? 'baseline', ...b },
    rtn: b && plan.format === 'hqq' ? { meanAbs: b.meanAbs, relFrobenius: b.relFrobenius } : undefined,
    warnings: extra.warnings,
    part: plan.part && { index: plan.part.index, count: plan.part.count, fingerprint: plan.part.fingerprint, record: plan.part.record },
    tensors: plan.part ? plan.part.tensors.map((i) => tensors[i]!) : tensors,
  };
}
