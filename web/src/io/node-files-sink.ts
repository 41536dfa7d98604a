/**
 * A Node sink writing several files into a SHARED folder, each published on its own (Node-only):
 * the sink of a sharded run's part and of a GGUF split set (docs/sharding.md). Where the folder
 * sink (node-sink.ts) replaces a whole folder at once, here N processes, on one host or many,
 * write their own files side by side into one folder: every file goes through the one-file
 * protocol (a named temporary next to it, renamed onto it once complete), and `finish()` publishes
 * them in order, small files last, so a part's record (written last) only appears once every file
 * of the part is in place. A part that fails leaves the files it had published (complete files;
 * the merge checks their sizes and headers) and no record.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HQQError } from '../errors.js';
import { parsePartRecordName } from '../model/shard.js';
import type { FileLayout } from './layout.js';
import { nodeOutputSink, type NodeOutputSink, type NodeOutputSinkOptions } from './node-sink.js';
import { errText } from './node-writer.js';
import type { ShardWriter } from './sink.js';
import { createOutputFolder } from './node-output-target.js';

function arg(message: string): HQQError {
  return new HQQError('INVALID_ARGUMENT', message);
}

/** Refuses an output path that exists but is not a folder (a file left from a one-file run). */
async function checkFolder(dir: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    return; // absent (created on the first file) or unreadable (the first file's error says why)
  }
  if (!isDir) {
    throw new HQQError('INVALID_ARGUMENT', `${dir} is a file, but this run writes several files side by side into a folder (the parts of a --shard run, or a GGUF split set); pass a folder path (e.g. -o out/) or move ${dir} away`);
  }
}

/** Files named `fileName` (no folders) in `dir`, which is created if needed and never removed. */
export function nodeFilesSink(dir: string, options: NodeOutputSinkOptions = {}): NodeOutputSink {
  const sinks: NodeOutputSink[] = [];
  const names = new Set<string>();
  const written: string[] = [];
  const notices: string[] = [];
  let published = false;
  let made = false;
  const inner: NodeOutputSinkOptions = {
    ...options,
    onNotice: (m) => {
      notices.push(m);
      options.onNotice?.(m);
    },
  };
  const open = async (fileName: string): Promise<NodeOutputSink> => {
    if (typeof fileName !== 'string' || fileName.length === 0 || /[\\/\0]/.test(fileName) || fileName === '.' || fileName === '..') {
      throw arg(`output file name ${JSON.stringify(fileName)} must be a plain file name (the files of a part go side by side in ${dir})`);
    }
    if (names.has(fileName)) throw arg(`${dir}: output file ${JSON.stringify(fileName)} is written twice in one run`);
    names.add(fileName);
    if (!made) {
      await createOutputFolder(dir);
      made = true;
    }
    const s = nodeOutputSink({ kind: 'file', path: join(dir, fileName) }, inner);
    sinks.push(s);
    return s;
  };
  return {
    target: { kind: 'folder', path: dir },
    written,
    get published() {
      return published;
    },
    get replaced() {
      return sinks.some((s) => s.replaced);
    },
    notices,
    async prepare(fileNames: readonly string[]): Promise<void> {
      await checkFolder(dir);
      // This part's previous record goes first: until the new one is written, the part is missing.
      for (const n of fileNames) {
        if (!parsePartRecordName(n)) continue;
        try {
          await rm(join(dir, n), { force: true });
        } catch (e) {
          throw new HQQError('IO_ERROR', `${join(dir, n)}: cannot remove the previous part record (${errText(e)}); check permissions`, { cause: e });
        }
      }
    },
    async createShard(fileName: string, layout: FileLayout): Promise<ShardWriter> {
      return (await open(fileName)).createShard(fileName, layout);
    },
    async writeFile(fileName: string, data: Uint8Array | string): Promise<void> {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      if (!(bytes instanceof Uint8Array)) throw arg(`${dir}: writeFile(${JSON.stringify(fileName)}): data must be a string or a Uint8Array`);
      // A whole small file is a layout with no tensors: all "header".
      const w = await (await open(fileName)).createShard(fileName, { headerBytes: bytes, totalSize: bytes.byteLength, offsets: new Map(), tensors: [] });
      await w.commit();
    },
    async finish(): Promise<void> {
      if (published) throw arg(`${dir}: finish() called twice`);
      for (const s of sinks) {
        await s.finish();
        written.push(...s.written);
      }
      published = true;
    },
    async discard(): Promise<void> {
      await Promise.allSettled(sinks.map((s) => s.discard()));
    },
    async dispose(): Promise<void> {
      await Promise.allSettled(sinks.map((s) => s.dispose()));
    },
  };
}
