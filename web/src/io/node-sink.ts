/**
 * The Node output sink: a `ModelSink` that publishes an output all at once, so that whatever
 * signal or crash hits a run, the output path holds the previous output or the new one, never a
 * mix (the protocol is described and justified in docs/outputs.md). Node-only.
 *
 * - A **file** output (`{ kind: 'file', path }`: `model-Q4_K_M.gguf`, `model-hqq.safetensors`) is
 *   written to a named temporary next to it and renamed onto it in `finish()`.
 * - A **folder** output (`{ kind: 'folder', path }`: shards + index, an HF-style folder, ONNX +
 *   external data) is written into a fresh sibling folder `.<name>.hqq-<pid>-<host>-<id>.new`;
 *   `finish()` writes the completion record `.hqq-wasm-output.json` into it and switches it into
 *   place: a plain rename when the path is free (or an empty folder); otherwise the previous output
 *   (a folder this tool made) is renamed aside to `...old`, the new one renamed into place, and the
 *   old one removed. A run killed between those two renames leaves both, complete and named; the
 *   next run into the same place completes the switch (node-temporaries.ts).
 *
 * Nothing is created before the first `createShard`/`writeFile` (the plan is valid by then); the
 * free space is checked against the planned sizes before any file is created; temporaries of dead
 * runs found next to the output are removed first, and reported through `onNotice`.
 */
import { mkdir, open, readdir, readFile, realpath, rename, rm, rmdir, lstat, stat, statfs } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { HQQError } from '../errors.js';
import { HQQ_WASM_VERSION } from '../model/plan.js';
import { criticalSection } from '../node-signals.js';
import type { FileLayout } from './layout.js';
import {
  cleanStaleTemporaries, forgetTemporary, newTemporaryId, OUTPUT_MARKER, registerTemporary, temporaryName,
} from './node-temporaries.js';
import { createLayoutFileWriter, errText, openLayoutFile, syncFolder, type LayoutFile, type LayoutFileWriter } from './node-writer.js';
import type { ModelSink, ShardWriter } from './sink.js';
import { makeFolders } from './node-folders.js';

export { OUTPUT_MARKER } from './node-temporaries.js';

/** Where an output goes (see the module comment): `kind` 'file', one file at `path`; or `kind` 'folder', a folder of files at `path`. */
export type OutputTarget = { kind: 'file'; path: string } | { kind: 'folder'; path: string };

export interface NodeOutputSinkOptions {
  /** Files being read to produce the output; the output may neither be nor contain any of them. */
  inputPaths?: readonly string[];
  /** Checked right before the switch: an abort before it leaves the previous output in place. */
  signal?: AbortSignal;
  /** One line per noteworthy event (stale temporaries removed, a late interrupt...). */
  onNotice?: (message: string) => void;
  /** Free bytes of the file system holding `path`, undefined when unknown (default: `fs.statfs`). */
  freeSpace?: (path: string) => Promise<number | undefined>;
  /** Test-only: awaited at the named points of the protocol (docs/outputs.md). */
  onPoint?: (name: string) => void | Promise<void>;
}

/** The Node output sink (`nodeOutputSink`, `nodeFileSink`): writes into temporaries and publishes the whole output at once in `finish()`. */
export interface NodeOutputSink extends ModelSink {
  /** The output path and whether it is one file or a folder. */
  readonly target: OutputTarget;
  /** The published files (absolute paths, in write order, small files last); empty until `finish()` published them. */
  readonly written: string[];
  /** True once `finish()` has switched the output into place: from then on the run has succeeded. */
  readonly published: boolean;
  /** True when publishing replaced a previous output. */
  readonly replaced: boolean;
  /** Every notice so far (also passed to `onNotice`). */
  readonly notices: string[];
  /** A small whole file (index.json, config.json) staged with the shards; a one-file output refuses it (`INVALID_ARGUMENT`: pass a folder). */
  writeFile(fileName: string, data: Uint8Array | string): Promise<void>;
  /** Publishes the output: renames the temporary file or folder into place (docs/outputs.md). Rejects when a file is still uncommitted, or when called twice. */
  finish(): Promise<void>;
  /** Removes the staged, unpublished files of a failed run; a published output is left alone. */
  discard(fileNames?: string[]): Promise<void>;
  /** Removes whatever an unpublished run left (temporaries, folders it created). Idempotent; never throws. */
  dispose(): Promise<void>;
}

