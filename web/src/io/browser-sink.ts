/**
 * Browser output sinks for safetensors files whose layout is planned up front (`planSafetensors`):
 * tensors may arrive in any order and in pieces, each at its offset inside the tensor.
 *
 * - `memorySink()`: works everywhere. Each piece becomes a `Blob` part as soon as it is written (the
 *   browser may keep large blobs on disk, the JS heap does not hold the output); `commit()` checks
 *   that every tensor is fully written and assembles one `Blob` per file, ready to download.
 * - `directorySink(handle)`: File System Access API (Chromium). Each file is streamed to disk with a
 *   `FileSystemWritableFileStream` at absolute positions; the browser writes a swap file and moves it
 *   into place on `commit()` (atomic), and `abort()` leaves no partial file behind.
 * - `fileSink(handle)`: the same for one file (a single-shard output chosen with a save dialog).
 * - `pickOutput(...)` opens the browser's picker (must be called from a user gesture).
 *
 * Browser-only (DOM types), no `node:` imports.
 */
import { HQQError } from '../errors.js';
import { TensorCoverage, type ModelSink, type ShardWriter } from './sink.js';
import type { SafetensorsPlan } from './writer.js';

export type { ShardWriter } from './sink.js';

/** Output files from one run (the `ModelSink` that `quantizeModel` writes to). */
export interface OutputSink extends ModelSink {
  /** A small whole file: the `model.safetensors.index.json` of a sharded output. */
  writeIndex(fileName: string, text: string): Promise<void>;
  /** Removes files already committed in this run (the job failed later). Never throws. */
  discard(fileNames: string[]): Promise<void>;
}

export interface OutputFile {
  fileName: string;
  size: number;
  /** The contents (memory sink only). */
  blob?: Blob;
}

export interface BrowserSink extends OutputSink {
  readonly kind: 'memory' | 'directory' | 'file';
  /** Where the files go, for messages ("memory", the folder's or the file's name). */
  readonly location: string;
  /** Files committed so far, in commit order. */
  files(): OutputFile[];
  /** Aborts every shard still open (e.g. after a cancel). */
  abortAll(): Promise<void>;
}

function arg(message: string): HQQError {
  return new HQQError('INVALID_ARGUMENT', message);
}

function ioError(message: string, cause?: unknown): HQQError {
  const detail = cause === undefined ? '' : ` (${cause instanceof Error ? cause.message : String(cause)})`;
  return new HQQError('IO_ERROR', `${message}${detail}`, cause === undefined ? undefined : { cause });
}

function checkFileName(fileName: string): void {
  if (typeof fileName !== 'string' || fileName.length === 0 || /[/\\\0]/.test(fileName) || fileName === '.' || fileName === '..') {
    throw arg(`output file name ${JSON.stringify(fileName)} must be a plain file name (no folders)`);
  }
}

/** Drops a discarded output file from a sink's list of finished files and taken names. */
function forget(done: OutputFile[], names: Set<string>, fileName: string): void {
  const i = done.findIndex((f) => f.fileName === fileName);
  if (i >= 0) done.splice(i, 1);
  names.delete(fileName);
}

function toBytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Keeps the output in Blobs for download. */
export function memorySink(): BrowserSink {
  const done: OutputFile[] = [];
  const open = new Set<{ abort(): Promise<void> }>();
  const names = new Set<string>();
  const claim = (fileName: string) => {
    checkFileName(fileName);
    if (names.has(fileName)) throw arg(`output file ${JSON.stringify(fileName)} is written twice in one run`);
    names.add(fileName);
  };
  return {
    kind: 'memory',
    location: 'memory (download when done)',
    async createShard(fileName, plan) {
      claim(fileName);
      const coverage = new TensorCoverage(fileName, plan);
      let parts: { pos: number; blob: Blob }[] = [{ pos: 0, blob: new Blob([plan.headerBytes as BlobPart]) }];
      let state: 'open' | 'committed' | 'aborted' = 'open';
      const writer: ShardWriter = {
        async writeTensor(name, bytes, offsetWithinTensor) {
          if (state !== 'open') throw arg(`${fileName}: writeTensor after ${state === 'committed' ? 'commit' : 'abort'}`);
          const pos = coverage.add(name, bytes, offsetWithinTensor);
          if (bytes.byteLength > 0) parts.push({ pos, blob: new Blob([bytes as BlobPart]) }); // copies now
        },
        async commit() {
          if (state !== 'open') throw arg(`${fileName}: commit after ${state === 'committed' ? 'commit' : 'abort'}`);
          coverage.check();
          parts.sort((a, b) => a.pos - b.pos);
          const blob = new Blob(parts.map((p) => p.blob), { type: 'application/octet-stream' });
          parts = [];
          if (blob.size !== plan.totalSize) throw new HQQError('INTERNAL', `${fileName}: assembled ${blob.size} bytes but the plan says ${plan.totalSize}`);
          state = 'committed';
          open.delete(writer);
          done.push({ fileName, size: blob.size, blob });
        },
        async abort() {
          if (state === 'open') {
            state = 'aborted';
            parts = [];
            open.delete(writer);
            names.delete(fileName);
          }
        },
      };
      open.add(writer);
      return writer;
    },
    async writeIndex(fileName, text) {
      claim(fileName);
      const bytes = toBytes(text);
      done.push({ fileName, size: bytes.byteLength, blob: new Blob([bytes as BlobPart], { type: 'application/json' }) });
    },
    async discard(fileNames) {
      for (const name of fileNames) forget(done, names, name);
    },
    files: () => done.slice(),
    async abortAll() {
      await Promise.all([...open].map((w) => w.abort()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// File System Access API (Chromium-based browsers). Declared here: not in TypeScript's DOM lib.

/** What the sinks write (the DOM's BlobPart, spelled out so the declarations need no DOM library). */
type WritableData = ArrayBufferView | ArrayBuffer | Blob | string;

interface WritableFileStream {
  write(data: { type: 'write'; position: number; data: WritableData } | WritableData): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}
export interface FileHandleLike {
  readonly kind: 'file';
  readonly name: string;
  createWritable(options?: { keepExistingData?: boolean }): Promise<WritableFileStream>;
}
export interface DirectoryHandleLike {
  readonly kind: 'directory';
  readonly name: string;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandleLike>;
  removeEntry(name: string): Promise<void>;
}
interface PickerWindow {
  showSaveFilePicker?(options?: {
    suggestedName?: string;
    types?: { description: string; accept: Record<string, string[]> }[];
  }): Promise<FileHandleLike>;
  showDirectoryPicker?(options?: { mode?: 'read' | 'readwrite'; id?: string }): Promise<DirectoryHandleLike>;
}

/** Which File System Access pickers this browser offers. */
export function fileSystemAccess(): { saveFile: boolean; directory: boolean } {
  const w = (typeof window === 'undefined' ? {} : window) as PickerWindow;
  return { saveFile: typeof w.showSaveFilePicker === 'function', directory: typeof w.showDirectoryPicker === 'function' };
}

function streamWriter(fileName: string, plan: SafetensorsPlan, stream: WritableFileStream, onAbort: () => Promise<void>, onCommit: () => void): ShardWriter {
  const coverage = new TensorCoverage(fileName, plan);
  let state: 'open' | 'committed' | 'aborted' = 'open';
  let failure: unknown;
  // A FileSystemWritableFileStream accepts one write at a time: chain them.
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (position: number, data: Uint8Array): Promise<void> => {
    const p = chain.then(() => stream.write({ type: 'write', position, data: data as BlobPart }));
    chain = p.catch((e) => {
      failure ??= e;
    });
    return p.catch((e) => {
      throw ioError(`${fileName}: writing ${data.byteLength} bytes at ${position} failed`, e);
    });
  };
  enqueue(0, plan.headerBytes).catch(() => {}); // reported again by the next write or commit
  return {
    async writeTensor(name, bytes, offsetWithinTensor) {
      if (state !== 'open') throw arg(`${fileName}: writeTensor after ${state === 'committed' ? 'commit' : 'abort'}`);
      const pos = coverage.add(name, bytes, offsetWithinTensor);
      if (bytes.byteLength > 0) await enqueue(pos, bytes.slice()); // the caller may reuse its buffer
    },
    async commit() {
      if (state !== 'open') throw arg(`${fileName}: commit after ${state === 'committed' ? 'commit' : 'abort'}`);
      coverage.check();
      await chain;
      if (failure !== undefined) throw ioError(`${fileName}: an earlier write failed`, failure);
      try {
        await stream.close();
      } catch (e) {
        throw ioError(`${fileName}: could not finish writing the file`, e);
      }
      state = 'committed';
      onCommit();
    },
    async abort() {
      if (state !== 'open') return;
      state = 'aborted';
      await chain;
      await stream.abort().catch(() => {});
      await onAbort().catch(() => {});
    },
  };
}

/**
 * Streams every output file into a folder chosen with `showDirectoryPicker`. Unless `overwrite`,
 * a file that already exists there is not touched and the run fails with a clear message (a
 * sharded output keeps the input's shard names: writing into the input's own folder would
 * replace the model being read).
 */
export function directorySink(dir: DirectoryHandleLike, options: { overwrite?: boolean } = {}): BrowserSink {
  const done: OutputFile[] = [];
  const open = new Set<ShardWriter>();
  const names = new Set<string>();
  const claim = (fileName: string) => {
    checkFileName(fileName);
    if (names.has(fileName)) throw arg(`output file ${JSON.stringify(fileName)} is written twice in one run`);
    names.add(fileName);
  };
  /** Opens a writable on `fileName`; the returned cleanup removes the file if it did not exist. */
  const openFile = async (fileName: string) => {
    let existed = true;
    try {
      await dir.getFileHandle(fileName);
    } catch {
      existed = false;
    }
    if (existed && !options.overwrite) {
      throw new HQQError('IO_ERROR', `the folder "${dir.name}" already holds ${fileName}; choose an empty folder for the output (nothing was overwritten)`);
    }
    try {
      const handle = await dir.getFileHandle(fileName, { create: true });
      const stream = await handle.createWritable({ keepExistingData: false });
      const cleanup = async () => {
        if (!existed) await dir.removeEntry(fileName);
      };
      return { stream, cleanup };
    } catch (e) {
      throw ioError(`cannot write ${fileName} in the folder "${dir.name}"; choose another folder or allow write access`, e);
    }
  };
  return {
    kind: 'directory',
    location: `folder "${dir.name}"`,
    async createShard(fileName, plan) {
      claim(fileName);
      const { stream, cleanup } = await openFile(fileName);
      const writer = streamWriter(fileName, plan, stream, async () => {
        open.delete(writer);
        names.delete(fileName);
        await cleanup();
      }, () => {
        open.delete(writer);
        done.push({ fileName, size: plan.totalSize });
      });
      open.add(writer);
      return writer;
    },
    async writeIndex(fileName, text) {
      claim(fileName);
      const bytes = toBytes(text);
      const { stream } = await openFile(fileName);
      try {
        await stream.write(bytes as BlobPart);
        await stream.close();
      } catch (e) {
        await stream.abort().catch(() => {});
        throw ioError(`${fileName}: writing failed`, e);
      }
      done.push({ fileName, size: bytes.byteLength });
    },
    async discard(fileNames) {
      for (const name of fileNames) {
        await dir.removeEntry(name).catch(() => {});
        forget(done, names, name);
      }
    },
    files: () => done.slice(),
    async abortAll() {
      await Promise.all([...open].map((w) => w.abort()));
    },
  };
}

/** Streams a single-file output into a file chosen with `showSaveFilePicker`. */
export function fileSink(handle: FileHandleLike): BrowserSink {
  const done: OutputFile[] = [];
  let used = false;
  let current: ShardWriter | undefined;
  return {
    kind: 'file',
    location: `file "${handle.name}"`,
    async createShard(fileName, plan) {
      if (used) {
        throw arg(`the output has several files (${fileName} is the second); a single save-as file cannot hold them: choose a folder instead, or keep the output in memory`);
      }
      used = true;
      let stream: WritableFileStream;
      try {
        stream = await handle.createWritable({ keepExistingData: false });
      } catch (e) {
        throw ioError(`cannot write ${handle.name}; choose another file or allow write access`, e);
      }
      current = streamWriter(handle.name, plan, stream, async () => {
        current = undefined;
      }, () => {
        current = undefined;
        done.push({ fileName: handle.name, size: plan.totalSize });
      });
      return current;
    },
    async writeIndex(fileName) {
      throw arg(`the output needs a second file (${fileName}); a single save-as file cannot hold it: choose a folder instead`);
    },
    async discard() {
      // The save dialog's file cannot be deleted from here; a committed file stays as written.
    },
    files: () => done.slice(),
    async abortAll() {
      await current?.abort();
    },
  };
}

/**
 * Opens the browser's picker and returns a sink on the chosen place: `'directory'` for any output
 * (sharded or not), `'file'` for a single output file. Call it from a click handler. Throws
 * `ABORTED` when the user closes the picker, `UNSUPPORTED` without the File System Access API.
 */
export async function pickOutput(kind: 'directory' | 'file', suggestedName = 'model-hqq.safetensors', options: { overwrite?: boolean } = {}): Promise<BrowserSink> {
  const w = (typeof window === 'undefined' ? {} : window) as PickerWindow;
  try {
    if (kind === 'directory') {
      if (!w.showDirectoryPicker) throw new HQQError('UNSUPPORTED', 'this browser cannot write into a folder (no File System Access API); keep the output in memory and download it');
      return directorySink(await w.showDirectoryPicker({ mode: 'readwrite', id: 'hqq-output' }), options);
    }
    if (!w.showSaveFilePicker) throw new HQQError('UNSUPPORTED', 'this browser cannot save straight to a file (no File System Access API); keep the output in memory and download it');
    const handle = await w.showSaveFilePicker({
      suggestedName,
      types: [{ description: 'safetensors', accept: { 'application/octet-stream': ['.safetensors'] } }],
    });
    return fileSink(handle);
  } catch (e) {
    if (e instanceof HQQError) throw e;
    if (e instanceof DOMException && e.name === 'AbortError') throw new HQQError('ABORTED', 'no output location was chosen', { cause: e });
    throw ioError('the output picker failed', e);
  }
}

/** Starts a browser download of `blob` as `fileName` (an object URL on a temporary link). */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
