/**
 * The File System Access sinks (web/src/io/browser-sink.ts) publish only in finish()
 * (docs/outputs.md): a run that fails or is cancelled before it leaves the chosen folder or file as
 * it was. Driven in Node through an in-memory model of the API's semantics: a writable stream
 * writes to a swap file that close() moves onto the file and abort() drops.
 */
import { describe, expect, it } from 'vitest';
import { directorySink, fileSink, type DirectoryHandleLike, type FileHandleLike } from '../../../web/src/io/browser-sink.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { quantizeModel } from '../../../web/src/model/quantize-model.js';
import { bytesSource } from '../../../web/src/io/source.js';
import { rejectsWithHQQError } from '../helpers.js';

class MemoryFolder implements DirectoryHandleLike {
  readonly kind = 'directory' as const;
  readonly files = new Map<string, Uint8Array>();
  readonly events: string[] = [];
  constructor(readonly name: string) {}
  fileHandle(name: string): FileHandleLike {
    const folder = this;
    return {
      kind: 'file',
      name,
      async createWritable() {
        let swap = new Uint8Array(0);
        return {
          async write(data: unknown) {
            const { position, data: bytes } = (data as { type?: string }).type === 'write'
              ? (data as { position: number; data: Uint8Array })
              : { position: swap.byteLength, data: data as Uint8Array };
            const end = position + bytes.byteLength;
            if (end > swap.byteLength) {
              const grown = new Uint8Array(end);
              grown.set(swap);
              swap = grown;
            }
            swap.set(bytes, position);
          },
          async close() {
            folder.files.set(name, swap);
            folder.events.push(`close ${name}`);
          },
          async abort() {
            folder.events.push(`abort ${name}`);
          },
        };
      },
    };
  }
  async getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandleLike> {
    if (!this.files.has(name)) {
      if (!options?.create) throw new DOMException('not found', 'NotFoundError');
      this.files.set(name, new Uint8Array(0)); // the real API creates an empty file here
    }
    return this.fileHandle(name);
  }
  async removeEntry(name: string): Promise<void> {
    this.files.delete(name);
  }
}

const entries = [{ name: 't', dtype: 'U8' as const, shape: [8] }];

async function writeShards(sink: ReturnType<typeof directorySink>, fill: number, names: string[]) {
  const writers = [];
  for (const n of names) writers.push(await sink.createShard(n, planSafetensors(entries, { n })));
  for (const w of writers) {
    await w.writeTensor('t', new Uint8Array(8).fill(fill), 0);
    await w.commit();
  }
  await sink.writeFile('index.json', `{"fill":${fill}}`);
}

describe('directorySink publishes in finish()', () => {
  it('a failure after every commit leaves the previous files; finish() replaces them all, the index last', async () => {
    const folder = new MemoryFolder('out');
    const first = directorySink(folder);
    await writeShards(first, 1, ['a.safetensors', 'b.safetensors']);
    expect(folder.files.get('a.safetensors')?.byteLength).toBe(0); // committed, not published yet
    await first.finish!();
    const old = new Map([...folder.files].map(([k, v]) => [k, v.slice()]));
    expect(old.get('a.safetensors')?.at(-1)).toBe(1);

    const failing = directorySink(folder, { overwrite: true });
    await writeShards(failing, 2, ['a.safetensors', 'b.safetensors']);
    await failing.discard([]); // what the orchestrator does when it fails before finish()
    expect(folder.files).toEqual(old);

    const second = directorySink(folder, { overwrite: true });
    folder.events.length = 0;
    await writeShards(second, 3, ['a.safetensors', 'b.safetensors']);
    await second.finish!();
    expect(folder.events).toEqual(['close a.safetensors', 'close b.safetensors', 'close index.json']);
    expect(folder.files.get('b.safetensors')?.at(-1)).toBe(3);
    expect(new TextDecoder().decode(folder.files.get('index.json'))).toBe('{"fill":3}');
    expect(second.files().map((f) => f.fileName)).toEqual(['a.safetensors', 'b.safetensors', 'index.json']);
  });

  it('through quantizeModel: a cancel after the last tensor publishes nothing', async () => {
    const folder = new MemoryFolder('out');
    const file = planSafetensors([{ name: 'step', dtype: 'I64', shape: [] }]);
    const bytes = new Uint8Array(file.totalSize);
    bytes.set(file.headerBytes);
    const ctl = new AbortController();
    const err = await rejectsWithHQQError(quantizeModel({ sources: [bytesSource(bytes, 'm.safetensors')] }, directorySink(folder), {
      signal: ctl.signal,
      onProgress: (e) => { if (e.type === 'tensor-done') ctl.abort(); },
    }));
    expect(err.code).toBe('ABORTED');
    expect(folder.events).toEqual(['abort m.safetensors']); // the swap file was dropped, nothing closed
    expect([...folder.files.keys()]).toEqual([]); // and the empty file the API made on create was removed
  });
});

describe('fileSink publishes in finish()', () => {
  it('a discard after commit leaves the chosen file as it was', async () => {
    const folder = new MemoryFolder('x');
    folder.files.set('m.safetensors', new Uint8Array([42]));
    const handle = folder.fileHandle('m.safetensors');
    const sink = fileSink(handle);
    const w = await sink.createShard('m.safetensors', planSafetensors(entries));
    await w.writeTensor('t', new Uint8Array(8).fill(5), 0);
    await w.commit();
    await sink.discard([]);
    expect([...folder.files.get('m.safetensors')!]).toEqual([42]);
    const ok = fileSink(handle);
    const w2 = await ok.createShard('m.safetensors', planSafetensors(entries));
    await w2.writeTensor('t', new Uint8Array(8).fill(6), 0);
    await w2.commit();
    await ok.finish!();
    expect(folder.files.get('m.safetensors')?.at(-1)).toBe(6);
  });
});
