/**
 * Whole-model quantization, browser-safe (no `node:` imports), for every output format: open the
 * input (headers only), let the format plan everything, create every output file (header first),
 * then run the quantize lane (worker jobs) and the copy lane side by side, writing each result at
 * its planned offset in whatever order workers finish, and commit. At most `maxInFlight` jobs are
 * in memory at once (backpressure). On any failure or abort the pool is terminated and every
 * output writer is aborted, so no output is left behind.
 *
 * Input: `ByteSource`s (Blob/File in browsers, files in Node) + optional index.json text.
 * Output: a `ModelSink` (see docs/models.md); the Node sink is in `node-model.ts`.
 */
import { checkBooleanOption, checkFunctionOption, checkSignalOption, optionsArgument, shown } from '../arguments.js';
import { HQQError } from '../errors.js';
import { createFormat, type FormatOptions } from '../formats/registry.js';
import type { FormatPlan, OutputFormat, PlanWarning } from '../formats/types.js';
import type { ModelSink } from '../io/sink.js';
import type { WorkerPool } from '../pool/types.js';
import { openModelInput, type InputModel, type ModelInput } from './input.js';
import { modelReport, plannedReport, type QuantizeModelReport, type TensorReport, type TensorSums } from './report.js';
import { commitOutputs } from './run/commit.js';
import { runCopyLane } from './run/copy-lane.js';
import { runJobLane } from './run/job-lane.js';
import { RunState, type ModelProgressEvent } from './run/state.js';
import { checkShard, shardPlan, type ShardOption } from './shard.js';
import { testHooksOf } from './test-hooks.js';

export type { ModelSink, ShardWriter } from '../io/sink.js';
export type { ModelInput } from './input.js';
export type { ModelProgressEvent, ModelProgressType } from './run/state.js';
export type { ErrorSummary, QuantizeModelReport, TensorReport } from './report.js';
export type { PartRecord, PlanPart, ShardOption } from './shard.js';

export { TEST_HOOKS, type TestHooks } from './test-hooks.js';

/** How a whole-model run goes: workers, cancellation, progress, dry run, memory bounds. */
export interface RunOptions {
  /** Makes the worker pool (e.g. `size => createNodePool({ size, module })`); terminated at the end. */
  createPool?: (size: number) => WorkerPool | Promise<WorkerPool>;
  /** Number of workers (default: the number of cores; capped to the cores and to the number of jobs). */
  workers?: number;
  /** Cancels the run: it rejects with `ABORTED`, and no output is published. */
  signal?: AbortSignal;
  /** Called as tensors start, advance and finish, synchronously (keep it quick); if it throws, the run fails with `INVALID_ARGUMENT`. */
  onProgress?: (event: ModelProgressEvent) => void;
  /** Plan only: return the report with sizes and bits per weight, write nothing. */
  dryRun?: boolean;
  /**
   * Plan warnings are errors (nothing quantized, a pattern or override that matches nothing, ...):
   * the run rejects with `INVALID_ARGUMENT` before any output is touched; the error's `warnings`
   * lists them. A dry run still reports them.
   */
  strict?: boolean;
  /** Also report the baseline's errors for every quantized tensor (HQQ: round-to-nearest; GGUF: llama.cpp). */
  compareRtn?: boolean;
  /** Chunk size for copied tensors (default 16 MiB). */
  copyChunkBytes?: number;
  /** Jobs read ahead and in flight (default workers + 1). */
  maxInFlight?: number;
  /**
   * Compute and write only part `index` (1-based) of `count` (docs/sharding.md): every part plans
   * the whole model, keeps its own output files and writes a part record; `merge` completes the
   * output once every part is done. GGUF output becomes `count` gguf-split files.
   */
  shard?: ShardOption;
}

/** Options of `quantizeModel`: how the run goes (`RunOptions`) and what it writes (`FormatOptions`). */
export type QuantizeModelOptions = RunOptions & FormatOptions;

/** Default `copyChunkBytes`: copied tensors are read and written in pieces of 16 MiB. */
export const DEFAULT_COPY_CHUNK = 16 * 1024 * 1024;

/** The opened inputs and the plan (what a dry run computes). */
export interface PlannedModel {
  /** The format's plan. */
  plan: FormatPlan;
  /** The opened input (headers only). */
  input: InputModel;
  /** The output format that made the plan. */
  format: OutputFormat;
  /** Closes the input files. */
  close(): Promise<void>;
}

/**
 * Opens the inputs (headers only) and plans the output (with `shard`: that part of it). Close the
 * result when done.
 */
