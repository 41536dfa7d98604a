/**
 * Worker side of the HQQ format (browser-safe): quantize one tensor with the wasm core, encode
 * scale/zero to the compute dtype with the core's encoder, convert the layer's bias, and return
 * transferable buffers `wq`, `scale`, `zero` (and `bias`); `wq` goes into the task's first spare
 * buffer when that is exactly its size.
 */
import type { ErrorStatistics, HQQ, QuantizeOptions } from '../../engine.js';
import type { HQQTask, TaskBuffer, TaskStats, WorkerResult } from '../../pool/types.js';
import { convertDtype } from '../convert.js';

/** ErrorStatistics of `count` values as summable sums. */
export function statsToSums(s: ErrorStatistics, count: number): TaskStats {
  return { count, sumAbs: s.meanAbs * count, sumSq: s.frobenius * s.frobenius, maxAbs: s.maxAbs, sumWSq: s.weightFrobenius * s.weightFrobenius };
}

const SCALE_DTYPE = { float32: 'f32', float16: 'f16', bfloat16: 'bf16' } as const;

/** scale/zero in the compute dtype: the core already rounded them to it, so this encoding is exact. */
function encode(hqq: HQQ, values: Float32Array, computeDtype: HQQTask['computeDtype']): ArrayBuffer {
  if (computeDtype === 'float32') return values.buffer as ArrayBuffer; // the engine returns owned copies
  return hqq.encode16(values, computeDtype === 'float16' ? 'f16' : 'bf16').buffer as ArrayBuffer;
}

export function runHQQTask(hqq: HQQ, task: HQQTask): WorkerResult {
  const t0 = performance.now();
  const data = task.dtype === 'F32' ? new Float32Array(task.data) : new Uint16Array(task.data);
  // Stats describe the stored scale/zero (rounded to the compute dtype); an overflow is INVALID_VALUE.
  const opts: QuantizeOptions = {
    ...task.options, scaleDtype: SCALE_DTYPE[task.computeDtype],
    ...(task.dtype === 'F32' ? {} : { dtype: task.dtype === 'F16' ? 'f16' : 'bf16' }),
  };
  // A spare buffer the pipeline passed back (an earlier result's wq) receives wq when it fits.
  const spare = task.spare?.[0];
  const q = hqq.quantize(data, task.shape, opts, spare ? { packed: new Uint8Array(spare) } : undefined);
  const count = data.length;
  const baseline = task.compareBaseline ? statsToSums(hqq.quantize(data, task.shape, { ...opts, optimize: false }).stats, count) : undefined;
  const buffers: Record<string, TaskBuffer> = {
    wq: q.packed.buffer as TaskBuffer, // the spare when it was used (shared or not)
    scale: encode(hqq, q.scale, task.computeDtype),
    zero: encode(hqq, q.zero, task.computeDtype),
  };
  if (task.bias) {
    buffers.bias = convertDtype(hqq, task.bias.data, task.bias.dtype, task.bias.to, {
      what: `the bias of ${JSON.stringify(task.name)} (stored in the compute dtype, ${task.bias.to})`, wayOut: 'use compute dtype bfloat16 or float32 (--compute-dtype)',
    });
  }
  return {
    name: task.name, buffers, stats: statsToSums(q.stats, count), baseline, iterations: q.iterations,
    ...(q.limitedGroups > 0 ? { limitedGroups: q.limitedGroups } : {}), ms: performance.now() - t0,
  };
}
