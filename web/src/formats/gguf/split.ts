/**
 * GGUF split files, as llama.cpp's `gguf-split` writes them and its model loader reads them
 * (tools/gguf-split/gguf-split.cpp, src/llama-model-loader.cpp), browser-safe:
 *
 * - file names `<prefix>-00001-of-0000N.gguf` ... (`llama_split_path`: 1-based, 5 digits);
 * - split 0 holds every metadata key of the model, then `split.no` (u16, 0-based), `split.count`
 *   (u16) and `split.tensors.count` (i32, the tensors of ALL splits); later splits hold only those
 *   three keys (so their data alignment is GGUF's default 32, as gguf-split writes them);
 * - the tensors keep their file order, cut into contiguous runs; the loader finds every tensor by
 *   name over all splits and refuses duplicates or a total other than `split.tensors.count`.
 *
 * Where gguf-split cuts by a maximum size or tensor count, we cut into exactly N runs balanced by
 * bytes, so N machines (`--shard I/N`) get about the same work and every split file is one part.
 */
import { shown } from '../../arguments.js';
import { HQQError } from '../../errors.js';
import type { GGUFMetadata, GGUFValue } from '../../io/gguf-metadata.js';
import { planGGUF, type GGUFPlan } from '../../io/gguf-writer.js';
import { planTotals } from '../plan-common.js';
import type { PlannedFile, TensorWrite } from '../types.js';
import type { GGUFFormatPlan, GGUFPlannedTensor } from './plan.js';

export const SPLIT_NO = 'split.no';
export const SPLIT_COUNT = 'split.count';
export const SPLIT_TENSORS_COUNT = 'split.tensors.count';

/** split.no and split.count are u16 in llama.cpp. */
export const MAX_SPLITS = 65535;

const SPLIT_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** `<prefix>-0000I-of-0000N.gguf` for 0-based split `no` (llama.cpp's `llama_split_path`). */
export function splitFileName(prefix: string, no: number, count: number): string {
  return `${prefix}-${String(no + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.gguf`;
}

/** The prefix of a split set from an output name: `model.gguf` -> `model`; a split name -> its prefix. */
export function splitPrefix(fileName: string): string {
  const m = SPLIT_NAME.exec(fileName);
  if (m) return m[1]!;
  return fileName.replace(/\.gguf$/i, '');
}

/** Parses `<prefix>-0000I-of-0000N.gguf`: its prefix, 0-based split number and count. */
export function parseSplitFileName(fileName: string): { prefix: string; no: number; count: number } | undefined {
  const m = SPLIT_NAME.exec(fileName);
  if (!m) return undefined;
  return { prefix: m[1]!, no: Number(m[2]) - 1, count: Number(m[3]) };
}

export function checkSplitCount(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1 || n > MAX_SPLITS) {
    throw new HQQError('INVALID_ARGUMENT', `${what} = ${shown(n)} is invalid; use an integer from 1 to ${MAX_SPLITS} (llama.cpp stores the split count as a u16)`);
  }
  return n;
}

/** The three split keys of split `no` of `count` in a model of `tensors` tensors. */
export function splitKeys(no: number, count: number, tensors: number): [string, GGUFValue][] {
  return [
    [SPLIT_NO, { type: 'u16', value: no }],
    [SPLIT_COUNT, { type: 'u16', value: count }],
    [SPLIT_TENSORS_COUNT, { type: 'i32', value: tensors }],
  ];
}

/**
 * Cuts `sizes` (in order) into `n` non-empty contiguous runs with about equal sums: run k ends at
 * the boundary closest to k/n of the total (keeping one item for every later run). Returns the
 * start of every run, plus `sizes.length` at the end. Deterministic: the same sizes give the same cut.
 */
export function balancedRuns(sizes: readonly number[], n: number): number[] {
  const prefix = [0];
  for (const s of sizes) prefix.push(prefix[prefix.length - 1]! + s);
  const total = prefix[sizes.length]!;
  const starts = [0];
  for (let k = 1; k < n; k++) {
    const target = (total * k) / n;
    const lo = starts[k - 1]! + 1;
    const hi = sizes.length - (n - k);
    let j = lo;
    while (j < hi && prefix[j]! < target) j++;
    if (j > lo && target - prefix[j - 1]! <= prefix[j]! - target) j--;
    starts.push(j);
  }
  starts.push(sizes.length);
  return starts;
}

/** The layout of split `no`: its tensors, the model's metadata in split 0, only the split keys elsewhere. */
function splitLayout(plan: GGUFFormatPlan, no: number, count: number, tensors: GGUFPlan['tensors']): GGUFPlan {
  const total = plan.layout.tensors.length;
  const keys = splitKeys(no, count, total);
  let metadata: GGUFMetadata;
  if (no === 0) {
    metadata = new Map(plan.layout.metadata);
    for (const [k] of keys) metadata.delete(k); // an input that was a split itself: ours replace its keys
    for (const [k, v] of keys) metadata.set(k, v);
  } else {
    metadata = new Map(keys);
  }
  return planGGUF({ metadata, tensors: tensors.map((t) => ({ name: t.name, type: t.type, ne: t.ne })), alignment: no === 0 ? plan.layout.alignment : undefined });
}

/**
 * The plan of the same model written as `count` split files (count >= 2): the same tensors with
 * the same bytes, every output entry, copy and constant moved to the file that holds it.
 */
export function splitGGUFPlan(plan: GGUFFormatPlan, count: number): GGUFFormatPlan {
  const tensors = plan.layout.tensors;
  if (count > tensors.length) {
    throw new HQQError('INVALID_ARGUMENT', `the GGUF has ${tensors.length} tensors, too few for ${count} split files (each holds at least one); use at most ${tensors.length} parts`);
  }
  const padded = tensors.map((t) => Math.ceil(t.byteLength / plan.layout.alignment) * plan.layout.alignment);
  const starts = balancedRuns(padded, count);
  const prefix = splitPrefix(plan.files[0]!.fileName);
  const fileOf = new Map<string, number>();
  const layouts: GGUFPlan[] = [];
  const files: PlannedFile[] = [];
  for (let no = 0; no < count; no++) {
    const mine = tensors.slice(starts[no]!, starts[no + 1]!);
    for (const t of mine) fileOf.set(t.name, no);
    const layout = splitLayout(plan, no, count, mine);
    layouts.push(layout);
    files.push({ fileName: splitFileName(prefix, no, count), layout });
  }
  const at = (entry: string): number => fileOf.get(entry)!;
  const moved = plan.tensors.map((t): GGUFPlannedTensor => ({
    ...t,
    outputs: t.outputs.map((o) => ({ ...o, file: at(o.name) })),
    copyTo: t.copyTo && { ...t.copyTo, file: at(t.copyTo.entry) },
  }));
  const constants: TensorWrite[] | undefined = plan.constants?.map((w) => ({ ...w, file: at(w.entry) }));
  return {
    ...plan, files, constants, tensors: moved, layout: layouts[0]!, metadata: layouts[0]!.metadata,
    totals: planTotals(moved, files, plan.smallFiles),
  };
}
