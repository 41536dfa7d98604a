/**
 * The worker-pool interface shared by the Node (worker_threads) and browser (Web Workers) pools and
 * the in-thread fallback. Browser-safe. One task = one tensor or one row range of a tensor: its
 * input bytes are transferred to a worker (no copy), or shared when they are a SharedArrayBuffer
 * and the pool shares memory (`WorkerPool.sharesMemory`); the worker runs the wasm core routine
 * the task names and sends the output buffers back the same way. Which routine and which outputs
 * is the format's business (`formats/`); the pool only moves tasks and results.
 */
import type { QuantizeOptions } from '../engine.js';
import { HQQError } from '../errors.js';
import type { RopePermutation } from '../model/hf/permute.js';

/**
 * A buffer a task or a result carries. An ArrayBuffer is transferred (moved to the other thread,
 * detached here); a SharedArrayBuffer, accepted by pools that share memory, is seen by both
 * threads and never moves. The model pipeline uses shared ones for the buffers it recycles: moving
 * the same large buffers back and forth made V8 count each arrival as new external memory, which
 * cost ~45 full garbage collections on the main thread of a 1B-model run.
 */
export type TaskBuffer = ArrayBuffer | SharedArrayBuffer;

/** True for a SharedArrayBuffer (false where the platform has none, e.g. a page that is not cross-origin isolated). */
export function isSharedBuffer(b: unknown): b is SharedArrayBuffer {
  return typeof SharedArrayBuffer === 'function' && b instanceof SharedArrayBuffer;
}

/** The float dtypes a task's input bytes (and a converted output) may be in. */
export type TaskInputDtype = 'F32' | 'F16' | 'BF16';

/** The fields every pool task has. */
interface TaskBase {
  /** Tensor name (for messages). */
  name: string;
  /** The input bytes (little-endian, as stored); transferred, or shared (see `TaskBuffer`). */
  data: TaskBuffer;
  /**
   * Spare buffers (transferred or shared) the worker may fill with an output of exactly their length
   * instead of fresh memory; the model pipeline passes back buffers of earlier results. Those not
   * used come back in `WorkerResult.inputs`. HQQ tasks use one for `wq`; other kinds hand them
   * all back.
   */
  spare?: TaskBuffer[];
  /** Test-only: make the worker fail on this task ('throw': an exception; 'exit': the worker dies). */
  crash?: 'throw' | 'exit';
}

/** HQQ quantization of one whole tensor (HQQLinear layout). */
export interface HQQTask extends TaskBase {
  /** An HQQ quantization of one whole tensor; the result buffers are `wq`, `scale`, `zero` (and `bias`). */
  kind: 'hqq';
  /** The element type of `data`. */
  dtype: TaskInputDtype;
  /** The tensor's dims, row-major (PyTorch order, [out_features, in_features] for a linear weight). */
  shape: number[];
  /** Engine options without `dtype` (nbits, groupSize, axis, optimize, roundZero, solver). */
  options: Omit<QuantizeOptions, 'dtype'>;
  /** Storage dtype of scale and zero: they are rounded to it before the error statistics. */
  computeDtype: 'float16' | 'bfloat16' | 'float32';
  /**
   * The layer's `<name>.bias`, to store in the compute dtype (HQQ-SPEC section 5): its bytes in
   * `dtype`, the buffer `data` (transferred or shared), are converted to `to` by the wasm core.
   */
  bias?: { dtype: TaskInputDtype; to: TaskInputDtype; data: TaskBuffer };
  /** Also quantize with plain round-to-nearest and report its error (the baseline). */
  compareBaseline?: boolean;
}

/** A GGML block type for `rows` rows of `cols` weights (a whole tensor or a row range). */
export interface GGUFTask extends TaskBase {
  /** A GGML block quantization of rows; the result buffer is `blocks`. */
  kind: 'gguf';
  /** F32/F16/BF16, or a GGML type name when requantizing (decoded by the core first). */
  inputType: string;
  /** Number of rows in `data`. */
  rows: number;
  /** Weights per row (GGUF's ne[0]); a multiple of the output type's block size. */
  cols: number;
  /** Output GGML type name. */
  type: string;
  /** Also run llama.cpp's reference quantizer and report its error (the baseline). */
  compareBaseline?: boolean;
  /** llama's q/k RoPE row permutation, applied to the input rows first (model/hf/permute.ts). */
  permute?: RopePermutation;
}

