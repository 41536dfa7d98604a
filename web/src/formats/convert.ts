/**
 * Float dtype conversion in a worker (browser-safe): F32/F16/BF16 to F32/F16/BF16, round to
 * nearest even, done by the wasm core's decoders and encoders.
 */
import type { HQQ } from '../engine.js';
import { HQQError } from '../errors.js';
import type { ConvertTask, TaskBuffer, TaskInputDtype, WorkerResult } from '../pool/types.js';
import { permuteRows } from './row-permute.js';

const FLOATS: readonly string[] = ['F32', 'F16', 'BF16'];

/** A copy of `data` in a new ArrayBuffer (SharedArrayBuffer.slice would make another shared one). */
function copyOf(data: TaskBuffer): ArrayBuffer {
  return new Uint8Array(data).slice().buffer;
}

/** `data` (in `from`) as `to`, always in a new ArrayBuffer (the input may be a recycled buffer). */
export function convertDtype(hqq: HQQ, data: TaskBuffer, from: string, to: TaskInputDtype): ArrayBuffer {
  if (!FLOATS.includes(from)) throw new HQQError('UNSUPPORTED', `cannot convert ${from} to ${to}; only F32, F16 and BF16 convert`);
  if (from === to || data.byteLength === 0) return copyOf(data);
  const values = from === 'F32' ? new Float32Array(data) : hqq.decode16(new Uint16Array(data), from === 'F16' ? 'f16' : 'bf16');
  if (to === 'F32') return values.buffer === data ? copyOf(data) : (values.buffer as ArrayBuffer);
  return hqq.encode16(values, to === 'F16' ? 'f16' : 'bf16').buffer as ArrayBuffer;
}

export function runConvertTask(hqq: HQQ, task: ConvertTask): WorkerResult {
  const t0 = performance.now();
  const data = task.permute ? permuteRows(task.data, task.cols, task.from, task.permute) : task.data;
  const out = convertDtype(hqq, data, task.from, task.to);
  return { name: task.name, buffers: { data: out }, ms: performance.now() - t0 };
}
