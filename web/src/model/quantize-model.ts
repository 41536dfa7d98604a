/**
 * Whole-model quantization, browser-safe (no `node:` imports): plan everything from the headers,
 * create every output shard (header first), then stream tensors through a worker pool and write
 * each result at its planned offset, in whatever order workers finish. Unselected tensors are
 * copied in bounded chunks. At most `workers + 1` tensors are in memory at once (backpressure).
 * On any failure or abort the pool is terminated and every shard writer is aborted, so no output
 * is left behind.
 *
 * Input: `ByteSource`s (Blob/File in browsers, files in Node) + optional index.json text.
 * Output: a `ModelSink` (see docs/models.md); the Node sink is in `node-model.ts`.
 */
import { HQQError } from '../errors.js';
import { parseIndexJson, type IndexJson } from '../io/index-json.js';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.js';
import type { ModelSink, ShardWriter } from '../io/sink.js';
import type { ByteSource } from '../io/source.js';
import type { QuantizeTask, QuantizeTaskResult, TaskInputDtype, WorkerPool } from '../pool/types.js';
import { hqqLinearConfigBytes } from './hqqlinear.js';
import { planModel, resolveModelConfig, type ModelPlan, type ModelQuantConfig, type PlannedTensor } from './plan.js';

// The sink interface (output side) lives in io/sink.ts; re-exported here for API users.
export type { ModelSink, ShardWriter } from '../io/sink.js';

export interface ModelInput {
  /** Single-file model: one source. Sharded: every shard named in the index (matched by `name`). */
  sources: readonly ByteSource[];
  /** Sharded models: the `model.safetensors.index.json` text and its file name. */
  index?: { text: string; fileName: string };
  /** Single-file output: the file name given to the sink (default: the input's name). */
  outputFileName?: string;
}

export type ModelProgressType = 'tensor-start' | 'tensor-done' | 'progress';

export interface TensorReport {
  name: string;
  shape: number[];
  dtype: string;
  action: 'quantize' | 'copy';
  /** Why it was copied. */
  reason?: string;
  /** A copied tensor stored in another dtype (the bias of a quantized layer, in its compute dtype). */
  outputDtype?: string;
  nbits?: number;
  groupSize?: number;
  axis?: 0 | 1;
  bytesBefore: number;
  bytesAfter: number;
  bitsPerWeight: number;
  /** mean |W - W_r| */
  meanAbs?: number;
  maxAbs?: number;
  /** ||W - W_r||_F / ||W||_F */
  relFrobenius?: number;
  iterations?: number;
  /** The same errors with plain round-to-nearest (option `compareRtn`). */
  rtn?: { meanAbs: number; maxAbs: number; relFrobenius: number };
  /** Worker time for this tensor. */
  seconds?: number;
}

export interface ModelProgressEvent {
  type: ModelProgressType;
  /** Input tensor name. */
  name: string;
  /** 1-based position of the tensor in the model. */
  index: number;
  total: number;
  /** Input bytes processed so far / in all. */
  bytesDone: number;
  bytesTotal: number;
  /** Estimated seconds left (NaN until something is done). */
  etaSeconds: number;
  /** With 'tensor-done'. */
  result?: TensorReport;
}

export interface TestHooks {
  /** Make the worker fail on the tensor with this name. */
  crashOn?: string;
  /** 'throw' (default): the worker throws; 'exit': the worker dies. */
  crashMode?: 'throw' | 'exit';
}

export interface QuantizeModelOptions extends ModelQuantConfig {
  /** Makes the worker pool (e.g. `size => createNodePool({ size, module })`); terminated at the end. */
  createPool?: (size: number) => WorkerPool | Promise<WorkerPool>;
  /** Number of workers (default: `navigator.hardwareConcurrency`, else 1; capped to the tensor count). */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (event: ModelProgressEvent) => void;
  /** Plan only: return the report with sizes and bits per weight, write nothing. */
  dryRun?: boolean;
  /** Also report plain round-to-nearest errors for every quantized tensor. */
  compareRtn?: boolean;
  /** Chunk size for copied tensors (default 16 MiB). */
  copyChunkBytes?: number;
  /** Tensors read ahead and in flight (default workers + 1). */
  maxInFlight?: number;
  /** Test-only failure injection. */
  testHooks?: TestHooks;
}

