/**
 * One part of a run spread over N machines (`shard: { index, count }`, CLI `--shard I/N`),
 * browser-safe. Every part plans the WHOLE model from the headers (the same plan everywhere, so
 * nothing has to be exchanged), then keeps its own files:
 *
 * - files go to parts by size: file i to part i when there are exactly N files (GGUF: the N split
 *   files, cut balanced by bytes in `formats/gguf/split.ts`), else largest first to the part with
 *   the fewest bytes so far (ties: the lower file, the lower part), so the assignment is stable;
 * - a part writes its files exactly as the single run writes them (the union is the single run's
 *   output, byte for byte) and a part record `.hqq-wasm-part-0000I-of-0000N.json` (GGUF:
 *   `.<prefix>.hqq-wasm-part-...`) holding the plan's fingerprint, every file of the run with its
 *   size, header hash and part, and (part 1) the small files the merge writes (index.json,
 *   config.json); part 1 also copies the folder's other files (tokenizer...);
 * - a tensor is computed by the part holding one of its output entries; a weight whose job also
 *   converts a bias stored in another part's file (HQQ) is computed by both, each keeping its own writes.
 *
 * `hqq-wasm merge` (node-merge.ts) checks the records and files, then writes what is left.
 */
import { shown } from '../arguments.js';
import { HQQError } from '../errors.js';
import { NO_JOBS, plainTensor, planTotals } from '../formats/plan-common.js';
import { splitPrefix } from '../formats/gguf/split.js';
import type { FormatPlan, OutputFormat, PlannedSmallFile, PlannedTensor, TensorWrite } from '../formats/types.js';
import { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from '../version.js';

/** Which part of how many (1-based: part 1 of 3 .. part 3 of 3). */
export interface ShardOption {
  /** 1-based part number, 1 <= index <= count. */
  index: number;
  /** Number of parts, >= 1. */
  count: number;
  /**
   * The command that runs a part, with `{I}` for the part number (the CLI records its own command
   * line): recorded so that `merge` can say how to re-run a missing or stale part.
   */
  rerun?: string;
}

/** What a part knows about itself (on the part's plan, and in its report). */
export interface PlanPart {
  /** 1-based part number, as in `ShardOption.index`. */
  index: number;
  /** Number of parts of the run. */
  count: number;
  /** SHA-256 of the whole plan: every part of one run has the same. */
  fingerprint: string;
  /** `index` of every input tensor this part computes or copies. */
  tensors: number[];
  /** The record's file name. */
  record: string;
}

/** The `kind` of every part record: `merge` refuses a record file named like one that lacks it. */
export const PART_RECORD_KIND = 'hqq-wasm-part';

/** A part record, as written by every part (JSON). */
export interface PartRecord {
  /** The writing tool, 'hqq-wasm'. */
  tool: string;
  /** Its version (the fingerprint covers it too: `merge` refuses parts of different versions). */
  version: string;
  /** Always `PART_RECORD_KIND`. */
  kind: typeof PART_RECORD_KIND;
  /** The output format: 'hqq', 'gguf' or 'onnx'. */
  format: string;
  /** 1-based number of the part that wrote this record. */
  part: number;
  /** Number of parts of the run. */
  count: number;
  /** SHA-256 hex of the whole plan (`planFingerprint`): equal on every part of one run. */
  fingerprint: string;
  /** `ShardOption.rerun`, when given: the command that re-runs a part, `{I}` standing for its number. */
  rerun?: string;
  /**
   * Every streamed file of the whole run, with the part writing it: `name` (file name in the
   * output folder), `size` (bytes), `headerSize` (bytes of its header), `header` (SHA-256 hex of
   * the header bytes), `part` (1-based).
   */
  files: { name: string; size: number; headerSize: number; header: string; part: number }[];
  /** Every small file of the run (`name`), in the single run's order, and who writes it (`part`): 1, copied by part 1; 0, written by the merge. */
  smallFiles: { name: string; part: number }[];
  /** Part 1 only: what the merge writes (index.json, config.json...): file `name`, contents as UTF-8 `text` or as `base64` bytes. */
  deferred?: { name: string; text?: string; base64?: string }[];
}

function invalid(message: string): never {
  throw new HQQError('INVALID_ARGUMENT', message);
}

export function checkShard(shard: unknown): ShardOption {
  const s = shard as Partial<ShardOption> | null;
  if (typeof s !== 'object' || s === null) invalid('shard must be { index, count } (1-based: { index: 1, count: 4 } is the first of 4 parts)');
  const { index, count } = s;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) invalid(`shard.count = ${shown(count)} is invalid; use a whole number of parts >= 1`);
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 1 || index > count) {
    invalid(`shard.index = ${shown(index)} is invalid for ${count} part${count === 1 ? '' : 's'}; parts are numbered 1 to ${count} (a 0-based batch index such as JOB_COMPLETION_INDEX needs + 1)`);
  }
  if (s.rerun !== undefined && typeof s.rerun !== 'string') invalid('shard.rerun must be a string (the command that runs a part, with {I} for its number)');
  return { index, count, rerun: s.rerun };
}

