/**
 * GGUF from a Hugging Face folder (browser-safe): what `convert_hf_to_gguf.py` followed by
 * `llama-quantize` would make, in one pass and without Python. The folder's config.json and
 * tokenizer give the metadata (`model/hf/gguf-plan.ts`: architecture, hyper-parameters, naming,
 * tokenizer); every safetensors tensor is renamed to llama.cpp's name, its q/k rows permuted where
 * the architecture needs it (in the worker, per job of whole heads), and given llama-quantize's type
 * for the preset; tensors the converter drops are dropped, tensors it generates (Llama 3's
 * rope_freqs) are written from the plan.
 */
import { HQQError } from '../../errors.js';
import { withMetadata } from '../../io/gguf-metadata.js';
import { planGGUF } from '../../io/gguf-writer.js';
import { parseHFFolder } from '../../model/hf/folder.js';
import { hfToGGUFPlan } from '../../model/hf/gguf-plan.js';
import type { MappedTensor } from '../../model/hf/tensors.js';
import type { InputModel, InputTensor } from '../../model/input.js';
import { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from '../../version.js';
import { planTotals, runWarnings } from '../plan-common.js';
import type { PlannedTensor, PlanWarning, TensorWrite } from '../types.js';
import { describeGGUFConfig, type ResolvedGGUFConfig } from './config.js';
import { rowJobs, type GGUFFormatPlan, type GGUFPlannedTensor } from './plan.js';
import { chooseTensorTypes, ggufModelFacts, unusedTensorTypeWarnings } from './tensor-types.js';

const FLOATS = new Set(['F32', 'F16', 'BF16']);

function dropped(t: InputTensor, index: number, reason: string): PlannedTensor {
  return {
    name: t.name, dtype: t.dtype, shape: t.shape, numel: t.numel, index, sourceIndex: t.sourceIndex, action: 'drop', reason,
    label: 'drop', outputs: [], jobs: [], bytesBefore: t.byteLength, bytesAfter: 0, bitsPerWeight: 0,
  };
}

export function planGGUFFromHF(input: InputModel, c: ResolvedGGUFConfig, maxJobWeights: number): GGUFFormatPlan {
  const st = input.container;
  if (st.kind !== 'safetensors') throw new HQQError('INTERNAL', 'planGGUFFromHF needs a safetensors input');
  if (!st.folder) {
    throw new HQQError('UNSUPPORTED', `GGUF output from safetensors needs the Hugging Face model folder (config.json for the architecture, tokenizer.json for the vocabulary) next to the weights; pass the folder, not ${input.fileNames[0]} alone`);
  }
  const folder = parseHFFolder([
    ...[...st.folder.texts].map(([name, text]) => ({ name, text })),
    ...input.fileNames.map((name) => ({ name })),
    ...(st.indexText !== undefined ? [{ name: 'model.safetensors.index.json', text: st.indexText }] : []),
  ], { target: 'gguf' });
  for (const t of input.tensors) {
    if (!FLOATS.has(t.dtype)) throw new HQQError('UNSUPPORTED', `tensor ${JSON.stringify(t.name)} is ${t.dtype}; GGUF conversion reads F32, F16 and BF16 weights (is this model already quantized?)`);
  }
  const hf = hfToGGUFPlan(folder, input.tensors.map((t) => ({ name: t.name, shape: t.shape })), { fileType: c.preset.ftype, folderName: st.folder.name });
  const metadata = withMetadata(hf.metadata, {
    'general.quantized_by': { type: 'string', value: `${HQQ_WASM_TOOL} ${HQQ_WASM_VERSION} (HQQ-optimised)` },
  });
  const inputIndex = new Map(input.tensors.map((t, i) => [t.name, i]));
  const mapped: { m: MappedTensor; i: number }[] = hf.tensors.map((m) => ({ m, i: inputIndex.get(m.hfName)! }));
  const facts = ggufModelFacts(metadata, 'the converted model');
  // The converter stores 1-D tensors and norms in F32; llama-quantize then picks from there.
  const choices = chooseTensorTypes(mapped.map(({ m, i }) => ({ name: m.ggufName, ne: m.ne, type: m.keepF32 ? 'F32' : input.tensors[i]!.dtype })), facts, c.options);
  const layout = planGGUF({
    metadata,
    tensors: [
      ...hf.generated.map((g) => ({ name: g.ggufName, type: 'F32', ne: g.ne })),
      ...mapped.map(({ m }, k) => ({ name: m.ggufName, type: choices[k]!.type, ne: m.ne })),
    ],
  });
  const tensors: PlannedTensor[] = input.tensors.map((t, i) => dropped(t, i, 'not in the GGUF'));
  for (const d of hf.dropped) {
    const i = inputIndex.get(d.hfName);
    if (i !== undefined) tensors[i] = dropped(input.tensors[i]!, i, d.reason);
  }
  mapped.forEach(({ m, i }, k) => {
    const t = input.tensors[i]!;
    const choice = choices[k]!;
    const r = layout.offsets.get(m.ggufName)!;
    const byteLength = r.end - r.begin;
    const cols = m.ne[0]!;
    const base = {
      name: t.name, dtype: t.dtype, shape: t.shape, numel: t.numel, index: i, sourceIndex: t.sourceIndex, ne: m.ne,
      ggufType: choice.type, label: choice.type, outputs: [{ file: 0, name: m.ggufName, byteLength }],
      bytesBefore: t.byteLength, bytesAfter: byteLength, bitsPerWeight: t.numel > 0 ? (byteLength * 8) / t.numel : 0,
    };
    const reason = `-> ${m.ggufName}${m.permute ? ' (q/k rows permuted for llama.cpp RoPE)' : ''}`;
    if (choice.type === t.dtype && !m.permute) {
      tensors[i] = { ...base, action: 'copy', reason: `${reason}; ${choice.reason}`, jobs: [], copyTo: { file: 0, entry: m.ggufName } } satisfies GGUFPlannedTensor;
      return;
    }
    const jobs = rowJobs(i, t.numel / cols, cols, t.dtype, choice.type, `tensor ${JSON.stringify(t.name)}`, maxJobWeights, m.permute);
    const converting = FLOATS.has(choice.type);
    tensors[i] = { ...base, action: converting ? 'convert' : 'quantize', reason: converting ? `${reason}; ${choice.reason}` : reason, jobs } satisfies GGUFPlannedTensor;
  });
  const constants: TensorWrite[] = hf.generated.map((g) => ({ file: 0, entry: g.ggufName, offset: 0, bytes: new Uint8Array(g.data.buffer, g.data.byteOffset, g.data.byteLength) }));
  const fileName = st.outputFileName ?? `${hf.naming.name.replace(/[^\w.-]+/g, '-') || 'model'}-${c.preset.name}.gguf`;
  const files = [{ fileName, layout }];
  const warnings: PlanWarning[] = [
    ...hf.warnings.map((message) => ({ code: 'OTHER' as const, message })),
    ...unusedTensorTypeWarnings(mapped.map(({ m }) => m.ggufName), c.options),
    ...runWarnings(tensors),
  ];
  return {
    format: 'gguf', config: { ...describeGGUFConfig(c), architecture: hf.architecture.hfName }, baselineName: 'llama.cpp', files, smallFiles: [],
    constants, tensors: tensors as GGUFPlannedTensor[], layout, metadata: layout.metadata, totals: planTotals(tensors, files, []), warnings,
  };
}

