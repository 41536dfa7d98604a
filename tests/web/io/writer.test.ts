import * as fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import { openSafetensors, parseSafetensorsHeader } from '../../../web/src/io/safetensors.js';
import { openFileSource } from '../../../web/src/io/node-file.js';
import { memorySink } from '../../../web/src/io/browser-sink.js';
import { createSafetensorsFileWriter } from '../../../web/src/io/node-writer.js';
import { planSafetensors, type PlanEntry } from '../../../web/src/io/writer.js';
import { rejectsWithHQQError } from '../helpers.js';


function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const ENTRIES: PlanEntry[] = [
  { name: 'model.embed_tokens.weight', dtype: 'F16', shape: [64, 32] },
  { name: 'empty', dtype: 'F32', shape: [0, 7] },
  { name: 'scalar', dtype: 'I64', shape: [] },
  { name: '0', dtype: 'U8', shape: [13] },
  { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'BF16', shape: [48, 32], byteLength: 48 * 32 * 2 },
  { name: 'odd', dtype: 'U8', shape: [3, 3] },
];

describe('planSafetensors', () => {
  it('lays tensors out in order with an 8-aligned, space-padded header the reader accepts', () => {
    for (let extra = 0; extra < 9; extra++) {
      const meta = { format: 'pt', note: 'x'.repeat(extra) };
      const plan = planSafetensors(ENTRIES, meta);
      expect(plan.dataOffset % 8).toBe(0);
      expect(plan.headerBytes.byteLength).toBe(plan.dataOffset);
      const n = Number(new DataView(plan.headerBytes.buffer).getBigUint64(0, true));
      expect(n % 8).toBe(0);
      expect(n + 8).toBe(plan.dataOffset);
      const text = new TextDecoder().decode(plan.headerBytes.subarray(8));
      expect(text.trimEnd().endsWith('}')).toBe(true);
      expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
      let pos = plan.dataOffset;
      for (const e of ENTRIES) {
        const o = plan.offsets.get(e.name)!;
        expect(o.begin).toBe(pos);
        pos = o.end;
      }
      expect(plan.totalSize).toBe(pos);
      // The header alone + zero data parses as the same layout.
      const file = new Uint8Array(plan.totalSize);
      file.set(plan.headerBytes);
      const h = parseSafetensorsHeader(file, file.byteLength, 'plan.safetensors');
      expect(h.metadata).toEqual(meta);
      expect(h.tensors).toEqual(plan.tensors);
    }
  });

  it('handles zero tensors and rejects caller mistakes with INVALID_ARGUMENT', () => {
    const empty = planSafetensors([]);
    expect(empty.totalSize).toBe(16);
    expect(new TextDecoder().decode(empty.headerBytes.subarray(8))).toBe('{}      ');
    const bad: [PlanEntry[], string][] = [
      [[{ name: 'a', dtype: 'F16', shape: [2], byteLength: 5 }], 'byteLength 5 does not match F16 [2], which needs 4 bytes'],
      [[{ name: 'a', dtype: 'F17' as never, shape: [2] }], 'unknown dtype "F17"'],
      [[{ name: 'a', dtype: 'F16', shape: [-1] }], 'shape[0] is -1'],
      [[{ name: 'a', dtype: 'F16', shape: [2] }, { name: 'a', dtype: 'F16', shape: [2] }], 'tensor "a": appears twice'],
      [[{ name: '__metadata__', dtype: 'F16', shape: [2] }], 'reserved'],
      [[{ name: 3 as never, dtype: 'F16', shape: [2] }], 'tensor name 3 must be a string'],
      [[{ name: 'a', dtype: 'F64', shape: [2 ** 30, 2 ** 30] }], 'overflows 2^53-1'],
    ];
    for (const [entries, msg] of bad) {
      let err: unknown;
      try {
        planSafetensors(entries);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HQQError);
      expect((err as HQQError).code).toBe('INVALID_ARGUMENT');
      expect((err as HQQError).message).toContain(msg);
    }
    expect(() => planSafetensors([], { n: 1 as never })).toThrow('metadata key "n" has a number value');
    // An empty name is a valid key (the reference reads and writes it); errors name the output file.
    const named = planSafetensors([{ name: '', dtype: 'F16', shape: [2] }]);
    expect(parseSafetensorsHeader(named.headerBytes, named.totalSize).tensors.map((t) => t.name)).toEqual(['']);
    expect(() => planSafetensors([{ name: '__metadata__', dtype: 'F16', shape: [2] }], undefined, { fileName: 'out.safetensors' })).toThrow(/^out\.safetensors: tensor "__metadata__"/);
  });
});

