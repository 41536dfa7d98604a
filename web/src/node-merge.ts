/**
 * `hqq-wasm merge <out>` (Node-only): completes the output of a sharded run once every part is
 * done (docs/sharding.md). It reads the part records (model/shard.ts), refuses a missing part,
 * parts of different runs (their plan fingerprints differ) and files that are missing or not the
 * planned ones (size, header hash), naming the part and the command that re-runs it; then it
 * writes what no part writes: the index.json and config.json of an HQQ folder, and the folder's
 * completion record (so a later run may replace it as a whole). A GGUF split set needs nothing
 * more: the merge checks every split as llama.cpp's loader will (split.no, split.count,
 * split.tensors.count, no tensor missing or duplicated). The part records are removed at the end.
 */
import { pathArgument, shown } from './arguments.js';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { HQQError } from './errors.js';
import { SPLIT_COUNT, SPLIT_NO, SPLIT_TENSORS_COUNT, splitPrefix } from './formats/gguf/split.js';
import { openGGUF } from './io/gguf-reader.js';
import { nodeFilesSink } from './io/node-files-sink.js';
import { openFileSource } from './io/node-file.js';
import { OUTPUT_MARKER } from './io/node-temporaries.js';
import { PART_RECORD_KIND, parsePartRecordName, sha256, type PartRecord } from './model/shard.js';
import { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from './version.js';

/** What `mergeParts` checked and wrote. */
export interface MergeReport {
  /** The run's output format ('hqq', 'gguf' or 'onnx'), from the part records. */
  format: string;
  /** The folder holding the parts. */
  folder: string;
  /** Number of parts merged. */
  count: number;
  /** The plan fingerprint every part record carried (SHA-256 hex). */
  fingerprint: string;
  /** Every output file checked (absolute paths, in order). */
  files: string[];
  /** The files the merge wrote (index.json, config.json, the completion record). */
  written: string[];
  /** GGUF: the tensors over all splits. */
  tensors?: number;
}

function bad(message: string): never {
  throw new HQQError('BAD_FILE', message);
}

interface Found {
  name: string;
  record: PartRecord;
}

function rerunOf(records: readonly PartRecord[], part: number, count: number): string {
  const r = records.find((x) => typeof x.rerun === 'string')?.rerun;
  return r ? `run it again: ${r.replaceAll('{I}', String(part))}` : `run it again with the same quantize command as the other parts and --shard ${part}/${count}`;
}

/** The folder and the record tag ('' for a folder output, `<prefix>.` for GGUF) that `outputPath` names. */
async function resolveTarget(outputPath: string): Promise<{ dir: string; tag?: string; named?: string }> {
  if (typeof outputPath !== 'string' || outputPath.length === 0) throw new HQQError('INVALID_ARGUMENT', 'merge needs the output path the parts were written to (the -o of quantize --shard)');
  const st = await stat(outputPath).catch(() => undefined);
  if (st?.isDirectory()) return { dir: outputPath };
  if (/\.gguf$/i.test(outputPath)) return { dir: dirname(outputPath), tag: `${splitPrefix(basename(outputPath))}.` };
  if (/\.json$/i.test(outputPath) || st?.isFile()) return { dir: dirname(outputPath), tag: '', named: basename(outputPath) }; // dir/name.index.json, or a one-file output
  throw new HQQError('INVALID_ARGUMENT', `${outputPath}: no such folder; pass the -o of the quantize --shard runs (a folder, or the .gguf name)`);
}

async function readRecords(dir: string, wanted: string | undefined): Promise<Found[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    throw new HQQError('IO_ERROR', `${dir}: cannot list the folder (${(e as Error).message}); pass the -o of the quantize --shard runs`, { cause: e });
  }
  const named = entries.map((n) => ({ n, p: parsePartRecordName(n) })).filter((x) => x.p && (wanted === undefined || x.p.tag === wanted));
  const tags = [...new Set(named.map((x) => x.p!.tag))];
  if (named.length === 0) {
    // Say so when the folder holds a complete output already (merged before, or one run's).
    const done = entries.includes(OUTPUT_MARKER) || (wanted !== undefined && entries.some((n) => n.startsWith(wanted.slice(0, -1)) && /-\d{5}-of-\d{5}\.gguf$/.test(n)));
    bad(`${dir}: no part records (.hqq-wasm-part-*.json) found: ${done ? 'nothing to merge, the output there is complete (merged already, or written by one run)' : `no part of a sharded run has finished here; run quantize --shard I/N -o ${dir} for every part first`}`);
  }
  if (tags.length > 1) {
    throw new HQQError('INVALID_ARGUMENT', `${dir} holds the parts of several outputs (${tags.map((t) => (t ? `${t.slice(0, -1)}.gguf` : 'the folder itself')).join(', ')}); pass the one to merge (e.g. ${join(dir, `${tags.find((t) => t)?.slice(0, -1) ?? 'model'}.gguf`)})`);
  }
  const found: Found[] = [];
  for (const { n } of named.sort((a, b) => (a.n < b.n ? -1 : 1))) {
    let record: PartRecord;
    try {
      record = JSON.parse(await readFile(join(dir, n), 'utf8')) as PartRecord;
    } catch (e) {
      bad(`${join(dir, n)}: not a readable part record (${(e as Error).message}); delete it and run that part again`);
    }
    if (record?.kind !== PART_RECORD_KIND || !Array.isArray(record.files) || typeof record.fingerprint !== 'string') {
      bad(`${join(dir, n)}: not a part record of hqq-wasm; delete it and run that part again`);
    }
    found.push({ name: n, record });
  }
  return found;
}

