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

/** What a conversion is of, for its range error: the tensor, and how to keep it in range. */
export interface ConvertLabel {
  what: string;
  wayOut: string;
}

/**
 * `data` (in `from`) as `to`, always in a new ArrayBuffer (the input may be a recycled buffer).
 * Finite values that `to` cannot hold (float16 above 65504) are INVALID_VALUE, never Inf in the output.
 */
export function convertDtype(hqq: HQQ, data: TaskBuffer, from: string, to: TaskInputDtype, label?: ConvertLabel): ArrayBuffer {
  if (!FLOATS.includes(from)) throw new HQQError('UNSUPPORTED', `cannot convert ${from} to ${to}; only F32, F16 and BF16 convert`);
  if (from === to || data.byteLength === 0) return copyOf(data);
  const values = from === 'F32' ? new Float32Array(data) : hqq.decode16(new Uint16Array(data), from === 'F16' ? 'f16' : 'bf16');
  if (to === 'F32') return values.buffer === data ? copyOf(data) : (values.buffer as ArrayBuffer);
  const kind = to === 'F16' ? 'f16' : 'bf16';
  const encoded = hqq.encode16(values, kind);
  checkEncodedRange(values, encoded, kind, label);
  return encoded.buffer as ArrayBuffer;
}

/**
 * Throws INVALID_VALUE when finite `values` became Inf in `encoded` (their 16-bit encoding): a
 * float16 overflow, or bfloat16 at the very top of float32's range. Inf and NaN in the input stay
 * what they are (an attention mask's -Inf is not an overflow).
 */
export function checkEncodedRange(values: Float32Array, encoded: Uint16Array, kind: 'f16' | 'bf16', label?: ConvertLabel): void {
  const inf = kind === 'f16' ? 0x7c00 : 0x7f80;
  let count = 0;
  let first = -1;
  for (let i = 0; i < encoded.length; i++) {
    if ((encoded[i]! & 0x7fff) === inf && Number.isFinite(values[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count === 0) return;
  const type = kind === 'f16' ? 'float16 (largest finite value 65504)' : 'bfloat16 (largest finite value about 3.39e38)';
  throw new HQQError('INVALID_VALUE', `${label?.what ?? 'the values'}: ${count} of ${values.length} finite value(s) overflow ${type} and would be stored as Inf ` +
    `(the first: ${values[first]} at element ${first}); ${label?.wayOut ?? 'keep them in float32'}`);
}

export function runConvertTask(hqq: HQQ, task: ConvertTask): WorkerResult {
  const t0 = performance.now();
  const data = task.permute ? permuteRows(task.data, task.cols, task.from, task.permute) : task.data;
  const out = convertDtype(hqq, data, task.from, task.to, { what: `tensor ${JSON.stringify(task.name)} (stored as ${task.to})`, wayOut: task.wayOut ?? 'keep it in F32' });
  return { name: task.name, buffers: { data: out }, ms: performance.now() - t0 };
}
