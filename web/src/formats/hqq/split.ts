/**
 * HQQ output in N safetensors files `model-0000I-of-0000N.safetensors` plus an index.json,
 * whatever the input's files (browser-safe): option `split` (CLI `--split N`), and what a sharded
 * run uses when it has more parts than the input has files (`--shard I/N` of a one-file model).
 * The tensors keep their input order and are cut into N contiguous runs balanced by output bytes,
 * so a layer stays together, as `save_pretrained`'s max_shard_size cuts them.
 */
import { HQQError } from '../../errors.js';
import { buildIndexJson } from '../../io/index-json.js';
import { planSafetensors } from '../../io/writer.js';
import { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from '../../version.js';
import { balancedRuns } from '../gguf/split.js';
import { planTotals } from '../plan-common.js';
import type { PlannedFile } from '../types.js';
import { describeConfig } from './config.js';
import { CopiedTensor } from './copied-tensor.js';
import { entriesOf, type HQQPlannedTensor, type ModelPlan, type PlannedShard } from './plan.js';

export const INDEX_NAME = 'model.safetensors.index.json';

/** `model-0000I-of-0000N.safetensors` for 0-based file `no` (the Hugging Face naming). */
export function hqqSplitFileName(no: number, count: number): string {
  return `model-${String(no + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`;
}

function entryBytes(t: HQQPlannedTensor): number {
  return t.outputs.reduce((a, o) => a + o.byteLength, 0);
}

/** The plan of the same output in `count` files (count >= 2), with a new index.json. */
export function splitHQQPlan(plan: ModelPlan, count: number): ModelPlan {
  const live = plan.tensors.filter((t) => t.entries.length > 0);
  if (count > live.length) {
    throw new HQQError('INVALID_ARGUMENT', `the model has ${live.length} tensors, too few for ${count} files (each holds at least one); use at most ${live.length}`);
  }
  const starts = balancedRuns(live.map(entryBytes), count);
  const fileOf = new Map<number, number>();
  const shards: PlannedShard[] = [];
  for (let no = 0; no < count; no++) {
    const mine = live.slice(starts[no]!, starts[no + 1]!);
    for (const t of mine) fileOf.set(t.index, no);
    const fileName = hqqSplitFileName(no, count);
    const layout = planSafetensors(entriesOf(mine), plan.metadata, { distinctNames: true, fileName }); // checked by planModel
    shards.push({ fileName, inputName: plan.shards[mine[0]!.sourceIndex]!.inputName, tensors: mine, layout });
  }
  const tensors = plan.tensors.map((t): HQQPlannedTensor => {
    const file = fileOf.get(t.index);
    if (file === undefined) return t;
    if (t instanceof CopiedTensor) return t.inFile(file);
    return { ...t, outputs: t.outputs.map((o) => ({ ...o, file })), copyTo: t.copyTo && { ...t.copyTo, file } };
  });
  for (const s of shards) s.tensors = s.tensors.map((t) => tensors[t.index]!);
  const wm = new Map<string, string>();
  let total = 0;
  for (const s of shards) {
    for (const t of s.layout.tensors) wm.set(t.name, s.fileName);
    total += s.layout.totalSize - s.layout.dataOffset;
  }
  const fileName = plan.index?.fileName ?? INDEX_NAME;
  // The input index's metadata is kept (buildIndexJson writes total_size anew), as a sharded run keeps it.
  const extra = plan.index ? (JSON.parse(plan.index.text) as { metadata?: Record<string, unknown> }).metadata ?? {} : {};
  const text = buildIndexJson(wm, total, { ...extra, hqq_tool: HQQ_WASM_TOOL, hqq_tool_version: HQQ_WASM_VERSION, hqq_config: describeConfig(plan.resolved) });
  // The index is the first small file (as a sharded run has it), then the folder's files.
  const smallFiles = [{ fileName, data: text }, ...plan.smallFiles.filter((f) => f.fileName !== fileName)];
  const files: PlannedFile[] = shards.map((s) => ({ fileName: s.fileName, layout: s.layout, inputName: s.inputName }));
  return {
    ...plan, files, smallFiles, shards, tensors, sharded: true, index: { fileName, text },
    totals: planTotals(tensors, files, smallFiles),
  };
}
