import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HQQError, causeText } from '../../../web/src/errors.js';
import {
  DTYPE_SIZES,
  openSafetensors,
  parseSafetensorsHeader,
  readAsciiString,
  readIntArray,
  readScalarInt,
  scanJsonKeys,
  type TensorInfo,
} from '../../../web/src/io/safetensors.js';
import { blobSource, bytesSource } from '../../../web/src/io/source.js';
import { openFileSource } from '../../../web/src/io/node-file.js';
import { badCases, buildFile, entry, goodCases } from './corpus.js';
import { rejectsWithHQQError } from '../helpers.js';

function catchErr(fn: () => unknown): HQQError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HQQError);
    return e as HQQError;
  }
  throw new Error('expected an HQQError, nothing was thrown');
}


function checkMessage(err: HQQError, fileName: string, fragments: (string | RegExp)[]) {
  expect(err.message.startsWith(`${fileName}: `)).toBe(true);
  for (const f of fragments) {
    if (typeof f === 'string') expect(err.message).toContain(f);
    else expect(err.message).toMatch(f);
  }
}

const BAD = badCases();
const GOOD = goodCases();

describe('malformed corpus', () => {
  it('has at least 25 distinct files', () => {
    expect(BAD.length).toBeGreaterThanOrEqual(25);
    const ids = new Set(BAD.map((c) => c.id));
    expect(ids.size).toBe(BAD.length);
    const hex = new Set(BAD.map((c) => Buffer.from(c.bytes).toString('hex')));
    expect(hex.size).toBe(BAD.length);
    // Messages differ per rule: no two cases produce the same message.
    const msgs = new Set(BAD.map((c) => catchErr(() => parseSafetensorsHeader(c.bytes, c.bytes.byteLength, 'x.safetensors')).message));
    expect(msgs.size).toBe(BAD.length);
  });

  for (const c of BAD) {
    it(`rejects ${c.id} (parse on bytes)`, () => {
      const name = `${c.id}.safetensors`;
      const err = catchErr(() => parseSafetensorsHeader(c.bytes, c.bytes.byteLength, name));
      expect(err.code).toBe(c.code);
      checkMessage(err, name, c.message);
    });
    it(`rejects ${c.id} (openSafetensors over a Blob)`, async () => {
      const name = `${c.id}.safetensors`;
      const err = await rejectsWithHQQError(openSafetensors(blobSource(new Blob([c.bytes]), name)));
      expect(err.code).toBe(c.code);
      checkMessage(err, name, c.message);
    });
  }
});

