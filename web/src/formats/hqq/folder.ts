/**
 * HQQ output of a Hugging Face folder (browser-safe): a folder transformers and vLLM load
 * (docs/hqq-folders.md). config.json gets `quantization_config` as transformers' HqqConfig writes
 * it; every other file of the input folder (tokenizer, generation config, chat template, README...)
 * is copied as it is; the runtimes that would refuse the chosen config are named in warnings.
 */
import { hqqQuantizationConfig, runtimeSupport, withQuantizationConfig, type HQQLinearLayer } from '../../model/hf/hqq-config.js';
import type { FolderInput } from '../../model/input.js';
import type { HQQPlannedTensor, ModelPlan } from './plan.js';

const EMBEDDING = /embed|(^|\.)(wte|wpe)(\.|$)/;

/** The model's linear layers: every 2-D `.weight` but embeddings, with what it was quantized with. */
function linearLayers(tensors: readonly HQQPlannedTensor[]): HQQLinearLayer[] {
  return tensors
    .filter((t) => t.shape.length === 2 && (t.action === 'quantize' || (t.name.endsWith('.weight') && !EMBEDDING.test(t.name) && ['F32', 'F16', 'BF16'].includes(t.dtype))))
    .map((t) => ({
      module: t.action === 'quantize' ? t.prefix!.replace(/\.$/, '') : t.name.slice(0, -'.weight'.length),
      quant: t.action === 'quantize' && t.config ? { nbits: t.config.nbits, groupSize: t.config.groupSize, axis: t.config.axis, optimize: t.config.optimize, roundZero: t.config.roundZero } : null,
    }));
}

function baseName(name: string): string {
  return name.split(/[\\/]/).pop() ?? name;
}

export function addFolderFiles(plan: ModelPlan, folder: FolderInput): void {
  const taken = new Set([...plan.files.map((f) => f.fileName), ...plan.smallFiles.map((f) => f.fileName)]);
  const configText = folder.texts.get('config.json');
  if (plan.totals.quantized > 0) {
    const layers = linearLayers(plan.tensors);
    const qc = hqqQuantizationConfig(layers);
    for (const message of qc.warnings) plan.warnings.push({ code: 'OTHER', message });
    if (configText !== undefined) {
      plan.smallFiles.push({ fileName: 'config.json', data: withQuantizationConfig(configText, qc.config) });
      for (const message of runtimeSupport(qc.config, layers).warnings) plan.warnings.push({ code: 'RUNTIME_COMPAT', message });
    } else {
      plan.warnings.push({ code: 'RUNTIME_COMPAT', message: 'the input folder has no config.json, so the output has none: transformers and vLLM need it (with quantization_config) to load the folder' });
    }
    taken.add('config.json');
  }
  for (const f of folder.files) {
    const name = baseName(f.name);
    if (taken.has(name)) continue;
    taken.add(name);
    plan.smallFiles.push({ fileName: name, source: f });
  }
  plan.totals.fileBytes += plan.smallFiles.reduce((a, f) => a + (f.source ? f.source.size : 0), 0)
    + (configText !== undefined && plan.totals.quantized > 0 ? new TextEncoder().encode(plan.smallFiles.find((f) => f.fileName === 'config.json')!.data as string).byteLength : 0);
}
