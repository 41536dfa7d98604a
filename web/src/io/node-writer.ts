/**
 * Node-only writers of one output file laid out by a `FileLayout` (safetensors, GGUF, ONNX
 * external data...): tensors may be written in any order and in chunks at their planned
 * positions; every tensor byte is written exactly once (`TensorCoverage`); the header goes at
 * offset 0 and the padding between regions reads as zeros (the file is sized with `truncate`).
 *
 * - `openLayoutFile(path, layout)` writes straight into a new file at `path` (exclusive create):
 *   `prepare()` checks that every tensor byte was written, fsyncs and closes it; `abort()` closes
 *   and removes it. The folder sink writes a folder output's files this way inside its `.new`
 *   folder (node-sink.ts).
 * - `createLayoutFileWriter(target, layout)` (alias `createSafetensorsFileWriter`) is the atomic
 *   single-file output: it writes `openLayoutFile` into a named temporary
 *   `.<name>.hqq-<pid>-<host>-<id>.partial` next to the target (node-temporaries.ts), and
 *   `commit()` renames it onto the target. Until then the target is never touched; `abort()` (or
 *   any failure) removes the temporary; one left by a killed process is removed by a later run.
 *   `prepare()` does the first half on its own, so that the rename can happen later.
 *
 * While a file is written it is flushed to disk in the background (`EarlyWriteback`), so that the
 * fsync in `prepare()` has little left to do.
 *
 * Symlinks: directory symlinks in the target path are resolved; a symlink AT the target path is
 * replaced by the new regular file (its destination is left alone). The target must not resolve to
 * any of `inputPaths` (compared by real path and, when both exist, by device + inode).
 */
