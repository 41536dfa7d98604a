/**
 * Browser output sinks for files whose layout is planned up front (a `FileLayout`: safetensors,
 * GGUF, ...): tensors may arrive in any order and in pieces, each at its offset inside the tensor;
 * the padding between them is written as zeros.
 *
 * - `memorySink()`: works everywhere. Each piece becomes a `Blob` part as soon as it is written (the
 *   browser may keep large blobs on disk, the JS heap does not hold the output); `commit()` checks
 *   that every tensor is fully written and assembles one `Blob` per file, ready to download.
 * - `directorySink(handle)`: File System Access API (Chromium). Each file is streamed to disk with a
 *   `FileSystemWritableFileStream` at absolute positions; the browser writes a swap file and moves it
 *   into place when the stream is closed (atomic per file), and `abort()` leaves no partial file
 *   behind. `commit()` only completes a file (every byte written, stream still open); `finish()`
 *   closes every stream in one tight loop, small files last, so that a run that fails or is
 *   cancelled before `finish()` leaves the folder as it was (docs/outputs.md: the API cannot rename
 *   folders, so unlike Node there is a short window inside `finish()` where a crash can leave some
 *   files replaced and others not).
 * - `fileSink(handle)`: the same for one file (a single-shard output chosen with a save dialog):
 *   published by `finish()`, atomic.
 * - `pickOutput(...)` opens the browser's picker (must be called from a user gesture).
 *
 * Browser-only (DOM types), no `node:` imports.
 */
import { HQQError } from '../errors.js';
import { layoutGaps, type FileLayout } from './layout.js';
import { TensorCoverage, type ModelSink, type ShardWriter } from './sink.js';

export type { ShardWriter } from './sink.js';

/** Output files from one run (the `ModelSink` that `quantizeModel` writes to). */
export interface OutputSink extends ModelSink {
  /** A small whole file: the `model.safetensors.index.json` of a sharded output, a config.json... */
  writeFile(fileName: string, data: Uint8Array | string): Promise<void>;
  /** Removes files already committed in this run (the job failed later). Never throws. */
  discard(fileNames: string[]): Promise<void>;
}

/** One file a browser sink has committed. */
export interface OutputFile {
  /** The file's name inside the output (`model.safetensors`, `model-00001-of-00002.safetensors`, ...). */
  fileName: string;
  /** Its size in bytes. */
  size: number;
  /** The contents (memory sink only). */
  blob?: Blob;
}

/** An output sink in a browser: in memory, in a chosen folder, or in one chosen file. */
export interface BrowserSink extends OutputSink {
  /** Which sink this is: `memorySink()`, `directorySink()` or `fileSink()`. */
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

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : data;
}