const pad = (n: number) => String(n).padStart(5, '0');

/** The record's name: `.hqq-wasm-part-0000I-of-0000N.json`, GGUF `.<prefix>.hqq-wasm-part-...`. */
export function partRecordName(plan: Pick<FormatPlan, 'format' | 'files'>, index: number, count: number): string {
  const tag = plan.format === 'gguf' ? `${splitPrefix(plan.files[0]!.fileName)}.` : '';
  return `.${tag}hqq-wasm-part-${pad(index)}-of-${pad(count)}.json`;
}

/** Parses a record name: its tag ('' or `<prefix>.`), part and count. */
export function parsePartRecordName(name: string): { tag: string; index: number; count: number } | undefined {
  const m = /^\.(.*?)hqq-wasm-part-(\d{5})-of-(\d{5})\.json$/.exec(name);
  return m ? { tag: m[1]!, index: Number(m[2]), count: Number(m[3]) } : undefined;
}

/** 0-based part of every file (see the module comment). */
export function assignFiles(sizes: readonly number[], count: number): number[] {
  if (sizes.length === count) return sizes.map((_, i) => i);
  const order = sizes.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s || a.i - b.i);
  const load = new Array<number>(count).fill(0);
  const part = new Array<number>(sizes.length);
  for (const { s, i } of order) {
    let best = 0;
    for (let p = 1; p < count; p++) if (load[p]! < load[best]!) best = p;
    part[i] = best;
    load[best]! += s;
  }
  return part;
}

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sha256(data: Uint8Array | string): Promise<string> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) throw new HQQError('UNSUPPORTED', 'sharding needs crypto.subtle (SHA-256) for the plan fingerprint: Node 19+, or a browser page served over https or localhost');
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return hex(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/** The header hash of every streamed file, and the fingerprint of the whole plan (files, small files, tensors, config). */
export async function planFingerprint(plan: FormatPlan): Promise<{ fingerprint: string; headers: string[] }> {
  const headers = await Promise.all(plan.files.map((f) => sha256(f.layout.headerBytes)));
  const small = await Promise.all(plan.smallFiles.map(async (f) => ({
    name: f.fileName, data: f.data !== undefined ? await sha256(f.data) : undefined, size: f.source?.size,
  })));
  const description = JSON.stringify({
    tool: HQQ_WASM_TOOL, version: HQQ_WASM_VERSION, format: plan.format, config: plan.config,
    files: plan.files.map((f, i) => ({ name: f.fileName, size: f.layout.totalSize, header: headers[i] })), small,
    tensors: plan.tensors.map((t) => [t.name, t.dtype, t.shape, t.action, t.label, t.outputs]),
  });
  return { fingerprint: await sha256(description), headers };
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Whether tensor `t` belongs to the part: one of its entries (or of the tensors its job produces) is in a kept file. */
function tensorKept(t: PlannedTensor, kept: ReadonlySet<number>, produced: ReadonlyMap<number, PlannedTensor[]>): boolean {
  const has = (x: PlannedTensor) => x.outputs.some((o) => kept.has(o.file)) || (x.copyTo !== undefined && kept.has(x.copyTo.file));
  return has(t) || (produced.get(t.index) ?? []).some(has);
}

/** The part's view of a tensor: file indices renumbered, entries of other parts' files left out. */
function partTensor(t: PlannedTensor, keep: boolean, newFile: ReadonlyMap<number, number>, where: string): PlannedTensor {
  if (!keep) {
    return plainTensor(t, { action: 'drop', reason: where, label: 'other part', outputs: [], jobs: NO_JOBS, copyTo: undefined, producedBy: undefined, bytesBefore: 0, bytesAfter: 0 });
  }
  return plainTensor(t, {
    outputs: t.outputs.filter((o) => newFile.has(o.file)).map((o) => ({ ...o, file: newFile.get(o.file)! })),
    copyTo: t.copyTo && newFile.has(t.copyTo.file) ? { ...t.copyTo, file: newFile.get(t.copyTo.file)! } : undefined,
  });
}

/**
 * The format as the part runs it: `task` and `place` see the whole run's tensor (its own file
 * numbers), and `place` keeps the writes to this part's files only, renumbered.
 */
function partFormat(format: OutputFormat, whole: readonly PlannedTensor[], newFile: ReadonlyMap<number, number>): OutputFormat {
  if (format.finish) throw new HQQError('UNSUPPORTED', `the ${format.name} format makes files from the results (finish), which sharding cannot split; run it on one machine`);
  return {
    name: format.name,
    plan: (input) => format.plan(input),
    task: (job, tensor, data, extra, options) => format.task(job, whole[tensor.index]!, data, extra, options),
    place(job, tensor, result): TensorWrite[] {
      return format.place(job, whole[tensor.index]!, result).filter((w) => newFile.has(w.file)).map((w) => ({ ...w, file: newFile.get(w.file)! }));
    },
  };
}

/**
 * The plan (and format) of part `shard.index` of `shard.count`, from the whole run's plan. Throws
 * INVALID_ARGUMENT when the output has fewer files than parts (an explicit smaller `split`).
 */
export async function shardPlan(plan: FormatPlan, format: OutputFormat, shard: ShardOption): Promise<{ plan: FormatPlan; format: OutputFormat }> {
  const { index, count } = checkShard(shard);
  if (plan.files.length < count) {
    const n = plan.files.length;
    invalid(`${count} parts but the output has only ${n} file${n === 1 ? '' : 's'} (each part writes whole files); use at most ${n} part${n === 1 ? '' : 's'}, or leave split out (HQQ with more parts than input files is then cut into one file per part)`);
  }
  const { fingerprint, headers } = await planFingerprint(plan);
  const owner = assignFiles(plan.files.map((f) => f.layout.totalSize), count);
  const newFile = new Map<number, number>();
  owner.forEach((p, i) => {
    if (p === index - 1) newFile.set(i, newFile.size);
  });
  const produced = new Map<number, PlannedTensor[]>();
  for (const t of plan.tensors) if (t.producedBy !== undefined) produced.set(t.producedBy, [...(produced.get(t.producedBy) ?? []), t]);
  const kept = new Set(newFile.keys());
  const mine: number[] = [];
  const tensors = plan.tensors.map((t) => {
    if (t.action === 'drop') { // not in the output at all: reported by part 1
      if (index === 1) mine.push(t.index);
      return t;
    }
    const keep = tensorKept(t, kept, produced);
    if (keep) mine.push(t.index);
    const first = t.outputs[0]?.file ?? t.copyTo?.file;
    return partTensor(t, keep, newFile, first !== undefined ? `written by part ${owner[first]! + 1} of ${count}` : 'in another part');
  });
  // Parts keep their producer's link only when both are theirs.
  const mineSet = new Set(mine);
  for (const t of tensors) if (t.producedBy !== undefined && !mineSet.has(t.producedBy)) t.producedBy = undefined;
  const record = partRecordName(plan, index, count);
  const deferred = plan.smallFiles.filter((f) => f.data !== undefined);
  const copies = plan.smallFiles.filter((f) => f.data === undefined);
  const rec: PartRecord = {
    tool: HQQ_WASM_TOOL, version: HQQ_WASM_VERSION, kind: PART_RECORD_KIND, format: plan.format, part: index, count, fingerprint,
    rerun: shard.rerun,
    files: plan.files.map((f, i) => ({ name: f.fileName, size: f.layout.totalSize, headerSize: f.layout.headerBytes.byteLength, header: headers[i]!, part: owner[i]! + 1 })),
    smallFiles: plan.smallFiles.map((f) => ({ name: f.fileName, part: f.data === undefined ? 1 : 0 })),
    deferred: index === 1 ? deferred.map((f) => (typeof f.data === 'string' ? { name: f.fileName, text: f.data } : { name: f.fileName, base64: base64(f.data!) })) : undefined,
  };
  const files = plan.files.filter((_, i) => newFile.has(i));
  const smallFiles: PlannedSmallFile[] = [...(index === 1 ? copies : []), { fileName: record, data: JSON.stringify(rec, null, 1) + '\n' }];
  const constants = plan.constants?.filter((w) => newFile.has(w.file)).map((w) => ({ ...w, file: newFile.get(w.file)! }));
  const part: PlanPart = { index, count, fingerprint, tensors: mine, record };
  const partPlan: FormatPlan = {
    ...plan, files, smallFiles, constants, tensors, part,
    totals: planTotals(mine.map((i) => tensors[i]!), files, smallFiles),
  };
  return { plan: partPlan, format: partFormat(format, plan.tensors, newFile) };
}