/** One run, every part present: the records agree on the count and the fingerprint. Returns part 1's record. */
function checkRecords(dir: string, found: readonly Found[]): PartRecord {
  const records = found.map((f) => f.record);
  const counts = [...new Set(records.map((r) => r.count))];
  if (counts.length > 1) {
    const list = counts.map((c) => `${c} parts (${records.filter((r) => r.count === c).map((r) => `part ${r.part}`).join(', ')})`).join(' and ');
    bad(`${dir}: the part records are of runs with different part counts: ${list}; delete the records of the run you do not want (.hqq-wasm-part-*-of-*.json) and run its missing parts again`);
  }
  const count = counts[0]!;
  const byPrint = new Map<string, number[]>();
  for (const r of records) byPrint.set(r.fingerprint, [...(byPrint.get(r.fingerprint) ?? []), r.part]);
  if (byPrint.size > 1) {
    const groups = [...byPrint.values()].sort((a, b) => b.length - a.length || a[0]! - b[0]!);
    const odd = groups.slice(1).flat().sort((a, b) => a - b);
    bad(`${dir}: part${odd.length > 1 ? 's' : ''} ${odd.join(', ')} of ${count} come${odd.length > 1 ? '' : 's'} from a different run than part${groups[0]!.length > 1 ? 's' : ''} ${groups[0]!.join(', ')} (their plan fingerprints differ: another input, other options or another hqq-wasm version); ${rerunOf(records, odd[0]!, count)} (with the same input and options as the others)`);
  }
  const have = new Set(records.map((r) => r.part));
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !have.has(i));
  if (missing.length > 0) {
    bad(`${dir}: part${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} ${missing.length > 1 ? 'are' : 'is'} missing (no part record: not finished, or failed); ${rerunOf(records, missing[0]!, count)}${missing.length > 1 ? ` (and likewise for part${missing.length > 2 ? 's' : ''} ${missing.slice(1).join(', ')})` : ''}, then merge again`);
  }
  return records.find((r) => r.part === 1)!;
}

