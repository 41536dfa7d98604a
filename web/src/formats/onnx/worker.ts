/**
 * Worker side of the ONNX format (browser-safe): one weight to MatMulNBits inputs with the wasm
 * core (`hqq.quantizeNBits`), with the error sums of ours and, when asked, of onnxruntime-style
 * round-to-nearest on the same blocks (the baseline).
 */
import type { HQQ } from '../../engine.js';
import { HQQError } from '../../errors.js';
import type { NBitsTask, TaskStats, WorkerResult } from '../../pool/types.js';

/** The engine method of the onnx-core contract (web/src/engine.ts `HQQ.quantizeNBits`). */
export interface NBitsEngine {
  quantizeNBits(
    weights: Float32Array | Uint16Array,
    shape: [number, number],
    options: { bits: 2 | 4 | 8; blockSize: number; zeroPoints: 'uint8' | 'float'; layout: 'KN' | 'NK'; dtype?: 'F32' | 'F16' | 'BF16'; scaleType?: 'float32' | 'float16'; optimize?: boolean; compareBaseline?: boolean },
  ): { qweight: Uint8Array; scales: Uint8Array; zeroPoints: Uint8Array; stats: TaskStats; baseline?: TaskStats; iterations: number };
}

export function runNBitsTask(hqq: HQQ, task: NBitsTask): WorkerResult {
  const t0 = performance.now();
  const data = task.dtype === 'F32' ? new Float32Array(task.data) : new Uint16Array(task.data);
  const engine = hqq as unknown as Partial<NBitsEngine>;
  if (typeof engine.quantizeNBits !== 'function') throw new HQQError('UNSUPPORTED', 'this build of the wasm core has no MatMulNBits quantizer (quantizeNBits); rebuild with scripts/build.sh');
  const r = engine.quantizeNBits(data, task.shape, {
    bits: task.bits, blockSize: task.blockSize, zeroPoints: task.zeroPoints, layout: task.layout, dtype: task.dtype,
    scaleType: task.scaleType, optimize: task.optimize, compareBaseline: task.compareBaseline === true,
  });
  const own = (b: Uint8Array) => (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer) as ArrayBuffer;
  return {
    name: task.name,
    buffers: { qweight: own(r.qweight), scales: own(r.scales), zeroPoints: own(r.zeroPoints) },
    stats: r.stats,
    baseline: r.baseline,
    iterations: r.iterations,
    ms: performance.now() - t0,
  };
}