interface OutputMarker {
  tool: 'hqq-wasm';
  version: string;
  /** Paths relative to the folder, `/`-separated, in write order. */
  files: string[];
}

function arg(message: string): HQQError {
  return new HQQError('INVALID_ARGUMENT', message);
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

function formatSize(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(2)} ${units[u]} (${n} bytes)`;
}

async function defaultFreeSpace(path: string): Promise<number | undefined> {
  try {
    const s = await statfs(path);
    // A file system of no blocks (procfs, sysfs...) does not report its space: unknown, not full.
    // Writing there fails on its own, with the error the kernel gives.
    if (Number(s.blocks) === 0) return undefined;
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined; // not told by this platform / file system
  }
}

async function lstatOrUndefined(p: string, followLinks = false): Promise<Awaited<ReturnType<typeof lstat>> | undefined> {
  try {
    return await (followLinks ? stat(p) : lstat(p));
  } catch (e) {
    if (code(e) === 'ENOENT') return undefined;
    throw new HQQError('IO_ERROR', `${p}: cannot read the output path (${errText(e)})`, { cause: e });
  }
}

async function realOrResolved(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return resolve(p);
  }
}

/** `p` or its closest existing ancestor (where a folder about to be created would live). */
async function nearestExisting(p: string): Promise<string> {
  for (let d = p; ; d = dirname(d)) {
    if (await lstatOrUndefined(d, true).catch(() => undefined)) return d;
    if (dirname(d) === d) return d;
  }
}

/** Reads a folder's completion record; undefined when it has none (or not one of ours). */
async function readMarker(dir: string): Promise<OutputMarker | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, OUTPUT_MARKER), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as Partial<OutputMarker>;
    if (m.tool === 'hqq-wasm' && Array.isArray(m.files) && m.files.every((f) => typeof f === 'string')) return m as OutputMarker;
  } catch {
    /* not ours */
  }
  return undefined;
}

/** A file name inside a folder output: relative, `/`-separated, no `.`/`..`/empty parts. */
function checkRelativeName(fileName: string): void {
  if (typeof fileName !== 'string' || fileName.length === 0 || /[\\\0]/.test(fileName) || fileName.startsWith('/')
    || fileName.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw arg(`output file name ${JSON.stringify(fileName)} must be a relative path inside the output folder (no "..", no leading "/", "/" as the separator)`);
  }
  if (fileName === OUTPUT_MARKER) throw arg(`output file name ${OUTPUT_MARKER} is reserved for hqq-wasm's completion record`);
}

// ------------------------------------------------------------------------------------------------
// the existing output at a folder target

type FolderState = { kind: 'absent' } | { kind: 'empty' } | { kind: 'ours'; marker: OutputMarker };

/**
 * What is at folder target `path` (already resolved), or an INVALID_ARGUMENT explaining why the
 * tool will not replace it: a file, a folder it did not make, a folder with files added since.
 */
export async function inspectFolderTarget(path: string, shown = path): Promise<FolderState> {
  const st = await lstatOrUndefined(path, true);
  if (!st) return { kind: 'absent' };
  if (!st.isDirectory()) {
    throw arg(`${shown}: exists and is not a folder; this output is a folder of several files: pass a folder path (a new one, an empty one, or one hqq-wasm made)`);
  }
  let entries: string[];
  try {
    entries = await readdir(path);
  } catch (e) {
    throw new HQQError('IO_ERROR', `${shown}: cannot list the output folder (${errText(e)})`, { cause: e });
  }
  if (entries.length === 0) return { kind: 'empty' };
  const marker = await readMarker(path);
  if (!marker) {
    throw arg(`${shown}: is a folder that hqq-wasm did not make (it has no ${OUTPUT_MARKER}) and it is not empty; hqq-wasm replaces a folder output as a whole, so it writes only into a new folder, an empty one, or one it made: choose another output folder, or empty this one`);
  }
  const ours = new Set([OUTPUT_MARKER, ...marker.files.map((f) => f.split('/')[0]!)]);
  const extra = entries.filter((e) => !ours.has(e)).sort();
  if (extra.length > 0) {
    const list = extra.slice(0, 5).join(', ') + (extra.length > 5 ? `, ... (${extra.length} in all)` : '');
    throw arg(`${shown}: holds files that are not part of the previous hqq-wasm output (${list}); hqq-wasm replaces the whole folder and will not delete them: move them elsewhere, or choose another output folder`);
  }
  return { kind: 'ours', marker };
}

