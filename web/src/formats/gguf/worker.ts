/**
 * Worker side of the GGUF format (browser-safe): quantize `rows` x `cols` weights (a tensor or a
 * row range) to a GGML block type with the wasm core; the input is F32/F16/BF16, or GGML blocks
 * of another type when requantizing (decoded by the core first). Returns the block bytes as
 * `blocks`, with the error sums of ours and of llama.cpp's reference quantizer (the baseline).
 */
import type { GGUFTypeName, HQQ } from '../../engine.js';
import type { GGUFTask, WorkerResult } from '../../pool/types.js';
import { permuteRows } from '../row-permute.js';
import { statsToSums } from '../hqq/worker.js';

export function runGGUFTask(hqq: HQQ, task: GGUFTask): WorkerResult {
  const t0 = performance.now();
  const shape: [number, number] = [task.rows, task.cols];
  // task.data stays the caller's buffer, handed back for reuse (WorkerResult.inputs).
  const input = task.permute ? permuteRows(task.data, task.cols, task.inputType, task.permute) : task.data;
  let data: Float32Array | Uint16Array;
  let dtype: 'f16' | 'bf16' | undefined;
  if (task.inputType === 'F32') data = new Float32Array(input);
  else if (task.inputType === 'F16' || task.inputType === 'BF16') {
    data = new Uint16Array(input);
    dtype = task.inputType === 'F16' ? 'f16' : 'bf16';
  } else data = hqq.dequantizeGGUF(new Uint8Array(input), shape, task.inputType as GGUFTypeName);
  const r = hqq.quantizeGGUF(data, shape, task.type as GGUFTypeName, { ...(dtype ? { dtype } : {}), compareReference: task.compareBaseline === true });
  const count = task.rows * task.cols;
  return {
    name: task.name,
    buffers: { blocks: r.bytes.buffer as ArrayBuffer },
    stats: statsToSums(r.stats, count),
    baseline: r.reference ? statsToSums(r.reference, count) : undefined,
    ms: performance.now() - t0,
  };
}