export async function planModelInput(input: ModelInput, config: FormatOptions = {}, shard?: ShardOption): Promise<PlannedModel> {
  config = optionsArgument(config, 'planModelInput');
  const part = shard === undefined ? undefined : checkShard(shard);
  const opened = await openModelInput(input);
  try {
    let format = createFormat(config, opened);
    if (part && part.count > 1 && format.name === 'gguf') {
      // A GGUF part is one gguf-split file of the whole run.
      if (config.split !== undefined && config.split !== part.count) {
        throw new HQQError('INVALID_ARGUMENT', `split = ${config.split} contradicts shard.count = ${part.count}: a sharded GGUF run writes one split file per part; drop split (CLI --split)`);
      }
      format = createFormat({ ...config, split: part.count }, opened);
    }
    let plan = format.plan(opened);
    if (part && format.name === 'hqq' && config.split === undefined && part.count > plan.files.length) {
      // More parts than the input has files: the output is cut into one file per part instead.
      format = createFormat({ ...config, split: part.count }, opened);
      plan = format.plan(opened);
    }
    if (part) ({ plan, format } = await shardPlan(plan, format, part));
    return { plan, input: opened, format, close: () => opened.close() };
  } catch (e) {
    await opened.close();
    throw e;
  }
}

function cores(): number | undefined {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n >= 1 ? Math.floor(n) : undefined;
}

function abortError(signal: AbortSignal | undefined): HQQError {
  const reason = signal?.reason;
  const why = reason instanceof Error ? reason.message : reason !== undefined ? String(reason) : 'the operation was aborted';
  return new HQQError('ABORTED', `quantization cancelled (${why}); the output was left as it was (no new file was published)`);
}

/** An HQQError carrying the warnings that `strict` turned into a failure. */
export interface StrictError extends HQQError {
  /** The warnings that made the run fail. */
  warnings: PlanWarning[];
  /** 'plan': found before any output was touched; 'run': found by the run, whose output was discarded. */
  stage: 'plan' | 'run';
}

function strictError(warnings: PlanWarning[], stage: 'plan' | 'run'): StrictError {
  const list = warnings.map((w) => `[${w.code}] ${w.message}`).join('; ');
  const what = stage === 'plan' ? 'so nothing was written' : 'so the output was discarded (the previous one stays)';
  const e = new HQQError('INVALID_ARGUMENT', `strict: ${warnings.length} warning(s) count as errors, ${what}: ${list}`);
  return Object.assign(e, { warnings, stage });
}

/**
 * `SMALL_WEIGHTS` when HQQ tensors had groups whose scale the reference's limits set (see
 * `TensorReport.limitedGroups`): the run matches the reference there, but the error is high.
 */
function smallWeightsWarning(plan: FormatPlan, sums: ReadonlyMap<number, TensorSums>): PlanWarning | undefined {
  const hit: string[] = [];
  let tensors = 0;
  for (const [index, s] of sums) {
    if (!s.limitedGroups) continue;
    const t = plan.tensors[index]!;
    if (tensors++ < 3) hit.push(`${t.name} (${s.limitedGroups} of ${t.numel / (t.hqq?.groupSize ?? 1)} groups)`);
  }
  if (tensors === 0) return undefined;
  return {
    code: 'SMALL_WEIGHTS',
    message: `${tensors} tensor(s) hold groups too small for HQQ's scale limits, which the reference applies (1/scale = 1 for a range of at most 1e-4, at most 2e4 otherwise): ` +
      `their grid spans at most half its levels, so their error is at least twice what the bits allow: ${hit.join(', ')}${tensors > 3 ? ', ...' : ''}. ` +
      `Multiply these weights by a constant before quantizing and fold it into the next layer, or copy them (--exclude)`,
  };
}

function checkRunOptions(o: RunOptions): void {
  const { copyChunkBytes, workers, maxInFlight, strict } = o;
  checkBooleanOption(strict, 'strict');
  checkBooleanOption(o.dryRun, 'dryRun');
  checkBooleanOption(o.compareRtn, 'compareRtn');
  checkFunctionOption(o.createPool, 'createPool');
  checkFunctionOption(o.onProgress, 'onProgress');
  checkSignalOption(o.signal);
  if (copyChunkBytes !== undefined && (!Number.isSafeInteger(copyChunkBytes) || copyChunkBytes < 1)) {
    throw new HQQError('INVALID_ARGUMENT', `copyChunkBytes = ${shown(copyChunkBytes)} must be a positive integer`);
  }
  if (workers !== undefined && (!Number.isSafeInteger(workers) || workers < 1)) {
    throw new HQQError('INVALID_ARGUMENT', `workers = ${shown(workers)} is invalid; use a positive integer (default: the number of cores)`);
  }
  if (maxInFlight !== undefined && (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1)) {
    throw new HQQError('INVALID_ARGUMENT', `maxInFlight = ${shown(maxInFlight)} is invalid; use a positive integer (default: workers + 1)`);
  }
}