/** Zero-filled Blobs for the padding of `layout`, with their positions. */
function gapParts(layout: FileLayout): { pos: number; blob: Blob }[] {
  return layoutGaps(layout).map((g) => ({ pos: g.begin, blob: new Blob([new Uint8Array(g.end - g.begin) as BlobPart]) }));
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
          parts.push(...gapParts(plan));
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
    async writeFile(fileName, data) {
      claim(fileName);
      const bytes = toBytes(data);
      const type = typeof data === 'string' ? 'application/json' : 'application/octet-stream';
      done.push({ fileName, size: bytes.byteLength, blob: new Blob([bytes.slice() as BlobPart], { type }) });
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

/** The part of the DOM's `FileSystemWritableFileStream` the sinks use. */
interface WritableFileStream {
  /**
   * Writes at the current position, or, in the object form, at a given position.
   * @param data.type Always `'write'` (the other commands of the DOM's form are not used).
   * @param data.position Where the bytes go, in bytes from the start of the file.
   * @param data.data The bytes to write.
   */
  write(data: { type: 'write'; position: number; data: WritableData } | WritableData): Promise<void>;
  /** Closes the stream; the browser then moves the written swap file into place. */
  close(): Promise<void>;
  /** Discards everything written through this stream: the file stays as it was. */
  abort(reason?: unknown): Promise<void>;
}
/** The part of the DOM's `FileSystemFileHandle` the sinks use (what `showSaveFilePicker` returns). */
export interface FileHandleLike {
  /** Always `'file'`. */
  readonly kind: 'file';
  /** The file's name, for messages. */
  readonly name: string;
  /**
   * Opens a writable stream on a swap file, published when the stream is closed.
   * @param options.keepExistingData Start from the current contents (the sinks pass false: start empty).
   */
  createWritable(options?: { keepExistingData?: boolean }): Promise<WritableFileStream>;
}
/** The part of the DOM's `FileSystemDirectoryHandle` the sinks use (what `showDirectoryPicker` returns). */
export interface DirectoryHandleLike {
  /** Always `'directory'`. */
  readonly kind: 'directory';
  /** The folder's name, for messages. */
  readonly name: string;
  /**
   * The handle of the file `name` in this folder.
   * @param options.create Create the file when missing; without it a missing file rejects (a `NotFoundError` DOMException).
   */
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandleLike>;
  /** Deletes the entry `name` from this folder. */
  removeEntry(name: string): Promise<void>;
}
interface PickerWindow {
  showSaveFilePicker?(options?: {
    suggestedName?: string;
    types?: { description: string; accept: Record<string, string[]> }[];
  }): Promise<FileHandleLike>;
  showDirectoryPicker?(options?: { mode?: 'read' | 'readwrite'; id?: string }): Promise<DirectoryHandleLike>;
}

/**
 * Which File System Access pickers this browser offers.
 * @returns `saveFile`: `showSaveFilePicker` exists (a single output file can be written); `directory`: `showDirectoryPicker` exists (any output can be written into a folder).
 */
export function fileSystemAccess(): { saveFile: boolean; directory: boolean } {
  const w = (typeof window === 'undefined' ? {} : window) as PickerWindow;
  return { saveFile: typeof w.showSaveFilePicker === 'function', directory: typeof w.showDirectoryPicker === 'function' };
}

/** A shard on a writable stream: `commit()` completes it, `publish()` (from the sink's `finish()`) closes it. */
interface StreamShard extends ShardWriter {
  publish(): Promise<void>;
}

function streamWriter(fileName: string, plan: FileLayout, stream: WritableFileStream, onAbort: () => Promise<void>, onCommit: () => void): StreamShard {
  const coverage = new TensorCoverage(fileName, plan);
  let state: 'open' | 'ready' | 'committed' | 'aborted' = 'open';
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
      if (state !== 'open') throw arg(`${fileName}: commit after ${state === 'aborted' ? 'abort' : 'commit'}`);
      coverage.check();
      for (const g of layoutGaps(plan)) enqueue(g.begin, new Uint8Array(g.end - g.begin)).catch(() => {});
      await chain;
      if (failure !== undefined) throw ioError(`${fileName}: an earlier write failed`, failure);
      state = 'ready'; // complete; the stream stays open until publish()
    },
    async publish() {
      if (state !== 'ready') throw arg(`${fileName}: publish before commit`);
      try {
        await stream.close();
      } catch (e) {
        throw ioError(`${fileName}: could not finish writing the file`, e);
      }
      state = 'committed';
      onCommit();
    },
    async abort() {
      if (state !== 'open' && state !== 'ready') return;
      state = 'aborted';
      await chain;
      await stream.abort().catch(() => {});
      await onAbort().catch(() => {});
    },
  };
}

/**
 * Closes the ready shards in order, then writes the small files: the publishing loop of the
 * stream sinks. On a failure the rest is aborted and the error names what was already replaced.
 */
async function publishAll(location: string, shards: { fileName: string; writer: StreamShard }[], small: { fileName: string; write(): Promise<void> }[]): Promise<void> {
  const done: string[] = [];
  let i = 0;
  try {
    for (; i < shards.length; i++) {
      await shards[i]!.writer.publish();
      done.push(shards[i]!.fileName);
    }
    for (const f of small) {
      await f.write();
      done.push(f.fileName);
    }
  } catch (e) {
    await Promise.allSettled(shards.slice(i).map((s) => s.writer.abort()));
    const replaced = done.length ? `${done.join(', ')} had already been written` : 'no file had been written yet';
    throw ioError(`publishing the output in ${location} failed; ${replaced}`, e);
  }
}

