/**
 * The ONNX output format: MatMul/Gemm weights as com.microsoft MatMulNBits inputs (HQQ-optimised
 * blocks along K, uint8 or float zero points), the rest of the model kept byte for byte. Planned
 * by `plan.ts`, computed by `worker.ts` (task kind `nbits`). Browser-safe.
 */
import { HQQError } from '../../errors.js';
import type { InputModel } from '../../model/input.js';
import type { NBitsTask, TaskBuffer, WorkerResult } from '../../pool/types.js';
import type { Job, OutputFormat, PlannedTensor, TensorWrite } from '../types.js';
import { resolveONNXConfig, type ONNXModelConfig } from './config.js';
import { planONNX, type NBitsJobSpec, type ONNXFormatPlan } from './plan.js';

export function createONNXFormat(config: ONNXModelConfig | undefined): OutputFormat & { plan(input: InputModel): ONNXFormatPlan } {
  const c = resolveONNXConfig(config);
  return {
    name: 'onnx',
    plan: (input) => planONNX(input, c),
    task(job: Job, tensor: PlannedTensor, data: TaskBuffer, _extra, options): NBitsTask {
      const s = job.spec as NBitsJobSpec;
      return {
        kind: 'nbits', name: tensor.name, data, dtype: s.dtype, shape: s.layout === 'KN' ? [s.K, s.N] : [s.N, s.K], layout: s.layout,
        bits: c.bits, blockSize: c.blockSize, zeroPoints: c.zeroPoints, scaleType: s.scaleType, optimize: c.optimize,
        compareBaseline: options.compareBaseline,
      };
    },
    place(job: Job, tensor: PlannedTensor, r: WorkerResult): TensorWrite[] {
      const s = job.spec as NBitsJobSpec;
      return (['qweight', 'scales', 'zeroPoints'] as const).map((k) => {
        const buf = r.buffers[k];
        if (!buf) throw new HQQError('INTERNAL', `tensor ${JSON.stringify(tensor.name)}: the worker returned no ${k}`);
        if (buf.byteLength !== s.sizes[k]) throw new HQQError('INTERNAL', `tensor ${JSON.stringify(tensor.name)}: ${k} came back as ${buf.byteLength} bytes, expected ${s.sizes[k]}`);
        return { file: s.files[k], entry: s.entries[k], offset: 0, bytes: new Uint8Array(buf) };
      });
    },
  };
}