/** Workers for `jobs` jobs: as asked (default: the cores), never more than the jobs or the cores. */
function chooseWorkers(asked: number | undefined, jobs: number, warnings: PlanWarning[]): number {
  const n = cores();
  let w = asked ?? n ?? 1;
  if (asked !== undefined && n !== undefined && asked > n) {
    warnings.push({ code: 'WORKERS_CAPPED', message: `workers = ${asked} is more than the ${n} cores here; using ${n} (more workers only add memory and contention)` });
    w = n;
  }
  return Math.max(1, Math.min(w, Math.max(1, jobs)));
}

/**
 * Quantizes a whole model from `input` into `sink`. Resolves with the report; rejects with
 * HQQError (ABORTED when `signal` fires, WORKER_FAILED when a worker dies, IO_ERROR, BAD_FILE, ...)
 * after discarding every partial output.
 */
export async function quantizeModel(input: ModelInput, sink: ModelSink | undefined, options: QuantizeModelOptions = {}): Promise<QuantizeModelReport> {
  const t0 = performance.now();
  options = optionsArgument(options, 'quantizeModel');
  const {
    createPool, workers: workersOpt, signal, onProgress, dryRun = false, compareRtn = false, strict = false,
    copyChunkBytes = DEFAULT_COPY_CHUNK, maxInFlight: maxInFlightOpt, shard, ...config
  } = options;
  checkRunOptions(options);
  const hooks = testHooksOf(options);
  if (signal?.aborted) throw abortError(signal);
  const planned = await planModelInput(input, config, shard);
  const { plan, format } = planned;
  const warnings = [...plan.warnings];
  const jobCount = plan.tensors.reduce((a, t) => a + t.jobs.length, 0);
  const workers = chooseWorkers(workersOpt, jobCount, warnings);
  const seconds = () => (performance.now() - t0) / 1000;
  if (dryRun) {
    await planned.close();
    return modelReport(plan, plan.tensors.map(plannedReport), new Map(), { dryRun: true, workers, seconds: seconds(), warnings });
  }
  if (!sink) {
    await planned.close();
    throw new HQQError('INVALID_ARGUMENT', 'quantizeModel: pass an output sink (or dryRun: true)');
  }
  if (strict && warnings.length > 0) {
    await planned.close();
    throw strictError(warnings, 'plan');
  }
  if (jobCount > 0 && !createPool) {
    await planned.close();
    throw new HQQError('INVALID_ARGUMENT', 'quantizeModel: pass createPool (e.g. size => createNodePool({ size, module: hqq.module }), createWebPool, or () => createInlinePool(hqq))');
  }
  const maxInFlight = maxInFlightOpt ?? workers + 1;
  const run = new RunState(plan, maxInFlight, onProgress);
  const onAbort = () => run.fail(abortError(signal));
  signal?.addEventListener('abort', onAbort, { once: true });
  const reports: (TensorReport | undefined)[] = new Array(plan.tensors.length);
  const sums = new Map<number, TensorSums>();
  const committed: string[] = [];
  let published = false;
  try {
    try {
      // Workers start (spawn, instantiate the module) while the outputs are prepared.
      if (jobCount > 0) run.pool = await createPool!(workers);
      await sink.prepare?.([...plan.files.map((f) => f.fileName), ...plan.smallFiles.map((f) => f.fileName)]);
      for (const f of plan.files) {
        if (run.failure) break;
        run.writers.push(await sink.createShard(f.fileName, f.layout));
      }
      for (const w of plan.constants ?? []) {
        if (run.failure) break;
        await run.writers[w.file]!.writeTensor(w.entry, w.bytes, w.offset);
      }
      if (!run.failure) {
        const crash = hooks?.crashOn ? { name: hooks.crashOn, mode: hooks.crashMode ?? 'throw' } : undefined;
        await Promise.all([
          runJobLane(run, plan, format, planned.input, reports, sums, { compareBaseline: compareRtn, crash, maxInFlight }),
          runCopyLane(run, plan, planned.input, reports, copyChunkBytes),
        ]);
      }
    } catch (e) {
      run.fail(e);
    }
    if (!run.failure) {
      const small = smallWeightsWarning(plan, sums);
      if (small) warnings.push(small);
      if (small && strict) run.fail(strictError([small], 'run'));
    }
    if (!run.failure) {
      await run.pool?.terminate();
      try {
        published = await commitOutputs(run, plan, format, sink, () => (signal?.aborted ? abortError(signal) : undefined), committed);
      } catch (e) {
        run.fail(e);
      }
    }
    if (run.failure && !published) {
      await run.pool?.terminate();
      await Promise.allSettled(run.writers.map((w) => w.abort()));
      if (committed.length > 0) await sink.discard?.(committed).catch(() => {});
      throw run.failure;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await planned.close();
  }
  const done = reports.map((r, i) => r ?? plannedReport(plan.tensors[i]!));
  return modelReport(plan, done, sums, { dryRun: false, workers, seconds: seconds(), warnings });
}
