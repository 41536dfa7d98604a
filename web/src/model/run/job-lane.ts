/**
 * The quantize lane (browser-safe): every worker job of every tensor, in plan order, through the
 * pool. A job is admitted (a slot), its input bytes are read, its task goes to a worker, and its
 * results are written at their planned offsets in whatever order workers finish. A tensor is done
 * when its last job is; its error is the sum over its jobs. Input buffers and the format's spare
 * output buffers are recycled (`BufferRecycler`), in shared memory when the pool shares it.
 */
import type { FormatPlan, Job, OutputFormat, PlannedTensor } from '../../formats/types.js';
import type { TaskBuffer } from '../../pool/types.js';
import type { InputModel, InputTensor } from '../input.js';
import { addSums, emptySums, finishedReport, plannedReport, type TensorReport, type TensorSums } from '../report.js';
import { BufferRecycler } from './buffer-recycler.js';
import type { RunState } from './state.js';

export interface JobLaneOptions {
  compareBaseline: boolean;
  /** Admission slots of the run (at most this many inputs are read ahead or in workers). */
  maxInFlight: number;
  /** Test-only: make the worker fail on this tensor. */
  crash?: { name: string; mode: 'throw' | 'exit' };
}

/**
 * An exact, owned ArrayBuffer holding `bytes` (transferable without taking anything else along):
 * their own buffer when they fill all of it, else a copy. A SharedArrayBuffer is always copied:
 * the only shared memory a task may carry is the lane's own (a source's could be the caller's
 * data, or a pool may not share memory).
 */
export function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  const buf = bytes.buffer;
  if (bytes.byteOffset === 0 && buf.byteLength === bytes.byteLength && buf instanceof ArrayBuffer) return buf;
  return bytes.slice().buffer;
}

/** Reads a job's bytes into a recycled (or new shared) buffer of that size, else fresh memory. */
async function readJob(tensor: InputTensor, offset: number, length: number, buffers: BufferRecycler): Promise<TaskBuffer> {
  const spare = buffers.obtain(length);
  const bytes = await tensor.read(offset, length, spare ? new Uint8Array(spare) : undefined);
  if (spare && bytes.buffer === spare && bytes.byteOffset === 0 && bytes.byteLength === length) return spare;
  if (spare) buffers.give([spare]); // the source read elsewhere
  return ownBuffer(bytes);
}

interface Progress {
  left: number;
  sums: TensorSums;
  iterations?: number;
  ms: number;
}

export async function runJobLane(
  run: RunState, plan: FormatPlan, format: OutputFormat, input: InputModel,
  reports: (TensorReport | undefined)[], sums: Map<number, TensorSums>, options: JobLaneOptions,
): Promise<void> {
  const jobs: Job[] = plan.tensors.flatMap((t) => t.jobs);
  // Spare output buffers (`WorkerTask.spare`): the format names the result buffer its worker fills
  // into one; after its writes, that buffer of a result is passed to a later task of that size.
  const spareBytes = (job: Job): number => format.spareBytes?.(job, plan.tensors[job.tensor]!) ?? 0;
  // Inputs and spares share one free list (exact sizes). At most what the in-flight jobs hold
  // anyway: one largest input and one largest spare per slot.
  const largest = jobs.reduce((m, j) => Math.max(m, j.length + (j.with ?? []).reduce((a, i) => a + input.tensors[i]!.byteLength, 0) + spareBytes(j)), 0);
  // Shared buffers (a pool that shares memory) are never dropped: allow two job sizes per slot,
  // e.g. a transformer layer's attention and FFN weights, which alternate.
  const cap = options.maxInFlight * largest;
  const buffers = new BufferRecycler(cap, run.pool?.sharesMemory === true ? 2 * cap : 0);
  const progress = new Map<number, Progress>();
  const produced = new Map<number, PlannedTensor[]>(); // tensors written by another tensor's job
  for (const t of plan.tensors) {
    if (t.producedBy !== undefined) produced.set(t.producedBy, [...(produced.get(t.producedBy) ?? []), t]);
  }

  const finishTensor = (t: PlannedTensor, p: Progress) => {
    const rep = t.action === 'quantize' ? finishedReport(t, p.sums, p.iterations, p.ms, plan.baselineName) : plannedReport(t);
    if (t.action === 'quantize') sums.set(t.index, p.sums);
    reports[t.index] = rep;
    run.emit('tensor-done', t, rep);
    for (const other of produced.get(t.index) ?? []) {
      reports[other.index] = plannedReport(other);
      run.advance(other, other.bytesBefore);
      run.emit('tensor-done', other, reports[other.index]);
    }
    run.emit('progress', t);
  };

  const runOne = async (job: Job, t: PlannedTensor, data: TaskBuffer, extra: TaskBuffer[]) => {
    const task = format.task(job, t, data, extra, { compareBaseline: options.compareBaseline && t.action === 'quantize' });
    if (options.crash?.name === t.name) task.crash = options.crash.mode;
    const spareSize = spareBytes(job);
    const spare = spareSize > 0 ? buffers.obtain(spareSize) : undefined;
    if (spare) task.spare = [spare];
    const r = await run.pool!.run(task);
    buffers.give(r.inputs);
    if (run.failure) return;
    const writes = format.place(job, t, r);
    await Promise.all(writes.map((w) => run.writers[w.file]!.writeTensor(w.entry, w.bytes, w.offset)));
    if (run.failure) return;
    // Written: the writers are done with the result's bytes (ShardWriter.writeTensor).
    if (spareSize > 0) buffers.give(Object.values(r.buffers).filter((b) => b.byteLength === spareSize));
    const p = progress.get(t.index)!;
    if (r.stats) {
      addSums(p.sums.stats, r.stats);
      if (r.baseline) addSums((p.sums.baseline ??= emptySums()), r.baseline);
    }
    if (r.iterations !== undefined) p.iterations = Math.max(p.iterations ?? 0, r.iterations);
    if (r.limitedGroups) p.sums.limitedGroups = (p.sums.limitedGroups ?? 0) + r.limitedGroups;
    p.ms += r.ms;
    run.advance(t, job.length);
    if (--p.left === 0) finishTensor(t, p);
    else run.emit('progress', t);
  };

  const pending: Promise<void>[] = [];
  for (const job of jobs) {
    await run.acquire();
    if (run.failure) break;
    const t = plan.tensors[job.tensor]!;
    if (!progress.has(t.index)) {
      progress.set(t.index, { left: t.jobs.length, sums: { stats: emptySums() }, ms: 0 });
      run.emit('tensor-start', t);
      for (const other of produced.get(t.index) ?? []) run.emit('tensor-start', other);
    }
    let data: TaskBuffer;
    const extra: TaskBuffer[] = [];
    try {
      data = await readJob(input.tensors[t.index]!, job.offset, job.length, buffers);
      for (const i of job.with ?? []) {
        const w = input.tensors[i]!;
        extra.push(await readJob(w, 0, w.byteLength, buffers));
      }
    } catch (e) {
      run.release();
      run.fail(e);
      break;
    }
    if (run.failure) {
      run.release();
      break;
    }
    pending.push(runOne(job, t, data, extra).catch((e) => run.fail(e)).finally(() => run.release()));
  }
  await Promise.all(pending);
}
