/**
 * Worker side of the ONNX format (browser-safe): one weight to MatMulNBits inputs with the wasm
 * core (`hqq.quantizeNBits`), with the error sums of ours and, when asked, of onnxruntime-style
 * round-to-nearest on the same blocks (the baseline).
 */
import type { HQQ } from '../../engine.js';
import type { NBitsTask, WorkerResult } from '../../pool/types.js';

/** An exact, owned buffer for a result array (transferable alone). */
function own(b: Uint8Array): ArrayBuffer {
  return (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer) as ArrayBuffer;
}

export function runNBitsTask(hqq: HQQ, task: NBitsTask): WorkerResult {
  const t0 = performance.now();
  const data = task.dtype === 'F32' ? new Float32Array(task.data) : new Uint16Array(task.data);
  const r = hqq.quantizeNBits(data, task.shape, {
    bits: task.bits, blockSize: task.blockSize, zeroPoints: task.zeroPoints, layout: task.layout, dtype: task.dtype,
    scaleType: task.scaleType, optimize: task.optimize, compareBaseline: task.compareBaseline === true,
  });
  return {
    name: task.name,
    buffers: { qweight: own(r.qweight), scales: own(r.scales), zeroPoints: own(r.zeroPoints) },
    stats: r.stats,
    baseline: r.baseline,
    iterations: r.iterations,
    ms: performance.now() - t0,
  };
}