/** A dtype conversion (round to nearest even), e.g. a BF16 norm weight stored as F32. */
export interface ConvertTask extends TaskBase {
  /** A float dtype conversion; the result buffer is `data`. */
  kind: 'convert';
  /** The dtype of `data`: F32, F16 or BF16 (anything else fails with UNSUPPORTED). */
  from: string;
  /** The dtype to convert to; the result is the buffer `data`. */
  to: TaskInputDtype;
  /** Number of rows in `data` (used by `permute`). */
  rows: number;
  /** Values per row (used by `permute`). */
  cols: number;
  /** Row permutation applied first (see GGUFTask). */
  permute?: RopePermutation;
  /** How to keep the tensor in range, for the error when its values overflow `to` (e.g. the option that keeps it in F32). */
  wayOut?: string;
}

/** One weight to com.microsoft MatMulNBits inputs (ONNX output; engine `quantizeNBits`). */
export interface NBitsTask extends TaskBase {
  /** A MatMulNBits quantization of one weight; the result buffers are `qweight`, `scales`, `zeroPoints`. */
  kind: 'nbits';
  /** The element type of `data`. */
  dtype: 'F32' | 'F16' | 'BF16';
  /** The weight's shape in its layout: [K, N] for 'KN' (MatMul B), [N, K] for 'NK' (Gemm transB=1). */
  shape: [number, number];
  /** How `data` is laid out: 'KN' (MatMul's B, Gemm transB=0) or 'NK' (Gemm transB=1); see `NBitsOptions.layout`. */
  layout: 'KN' | 'NK';
  /** Bits per weight: 2, 4 or 8 (the node's bits attribute). */
  bits: 2 | 4 | 8;
  /** Weights per block along K: a power of two >= 16 (the node's block_size attribute). */
  blockSize: number;
  /** 'uint8': packed integer zero points (every execution provider); 'float': zero points in `scaleType` (CPU/wasm EPs). */
  zeroPoints: 'uint8' | 'float';
  /** Type of the scales (and float zero points): the graph's A type at this MatMul. */
  scaleType: 'float32' | 'float16';
  /** Run the HQQ solver; false is round-to-nearest (onnxruntime's RTN for uint8 zero points, HQQ's for float). */
  optimize: boolean;
  /** Also compute onnxruntime-style RTN on the same blocks and report its error. */
  compareBaseline?: boolean;
}

/** One unit of work for a pool, selected by `kind`. */
export type WorkerTask = HQQTask | GGUFTask | ConvertTask | NBitsTask;

/**
 * Error sums of a reconstruction against its input, summable over row ranges and tensors:
 * count, sum |W - W_r|, sum (W - W_r)^2, max |W - W_r|, sum W^2.
 */
export interface TaskStats {
  /** Number of values compared. */
  count: number;
  /** Sum of |W - W_r| over them. */
  sumAbs: number;
  /** Sum of (W - W_r)^2. */
  sumSq: number;
  /** Largest |W - W_r|. */
  maxAbs: number;
  /** Sum of W^2 (for the relative error). */
  sumWSq: number;
}

/** What a task sends back: output buffers, error sums, time. */
export interface WorkerResult {
  /** The task's tensor name. */
  name: string;
  /** Output buffers, under the names the task kind defines (HQQ: wq, scale, zero, bias; GGUF: blocks; nbits: qweight, scales, zeroPoints). */
  buffers: Record<string, TaskBuffer>;
  /** Error of what was computed (quantize tasks). */
  stats?: TaskStats;
  /** Error of the baseline on the same input (with compareBaseline). */
  baseline?: TaskStats;
  /** HQQ solver iterations. */
  iterations?: number;
  /** HQQ: groups whose grid the reference's scale limits left at most half used (`QuantizeResult.limitedGroups`), when any. */
  limitedGroups?: number;
  /** Milliseconds spent in the worker. */
  ms: number;
  /**
   * The task's input buffers (`data`, a bias's `data`, the `spare` buffers it did not fill),
   * handed back once the worker is done with them, so that the caller can read its next input
   * into them instead of fresh memory (the model pipeline does: fresh buffers cost page faults
   * and garbage collection). Every pool fills it; a caller may ignore it.
   */
  inputs?: TaskBuffer[];
}

/** Runs tasks on workers (or in-thread: `createInlinePool`); every pool has this interface. */
export interface WorkerPool {
  /** Number of workers. */
  readonly size: number;
  /**
   * True when tasks may carry SharedArrayBuffers (`TaskBuffer`), which the workers then read and
   * fill in place (Node pools). Other pools accept ArrayBuffers only.
   */
  readonly sharesMemory?: boolean;
  /**
   * Runs one task on the next free worker (tasks queue when all are busy). The task's
   * ArrayBuffers are transferred, its SharedArrayBuffers shared. Rejects with HQQError: WORKER_FAILED (the worker died or threw; the message names
   * the tensor), the engine's own code for a structured engine error (e.g. INVALID_VALUE), or
   * ABORTED after `terminate()`.
   */
  run(task: WorkerTask): Promise<WorkerResult>;
  /** Stops every worker; pending and queued tasks reject with ABORTED. Idempotent. */
  terminate(): Promise<void>;
}