describe('valid edge cases', () => {
  for (const g of GOOD) {
    it(`parses ${g.id}`, async () => {
      const name = `${g.id}.safetensors`;
      const h = parseSafetensorsHeader(g.bytes, g.bytes.byteLength, name);
      expect(h.fileName).toBe(name);
      expect(h.dataOffset).toBe(8 + h.headerLength);
      expect(h.tensors.map((t) => [t.name, t.dtype, t.shape, t.byteLength])).toEqual(g.tensors);
      const meta = g.metadata ?? {};
      expect(Object.keys(h.metadata)).toEqual(Object.keys(meta));
      for (const k of Object.keys(meta)) expect(h.metadata[k]).toBe(meta[k]);
      expect(Object.getPrototypeOf(h.metadata)).toBe(Object.prototype);
      for (const t of h.tensors) {
        expect(t.end - t.begin).toBe(t.byteLength);
        expect(t.byteLength).toBe(t.numel * DTYPE_SIZES[t.dtype]);
        expect(t.begin).toBeGreaterThanOrEqual(h.dataOffset);
        expect(t.end).toBeLessThanOrEqual(g.bytes.byteLength);
      }
      // Reading through a Blob gives the bytes at the absolute offsets.
      const f = await openSafetensors(blobSource(new Blob([g.bytes]), name));
      for (const t of f.header.tensors) {
        expect(await f.readTensor(t.name)).toEqual(g.bytes.slice(t.begin, t.end));
      }
      await f.close();
    });
  }

  it('numel of a 0-d tensor is 1 and of an empty tensor 0', () => {
    const g = GOOD.find((c) => c.id === 'scalar-0d')!;
    const h = parseSafetensorsHeader(g.bytes, g.bytes.byteLength, 'x');
    expect(h.tensors[0].numel).toBe(1);
    const e = GOOD.find((c) => c.id === 'empty-tensors')!;
    expect(parseSafetensorsHeader(e.bytes, e.bytes.byteLength, 'x').tensors[0].numel).toBe(0);
  });

  it('parses when given more bytes than the header (the whole file)', () => {
    const bytes = buildFile(`{"a":${entry('U8', [4], [0, 4])}}`, 4);
    expect(parseSafetensorsHeader(bytes, bytes.byteLength, 'x').tensors[0].begin).toBe(bytes.byteLength - 4);
  });

  it('asks for more bytes (INVALID_ARGUMENT) when the prefix is shorter than the header', () => {
    const bytes = buildFile(`{"a":${entry('U8', [4], [0, 4])}}`, 4);
    const err = catchErr(() => parseSafetensorsHeader(bytes.subarray(0, 12), bytes.byteLength, 'p.safetensors'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('pass the first');
  });
});

describe('scanJsonKeys', () => {
  it('finds top-level keys in textual order, through escapes and nested values', () => {
    const text = `{"z": {"k": "}{,\\"", "l": [1, {"m": 2}]}, "1": "\\\\", "a\\u0062": [ "x", "y" ] }`;
    const s = scanJsonKeys(text);
    expect(s.topKeys).toEqual(['z', '1', 'ab']);
    expect(s.childKeys.get('z')).toEqual(['k', 'l']);
    expect(s.duplicate).toBeUndefined();
  });
  it('reports duplicates at any depth but not equal keys in different objects', () => {
    expect(scanJsonKeys('{"a":{"x":1},"b":{"x":2}}').duplicate).toBeUndefined();
    expect(scanJsonKeys('{"a":[{"x":1,"x":2}]}').duplicate).toEqual({ key: 'x', path: ['a', 'a'] });
    expect(scanJsonKeys('{"a":1,"\\u0061":2}').duplicate).toEqual({ key: 'a', path: [] });
  });
});

describe('openSafetensors reads lazily', () => {
  it('reads only the prefix and the header when opening', async () => {
    const bytes = buildFile(`{"a":${entry('F32', [1000], [0, 4000])}}`, 4000);
    const reads: [number, number][] = [];
    const inner = bytesSource(bytes, 'lazy.safetensors');
    const src = { ...inner, read: (o: number, l: number) => (reads.push([o, l]), inner.read(o, l)) };
    const f = await openSafetensors(src);
    const n = f.header.headerLength;
    expect(reads).toEqual([
      [0, 8],
      [0, 8 + n], // the prefix again with the header: parsed in place, not copied into a second buffer
    ]);
    const part = await f.readRange('a', 400, 8);
    expect(part).toEqual(bytes.slice(f.header.dataOffset + 400, f.header.dataOffset + 408));
    expect(reads[2]).toEqual([f.header.dataOffset + 400, 8]);
  });

  it('rejects unknown tensors and out-of-range reads with INVALID_ARGUMENT', async () => {
    const bytes = buildFile(`{"a":${entry('U8', [4], [0, 4])}}`, 4);
    const f = await openSafetensors(bytesSource(bytes, 'r.safetensors'));
    let err = await rejectsWithHQQError(f.readTensor('nope'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('no tensor named "nope"');
    err = await rejectsWithHQQError(f.readRange('a', 2, 3));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('tensor "a": readRange(offset=2, length=3)');
    const foreign: TensorInfo = { ...f.header.tensors[0], begin: 0 };
    expect((await rejectsWithHQQError(f.readTensor(foreign))).message).toContain('belongs to another file');
  });

  it('wraps a failing source as IO_ERROR and reports short reads', async () => {
    const bytes = buildFile(`{"a":${entry('U8', [4], [0, 4])}}`, 4);
    const failing = { name: 'f.safetensors', size: bytes.byteLength, read: async () => { throw new Error('disk on fire'); } };
    let err = await rejectsWithHQQError(openSafetensors(failing));
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toContain('disk on fire');
    const short = { name: 's.safetensors', size: bytes.byteLength, read: async (o: number, l: number) => bytes.slice(o, o + Math.max(0, l - 1)) };
    err = await rejectsWithHQQError(openSafetensors(short));
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toContain('asked for 8 bytes at offset 0 but got 7');
  });
});

describe('file sources', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hqq-io-reader-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads every valid case from disk via openFileSource and via fs.openAsBlob', async () => {
    for (const g of GOOD) {
      const p = join(dir, `${g.id}.safetensors`);
      await writeFile(p, g.bytes);
      const f = await openSafetensors(await openFileSource(p));
      expect(f.header.fileName).toBe(`${g.id}.safetensors`);
      expect(f.header.tensors.map((t) => t.name)).toEqual(g.tensors.map((t) => t[0]));
      for (const t of f.header.tensors) expect(await f.readTensor(t)).toEqual(g.bytes.slice(t.begin, t.end));
      await f.close();
      await f.close(); // idempotent
      const b = await openSafetensors(blobSource(await fs.openAsBlob(p), `${g.id}.safetensors`));
      for (const t of b.header.tensors) expect(await b.readTensor(t)).toEqual(g.bytes.slice(t.begin, t.end));
    }
  });

  it('rejects every malformed case from disk with the same code and message', async () => {
    for (const c of BAD) {
      const p = join(dir, `${c.id}.safetensors`);
      await writeFile(p, c.bytes);
      const src = await openFileSource(p);
      const err = await rejectsWithHQQError(openSafetensors(src));
      await src.close();
      expect(err.code, c.id).toBe(c.code);
      checkMessage(err, `${c.id}.safetensors`, c.message);
    }
  });

  it('reports a missing file and a directory as IO_ERROR', async () => {
    let err = await rejectsWithHQQError(openFileSource(join(dir, 'missing.safetensors')));
    expect(err.code).toBe('IO_ERROR');
    expect(err.message.match(/ENOENT/g)).toHaveLength(1); // once, not "ENOENT: ENOENT: ..."
    expect(causeText(Object.assign(new Error('disk full'), { code: 'ENOSPC' }))).toBe('ENOSPC: disk full');
    expect(causeText(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }))).toBe('ENOSPC: no space left on device, write');
    err = await rejectsWithHQQError(openFileSource(dir));
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toContain('not a regular file');
  });

  it('reports a file that shrank after opening as IO_ERROR', async () => {
    const g = GOOD.find((c) => c.id === 'empty-tensors')!;
    const p = join(dir, 'shrink.safetensors');
    await writeFile(p, g.bytes);
    const src = await openFileSource(p);
    const f = await openSafetensors(src);
    fs.truncateSync(p, f.header.dataOffset + 2);
    const err = await rejectsWithHQQError(f.readTensor('b'));
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toContain('shrank while being read');
    await f.close();
    const e2 = await rejectsWithHQQError(src.read(0, 1));
    expect(e2.code).toBe('INVALID_ARGUMENT');
  });
});

