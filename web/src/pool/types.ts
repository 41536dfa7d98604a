/**
 * The worker-pool interface shared by the Node (worker_threads) and browser (Web Workers) pools and
 * the in-thread fallback. Browser-safe. One task = one tensor: the input bytes are transferred to a
 * worker (no copy), the worker runs the wasm quantizer and transfers W_q / scale / zero back, with
 * scale and zero already encoded in the compute dtype by the wasm core (`HQQ.encode16`).
 */
import type { ErrorStatistics, PackingName, QuantizeOptions } from '../engine.js';
import type { ComputeDtype } from '../model/hqqlinear.js';

export type TaskInputDtype = 'F32' | 'F16' | 'BF16';

export interface QuantizeTask {
  /** Tensor name (for messages). */
  name: string;
  dtype: TaskInputDtype;
  shape: number[];
  /** The tensor's bytes (little-endian, as stored), exactly `numel * size` long; transferred. */
  data: ArrayBuffer;
  /** Engine options without `dtype` (nbits, groupSize, axis, optimize, roundZero, solver). */
  options: Omit<QuantizeOptions, 'dtype'>;
  computeDtype: ComputeDtype;
  /**
   * The layer's `<name>.bias`, to store in the compute dtype (HQQ-SPEC section 5): its bytes in
   * `dtype` (transferred) are converted to `to` by the wasm core (`decode16` / `encode16`).
   */
  bias?: { dtype: TaskInputDtype; to: TaskInputDtype; data: ArrayBuffer };
  /** Also quantize with plain round-to-nearest and report its error (for comparisons). */
  compareRtn?: boolean;
  /** Test-only: make the worker fail on this task ('throw': an exception; 'exit': the worker dies). */
  crash?: 'throw' | 'exit';
}

export interface QuantizeTaskResult {
  name: string;
  /** Packed levels (3-bit: int32 words, little-endian). */
  wq: ArrayBuffer;
  /** scale and zero in the compute dtype, little-endian. */
  scale: ArrayBuffer;
  zero: ArrayBuffer;
  /** With `task.bias`: the bias in `task.bias.to`, little-endian. */
  bias?: ArrayBuffer;
  packing: PackingName;
  packedShape: [number, number];
  groupedShape: [number, number];
  iterations: number;
  stats: ErrorStatistics;
  /** ||W||_F^2 of the input tensor (summed in double), to aggregate relative errors over tensors. */
  weightNormSq: number;
  /** Errors of plain round-to-nearest (when `compareRtn`). */
  rtn?: ErrorStatistics;
  /** Milliseconds spent in the worker. */
  ms: number;
}

export interface WorkerPool {
  /** Number of workers. */
  readonly size: number;
  /**
   * Runs one task on the next free worker (tasks queue when all are busy). `task.data` is
   * transferred. Rejects with HQQError: WORKER_FAILED (the worker died or threw; the message names
   * the tensor), the engine's own code for a structured engine error (e.g. INVALID_VALUE), or
   * ABORTED after `terminate()`.
   */
  run(task: QuantizeTask): Promise<QuantizeTaskResult>;
  /** Stops every worker; pending and queued tasks reject with ABORTED. Idempotent. */
  terminate(): Promise<void>;
}

/** Messages main -> worker. */
export type ToWorker =
  | { type: 'init'; module: WebAssembly.Module }
  | { type: 'task'; id: number; task: QuantizeTask };

/** Messages worker -> main. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; result: QuantizeTaskResult }
  | { type: 'error'; id: number; error: { name: string; code?: string; message: string } };