/**
 * Refuses an output that is, or (for a folder) contains, one of `inputPaths`: writing it would
 * replace the model being read.
 */
export async function checkOutputIsNotInput(target: OutputTarget, inputPaths: readonly string[]): Promise<void> {
  const out = await realOrResolved(target.path);
  for (const input of inputPaths) {
    const real = await realOrResolved(input);
    if (target.kind === 'file') {
      if (real === out) {
        throw arg(`${target.path}: the output is the input file ${input}; refusing to overwrite a file being read — write to a different path`);
      }
    } else if (real === out || real.startsWith(out.endsWith(sep) ? out : out + sep)) {
      throw arg(`${target.path}: the output folder holds the input ${input}; the output replaces that folder, which would overwrite the input — write to a different folder`);
    }
  }
}

// ------------------------------------------------------------------------------------------------

interface Common {
  options: NodeOutputSinkOptions;
  notices: string[];
  notice(message: string): void;
  point(name: string): Promise<void>;
  freeSpace(path: string): Promise<number | undefined>;
}

function common(options: NodeOutputSinkOptions): Common {
  const notices: string[] = [];
  return {
    options,
    notices,
    notice(message) {
      notices.push(message);
      try {
        options.onNotice?.(message);
      } catch {
        /* a notice must not fail the run */
      }
    },
    async point(name) {
      await options.onPoint?.(name);
    },
    freeSpace: options.freeSpace ?? defaultFreeSpace,
  };
}

async function checkSpace(c: Common, folder: string, needed: number, what: string, shown: string): Promise<void> {
  if (needed <= 0) return;
  const free = await c.freeSpace(folder);
  if (free === undefined || free >= needed) return;
  throw new HQQError(
    'IO_ERROR',
    `${shown}: not enough free space in ${folder}: ${what} needs ${formatSize(needed)} more and the file system has ${formatSize(free)} free; free some space or write to another disk (a previous output stays in place until the new one is complete, so both must fit at once)`,
  );
}

function abortedBeforeSwitch(signal: AbortSignal, shown: string): HQQError {
  const r = signal.reason;
  const why = r instanceof Error ? r.message : r !== undefined ? String(r) : 'aborted';
  return new HQQError('ABORTED', `quantization cancelled (${why}) before the output was switched into place; ${shown} was left as it was`);
}

function lateAbortNotice(c: Common, signal: AbortSignal | undefined, shown: string): void {
  if (!signal?.aborted) return;
  const r = signal.reason;
  const why = r instanceof Error ? r.message : r !== undefined ? String(r) : 'an abort';
  c.notice(`${why} after the new output was in place: ${shown} is complete and the run succeeded`);
}

async function removeStale(c: Common, folder: string): Promise<void> {
  const res = await cleanStaleTemporaries(folder);
  for (const n of res.notices) c.notice(n);
}

// ------------------------------------------------------------------------------------------------
// one file

function fileSink(target: OutputTarget & { kind: 'file' }, c: Common): NodeOutputSink {
  const shown = target.path;
  let writer: LayoutFileWriter | undefined;
  let ready = false;
  let published = false;
  let replaced = false;
  const written: string[] = [];
  return {
    target,
    written,
    get published() {
      return published;
    },
    get replaced() {
      return replaced;
    },
    notices: c.notices,
    async createShard(fileName: string, layout: FileLayout): Promise<ShardWriter> {
      if (writer) {
        throw arg(`${shown}: the output is one file, but it has several (${fileName} is the second): pass a folder for it (a path ending in "/")`);
      }
      await checkOutputIsNotInput(target, c.options.inputPaths ?? []);
      const folder = dirname(resolve(target.path));
      await removeStale(c, await realOrResolved(folder));
      await checkSpace(c, folder, layout.totalSize, 'the output', shown);
      const w = await createLayoutFileWriter(target.path, layout, { inputPaths: c.options.inputPaths });
      writer = w;
      await c.point(`create:${basename(w.targetPath)}`);
      return {
        writeTensor: (name, bytes, offset) => w.writeTensor(name, bytes, offset),
        async commit() {
          await w.prepare();
          ready = true;
          await c.point(`commit:${basename(w.targetPath)}`);
        },
        async abort() {
          ready = false;
          await w.abort();
        },
      };
    },
    async writeFile(fileName: string): Promise<void> {
      throw arg(`${shown}: the output is one file, but it needs another one (${fileName}): pass a folder for it (a path ending in "/")`);
    },
    async finish(): Promise<void> {
      if (published) throw arg(`${shown}: finish() called twice`);
      if (!writer || !ready) throw arg(`${shown}: finish() before the output file was written and committed`);
      const w = writer;
      await c.point('finish:ready');
      if (c.options.signal?.aborted) throw abortedBeforeSwitch(c.options.signal, shown);
      const existed = (await lstatOrUndefined(w.targetPath)) !== undefined;
      await criticalSection(async () => {
        await w.commit({ syncFolder: true });
        published = true;
      });
      replaced = existed;
      written.push(w.targetPath);
      await c.point('switch:done');
      lateAbortNotice(c, c.options.signal, shown);
    },
    async discard(): Promise<void> {
      if (!published) await writer?.abort();
    },
    async dispose(): Promise<void> {
      if (!published) await writer?.abort().catch(() => {});
    },
  };
}

