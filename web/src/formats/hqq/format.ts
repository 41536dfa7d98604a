/**
 * The HQQ output format: the reference `HQQLinear` state-dict layout in safetensors files (one
 * output file per input file, or N files with `split.ts`), planned by `plan.ts`, computed by `worker.ts`. Browser-safe.
 */
import { HQQError } from '../../errors.js';
import { hqqLinearConfigBytes } from '../../model/hqqlinear.js';
import type { InputModel } from '../../model/input.js';
import type { HQQTask, TaskInputDtype, WorkerResult } from '../../pool/types.js';
import { runWarnings } from '../plan-common.js';
import type { Job, OutputFormat, PlannedTensor, TensorWrite } from '../types.js';
import { resolveModelConfig, type ModelQuantConfig } from './config.js';
import { addFolderFiles } from './folder.js';
import { planModel, type HQQPlannedTensor, type ModelPlan } from './plan.js';
import { splitHQQPlan } from './split.js';

/** `split`: write the output in that many files `model-0000I-of-0000N.safetensors` (1: the input's files). */
export function createHQQFormat(config: ModelQuantConfig, split = 1): OutputFormat & { plan(input: InputModel): ModelPlan } {
  const resolved = resolveModelConfig(config);
  let plan: ModelPlan | undefined;
  return {
    name: 'hqq',
    plan(input) {
      const st = input.container;
      if (st.kind !== 'safetensors') {
        throw new HQQError('UNSUPPORTED', `HQQ output is made from safetensors models; ${input.fileNames[0]} is ${st.kind}`);
      }
      plan = planModel(st.files.map((f) => ({ fileName: f.header.fileName, header: f.header })), resolved, {
        index: st.index, outputFileName: st.outputFileName, indexOutputName: st.indexOutputName,
      });
      plan.warnings.push(...runWarnings(plan.tensors));
      if (st.folder) addFolderFiles(plan, st.folder);
      if (split > 1) plan = splitHQQPlan(plan, split);
      return plan;
    },
    task(job, tensor, data, extra, options): HQQTask {
      const t = tensor as HQQPlannedTensor;
      const cfg = t.config!;
      const bias = t.bias === undefined ? undefined : (plan!.tensors[t.bias]!);
      return {
        kind: 'hqq',
        name: t.name,
        dtype: t.dtype as TaskInputDtype,
        shape: t.shape,
        data,
        options: {
          ...resolved.solver, // validated, solver keys only; the tensor's own config comes last
          nbits: cfg.nbits, groupSize: cfg.groupSize, axis: cfg.axis, optimize: cfg.optimize, roundZero: cfg.roundZero,
        },
        computeDtype: cfg.computeDtype,
        bias: bias && { dtype: bias.dtype as TaskInputDtype, to: bias.convertTo as TaskInputDtype, data: extra[0]! },
        compareBaseline: options.compareBaseline,
      };
    },
    spareBytes(_job: Job, tensor: PlannedTensor): number | undefined {
      const t = tensor as HQQPlannedTensor;
      return t.outputs.find((o) => o.name === `${t.prefix}W_q`)?.byteLength; // wq, written whole
    },
    place(job: Job, tensor: PlannedTensor, r: WorkerResult): TensorWrite[] {
      const t = tensor as HQQPlannedTensor;
      const file = t.outputs[0]!.file; // the input's file, or the split file holding it
      const prefix = t.prefix!;
      const writes: TensorWrite[] = ['wq', 'scale', 'zero'].map((k) => {
        const buf = r.buffers[k];
        if (!buf) throw new HQQError('INTERNAL', `tensor ${JSON.stringify(t.name)}: the worker returned no ${k}`);
        return { file, entry: prefix + (k === 'wq' ? 'W_q' : k), offset: 0, bytes: new Uint8Array(buf) };
      });
      for (const [k, bytes] of hqqLinearConfigBytes(t.shape, t.config!)) writes.push({ file, entry: prefix + k, offset: 0, bytes });
      if (t.bias !== undefined) {
        const b = plan!.tensors[t.bias]!;
        if (!r.buffers.bias) throw new HQQError('INTERNAL', `tensor ${JSON.stringify(t.name)}: the worker returned no converted ${b.name}`);
        writes.push({ file: b.outputs[0]!.file, entry: b.name, offset: 0, bytes: new Uint8Array(r.buffers.bias) });
      }
      return writes;
    },
  };
}