async function headerHash(path: string, size: number): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(size);
    const { bytesRead } = await fh.read(buf, 0, size, 0);
    return sha256(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** Every planned file is there with its planned size and header; part 1's copied files are there. */
async function checkFiles(dir: string, ref: PartRecord, records: readonly PartRecord[]): Promise<string[]> {
  const paths: string[] = [];
  for (const f of ref.files) {
    const p = join(dir, f.name);
    const again = rerunOf(records, f.part, ref.count);
    const st = await stat(p).catch(() => undefined);
    if (!st?.isFile()) bad(`${p} (part ${f.part} of ${ref.count}) is missing; ${again}`);
    if (st.size !== f.size) bad(`${p} (part ${f.part} of ${ref.count}) is ${st.size} bytes, but the run planned ${f.size}: it was replaced or damaged since; ${again}`);
    if ((await headerHash(p, f.headerSize)) !== f.header) bad(`${p} (part ${f.part} of ${ref.count}) has another header than the run planned (written by another run since?); ${again}`);
    paths.push(p);
  }
  for (const f of ref.smallFiles.filter((x) => x.part === 1)) {
    const p = join(dir, f.name);
    if (!(await stat(p).catch(() => undefined))?.isFile()) bad(`${p} (copied by part 1 of ${ref.count}) is missing; ${rerunOf(records, 1, ref.count)}`);
  }
  return paths;
}

function u(meta: Map<string, { type: string; value: unknown }>, key: string): number | undefined {
  const v = meta.get(key);
  return v && typeof v.value === 'number' ? v.value : undefined;
}

/** The split set as llama.cpp loads it: numbered in order, one count, every tensor once. Returns the tensor count. */
async function checkGGUFSplits(paths: readonly string[]): Promise<number> {
  const names = new Map<string, string>();
  let expected: number | undefined;
  for (let i = 0; i < paths.length; i++) {
    const f = await openGGUF(await openFileSource(paths[i]!));
    try {
      const m = f.header.metadata as Map<string, { type: string; value: unknown }>;
      if (paths.length > 1) {
        const [no, count, total] = [u(m, SPLIT_NO), u(m, SPLIT_COUNT), u(m, SPLIT_TENSORS_COUNT)];
        if (no !== i || count !== paths.length) bad(`${paths[i]}: ${SPLIT_NO} = ${shown(no)}, ${SPLIT_COUNT} = ${shown(count)}; expected ${i} and ${paths.length}`);
        if (total === undefined || (expected !== undefined && total !== expected)) bad(`${paths[i]}: ${SPLIT_TENSORS_COUNT} = ${shown(total)} differs from the first split's ${String(expected)}`);
        expected = total;
      }
      for (const t of f.header.tensors) {
        const prev = names.get(t.name);
        if (prev) bad(`tensor ${JSON.stringify(t.name)} is in both ${prev} and ${paths[i]}; llama.cpp refuses duplicated tensors`);
        names.set(t.name, paths[i]!);
      }
    } finally {
      await f.close();
    }
  }
  if (expected !== undefined && names.size !== expected) bad(`${paths[0]}: ${SPLIT_TENSORS_COUNT} = ${expected} but the splits hold ${names.size} tensors`);
  return names.size;
}

/** A small file put in place atomically (temporary + rename), with the one-file protocol. */
async function writeAll(dir: string, files: readonly { name: string; data: Uint8Array | string }[]): Promise<string[]> {
  const sink = nodeFilesSink(dir);
  try {
    for (const f of files) await sink.writeFile(f.name, f.data);
    await sink.finish();
    return sink.written.slice();
  } finally {
    await sink.dispose();
  }
}

/** A file named as the output must be one the parts write: the folder may hold another run's parts. */
function checkNamedOutput(outputPath: string, named: string | undefined, ref: PartRecord): void {
  if (named === undefined) return;
  const outputs = [...ref.files.map((f) => f.name), ...ref.smallFiles.map((f) => f.name), ...(ref.deferred ?? []).map((d) => d.name)];
  if (outputs.includes(named)) return;
  const shown = outputs.slice(0, 3).join(', ') + (outputs.length > 3 ? ', ...' : '');
  throw new HQQError('INVALID_ARGUMENT', `${outputPath} is not an output of the parts in ${dirname(outputPath) || '.'}: their records describe ${shown}; pass that output (or the folder) to merge`);
}

/** Checks the parts of the sharded run written to `outputPath` and completes the output (see the module comment). */
export async function mergeParts(outputPath: string): Promise<MergeReport> {
  if (outputPath !== undefined && outputPath !== null) pathArgument(outputPath, 'mergeParts', 'outputPath');
  const target = await resolveTarget(outputPath);
  const dir = resolve(target.dir);
  const { tag } = target;
  const found = await readRecords(dir, tag);
  const records = found.map((f) => f.record);
  const ref = checkRecords(dir, found);
  checkNamedOutput(outputPath, target.named, ref);
  const files = await checkFiles(dir, ref, records);
  const report: MergeReport = { format: ref.format, folder: dir, count: ref.count, fingerprint: ref.fingerprint, files, written: [] };
  if (ref.format === 'gguf') report.tensors = await checkGGUFSplits(files);
  const deferred = (ref.deferred ?? []).map((d) => ({ name: d.name, data: d.text ?? Uint8Array.from(atob(d.base64 ?? ''), (c) => c.charCodeAt(0)) }));
  report.written.push(...(await writeAll(dir, deferred)));
  if (ref.format === 'hqq' && (ref.files.length > 1 || ref.smallFiles.length > 0)) {
    // The folder is now one output, as a single run leaves it: with its completion record.
    const marker = { tool: HQQ_WASM_TOOL, version: HQQ_WASM_VERSION, files: [...ref.files.map((f) => f.name), ...ref.smallFiles.map((f) => f.name)] };
    const tmp = join(dir, `${OUTPUT_MARKER}.merge-${process.pid}.partial`);
    await rm(tmp, { force: true });
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(JSON.stringify(marker, null, 2) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, OUTPUT_MARKER));
    report.written.push(join(dir, OUTPUT_MARKER));
  }
  for (const f of found) await rm(join(dir, f.name), { force: true });
  return report;
}
