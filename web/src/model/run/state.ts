/**
 * The shared state of one run (browser-safe): the first failure (after which every lane stops),
 * admission slots (backpressure: at most `maxInFlight` jobs read ahead, queued or in a worker),
 * the open output writers, and progress reporting with an ETA.
 */
import { HQQError } from '../../errors.js';
import type { ShardWriter } from '../../io/sink.js';
import type { FormatPlan, PlannedTensor } from '../../formats/types.js';
import type { WorkerPool } from '../../pool/types.js';
import type { TensorReport } from '../report.js';

/** 'tensor-start': a tensor's work begins; 'tensor-done': its bytes are written to the sink (the event carries its report); 'progress': more bytes are done. */
export type ModelProgressType = 'tensor-start' | 'tensor-done' | 'progress';

/** A progress event of `quantizeModel` (`onProgress`). */
export interface ModelProgressEvent {
  /** What happened. */
  type: ModelProgressType;
  /** Input tensor name. */
  name: string;
  /** 1-based position of the tensor in the model. */
  index: number;
  /** Number of tensors in the model. */
  total: number;
  /** Input bytes processed so far. */
  bytesDone: number;
  /** Input bytes of all tensors. */
  bytesTotal: number;
  /** Estimated seconds left (NaN until enough is done to tell). */
  etaSeconds: number;
  /** With 'tensor-done'. */
  result?: TensorReport;
}

export function toHQQError(e: unknown): HQQError {
  if (e instanceof HQQError) return e;
  return new HQQError('INTERNAL', `unexpected error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** A copied byte costs much less than a quantized one (weights the ETA). */
const COPY_WEIGHT = 0.05;

export class RunState {
  failure: HQQError | undefined;
  pool: WorkerPool | undefined;
  readonly writers: ShardWriter[] = [];
  readonly #waiters: (() => void)[] = [];
  #free: number;
  readonly #t0 = performance.now();
  readonly #plan: FormatPlan;
  readonly #onProgress: ((e: ModelProgressEvent) => void) | undefined;
  readonly #workTotal: number;
  #workDone = 0;
  #bytesDone = 0;

  constructor(plan: FormatPlan, maxInFlight: number, onProgress: ((e: ModelProgressEvent) => void) | undefined) {
    this.#plan = plan;
    this.#free = maxInFlight;
    this.#onProgress = onProgress;
    this.#workTotal = plan.tensors.reduce((a, t) => a + RunState.work(t, t.bytesBefore), 0);
  }

  static work(t: PlannedTensor, bytes: number): number {
    return t.action === 'copy' ? bytes * COPY_WEIGHT : bytes;
  }

  /** Records the first failure; stops the pool and wakes every waiting lane. */
  fail(e: unknown): void {
    if (this.failure) return;
    this.failure = toHQQError(e);
    void this.pool?.terminate();
    for (const w of this.#waiters.splice(0)) w();
  }

  async acquire(): Promise<void> {
    while (this.#free === 0 && !this.failure) await new Promise<void>((r) => this.#waiters.push(r));
    this.#free--;
  }

  release(): void {
    this.#free++;
    this.#waiters.shift()?.();
  }

  /** Counts `bytes` of input of `t` as processed. */
  advance(t: PlannedTensor, bytes: number): void {
    this.#bytesDone += bytes;
    this.#workDone += RunState.work(t, bytes);
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  /** The ETA once it means something: after 2% of the work and 2 seconds. */
  eta(): number {
    const elapsed = this.elapsedSeconds;
    if (this.#workDone <= 0 || this.#workDone < 0.02 * this.#workTotal || elapsed < 2) return Number.NaN;
    // Work sums are floats (copied bytes weigh a fraction of a quantized one): never a negative ETA.
    return Math.max(0, (elapsed * (this.#workTotal - this.#workDone)) / this.#workDone);
  }

  emit(type: ModelProgressType, t: PlannedTensor, result?: TensorReport): void {
    if (!this.#onProgress || this.failure) return;
    try {
      this.#onProgress({
        type, name: t.name, index: t.index + 1, total: this.#plan.tensors.length,
        bytesDone: this.#bytesDone, bytesTotal: this.#plan.totals.bytesBefore, etaSeconds: this.eta(), result,
      });
    } catch (e) {
      this.fail(new HQQError('INVALID_ARGUMENT', `the onProgress callback threw: ${(e as Error).message}`, { cause: e }));
    }
  }
}
