/**
 * The GGUF output format: llama.cpp's block types with HQQ-optimised parameters, in one GGUF file
 * (metadata and tokenizer kept, `general.file_type` and `general.quantization_version` updated),
 * or in N gguf-split files (`split.ts`).
 * Planned by `plan.ts`, computed in row ranges by `worker.ts`. Browser-safe.
 */
import { HQQError } from '../../errors.js';
import type { InputModel } from '../../model/input.js';
import type { ConvertTask, GGUFTask, TaskBuffer, TaskInputDtype, WorkerResult } from '../../pool/types.js';
import type { Job, OutputFormat, PlannedTensor, TensorWrite } from '../types.js';
import { resolveGGUFConfig, type GGUFModelConfig } from './config.js';
import { planGGUFFromHF } from './plan-hf.js';
import { MAX_JOB_WEIGHTS, planGGUFFromGGUF, type GGUFFormatPlan, type GGUFJobSpec } from './plan.js';
import { checkSplitCount, splitGGUFPlan } from './split.js';

/** `split`: write the model as that many gguf-split files (1: one plain file). */
export function createGGUFFormat(config: GGUFModelConfig | undefined, maxJobWeights?: number, split = 1): OutputFormat & { plan(input: InputModel): GGUFFormatPlan } {
  const resolved = resolveGGUFConfig(config);
  checkSplitCount(split, 'split');
  return {
    name: 'gguf',
    plan(input) {
      const one = input.container.kind === 'gguf'
        ? planGGUFFromGGUF(input, resolved, maxJobWeights)
        : planGGUFFromHF(input, resolved, maxJobWeights ?? MAX_JOB_WEIGHTS);
      return split > 1 ? splitGGUFPlan(one, split) : one;
    },
    task(job: Job, tensor: PlannedTensor, data: TaskBuffer, _extra, options): GGUFTask | ConvertTask {
      const s = job.spec as GGUFJobSpec;
      if (s.kind === 'convert') {
        const entry = tensor.outputs[0]?.name ?? tensor.name;
        const wayOut = `keep it in F32: --tensor-type '^${entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$=f32' (API: gguf.tensorTypes)`;
        return { kind: 'convert', name: tensor.name, data, from: s.inputType, to: s.type as TaskInputDtype, rows: s.rows, cols: s.cols, permute: s.permute, wayOut };
      }
      return { kind: 'gguf', name: tensor.name, data, inputType: s.inputType, type: s.type, rows: s.rows, cols: s.cols, permute: s.permute, compareBaseline: options.compareBaseline };
    },
    place(job: Job, tensor: PlannedTensor, r: WorkerResult): TensorWrite[] {
      const s = job.spec as GGUFJobSpec;
      const buf = r.buffers.blocks ?? r.buffers.data;
      if (!buf) throw new HQQError('INTERNAL', `tensor ${JSON.stringify(tensor.name)}: the worker returned no data`);
      if (buf.byteLength !== s.rows * s.rowBytes) {
        throw new HQQError('INTERNAL', `tensor ${JSON.stringify(tensor.name)}: rows ${s.rowStart}..${s.rowStart + s.rows - 1} came back as ${buf.byteLength} bytes, expected ${s.rows * s.rowBytes}`);
      }
      const out = tensor.outputs[0]!; // its file: 0, or the split file holding it
      return [{ file: out.file, entry: out.name, offset: s.rowStart * s.rowBytes, bytes: new Uint8Array(buf) }];
    },
  };
}