export interface QuantizeModelReport {
  dryRun: boolean;
  config: Record<string, unknown>;
  workers: number;
  seconds: number;
  /** Output file names, in order (sharded: plus `index`). */
  files: string[];
  index?: string;
  totals: ModelPlan['totals'];
  /** Over all quantized weights: mean |W - W_r| and ||W - W_r||_F / ||W||_F. */
  meanAbs: number;
  relFrobenius: number;
  rtn?: { meanAbs: number; relFrobenius: number };
  tensors: TensorReport[];
}

export const DEFAULT_COPY_CHUNK = 16 * 1024 * 1024;

/** The opened inputs and the plan (what a dry run computes). */
export interface PlannedModel {
  plan: ModelPlan;
  files: SafetensorsFile[];
  index?: IndexJson;
  close(): Promise<void>;
}

/** Opens the inputs (headers only) and plans the output. Close the result when done. */
export async function planModelInput(input: ModelInput, config: ModelQuantConfig = {}): Promise<PlannedModel> {
  if (!input || !Array.isArray(input.sources) || input.sources.length === 0) {
    throw new HQQError('INVALID_ARGUMENT', 'quantizeModel: input.sources must list at least one ByteSource (the .safetensors file, or every shard)');
  }
  const resolved = resolveModelConfig(config);
  let index: IndexJson | undefined;
  let sources = input.sources.slice();
  if (input.index) {
    index = parseIndexJson(input.index.text, input.index.fileName);
    const byName = new Map(sources.map((s) => [s.name, s]));
    const ordered: ByteSource[] = [];
    for (const shard of index.shards) {
      const s = byName.get(shard);
      if (!s) throw new HQQError('INVALID_ARGUMENT', `${index.fileName} lists shard ${shard}, but no source of that name was given; pass every shard (given: ${[...byName.keys()].join(', ')})`);
      ordered.push(s);
    }
    sources = ordered;
  } else if (sources.length !== 1) {
    throw new HQQError('INVALID_ARGUMENT', `quantizeModel: ${sources.length} sources but no index; pass one .safetensors file or the index.json of a sharded model`);
  }
  const files: SafetensorsFile[] = [];
  const close = async () => {
    await Promise.allSettled(files.map((f) => f.close()));
  };
  try {
    for (const s of sources) files.push(await openSafetensors(s));
    const plan = planModel(
      files.map((f) => ({ fileName: f.header.fileName, header: f.header })),
      resolved,
      { index, outputFileName: input.outputFileName },
    );
    return { plan, files, index, close };
  } catch (e) {
    await close();
    throw e;
  }
}

function plannedReport(t: PlannedTensor): TensorReport {
  return {
    name: t.name, shape: t.shape, dtype: t.dtype, action: t.action, reason: t.reason, outputDtype: t.convertTo,
    nbits: t.config?.nbits, groupSize: t.config?.groupSize, axis: t.config?.axis,
    bytesBefore: t.bytesBefore, bytesAfter: t.bytesAfter, bitsPerWeight: t.bitsPerWeight,
  };
}

/** Per quantized tensor: ||W - W_r||_F (HQQ, and RTN with `compareRtn`) and ||W||_F^2. */
interface TensorErrors {
  frobenius: number;
  rtnFrobenius?: number;
  weightNormSq: number;
}

/**
 * Model-level errors over the tensors `pick` returns a value for: mean |W - W_r| weighted by
 * element count, and sqrt(sum ||W - W_r||_F^2 / sum ||W||_F^2), both from sums every tensor
 * contributes to (a tensor quantized exactly still adds its ||W||_F^2).
 */
function aggregate(
  reports: TensorReport[], errors: Map<string, TensorErrors>,
  pick: (r: TensorReport, e: TensorErrors) => { meanAbs: number; frobenius: number } | undefined,
): { meanAbs: number; relFrobenius: number } | undefined {
  let n = 0;
  let abs = 0;
  let err2 = 0;
  let ref2 = 0;
  let any = false;
  for (const r of reports) {
    const e = errors.get(r.name);
    const s = e && pick(r, e);
    if (!e || !s) continue;
    any = true;
    const numel = r.shape.reduce((a, b) => a * b, 1);
    n += numel;
    abs += s.meanAbs * numel;
    err2 += s.frobenius * s.frobenius;
    ref2 += e.weightNormSq;
  }
  if (!any) return undefined;
  return { meanAbs: n ? abs / n : 0, relFrobenius: ref2 > 0 ? Math.sqrt(err2 / ref2) : 0 };
}

