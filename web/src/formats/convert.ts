/**
 * Float dtype conversion in a worker (browser-safe): F32/F16/BF16 to F32/F16/BF16, round to
 * nearest even, done by the wasm core's decoders and encoders.
 */
import type { HQQ } from '../engine.js';
import { HQQError } from '../errors.js';
import type { ConvertTask, TaskInputDtype, WorkerResult } from '../pool/types.js';
import { permuteRows } from './row-permute.js';

const FLOATS: readonly string[] = ['F32', 'F16', 'BF16'];

/** `data` (in `from`) as `to`; a new buffer unless nothing changes. */
export function convertDtype(hqq: HQQ, data: ArrayBuffer, from: string, to: TaskInputDtype): ArrayBuffer {
  if (!FLOATS.includes(from)) throw new HQQError('UNSUPPORTED', `cannot convert ${from} to ${to}; only F32, F16 and BF16 convert`);
  if (from === to || data.byteLength === 0) return data.slice(0);
  const values = from === 'F32' ? new Float32Array(data) : hqq.decode16(new Uint16Array(data), from === 'F16' ? 'f16' : 'bf16');
  if (to === 'F32') return values.buffer === data ? data.slice(0) : (values.buffer as ArrayBuffer);
  return hqq.encode16(values, to === 'F16' ? 'f16' : 'bf16').buffer as ArrayBuffer;
}

export function runConvertTask(hqq: HQQ, task: ConvertTask): WorkerResult {
  const t0 = performance.now();
  const data = task.permute ? permuteRows(task.data, task.cols, task.from, task.permute) : task.data;
  const out = convertDtype(hqq, data, task.from, task.to);
  return { name: task.name, buffers: { data: out }, ms: performance.now() - t0 };
}