/**
 * Streams every output file into a folder chosen with `showDirectoryPicker`. Unless `overwrite`,
 * a file that already exists there is not touched and the run fails with a clear message (a
 * sharded output keeps the input's shard names: writing into the input's own folder would
 * replace the model being read).
 * @param options.overwrite Replace files of the same name already in the folder (default false: the run fails before writing anything over them).
 */
export function directorySink(dir: DirectoryHandleLike, options: { overwrite?: boolean } = {}): BrowserSink {
  const done: OutputFile[] = [];
  const open = new Set<ShardWriter>();
  const ready: { fileName: string; writer: StreamShard }[] = [];
  const small: { fileName: string; bytes: Uint8Array }[] = [];
  const names = new Set<string>();
  const claim = (fileName: string) => {
    checkFileName(fileName);
    if (names.has(fileName)) throw arg(`output file ${JSON.stringify(fileName)} is written twice in one run`);
    names.add(fileName);
  };
  const refuseExisting = async (fileName: string) => {
    let existed = true;
    try {
      await dir.getFileHandle(fileName);
    } catch {
      existed = false;
    }
    if (existed && !options.overwrite) {
      throw new HQQError('IO_ERROR', `the folder "${dir.name}" already holds ${fileName}; choose an empty folder for the output (nothing was overwritten)`);
    }
    return existed;
  };
  /** Opens a writable on `fileName`; the returned cleanup removes the file if it did not exist. */
  const openFile = async (fileName: string) => {
    const existed = await refuseExisting(fileName);
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
        const i = ready.findIndex((r) => r.writer === writer);
        if (i >= 0) ready.splice(i, 1);
        await cleanup();
      }, () => {
        open.delete(writer);
        done.push({ fileName, size: plan.totalSize });
      });
      open.add(writer);
      return {
        writeTensor: (name, bytes, offset) => writer.writeTensor(name, bytes, offset),
        async commit() {
          await writer.commit();
          ready.push({ fileName, writer });
        },
        abort: () => writer.abort(),
      };
    },
    async writeFile(fileName, data) {
      claim(fileName);
      await refuseExisting(fileName);
      small.push({ fileName, bytes: toBytes(data).slice() }); // written by finish(), after the shards
    },
    async finish() {
      const files = small.splice(0).map(({ fileName, bytes }) => ({
        fileName,
        async write() {
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
      }));
      await publishAll(`the folder "${dir.name}"`, ready.splice(0), files);
    },
    async discard(fileNames) {
      // Unpublished files are swap files: aborting their streams leaves the folder as it was.
      await Promise.allSettled(ready.splice(0).map((r) => r.writer.abort()));
      small.length = 0;
      for (const name of fileNames) {
        if (done.some((f) => f.fileName === name)) await dir.removeEntry(name).catch(() => {});
        forget(done, names, name);
      }
    },
    files: () => done.slice(),
    async abortAll() {
      await Promise.all([...open].map((w) => w.abort()));
      small.length = 0;
    },
  };
}

/** Streams a single-file output into a file chosen with `showSaveFilePicker`. */
export function fileSink(handle: FileHandleLike): BrowserSink {
  const done: OutputFile[] = [];
  let used = false;
  let current: StreamShard | undefined;
  let ready: StreamShard | undefined;
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
      const writer = streamWriter(handle.name, plan, stream, async () => {
        current = undefined;
        ready = undefined;
      }, () => {
        current = undefined;
        done.push({ fileName: handle.name, size: plan.totalSize });
      });
      current = writer;
      return {
        writeTensor: (name, bytes, offset) => writer.writeTensor(name, bytes, offset),
        async commit() {
          await writer.commit();
          ready = writer;
        },
        abort: () => writer.abort(),
      };
    },
    async writeFile(fileName) {
      throw arg(`the output needs a second file (${fileName}); a single save-as file cannot hold it: choose a folder instead`);
    },
    async finish() {
      const w = ready;
      ready = undefined;
      if (w) await publishAll(`file "${handle.name}"`, [{ fileName: handle.name, writer: w }], []);
    },
    async discard() {
      // Not yet published: aborting the stream leaves the file as it was. (A published file cannot
      // be deleted from here; publishing is the last step, so nothing can fail after it.)
      await ready?.abort();
      ready = undefined;
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
 * @param options.overwrite As in `directorySink`: replace files of the same name already in the chosen folder (default false).
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