function summarize(plan: ModelPlan, reports: TensorReport[], errors: Map<string, TensorErrors>, extra: { dryRun: boolean; workers: number; seconds: number }): QuantizeModelReport {
  const opt = aggregate(reports, errors, (r, e) => (r.meanAbs !== undefined ? { meanAbs: r.meanAbs, frobenius: e.frobenius } : undefined));
  const rtn = aggregate(reports, errors, (r, e) => (r.rtn && e.rtnFrobenius !== undefined ? { meanAbs: r.rtn.meanAbs, frobenius: e.rtnFrobenius } : undefined));
  return {
    dryRun: extra.dryRun,
    config: JSON.parse(plan.metadata.hqq_config ?? '{}') as Record<string, unknown>,
    workers: extra.workers,
    seconds: extra.seconds,
    files: plan.shards.map((s) => s.fileName),
    index: plan.index?.fileName,
    totals: plan.totals,
    meanAbs: opt?.meanAbs ?? 0,
    relFrobenius: opt?.relFrobenius ?? 0,
    rtn,
    tensors: reports,
  };
}

function defaultWorkers(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n >= 1 ? Math.floor(n) : 1;
}

function abortError(signal: AbortSignal | undefined): HQQError {
  const reason = signal?.reason;
  const why = reason instanceof Error ? reason.message : reason !== undefined ? String(reason) : 'the operation was aborted';
  return new HQQError('ABORTED', `quantization cancelled (${why}); no output was written`);
}