describe('createSafetensorsFileWriter', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hqq-io-writer-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const partials = async () => (await readdir(dir)).filter((f) => f.endsWith('.partial'));

  it('refuses a path that ends with a separator (a folder name), creating nothing', async () => {
    const plan = planSafetensors(ENTRIES, { format: 'pt' });
    const err = await rejectsWithHQQError(createSafetensorsFileWriter(join(dir, 'newdir') + '/', plan));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/ends with a path separator, so it names a folder, but this writes one file/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('writes tensors out of order and in chunks, then reads back identical bytes', async () => {
    const plan = planSafetensors(ENTRIES, { format: 'pt' });
    const data = new Map(plan.tensors.map((t, i) => [t.name, pattern(t.byteLength, i + 1)]));
    const target = join(dir, 'out.safetensors');
    const w = await createSafetensorsFileWriter(target, plan);
    expect(w.tempPath).toMatch(new RegExp(`[\\\\/]\\.out\\.safetensors\\.hqq-${process.pid}-[0-9a-f]{8}-[0-9a-f]{12}\\.partial$`)); // owner in the name (docs/outputs.md)
    expect(await partials()).toHaveLength(1);
    // Reverse order; the big tensors in uneven chunks, last chunk first, some concurrently.
    for (const t of [...plan.tensors].reverse()) {
      const bytes = data.get(t.name)!;
      if (t.byteLength > 100) {
        const cuts = [0, 17, 500, 1001, t.byteLength];
        const ops: Promise<void>[] = [];
        for (let k = cuts.length - 2; k >= 0; k--) ops.push(w.writeTensor(t.name, bytes.subarray(cuts[k], cuts[k + 1]), cuts[k]));
        await Promise.all(ops);
      } else {
        await w.writeTensor(t.name, bytes);
      }
    }
    expect(w.incompleteTensors()).toEqual([]);
    expect(fs.existsSync(target)).toBe(false);
    await w.commit();
    expect(await partials()).toEqual([]);
    const f = await openSafetensors(await openFileSource(target));
    expect(f.header.metadata).toEqual({ format: 'pt' });
    expect(f.header.tensors.map((t) => t.name)).toEqual(ENTRIES.map((e) => e.name));
    for (const t of f.header.tensors) expect(await f.readTensor(t)).toEqual(data.get(t.name));
    await f.close();
    expect((await readFile(target)).byteLength).toBe(plan.totalSize);
    await w.abort(); // no-op after commit
    expect(fs.existsSync(target)).toBe(true);
  });

  it('abort removes the temp file and leaves an existing target untouched (twice is fine)', async () => {
    const target = join(dir, 'keep.safetensors');
    await writeFile(target, 'original');
    const plan = planSafetensors(ENTRIES);
    const w = await createSafetensorsFileWriter(target, plan);
    await w.writeTensor('odd', new Uint8Array(9));
    await w.abort();
    await w.abort();
    expect(await partials()).toEqual([]);
    expect(await readFile(target, 'utf8')).toBe('original');
    const err = await rejectsWithHQQError(w.writeTensor('scalar', new Uint8Array(8)));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('after the writer was aborted');
    expect((await rejectsWithHQQError(w.commit())).code).toBe('INVALID_ARGUMENT');
  });

  it('commit with a missing tensor fails, names it and leaves nothing', async () => {
    const target = join(dir, 'missing.safetensors');
    const plan = planSafetensors(ENTRIES);
    const w = await createSafetensorsFileWriter(target, plan);
    for (const t of plan.tensors) {
      if (t.name === 'model.embed_tokens.weight') await w.writeTensor(t.name, new Uint8Array(100), 0); // partial
      else if (t.name !== 'odd') await w.writeTensor(t.name, new Uint8Array(t.byteLength));
    }
    expect(w.incompleteTensors()).toEqual(['model.embed_tokens.weight', 'odd']);
    const err = await rejectsWithHQQError(w.commit());
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('"model.embed_tokens.weight" (3996 of 4096 bytes missing)');
    expect(err.message).toContain('"odd" (9 of 9 bytes missing)');
    expect(fs.existsSync(target)).toBe(false);
    expect(await partials()).toEqual([]);
    await w.abort();
    await w.abort();
  });

  it('rejects double writes, out-of-range writes and unknown tensors, discarding the output', async () => {
    const plan = planSafetensors(ENTRIES);
    const cases: [(w: Awaited<ReturnType<typeof createSafetensorsFileWriter>>) => Promise<void>, string][] = [
      [async (w) => { await w.writeTensor('odd', new Uint8Array(5), 0); await w.writeTensor('odd', new Uint8Array(2), 4); }, 'bytes [4, 6) were already written'],
      [async (w) => w.writeTensor('odd', new Uint8Array(5), 5), 'writing 5 bytes at offset 5 goes outside the tensor\'s 9 bytes'],
      [async (w) => w.writeTensor('nope', new Uint8Array(1)), 'tensor "nope": not in the plan'],
    ];
    for (const [act, msg] of cases) {
      const target = join(dir, 'x.safetensors');
      const w = await createSafetensorsFileWriter(target, plan);
      const err = await rejectsWithHQQError(act(w));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain(msg);
      expect(err.message).toContain('the output was discarded');
      expect(await partials()).toEqual([]);
      expect(fs.existsSync(target)).toBe(false);
    }
  });

  it('turns an I/O failure into IO_ERROR and aborts', async () => {
    const plan = planSafetensors(ENTRIES);
    const target = join(dir, 'io.safetensors');
    const w = await createSafetensorsFileWriter(target, plan);
    await rm(w.tempPath); // the file disappears under us: the rename at commit fails
    for (const t of plan.tensors) await w.writeTensor(t.name, new Uint8Array(t.byteLength));
    const err = await rejectsWithHQQError(w.commit());
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toContain('io.safetensors: finishing the file failed');
    expect(fs.existsSync(target)).toBe(false);
    await w.abort();
    await w.abort();
  });

  it('refuses to overwrite an input file, also through a symlink', async () => {
    const input = join(dir, 'model.safetensors');
    await writeFile(input, 'input bytes');
    const plan = planSafetensors([{ name: 'a', dtype: 'U8', shape: [1] }]);
    let err = await rejectsWithHQQError(createSafetensorsFileWriter(input, plan, { inputPaths: [input] }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('refusing to overwrite a file being read');
    const link = join(dir, 'link.safetensors');
    await symlink(input, link);
    err = await rejectsWithHQQError(createSafetensorsFileWriter(link, plan, { inputPaths: [input] }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    err = await rejectsWithHQQError(createSafetensorsFileWriter(input, plan, { inputPaths: [link] }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('through a symlink');
    // A symlinked folder in the path.
    const dirLink = join(dir, 'alias');
    await symlink(dir, dirLink);
    err = await rejectsWithHQQError(createSafetensorsFileWriter(join(dirLink, 'model.safetensors'), plan, { inputPaths: [input] }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(await partials()).toEqual([]);
    expect(await readFile(input, 'utf8')).toBe('input bytes');
    // A different name in the same folder is fine.
    const w = await createSafetensorsFileWriter(join(dirLink, 'other.safetensors'), plan, { inputPaths: [input] });
    await w.writeTensor('a', new Uint8Array([42]));
    await w.commit();
    expect(fs.existsSync(join(dir, 'other.safetensors'))).toBe(true);
  });

  it('prepare() makes a complete, closed temp file without touching the target; commit() renames it, abort() removes it', async () => {
    const plan = planSafetensors([{ name: 'a', dtype: 'U8', shape: [3] }]);
    const target = join(dir, 'p.safetensors');
    await writeFile(target, 'previous run');
    for (const finish of ['commit', 'abort'] as const) {
      const w = await createSafetensorsFileWriter(target, plan);
      await w.writeTensor('a', new Uint8Array([1, 2, 3]));
      await w.prepare();
      expect(await partials()).toHaveLength(1);
      expect(fs.statSync(w.tempPath).size).toBe(plan.totalSize);
      expect(await readFile(target, 'utf8')).toBe('previous run');
      expect((await rejectsWithHQQError(w.writeTensor('a', new Uint8Array(1), 0))).message).toContain('after the writer was prepared for commit');
      if (finish === 'abort') {
        await w.abort();
        expect(await readFile(target, 'utf8')).toBe('previous run');
      } else {
        await w.commit({ syncFolder: false });
        expect([...(await readFile(target)).subarray(plan.dataOffset)]).toEqual([1, 2, 3]);
      }
      expect(await partials()).toEqual([]);
      await writeFile(target, 'previous run');
    }
  });

  it('refuses a directory target and a missing output folder', async () => {
    const plan = planSafetensors([]);
    let err = await rejectsWithHQQError(createSafetensorsFileWriter(dir, plan));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('not a regular file');
    err = await rejectsWithHQQError(createSafetensorsFileWriter(join(dir, 'no', 'such', 'x.safetensors'), plan));
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toContain('create it first');
  });
});

describe('memorySink (browser sink) shares the byte bookkeeping of the file writer', () => {
  it('refuses double writes, out-of-range writes, unknown tensors and incomplete files with the same messages', async () => {
    const plan = planSafetensors(ENTRIES);
    const sink = memorySink();
    const w = await sink.createShard('m.safetensors', plan);
    await w.writeTensor('odd', new Uint8Array(5), 0);
    expect((await rejectsWithHQQError(w.writeTensor('odd', new Uint8Array(2), 4))).message).toContain('bytes [4, 6) were already written');
    expect((await rejectsWithHQQError(w.writeTensor('odd', new Uint8Array(5), 5))).message).toContain('writing 5 bytes at offset 5 goes outside the tensor\'s 9 bytes');
    expect((await rejectsWithHQQError(w.writeTensor('nope', new Uint8Array(1), 0))).message).toContain('tensor "nope": not in the plan');
    const err = await rejectsWithHQQError(w.commit());
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('"odd" (4 of 9 bytes missing)');
    // Completed, it assembles exactly the planned file.
    await w.writeTensor('odd', new Uint8Array(4), 5);
    for (const t of plan.tensors) if (t.name !== 'odd') await w.writeTensor(t.name, pattern(t.byteLength, 3), 0);
    await w.commit();
    const [file] = sink.files();
    expect(file!.size).toBe(plan.totalSize);
    const bytes = new Uint8Array(await file!.blob!.arrayBuffer());
    expect(parseSafetensorsHeader(bytes, bytes.byteLength, 'm.safetensors').tensors.map((t) => t.name)).toEqual(plan.tensors.map((t) => t.name));
  });
});