import { open, realpath, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { HQQError, causeText } from '../errors.js';
import { TensorCoverage } from './sink.js';
import type { FileLayout } from './layout.js';
import { forgetTemporary, registerTemporary, temporaryName } from './node-temporaries.js';
import { EarlyWriteback } from './node-writeback.js';

export interface LayoutFileWriterOptions {
  /** Files being read to produce this one; the target may not be any of them. */
  inputPaths?: readonly string[];
}
/** @deprecated the old name of `LayoutFileWriterOptions`. */
export type SafetensorsFileWriterOptions = LayoutFileWriterOptions;

/** One file being written at a fixed path (no rename): see `openLayoutFile`. */
export interface LayoutFile {
  readonly path: string;
  readonly plan: FileLayout;
  /** Writes `bytes` at `offsetWithinTensor` inside tensor `name`. Any order, any chunking; each byte once. */
  writeTensor(name: string, bytes: Uint8Array, offsetWithinTensor?: number): Promise<void>;
  /** Names of tensors not yet completely written. */
  incompleteTensors(): string[];
  /** Checks that every tensor byte was written, fsyncs and closes the file. Only `abort()` may follow. */
  prepare(): Promise<void>;
  /** Closes and removes the file (also after `prepare()`). Safe to call repeatedly; never throws. */
  abort(): Promise<void>;
  /** True once `prepare()` succeeded (and the file was not aborted or kept since). */
  isPrepared(): boolean;
  /** After `prepare()`: the file is finished and stays; `abort()` no longer removes it. */
  keep(): void;
}

export interface LayoutFileWriter {
  /** Where the file lands on commit (directory symlinks resolved). */
  readonly targetPath: string;
  readonly tempPath: string;
  readonly plan: FileLayout;
  writeTensor(name: string, bytes: Uint8Array, offsetWithinTensor?: number): Promise<void>;
  incompleteTensors(): string[];
  /**
   * Checks that every tensor byte was written, fsyncs and closes the temp file; the target is not
   * touched yet. After it only `commit()` (the rename) and `abort()` are allowed.
   */
  prepare(): Promise<void>;
  /**
   * `prepare()` (unless done already), then renames the temp file onto the target and, unless
   * `syncFolder: false`, fsyncs the folder to make the rename durable.
   */
  commit(options?: { syncFolder?: boolean }): Promise<void>;
  /** Removes the temp file (also after `prepare()`); the target is left untouched. Safe to call repeatedly and after a failed commit. */
  abort(): Promise<void>;
}
/** @deprecated the old name of `LayoutFileWriter`. */
export type SafetensorsFileWriter = LayoutFileWriter;

/** The errno code once (Node's messages already start with it). */
export const errText = causeText;

function isENOENT(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Real path of `p`; if `p` does not exist, the real path of its folder joined with its name. */
async function resolveTarget(p: string): Promise<{ full: string; placed: string }> {
  const abs = resolve(p);
  let dir: string;
  try {
    dir = await realpath(dirname(abs));
  } catch (e) {
    throw new HQQError('IO_ERROR', `${p}: the output folder ${dirname(abs)} cannot be used (${errText(e)}); create it first`, { cause: e });
  }
  const placed = join(dir, basename(abs));
  try {
    return { full: await realpath(placed), placed };
  } catch (e) {
    if (isENOENT(e)) return { full: placed, placed };
    throw new HQQError('IO_ERROR', `${p}: cannot resolve the output path (${errText(e)})`, { cause: e });
  }
}

async function realOrResolved(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return resolve(p);
  }
}

/**
 * Makes renames in `folder` durable where the platform allows fsync on a directory. Best effort:
 * where it is not supported (e.g. Windows) the data itself is already synced.
 */
export async function syncFolder(folder: string): Promise<void> {
  try {
    const dh = await open(folder, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    /* not supported */
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const want = Math.min(bytes.byteLength - done, 1 << 30);
    const { bytesWritten } = await fh.write(bytes, done, want, position + done);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten} bytes`);
    done += bytesWritten;
  }
}

/**
 * Small writes are staged and written together. A quantized HQQ layer is ~18 entries of a few
 * bytes to a few KiB (W_q, scale, zero and the config keys), all adjacent in the file, and one
 * positional write each made 5000 tiny layers spend most of their time issuing 90,000 writes.
 * Writes up to STAGE_SMALL bytes are copied into the stage; when it holds STAGE_MAX bytes, and in
 * prepare(), its writes are sorted by position and each run of adjacent ones is written at once
 * (workers finish in any order, so adjacent layers arrive out of order).
 */
const STAGE_SMALL = 64 * 1024;
const STAGE_MAX = 1024 * 1024;

interface Staged {
  pos: number;
  bytes: Uint8Array;
  name: string;
}

/** The staged writes as runs of adjacent bytes: [position, bytes, first name, last name]. */
function stagedRuns(staged: Staged[]): { pos: number; data: Uint8Array; first: string; last: string }[] {
  staged.sort((a, b) => a.pos - b.pos);
  const runs: { pos: number; data: Uint8Array; first: string; last: string }[] = [];
  for (let i = 0; i < staged.length; ) {
    let j = i + 1;
    let len = staged[i]!.bytes.byteLength;
    while (j < staged.length && staged[j]!.pos === staged[i]!.pos + len) len += staged[j++]!.bytes.byteLength;
    let data = staged[i]!.bytes;
    if (j - i > 1) {
      data = new Uint8Array(len);
      for (let k = i, o = 0; k < j; o += staged[k]!.bytes.byteLength, k++) data.set(staged[k]!.bytes, o);
    }
    runs.push({ pos: staged[i]!.pos, data, first: staged[i]!.name, last: staged[j - 1]!.name });
    i = j;
  }
  return runs;
}

function checkLayout(where: string, plan: FileLayout): void {
  if (!plan || !(plan.headerBytes instanceof Uint8Array) || !(plan.offsets instanceof Map) || !Number.isSafeInteger(plan.totalSize)) {
    throw new HQQError('INVALID_ARGUMENT', `${where}: plan must be a file layout (from planSafetensors(), planGGUF(), ...)`);
  }
}

/**
 * Creates the file `path` (it must not exist), sized to `plan.totalSize` with the header at offset
 * 0. `label` names the file in messages (default: its base name).
 */
export async function openLayoutFile(path: string, plan: FileLayout, options: { label?: string } = {}): Promise<LayoutFile> {
  const name = options.label ?? basename(path);
  checkLayout(name, plan);
  let fh: FileHandle;
  try {
    fh = await open(path, 'wx');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new HQQError('INVALID_ARGUMENT', `${name}: ${path} already exists (a file written twice in one output?)`, { cause: e });
    throw new HQQError('IO_ERROR', `${name}: cannot create ${path} (${errText(e)}); check that the folder is writable and has free space`, { cause: e });
  }
  try {
    await fh.truncate(plan.totalSize);
    await writeAll(fh, plan.headerBytes, 0);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(path, { force: true }).catch(() => {});
    throw new HQQError('IO_ERROR', `${name}: writing the header to ${path} failed (${errText(e)}); check free space and permissions`, { cause: e });
  }

  type State = 'open' | 'preparing' | 'prepared' | 'kept' | 'aborted';
  let state: State = 'open';
  let fhOpen = true;
  let abortPromise: Promise<void> | undefined;
  const inflight = new Set<Promise<void>>();
  const coverage = new TensorCoverage(name, plan);
  const writeback = new EarlyWriteback(fh);
  // The stage (see STAGE_SMALL): copies of small writes, not yet in the file.
  let staged: Staged[] = [];
  let stagedBytes = 0;

  /**
   * Writes tensor bytes at `pos`: tracked for abort, counted for early writeback. A failure aborts
   * the file; `what` names the tensor(s) in the message.
   */
  const writeData = async (data: Uint8Array, pos: number, what: string): Promise<void> => {
    const op = writeAll(fh, data, pos);
    inflight.add(op);
    try {
      await op;
    } catch (e) {
      throw await fail('IO_ERROR', `${name}: ${what}: writing ${data.byteLength} bytes to ${path} failed (${errText(e)}); check free space`, e);
    } finally {
      inflight.delete(op);
    }
    writeback.wrote(data.byteLength);
  };

  /** Writes the staged bytes (if any), one write per run of adjacent ones; a failure aborts the file. */
  const flush = async (): Promise<void> => {
    if (stagedBytes === 0) return;
    const runs = stagedRuns(staged);
    staged = [];
    stagedBytes = 0;
    for (const r of runs) {
      const names = r.first === r.last ? JSON.stringify(r.first) : `${JSON.stringify(r.first)} .. ${JSON.stringify(r.last)}`;
      await writeData(r.data, r.pos, `tensor(s) ${names}`);
    }
  };

  const doAbort = (): Promise<void> => {
    if (state === 'kept') return Promise.resolve();
    if (abortPromise) return abortPromise;
    state = 'aborted';
    staged = [];
    stagedBytes = 0;
    abortPromise = (async () => {
      await Promise.allSettled([...inflight]);
      await writeback.settle().catch(() => {});
      if (fhOpen) {
        fhOpen = false;
        await fh.close().catch(() => {});
      }
      await rm(path, { force: true }).catch(() => {});
    })();
    return abortPromise;
  };

  /** Aborts, then returns the error to throw. */
  const fail = async (code: 'INVALID_ARGUMENT' | 'IO_ERROR', message: string, cause?: unknown): Promise<HQQError> => {
    await doAbort();
    return new HQQError(code, `${message}; the output was discarded (temp file removed, ${name} untouched)`, cause === undefined ? undefined : { cause });
  };

  const notOpen = (what: string): HQQError =>
    new HQQError(
      'INVALID_ARGUMENT',
      `${name}: ${what} after the writer was ${state === 'kept' ? 'committed' : state === 'preparing' ? 'asked to commit' : state === 'prepared' ? 'prepared for commit' : 'aborted (by abort() or an earlier error)'}; start a new writer`,
    );

  return {
    path,
    plan,
    async writeTensor(tname: string, bytes: Uint8Array, offsetWithinTensor = 0): Promise<void> {
      if (state !== 'open') throw notOpen(`writeTensor(${JSON.stringify(tname)})`);
      let pos: number;
      try {
        pos = coverage.add(tname, bytes, offsetWithinTensor);
      } catch (e) {
        throw await fail('INVALID_ARGUMENT', (e as Error).message);
      }
      if (bytes.byteLength === 0) return;
      if (bytes.byteLength <= STAGE_SMALL) {
        staged.push({ pos, bytes: bytes.slice(), name: tname }); // the caller may reuse its buffer once this resolves
        stagedBytes += bytes.byteLength;
        if (stagedBytes >= STAGE_MAX) await flush();
        return;
      }
      await writeData(bytes, pos, `tensor ${JSON.stringify(tname)}`);
    },
    incompleteTensors(): string[] {
      return coverage.incomplete().map((t) => t.name);
    },
    async prepare(): Promise<void> {
      if (state !== 'open') throw notOpen('prepare()');
      try {
        await flush();
      } catch (e) {
        state = 'aborted';
        throw e;
      }
      state = 'preparing';
      await Promise.allSettled([...inflight]);
      if ((state as State) === 'aborted') {
        throw new HQQError('IO_ERROR', `${name}: commit() failed because an earlier write failed; the output was discarded (temp file removed, ${name} untouched)`);
      }
      try {
        coverage.check('commit()');
      } catch (e) {
        throw await fail('INVALID_ARGUMENT', (e as Error).message);
      }
      try {
        await writeback.settle();
        await fh.sync();
        fhOpen = false;
        await fh.close();
      } catch (e) {
        throw await fail('IO_ERROR', `${name}: finishing the file failed (${errText(e)}); check free space and permissions`, e);
      }
      state = 'prepared';
    },
    abort: doAbort,
    isPrepared: () => state === 'prepared',
    keep() {
      if (state !== 'prepared') throw notOpen('keep()');
      state = 'kept';
    },
  };
}

/** Starts writing a file laid out by `plan` at `targetPath` (see the module comment); padding is zero. */
export async function createLayoutFileWriter(
  targetPath: string,
  plan: FileLayout,
  options: LayoutFileWriterOptions = {},
): Promise<LayoutFileWriter> {
  if (typeof targetPath !== 'string' || targetPath.length === 0) {
    throw new HQQError('INVALID_ARGUMENT', `createLayoutFileWriter: targetPath must be a non-empty path, got ${JSON.stringify(targetPath)}`);
  }
  checkLayout(targetPath, plan);
  // A trailing separator names a folder: writing a file of that name (newdir/ -> newdir) surprises.
  if (/[\\/]$/.test(targetPath)) {
    throw new HQQError('INVALID_ARGUMENT', `${targetPath}: ends with a path separator, so it names a folder, but this writes one file; pass a file path (e.g. ${targetPath}model.safetensors)`);
  }
  const { full, placed } = await resolveTarget(targetPath);
  const name = basename(placed);
  let targetStat: Awaited<ReturnType<typeof stat>> | undefined;
  try {
    targetStat = await stat(full);
  } catch (e) {
    if (!isENOENT(e)) throw new HQQError('IO_ERROR', `${targetPath}: cannot stat the output path (${errText(e)})`, { cause: e });
  }
  if (targetStat && !targetStat.isFile()) {
    throw new HQQError('INVALID_ARGUMENT', `${targetPath}: exists and is not a regular file (a directory or a device); pass a file path for the output`);
  }
  for (const input of options.inputPaths ?? []) {
    const real = await realOrResolved(input);
    let same = real === full;
    if (!same && targetStat) {
      try {
        const st = await stat(input);
        same = st.dev === targetStat.dev && st.ino === targetStat.ino;
      } catch {
        /* input missing: nothing more to compare */
      }
    }
    if (same) {
      throw new HQQError(
        'INVALID_ARGUMENT',
        `${targetPath}: the output is the input file ${input}${real !== resolve(input) ? ` (through a symlink: ${real})` : ''}; refusing to overwrite a file being read — write to a different path`,
      );
    }
  }

  const tempPath = join(dirname(placed), temporaryName(name, 'partial'));
  registerTemporary(tempPath, 'file');
  let file: LayoutFile;
  try {
    file = await openLayoutFile(tempPath, plan, { label: name });
  } catch (e) {
    forgetTemporary(tempPath);
    throw e;
  }
  let committed = false;
  let renameFailed = false;
  const abort = async () => {
    if (committed) return;
    await file.abort();
    forgetTemporary(tempPath);
  };
  return {
    targetPath: placed,
    tempPath,
    plan,
    writeTensor: (tname, bytes, offset) => file.writeTensor(tname, bytes, offset),
    incompleteTensors: () => file.incompleteTensors(),
    prepare: () => file.prepare(),
    async commit(opts: { syncFolder?: boolean } = {}): Promise<void> {
      if (committed) throw new HQQError('INVALID_ARGUMENT', `${name}: commit() after the writer was committed; start a new writer`);
      if (renameFailed) throw new HQQError('INVALID_ARGUMENT', `${name}: commit() after the writer was aborted (by abort() or an earlier error); start a new writer`);
      if (!file.isPrepared()) await file.prepare();
      try {
        await rename(tempPath, placed);
      } catch (e) {
        renameFailed = true;
        await abort();
        throw new HQQError('IO_ERROR', `${name}: finishing the file failed (${errText(e)}); check free space and permissions; the output was discarded (temp file removed, ${name} untouched)`, { cause: e });
      }
      committed = true;
      file.keep();
      forgetTemporary(tempPath);
      if (opts.syncFolder !== false) await syncFolder(dirname(placed));
    },
    abort,
  };
}

/** The former name of `createLayoutFileWriter` (it always took any `FileLayout`). */
export const createSafetensorsFileWriter = createLayoutFileWriter;