function toHQQError(e: unknown): HQQError {
  if (e instanceof HQQError) return e;
  return new HQQError('INTERNAL', `unexpected error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** An exact, owned ArrayBuffer holding `bytes` (transferable without taking anything else along). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice().buffer as ArrayBuffer;
}

/**
 * Quantizes a whole model from `input` into `sink`. Resolves with the report; rejects with
 * HQQError (ABORTED when `signal` fires, WORKER_FAILED when a worker dies, IO_ERROR, BAD_FILE, ...)
 * after discarding every partial output.
 */
export async function quantizeModel(input: ModelInput, sink: ModelSink | undefined, options: QuantizeModelOptions = {}): Promise<QuantizeModelReport> {
  const t0 = performance.now();
  const {
    createPool, workers: workersOpt, signal, onProgress, dryRun = false, compareRtn = false,
    copyChunkBytes = DEFAULT_COPY_CHUNK, maxInFlight: maxInFlightOpt, testHooks, ...config
  } = options;
  if (signal?.aborted) throw abortError(signal);
  if (!Number.isSafeInteger(copyChunkBytes) || copyChunkBytes < 1) {
    throw new HQQError('INVALID_ARGUMENT', `copyChunkBytes = ${String(copyChunkBytes)} must be a positive integer`);
  }
  if (workersOpt !== undefined && (!Number.isSafeInteger(workersOpt) || workersOpt < 1)) {
    throw new HQQError('INVALID_ARGUMENT', `workers = ${String(workersOpt)} is invalid; use a positive integer (default: the number of cores)`);
  }
  if (maxInFlightOpt !== undefined && (!Number.isSafeInteger(maxInFlightOpt) || maxInFlightOpt < 1)) {
    throw new HQQError('INVALID_ARGUMENT', `maxInFlight = ${String(maxInFlightOpt)} is invalid; use a positive integer (default: workers + 1)`);
  }
  const planned = await planModelInput(input, config);
  const { plan, files } = planned;
  const quantTensors = plan.tensors.filter((t) => t.action === 'quantize');
  // Biases converted to a compute dtype travel with their weight's task (numerics in the worker).
  const copyTensors = plan.tensors.filter((t) => t.action === 'copy' && !t.convertTo);
  const workers = Math.max(1, Math.min(workersOpt ?? defaultWorkers(), Math.max(1, quantTensors.length)));
  if (dryRun) {
    await planned.close();
    return summarize(plan, plan.tensors.map(plannedReport), new Map(), { dryRun: true, workers, seconds: (performance.now() - t0) / 1000 });
  }
  if (!sink) {
    await planned.close();
    throw new HQQError('INVALID_ARGUMENT', 'quantizeModel: pass an output sink (or dryRun: true)');
  }
  if (quantTensors.length > 0 && !createPool) {
    await planned.close();
    throw new HQQError('INVALID_ARGUMENT', 'quantizeModel: pass createPool (e.g. size => createNodePool({ size, module: hqq.module }), createWebPool, or () => createInlinePool(hqq))');
  }
  const maxInFlight = maxInFlightOpt ?? workers + 1;

  let failure: HQQError | undefined;
  const waiters: (() => void)[] = [];
  let pool: WorkerPool | undefined;
  const fail = (e: unknown) => {
    if (failure) return;
    failure = toHQQError(e);
    void pool?.terminate();
    for (const w of waiters.splice(0)) w();
  };
  const onAbort = () => fail(abortError(signal));
  signal?.addEventListener('abort', onAbort, { once: true });

  const writers: ShardWriter[] = [];
  const committed: string[] = [];
  let published = false;
  const reports: (TensorReport | undefined)[] = new Array(plan.tensors.length);
  const errors = new Map<string, TensorErrors>();
  const COPY_WEIGHT = 0.05; // a copied byte is much cheaper than a quantized one (for the ETA)
  const workOf = (t: PlannedTensor) => (t.action === 'copy' ? t.bytesBefore * COPY_WEIGHT : t.bytesBefore);
  const workTotal = plan.tensors.reduce((a, t) => a + workOf(t), 0);
  let workDone = 0;
  let bytesDone = 0;
  const bytesTotal = plan.totals.bytesBefore;
  const emit = (type: ModelProgressType, t: PlannedTensor, result?: TensorReport) => {
    if (!onProgress || failure) return;
    const elapsed = (performance.now() - t0) / 1000;
    const eta = workDone > 0 ? (elapsed * (workTotal - workDone)) / workDone : Number.NaN;
    try {
      onProgress({ type, name: t.name, index: t.index + 1, total: plan.tensors.length, bytesDone, bytesTotal, etaSeconds: eta, result });
    } catch (e) {
      fail(new HQQError('INVALID_ARGUMENT', `the onProgress callback threw: ${(e as Error).message}`, { cause: e }));
    }
  };

  // Backpressure: a slot per tensor in memory (being read, queued or in a worker).
  let free = maxInFlight;
  const acquire = async (): Promise<void> => {
    while (free === 0 && !failure) await new Promise<void>((r) => waiters.push(r));
    free--;
  };
  const release = () => {
    free++;
    waiters.shift()?.();
  };

  const writeQuantized = async (t: PlannedTensor, r: QuantizeTaskResult, bias: PlannedTensor | undefined) => {
    const w = writers[t.sourceIndex]!;
    const prefix = t.name.slice(0, -'weight'.length);
    const cfgBytes = hqqLinearConfigBytes(t.shape, t.config!);
    const writes: Promise<void>[] = [
      w.writeTensor(prefix + 'W_q', new Uint8Array(r.wq), 0),
      w.writeTensor(prefix + 'scale', new Uint8Array(r.scale), 0),
      w.writeTensor(prefix + 'zero', new Uint8Array(r.zero), 0),
    ];
    for (const [k, bytes] of cfgBytes) writes.push(w.writeTensor(prefix + k, bytes, 0));
    if (bias) {
      if (!r.bias) throw new HQQError('INTERNAL', `tensor ${JSON.stringify(t.name)}: the worker returned no converted ${bias.name}`);
      writes.push(writers[bias.sourceIndex]!.writeTensor(bias.name, new Uint8Array(r.bias), 0));
    }
    await Promise.all(writes);
  };

  const quantLane = async () => {
    const pending: Promise<void>[] = [];
    for (const t of quantTensors) {
      await acquire();
      if (failure) break;
      emit('tensor-start', t);
      const bias = t.bias === undefined ? undefined : plan.tensors[t.bias]!;
      if (bias) emit('tensor-start', bias);
      let bytes: Uint8Array;
      let biasBytes: Uint8Array | undefined;
      try {
        bytes = await files[t.sourceIndex]!.readTensor(t.info);
        if (bias) biasBytes = await files[bias.sourceIndex]!.readTensor(bias.info);
      } catch (e) {
        release();
        fail(e);
        break;
      }
      if (failure) break;
      const task: QuantizeTask = {
        name: t.name,
        dtype: t.dtype as TaskInputDtype,
        shape: t.shape,
        data: ownBuffer(bytes),
        options: {
          ...plan.config.solver, // validated, solver keys only; the tensor's own config comes last
          nbits: t.config!.nbits, groupSize: t.config!.groupSize, axis: t.config!.axis,
          optimize: t.config!.optimize, roundZero: t.config!.roundZero,
        },
        computeDtype: t.config!.computeDtype,
        bias: bias && { dtype: bias.dtype as TaskInputDtype, to: bias.convertTo as TaskInputDtype, data: ownBuffer(biasBytes!) },
        compareRtn,
        crash: testHooks?.crashOn === t.name ? (testHooks.crashMode ?? 'throw') : undefined,
      };
      const job = pool!.run(task).then(async (r) => {
        if (failure) return;
        await writeQuantized(t, r, bias);
        if (failure) return;
        const rep: TensorReport = {
          ...plannedReport(t), meanAbs: r.stats.meanAbs, maxAbs: r.stats.maxAbs, relFrobenius: r.stats.relFrobenius,
          iterations: r.iterations, seconds: r.ms / 1000,
          rtn: r.rtn ? { meanAbs: r.rtn.meanAbs, maxAbs: r.rtn.maxAbs, relFrobenius: r.rtn.relFrobenius } : undefined,
        };
        errors.set(t.name, { frobenius: r.stats.frobenius, rtnFrobenius: r.rtn?.frobenius, weightNormSq: r.weightNormSq });
        reports[t.index] = rep;
        workDone += workOf(t);
        bytesDone += t.bytesBefore;
        emit('tensor-done', t, rep);
        if (bias) {
          const biasRep = plannedReport(bias);
          reports[bias.index] = biasRep;
          workDone += workOf(bias);
          bytesDone += bias.bytesBefore;
          emit('tensor-done', bias, biasRep);
        }
        emit('progress', t);
      }).catch(fail).finally(release);
      pending.push(job);
    }
    await Promise.all(pending);
  };

  const copyLane = async () => {
    for (const t of copyTensors) {
      if (failure) return;
      emit('tensor-start', t);
      const w = writers[t.sourceIndex]!;
      const file = files[t.sourceIndex]!;
      try {
        if (t.bytesBefore === 0) await w.writeTensor(t.name, new Uint8Array(0), 0);
        for (let off = 0; off < t.bytesBefore; off += copyChunkBytes) {
          if (failure) return;
          const n = Math.min(copyChunkBytes, t.bytesBefore - off);
          const chunk = await file.readRange(t.info, off, n);
          if (failure) return;
          await w.writeTensor(t.name, chunk, off);
          bytesDone += n;
          workDone += n * COPY_WEIGHT;
          if (off + n < t.bytesBefore) emit('progress', t);
        }
      } catch (e) {
        fail(e);
        return;
      }
      const rep = plannedReport(t);
      reports[t.index] = rep;
      emit('tensor-done', t, rep);
      emit('progress', t);
    }
  };

  try {
    try {
      for (const s of plan.shards) {
        if (failure) break;
        writers.push(await sink.createShard(s.fileName, s.layout));
      }
      if (!failure && quantTensors.length > 0) pool = await createPool!(workers);
      if (failure) void pool?.terminate();
      if (!failure) await Promise.all([quantLane(), copyLane()]);
    } catch (e) {
      fail(e);
    }
    if (!failure) {
      await pool?.terminate();
      try {
        for (let i = 0; i < writers.length; i++) {
          if (failure) break;
          await writers[i]!.commit();
          committed.push(plan.shards[i]!.fileName);
        }
        if (!failure && plan.index) {
          if (!sink.writeFile) throw new HQQError('INVALID_ARGUMENT', `the output is sharded but the sink has no writeFile(); cannot write ${plan.index.fileName}`);
          if (signal?.aborted) throw abortError(signal);
          await sink.writeFile(plan.index.fileName, plan.index.text);
        }
        if (!failure && sink.finish) {
          if (signal?.aborted) throw abortError(signal);
          await sink.finish();
          // The output is published: an abort noticed meanwhile (a signal during finish(), after
          // the switch) must not turn this finished run into a failure report.
          published = true;
        }
      } catch (e) {
        fail(e);
      }
    }
    if (failure && !published) {
      await pool?.terminate();
      await Promise.allSettled(writers.map((w) => w.abort()));
      if (committed.length > 0) await sink.discard?.(committed).catch(() => {});
      throw failure;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await planned.close();
  }
  const done = reports.map((r, i) => r ?? plannedReport(plan.tensors[i]!));
  return summarize(plan, done, errors, { dryRun: false, workers, seconds: (performance.now() - t0) / 1000 });
}