// ------------------------------------------------------------------------------------------------
// a folder

interface StagedFile {
  name: string;
  file?: LayoutFile;
  state: 'open' | 'ready' | 'aborted';
  size: number;
}

function folderSink(target: OutputTarget & { kind: 'folder' }, c: Common): NodeOutputSink {
  const shown = target.path;
  const id = newTemporaryId();
  let real: string | undefined; // resolved target
  let staging: string | undefined;
  let oldPath: string | undefined;
  let createdParent: { first: string; last: string } | undefined;
  let preparing: Promise<void> | undefined;
  const staged: StagedFile[] = [];
  const names = new Set<string>();
  let published = false;
  let replaced = false;
  let disposed = false;
  let planned = 0;
  const written: string[] = [];

  const prepare = async (): Promise<void> => {
    await checkOutputIsNotInput(target, c.options.inputPaths ?? []);
    // A symlink at the target is followed: the output goes where it points (on its disk).
    const abs = resolve(target.path);
    const st = await lstatOrUndefined(abs);
    real = st?.isSymbolicLink() ? await realpath(abs).catch((e: unknown) => {
      throw new HQQError('IO_ERROR', `${shown}: is a symlink to a missing folder (${errText(e)}); fix or remove the link`, { cause: e });
    }) : join(await realOrResolved(dirname(abs)), basename(abs));
    const parent = dirname(real);
    await removeStale(c, parent);
    await inspectFolderTarget(real, shown); // refuse before anything is created
    try {
      const first = await makeFolders(parent);
      if (first) createdParent = { first, last: parent };
    } catch (e) {
      throw new HQQError('IO_ERROR', `${shown}: cannot create the folder ${parent} (${errText(e)})`, { cause: e });
    }
    staging = join(parent, temporaryName(basename(real), 'new', id));
    oldPath = join(parent, temporaryName(basename(real), 'old', id));
    registerTemporary(staging, 'dir');
    try {
      await mkdir(staging);
    } catch (e) {
      forgetTemporary(staging);
      throw new HQQError('IO_ERROR', `${shown}: cannot create the temporary folder ${staging} (${errText(e)}); check that ${parent} is writable`, { cause: e });
    }
    await c.point('prepare');
  };
  const ensurePrepared = async (): Promise<string> => {
    if (disposed) throw arg(`${shown}: the sink was disposed; start a new one`);
    if (published) throw arg(`${shown}: the output was already published; start a new sink`);
    preparing ??= prepare();
    await preparing;
    return staging!;
  };

  const claim = (fileName: string) => {
    checkRelativeName(fileName);
    if (names.has(fileName)) throw arg(`${shown}: output file ${JSON.stringify(fileName)} is written twice in one run`);
    names.add(fileName);
  };

  const placeIn = async (dir: string, fileName: string): Promise<string> => {
    const p = join(dir, ...fileName.split('/'));
    if (fileName.includes('/')) await makeFolders(dirname(p));
    return p;
  };

  /** Bytes still to be allocated for everything planned so far. */
  const stillNeeded = async (): Promise<number> => {
    let allocated = 0;
    for (const f of staged) {
      if (!f.file) continue;
      try {
        allocated += Math.min(f.size, (await stat(f.file.path)).blocks * 512);
      } catch {
        /* removed */
      }
    }
    return planned - allocated;
  };

  let removing: Promise<void> | undefined;
  const removeStaging = (): Promise<void> => {
    removing ??= removeStagingNow().finally(() => {
      removing = undefined;
    });
    return removing;
  };
  const removeStagingNow = async () => {
    if (published) return;
    await Promise.allSettled(staged.map((f) => f.file?.abort()));
    if (staging) {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
      forgetTemporary(staging);
    }
    if (createdParent) {
      // Folders this run created above the output, deepest first, while they are empty.
      for (let d = createdParent.last; ; d = dirname(d)) {
        try {
          await rmdir(d);
        } catch {
          break;
        }
        if (d === createdParent.first || dirname(d) === d) break;
      }
      createdParent = undefined;
    }
    staging = undefined;
    preparing = undefined;
    staged.length = 0;
    names.clear();
    planned = 0;
  };

  const writeMarker = async (dir: string, files: string[]) => {
    const marker: OutputMarker = { tool: 'hqq-wasm', version: HQQ_WASM_VERSION, files };
    const fh = await open(join(dir, OUTPUT_MARKER), 'wx');
    try {
      await fh.writeFile(JSON.stringify(marker, null, 2) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
  };

  /** Renames the complete staging folder onto the target (the switch). Runs as a critical section. */
  const switchIntoPlace = async (dir: string, to: string): Promise<void> => {
    const state = await inspectFolderTarget(to, shown); // again: the folder may have changed during the run
    if (state.kind === 'ours') {
      try {
        await rename(to, oldPath!);
      } catch (e) {
        throw new HQQError('IO_ERROR', `${shown}: cannot move the previous output aside (${errText(e)}); is a program using it? The previous output was left as it was`, { cause: e });
      }
      registerTemporary(oldPath!, 'dir');
      replaced = true;
      await c.point('switch:old-moved');
      try {
        await rename(dir, to);
      } catch (e) {
        await rename(oldPath!, to).then(() => {
          forgetTemporary(oldPath!);
          replaced = false;
        }, () => {});
        throw new HQQError('IO_ERROR', `${shown}: cannot move the new output into place (${errText(e)}); ${replaced ? `the previous output is at ${oldPath}` : 'the previous output was put back'}`, { cause: e });
      }
    } else {
      try {
        await rename(dir, to);
      } catch (e) {
        // Windows cannot rename onto an existing (even empty) folder: remove the empty one first.
        if (state.kind !== 'empty' || !['EPERM', 'EEXIST', 'ENOTEMPTY', 'EISDIR', 'EACCES'].includes(code(e) ?? '')) {
          throw new HQQError('IO_ERROR', `${shown}: cannot move the new output into place (${errText(e)})`, { cause: e });
        }
        await rmdir(to);
        await rename(dir, to);
      }
    }
    published = true;
    forgetTemporary(dir);
    await syncFolder(dirname(to));
  };

  return {
    target,
    written,
    get published() {
      return published;
    },
    get replaced() {
      return replaced;
    },
    notices: c.notices,
    async createShard(fileName: string, layout: FileLayout): Promise<ShardWriter> {
      claim(fileName);
      const entry: StagedFile = { name: fileName, state: 'open', size: layout?.totalSize ?? 0 };
      try {
        if (!staging) {
          // The first file: check before anything is created (the folders may not exist yet).
          await checkSpace(c, await nearestExisting(dirname(resolve(target.path))), planned + entry.size, 'the output (1 file so far)', shown);
        }
        const dir = await ensurePrepared();
        staged.push(entry);
        planned += entry.size;
        await checkSpace(c, dir, await stillNeeded(), `the output (${staged.length} file${staged.length === 1 ? '' : 's'} so far)`, shown);
        entry.file = await openLayoutFile(await placeIn(dir, fileName), layout, { label: fileName });
      } catch (e) {
        entry.state = 'aborted';
        names.delete(fileName);
        if (staged.every((f) => f.state === 'aborted')) await removeStaging();
        throw e;
      }
      const file = entry.file;
      await c.point(`create:${fileName}`);
      return {
        writeTensor: (name, bytes, offset) => file.writeTensor(name, bytes, offset),
        async commit() {
          await file.prepare();
          entry.state = 'ready';
          await c.point(`commit:${fileName}`);
        },
        async abort() {
          entry.state = 'aborted';
          await file.abort();
          // The last live file of a failed run: nothing of it should stay behind.
          if (!published && staged.every((f) => f.state === 'aborted')) await removeStaging();
        },
      };
    },
    async writeFile(fileName: string, data: Uint8Array | string): Promise<void> {
      claim(fileName);
      const entry: StagedFile = { name: fileName, state: 'open', size: 0 };
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      if (!(bytes instanceof Uint8Array)) throw arg(`${shown}: writeFile(${JSON.stringify(fileName)}): data must be a string or a Uint8Array`);
      const dir = await ensurePrepared();
      staged.push(entry);
      const p = await placeIn(dir, fileName);
      try {
        const fh = await open(p, 'wx');
        try {
          await fh.writeFile(bytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
      } catch (e) {
        entry.state = 'aborted';
        await rm(p, { force: true }).catch(() => {});
        throw new HQQError('IO_ERROR', `${shown}: writing ${fileName} failed (${errText(e)}); check free space and permissions`, { cause: e });
      }
      entry.state = 'ready';
      await c.point(`file:${fileName}`);
    },
    async finish(): Promise<void> {
      if (published) throw arg(`${shown}: finish() called twice`);
      const unfinished = staged.filter((f) => f.state === 'open').map((f) => f.name);
      if (unfinished.length) throw arg(`${shown}: finish() before every file was committed (${unfinished.join(', ')})`);
      const dir = await ensurePrepared();
      const files = staged.filter((f) => f.state === 'ready').map((f) => f.name);
      try {
        await writeMarker(dir, files);
        await syncFolder(dir);
      } catch (e) {
        throw new HQQError('IO_ERROR', `${shown}: finishing the output failed (${errText(e)}); check free space and permissions; the previous output was left as it was`, { cause: e });
      }
      await c.point('finish:ready');
      const signal = c.options.signal;
      if (signal?.aborted) throw abortedBeforeSwitch(signal, shown);
      await criticalSection(() => switchIntoPlace(dir, real!));
      staging = undefined;
      for (const f of files) written.push(join(real!, ...f.split('/')));
      await c.point('switch:done');
      if (replaced) {
        try {
          await rm(oldPath!, { recursive: true, force: true });
        } catch (e) {
          c.notice(`could not remove the previous output ${oldPath} (${errText(e)}); remove it by hand (a later run also removes it)`);
        }
        forgetTemporary(oldPath!);
      }
      await c.point('finish:done');
      lateAbortNotice(c, signal, shown);
    },
    async discard(): Promise<void> {
      await removeStaging();
    },
    async dispose(): Promise<void> {
      disposed = true;
      await removeStaging().catch(() => {});
    },
  };
}

/** A sink writing `target` with the crash-consistent protocol (see the module comment). */
export function nodeOutputSink(target: OutputTarget, options: NodeOutputSinkOptions = {}): NodeOutputSink {
  if (!target || (target.kind !== 'file' && target.kind !== 'folder') || typeof target.path !== 'string' || target.path.length === 0) {
    throw arg(`nodeOutputSink: target must be { kind: 'file' | 'folder', path: non-empty string }, got ${JSON.stringify(target)}`);
  }
  const c = common(options);
  return target.kind === 'file' ? fileSink(target, c) : folderSink(target, c);
}

/**
 * The former constructor: files named by `pathOf(fileName)`, all in one folder, which becomes a
 * folder output (`nodeOutputSink({ kind: 'folder', path })`). Prefer `nodeOutputSink`.
 */
export function nodeFileSink(pathOf: (fileName: string) => string, inputPaths: readonly string[] = []): NodeOutputSink {
  let inner: NodeOutputSink | undefined;
  const get = (fileName: string): NodeOutputSink => {
    const p = resolve(pathOf(fileName));
    const folder = dirname(p);
    if (p !== join(folder, fileName)) throw arg(`nodeFileSink: pathOf(${JSON.stringify(fileName)}) = ${p} is not <folder>/${fileName}; use nodeOutputSink for other layouts`);
    inner ??= nodeOutputSink({ kind: 'folder', path: folder }, { inputPaths });
    if (resolve(inner.target.path) !== folder) throw arg(`nodeFileSink: every file must go to one folder (${inner.target.path}, then ${folder})`);
    return inner;
  };
  return {
    get target() {
      return inner?.target ?? { kind: 'folder', path: '' };
    },
    get written() {
      return inner?.written ?? [];
    },
    get published() {
      return inner?.published ?? false;
    },
    get replaced() {
      return inner?.replaced ?? false;
    },
    get notices() {
      return inner?.notices ?? [];
    },
    createShard: async (fileName, layout) => get(fileName).createShard(fileName, layout),
    writeFile: async (fileName, data) => get(fileName).writeFile(fileName, data),
    async finish() {
      if (!inner) throw arg('nodeFileSink: finish() before any file was written');
      await inner.finish();
    },
    discard: async (names) => inner?.discard(names),
    dispose: async () => inner?.dispose(),
  };
}