describe('helpers', () => {
  it('readScalarInt / readIntArray / readAsciiString decode config tensors', async () => {
    const parts = [
      `"nbits":${entry('I64', [], [0, 8])}`,
      `"group":${entry('I32', [1], [8, 12])}`,
      `"axis":${entry('U8', [1], [12, 13])}`,
      `"shape":${entry('I64', [2], [13, 29])}`,
      `"name":${entry('U8', [6], [29, 35])}`,
      `"huge":${entry('U64', [], [35, 43])}`,
      `"neg":${entry('I16', [], [43, 45])}`,
    ];
    const bytes = buildFile(`{${parts.join(',')}}`, 45);
    const d = new DataView(bytes.buffer);
    const base = bytes.byteLength - 45;
    d.setBigInt64(base, 4n, true);
    d.setInt32(base + 8, 64, true);
    d.setUint8(base + 12, 1);
    d.setBigInt64(base + 13, 4096n, true);
    d.setBigInt64(base + 21, -11008n, true);
    bytes.set(new TextEncoder().encode('hqq\0\0\0'), base + 29);
    d.setBigUint64(base + 35, 2n ** 63n, true);
    d.setInt16(base + 43, -7, true);
    const f = await openSafetensors(bytesSource(bytes, 'cfg.safetensors'));
    const get = async (n: string) => [f.tensor(n)!, await f.readTensor(n)] as const;
    expect(readScalarInt(...(await get('nbits')))).toBe(4);
    expect(readScalarInt(...(await get('group')))).toBe(64);
    expect(readScalarInt(...(await get('axis')))).toBe(1);
    expect(readScalarInt(...(await get('neg')))).toBe(-7);
    expect(readIntArray(...(await get('shape')))).toEqual([4096, -11008]);
    expect(readAsciiString(...(await get('name')))).toBe('hqq');
    const [ht, hb] = await get('huge');
    expect(catchErr(() => readScalarInt(ht, hb)).message).toContain('element 0 is 9223372036854775808, outside the safe integer range');
    expect(catchErr(() => readAsciiString(ht, hb)).message).toContain('dtype U64 cannot hold ASCII text');
    const [st, sb] = await get('shape');
    const err = catchErr(() => readScalarInt(st, sb, 'cfg.safetensors'));
    expect(err.code).toBe('BAD_FILE');
    expect(err.message).toContain('cfg.safetensors: tensor "shape": shape [2] holds 2 elements');
  });
});