/** Former names of the task types (0.1.0). */
export type QuantizeTask = WorkerTask;
/** Former name of `WorkerResult` (0.1.0). */
export type QuantizeTaskResult = WorkerResult;

/** Messages main -> worker. */
export type ToWorker =
  | { type: 'init'; module: WebAssembly.Module }
  | { type: 'task'; id: number; task: WorkerTask };

/** Messages worker -> main. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; result: WorkerResult }
  | { type: 'error'; id: number; error: { name: string; code?: string; message: string } };

/** The task kinds a worker runs (the record makes the compiler list every kind of WorkerTask). */
export const TASK_KINDS: readonly WorkerTask['kind'][] = Object.keys({ hqq: 1, gguf: 1, convert: 1, nbits: 1 } satisfies Record<WorkerTask['kind'], 1>) as WorkerTask['kind'][];

/**
 * Checks the envelope of a task before it is queued, on the caller's thread, so a malformed task
 * fails with a message that says what to fix rather than as a worker error. (0.1.0's tasks had no
 * `kind`; every task names one since 0.2.0, see CHANGELOG.md.)
 */
export function checkTask(task: WorkerTask, shared = false): HQQError | undefined {
  if (task === null || typeof task !== 'object') return new HQQError('INVALID_ARGUMENT', `a pool task must be an object, got ${task === null ? 'null' : typeof task}`);
  const name = typeof task.name === 'string' ? `tensor ${JSON.stringify(task.name)}: ` : '';
  if (!name) return new HQQError('INVALID_ARGUMENT', 'a pool task needs a string `name` (the tensor name, for messages)');
  const kind = (task as { kind?: unknown }).kind;
  if (!TASK_KINDS.includes(kind as WorkerTask['kind'])) {
    return new HQQError('INVALID_ARGUMENT', `${name}the task's kind is ${JSON.stringify(kind)}; set \`kind\` to one of ${TASK_KINDS.map((k) => `'${k}'`).join(', ')} (an HQQ tensor is kind 'hqq'; see CHANGELOG.md for 0.2.0)`);
  }
  const buffer = (b: unknown): boolean => b instanceof ArrayBuffer || (shared && isSharedBuffer(b));
  const kinds = shared ? 'an ArrayBuffer or a SharedArrayBuffer' : 'an ArrayBuffer';
  if (!buffer(task.data)) {
    const hint = isSharedBuffer(task.data) ? '; this pool does not share memory with its workers, so pass an ArrayBuffer' : " (a typed array's .buffer)";
    return new HQQError('INVALID_ARGUMENT', `${name}the task's \`data\` must be ${kinds}${hint}, got ${Object.prototype.toString.call(task.data)}`);
  }
  const spare = (task as { spare?: unknown }).spare;
  if (spare !== undefined) {
    const ok = Array.isArray(spare) && spare.every((b) => buffer(b) && b !== task.data && (b as TaskBuffer).byteLength > 0) && new Set(spare).size === spare.length;
    if (!ok) return new HQQError('INVALID_ARGUMENT', `${name}the task's \`spare\` must be an array of distinct, non-empty buffers (${kinds} each) other than \`data\` (or left out)`);
  }
  return undefined;
}

/** Every buffer a task carries to its worker, each once: data, a bias's data, spares. */
function taskBuffers(task: WorkerTask): TaskBuffer[] {
  const out = [task.data];
  if (task.kind === 'hqq' && task.bias && task.bias.data !== task.data) out.push(task.bias.data);
  for (const b of task.spare ?? []) if (!out.includes(b)) out.push(b);
  return out;
}

/** The ArrayBuffers among `buffers`: the ones to transfer (shared ones cannot be, and need not). */
function transferable(buffers: TaskBuffer[]): ArrayBuffer[] {
  return buffers.filter((b): b is ArrayBuffer => !isSharedBuffer(b));
}

/** The buffers a task transfers to its worker. */
export function taskTransfer(task: WorkerTask): ArrayBuffer[] {
  return transferable(taskBuffers(task));
}

/** The buffers a result transfers back (each once): its outputs and the handed-back inputs. */
export function resultTransfer(r: WorkerResult): ArrayBuffer[] {
  return transferable([...new Set([...Object.values(r.buffers), ...(r.inputs ?? [])])]);
}

/** The input buffers of `task` that `result` can hand back: still attached, and not reused as an output. */
export function reusableInputs(task: WorkerTask, result: WorkerResult): TaskBuffer[] {
  const outputs = new Set(Object.values(result.buffers));
  return taskBuffers(task).filter((b) => b.byteLength > 0 && !outputs.has(b));
}
