import { describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import {
  GGML_TYPES,
  GGUFStringList,
  GGUF_LIMITS,
  WRITABLE_GGML_TYPES,
  ggmlTypeById,
  ggmlTypeByName,
  invalidUtf8At,
  metadataInteger,
  metadataString,
  metadataStrings,
  openGGUF,
  parseGGUFHeader,
  type GGUFArray,
  type GGUFHeader,
} from '../../../web/src/io/gguf.js';
import { blobSource, bytesSource, type ByteSource } from '../../../web/src/io/source.js';
import { rejectsWithHQQError } from '../helpers.js';
import { arr, cat, f32, gguf, headerLength, kv, str, T, tinfo, u32, u64 } from './gguf-bytes.js';
import { badGGUFCases, referenceFile } from './gguf-corpus.js';

function catchErr(fn: () => unknown): HQQError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof HQQError)) throw new Error(`expected an HQQError, got ${String(e)}`);
    return e;
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

const parse = (b: Uint8Array, name = 'x.gguf') => parseGGUFHeader(b, b.byteLength, name);

/** A source that records every read, to check what the reader touches. */
function recordingSource(bytes: Uint8Array, name = 'rec.gguf'): ByteSource & { reads: [number, number][] } {
  const inner = bytesSource(bytes, name);
  const reads: [number, number][] = [];
  return {
    size: inner.size,
    name,
    reads,
    read(offset, length) {
      reads.push([offset, length]);
      return inner.read(offset, length);
    },
  };
}

describe('the GGML type table', () => {
  it('knows every GGML id except the removed ones, with the block geometry of ggml-common.h', () => {
    const ids = GGML_TYPES.map((t) => t.id);
    expect(ids).toEqual([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 34, 35, 39, 40, 41, 42]);
    const geometry = Object.fromEntries(GGML_TYPES.map((t) => [t.name, [t.blockSize, t.typeSize]]));
    // Bytes per block of the types hqq-wasm writes, from the block structs (static_asserts in ggml-common.h).
    expect(geometry).toMatchObject({
      F32: [1, 4], F16: [1, 2], BF16: [1, 2], Q8_0: [32, 34], Q4_0: [32, 18], Q4_1: [32, 20], Q5_0: [32, 22], Q5_1: [32, 24],
      Q2_K: [256, 84], Q3_K: [256, 110], Q4_K: [256, 144], Q5_K: [256, 176], Q6_K: [256, 210],
      Q8_K: [256, 292], IQ4_NL: [32, 18], IQ4_XS: [256, 136], TQ1_0: [256, 54], TQ2_0: [256, 66], MXFP4: [32, 17], NVFP4: [64, 36], Q1_0: [128, 18], Q2_0: [64, 18],
    });
    expect(GGML_TYPES.filter((t) => t.writable).map((t) => t.name).sort()).toEqual([...WRITABLE_GGML_TYPES].sort());
    expect(GGML_TYPES.filter((t) => !t.quantized).map((t) => t.name)).toEqual(['F32', 'F16', 'I8', 'I16', 'I32', 'I64', 'F64', 'BF16']);
  });

  it('looks types up by id and by either spelling of the name', () => {
    expect(ggmlTypeById(12)?.name).toBe('Q4_K');
    expect(ggmlTypeById(4)).toBeUndefined();
    expect(ggmlTypeByName('q4_K')?.id).toBe(12);
    expect(ggmlTypeByName('Q4_K')?.id).toBe(12);
    expect(ggmlTypeByName('iq2_xxs')?.id).toBe(16);
    expect(ggmlTypeByName('Q4_K_M')).toBeUndefined();
  });
});

describe('UTF-8 validation', () => {
  it('accepts valid UTF-8 and points at the first bad byte otherwise', () => {
    const enc = new TextEncoder();
    for (const s of ['', 'abc', 'é', '▁the', '😀', '\u{10FFFF}', '\uFFFD', 'a\0b']) expect(invalidUtf8At(enc.encode(s))).toBe(-1);
    const cases: [number[], number][] = [
      [[0x80], 0], [[0x61, 0xc0, 0x80], 1], [[0xc1, 0xbf], 0], [[0xe0, 0x80, 0x80], 0], [[0xed, 0xa0, 0x80], 0],
      [[0xf0, 0x80, 0x80, 0x80], 0], [[0xf4, 0x90, 0x80, 0x80], 0], [[0xf5, 0x80, 0x80, 0x80], 0], [[0x61, 0xe2, 0x82], 1], [[0xc3, 0x41], 0],
    ];
    for (const [bytes, at] of cases) expect(invalidUtf8At(new Uint8Array(bytes))).toBe(at);
  });
});

const BAD = badGGUFCases();

describe('malformed GGUF corpus', () => {
  it('has many distinct cases, each with its own message', () => {
    expect(BAD.length).toBeGreaterThanOrEqual(60);
    expect(new Set(BAD.map((c) => c.id)).size).toBe(BAD.length);
    const msgs = BAD.map((c) => catchErr(() => parse(c.bytes)).message);
    expect(new Set(msgs).size).toBe(BAD.length);
  });

  for (const c of BAD) {
    it(`rejects ${c.id} (parse on bytes)`, () => {
      const name = `${c.id}.gguf`;
      const err = catchErr(() => parse(c.bytes, name));
      expect(err.code).toBe('BAD_FILE');
      checkMessage(err, name, c.message);
    });
    it(`rejects ${c.id} (openGGUF over a Blob)`, async () => {
      const name = `${c.id}.gguf`;
      const err = await rejectsWithHQQError(openGGUF(blobSource(new Blob([c.bytes]), name)));
      expect(err.code).toBe('BAD_FILE');
      checkMessage(err, name, c.message);
    });
  }

  it('rejects the reference file truncated at every byte before the end of its last tensor', async () => {
    const file = referenceFile();
    const h = parse(file);
    const end = Math.max(...h.tensors.map((t) => t.end));
    expect(end).toBe(file.length);
    for (let n = 0; n < end; n++) {
      const cut = file.slice(0, n);
      const err = catchErr(() => parse(cut, `cut-${n}.gguf`));
      expect(err.code).toBe('BAD_FILE');
      expect(err.message).toMatch(n < 4 ? /too short to hold the GGUF magic/ : /truncated/);
    }
    // The same through the incremental reader, for a sample of cut points.
    for (let n = 0; n < end; n += 7) {
      const err = await rejectsWithHQQError(openGGUF(bytesSource(file.slice(0, n), `cut-${n}.gguf`)));
      expect(err.code).toBe('BAD_FILE');
    }
  });

  it('closes the source when the header is bad', async () => {
    let closed = 0;
    const src = { ...bytesSource(BAD[0]!.bytes, 'bad.gguf'), close: async () => void closed++ };
    await rejectsWithHQQError(openGGUF(src));
    expect(closed).toBe(1);
  });
});

describe('valid files', () => {
  it('parses the reference file: metadata values with their types, tensors with both shape orders', () => {
    const file = referenceFile();
    const h = parse(file, 'ref.gguf');
    expect(h.version).toBe(3);
    expect(h.alignment).toBe(32);
    expect(h.dataOffset % 32).toBe(0);
    expect(h.dataOffset).toBe(Math.ceil(h.headerLength / 32) * 32);
    expect(h.contiguous).toBe(true);
    expect([...h.metadata.keys()]).toEqual([
      'general.architecture', 'general.alignment', 'llama.block_count', 'general.flag', 'llama.rope.freq_base', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'x.nested',
    ]);
    expect(h.metadata.get('general.architecture')).toEqual({ type: 'string', value: 'llama' });
    expect(h.metadata.get('general.alignment')).toEqual({ type: 'u32', value: 32 });
    expect(h.metadata.get('general.flag')).toEqual({ type: 'bool', value: true });
    expect(h.metadata.get('llama.rope.freq_base')).toEqual({ type: 'f32', value: 10000 });
    expect(metadataStrings(h.metadata, 'tokenizer.ggml.tokens')!.toArray()).toEqual(['<s>', 'é', '▁the']);
    const scores = h.metadata.get('tokenizer.ggml.scores') as GGUFArray;
    expect(scores.itemType).toBe('f32');
    expect([...(scores.items as Float32Array)]).toEqual([0, -1, -2.5]);
    const nested = h.metadata.get('x.nested') as GGUFArray & { itemType: 'array' };
    expect(nested.items.map((a) => a.itemType)).toEqual(['u16', 'string']);
    expect([...(nested.items[0]!.items as Uint16Array)]).toEqual([1, 2]);
    expect((nested.items[1]!.items as GGUFStringList).toArray()).toEqual(['x']);
    expect(h.tensors.map((t) => [t.name, t.type, t.typeId, t.ne, t.shape, t.offset, t.byteLength, t.numel])).toEqual([
      ['token_embd.weight', 'F32', 0, [4, 2], [2, 4], 0, 32, 8],
      ['blk.0.ffn_down.weight', 'Q8_0', 8, [32, 2], [2, 32], 32, 68, 64],
    ]);
    expect(h.tensors[0]!.begin).toBe(h.dataOffset);
    expect(h.tensors[1]!.end).toBe(file.length);
  });

  it('reads every scalar value type with its exact value', () => {
    const b8 = (n: number, f: (d: DataView) => void) => {
      const x = new Uint8Array(n);
      f(new DataView(x.buffer));
      return x;
    };
    const file = gguf({
      kvs: [
        kv('t.u8', T.u8, new Uint8Array([255])),
        kv('t.i8', T.i8, new Uint8Array([0x80])),
        kv('t.u16', T.u16, b8(2, (d) => d.setUint16(0, 65535, true))),
        kv('t.i16', T.i16, b8(2, (d) => d.setInt16(0, -32768, true))),
        kv('t.u32', T.u32, u32(0xffffffff)),
        kv('t.i32', T.i32, b8(4, (d) => d.setInt32(0, -2147483648, true))),
        kv('t.f32', T.f32, f32(0.1)),
        kv('t.bool', T.bool, new Uint8Array([0])),
        kv('t.string', T.string, str('héllo ☃ 😀')),
        kv('t.u64', T.u64, u64((1n << 64n) - 1n)),
        kv('t.i64', T.i64, u64(-(1n << 63n))),
        kv('t.f64', T.f64, b8(8, (d) => d.setFloat64(0, -1e308, true))),
        kv('t.f32neg0', T.f32, f32(-0)),
        kv('t.empty', T.string, str('')),
      ],
    });
    const m = parse(file).metadata;
    expect(Object.fromEntries(m)).toEqual({
      't.u8': { type: 'u8', value: 255 },
      't.i8': { type: 'i8', value: -128 },
      't.u16': { type: 'u16', value: 65535 },
      't.i16': { type: 'i16', value: -32768 },
      't.u32': { type: 'u32', value: 4294967295 },
      't.i32': { type: 'i32', value: -2147483648 },
      't.f32': { type: 'f32', value: Math.fround(0.1) },
      't.bool': { type: 'bool', value: false },
      't.string': { type: 'string', value: 'héllo ☃ 😀' },
      't.u64': { type: 'u64', value: (1n << 64n) - 1n },
      't.i64': { type: 'i64', value: -(1n << 63n) },
      't.f64': { type: 'f64', value: -1e308 },
      't.f32neg0': { type: 'f32', value: -0 },
      't.empty': { type: 'string', value: '' },
    });
    expect(Object.is((m.get('t.f32neg0') as { value: number }).value, -0)).toBe(true);
  });

  it('reads arrays of every item type (typed arrays, bools, string lists, nested), empty ones too', () => {
    const items: [number, string, Uint8Array, number, unknown[]][] = [
      [T.u8, 'u8', new Uint8Array([1, 2, 255]), 3, [1, 2, 255]],
      [T.i8, 'i8', new Uint8Array([0xff, 1]), 2, [-1, 1]],
      [T.u16, 'u16', cat(new Uint8Array([1, 1])), 1, [257]],
      [T.i16, 'i16', cat(new Uint8Array([0xfe, 0xff])), 1, [-2]],
      [T.u32, 'u32', cat(u32(7), u32(0xffffffff)), 2, [7, 0xffffffff]],
      [T.i32, 'i32', cat(u32(0xffffffff)), 1, [-1]],
      [T.f32, 'f32', cat(f32(1.5), f32(-0.25)), 2, [1.5, -0.25]],
      [T.f64, 'f64', cat(new Uint8Array(new Float64Array([Math.PI]).buffer)), 1, [Math.PI]],
      [T.u64, 'u64', cat(u64(1n << 63n)), 1, [1n << 63n]],
      [T.i64, 'i64', cat(u64(-5n)), 1, [-5n]],
      [T.bool, 'bool', new Uint8Array([1, 0, 1]), 3, [true, false, true]],
      [T.string, 'string', cat(str(''), str('a b'), str('日本')), 3, ['', 'a b', '日本']],
      [T.u32, 'u32', new Uint8Array(0), 0, []],
      [T.string, 'string', new Uint8Array(0), 0, []],
    ];
    const file = gguf({ kvs: items.map(([id, , bytes, n], i) => kv(`a.${i}`, T.array, arr(id, n, bytes))) });
    const m = parse(file).metadata;
    items.forEach(([, name, , , values], i) => {
      const v = m.get(`a.${i}`) as GGUFArray;
      expect(v.type).toBe('array');
      expect(v.itemType).toBe(name);
      const got = v.items instanceof GGUFStringList ? v.items.toArray() : [...(v.items as Iterable<unknown>)];
      expect(got).toEqual(values);
    });
    expect((m.get('a.0') as GGUFArray).items).toBeInstanceOf(Uint8Array);
    expect((m.get('a.8') as GGUFArray).items).toBeInstanceOf(BigUint64Array);
    expect((m.get('a.6') as GGUFArray).items).toBeInstanceOf(Float32Array);
  });

  it('keeps every bit of f32 arrays (NaN payloads, -0, denormals)', () => {
    const bits = new Uint32Array([0x7fc00001, 0xffa00000, 0x80000000, 0x00000001, 0x7f800000]);
    const file = gguf({ kvs: [kv('a.f', T.array, arr(T.f32, bits.length, new Uint8Array(bits.buffer)))] });
    const v = parse(file).metadata.get('a.f') as GGUFArray;
    expect([...new Uint32Array((v.items as Float32Array).buffer)]).toEqual([...bits]);
  });

  it('reads version 2 files like version 3', () => {
    const f = { kvs: [kv('general.architecture', T.string, str('llama'))], infos: [tinfo('w', [32, 1], 8, 0)], data: 34 };
    const v2 = parse(gguf({ ...f, version: 2 }));
    const v3 = parse(gguf(f));
    expect(v2.version).toBe(2);
    expect({ ...v2, version: 3 }).toEqual(v3);
  });

  it('honours general.alignment (1, 8, 64, 4096)', () => {
    for (const a of [1, 8, 64, 4096]) {
      const kvs = [kv('general.alignment', T.u32, u32(a))];
      const infos = [tinfo('a', [3], 24, 0), tinfo('b', [5], 24, Math.ceil(3 / a) * a)];
      const file = gguf({ kvs, infos, alignment: a, data: Math.ceil(3 / a) * a + 5 });
      const h = parse(file);
      expect(h.alignment).toBe(a);
      expect(h.dataOffset).toBe(Math.ceil(headerLength({ kvs, infos }) / a) * a);
      expect(h.tensors.map((t) => t.offset)).toEqual([0, Math.ceil(3 / a) * a]);
      expect(h.contiguous).toBe(true);
    }
  });

  it('accepts empty metadata and zero tensors, padded or not', () => {
    for (const file of [gguf({}), gguf({ noPad: true }), gguf({ kvs: [kv('general.architecture', T.string, str('llama'))], noPad: true })]) {
      const h = parse(file);
      expect(h.tensors).toEqual([]);
      expect(h.dataOffset).toBe(h.headerLength); // as gguf.cpp: no data, no alignment padding
      expect(h.headerLength).toBeLessThanOrEqual(file.length);
    }
    expect(parse(gguf({})).metadata.size).toBe(0);
  });

  it('accepts valid layouts llama.cpp would not load, and says so (contiguous = false)', () => {
    const kvs = [kv('general.architecture', T.string, str('llama'))];
    const gap = parse(gguf({ kvs, infos: [tinfo('a', [8], 0, 0), tinfo('b', [8], 0, 64)], data: 96 }));
    expect(gap.contiguous).toBe(false);
    const reversed = parse(gguf({ kvs, infos: [tinfo('a', [8], 0, 32), tinfo('b', [8], 0, 0)], data: 64 }));
    expect(reversed.contiguous).toBe(false);
    expect(reversed.tensors.map((t) => t.name)).toEqual(['a', 'b']);
    const trailing = parse(gguf({ kvs, infos: [tinfo('a', [8], 0, 0)], data: 100 }));
    expect(trailing.contiguous).toBe(true);
  });

  it('reads a large tokenizer (262k tokens, 300k merges) incrementally, touching only the header', async () => {
    const nTok = 262_144;
    const nMerge = 300_000;
    const tokens = GGUFStringList.from(Array.from({ length: nTok }, (_, i) => `tok${i}▁`));
    const merges = GGUFStringList.from(Array.from({ length: nMerge }, (_, i) => `m${i} x${i % 97}`));
    const scores = new Float32Array(nTok).map((_, i) => -i);
    const kvs = [
      kv('general.architecture', T.string, str('llama')),
      kv('tokenizer.ggml.tokens', T.array, cat(u32(T.string), u64(nTok), tokens.encoded)),
      kv('tokenizer.ggml.scores', T.array, arr(T.f32, nTok, new Uint8Array(scores.buffer))),
      kv('tokenizer.ggml.merges', T.array, cat(u32(T.string), u64(nMerge), merges.encoded)),
    ];
    const infos = [tinfo('token_embd.weight', [64, 1024], 0, 0)];
    const file = gguf({ kvs, infos, data: 64 * 1024 * 4 });
    const src = recordingSource(file, 'big.gguf');
    const f = await openGGUF(src);
    const h: GGUFHeader = f.header;
    expect(h.headerLength).toBeGreaterThan(4 << 20); // several chunks of reading
    const readEnd = Math.max(...src.reads.map(([o, n]) => o + n));
    expect(readEnd).toBeLessThan(h.dataOffset + (1 << 20)); // never read far into the data
    expect(src.reads.length).toBeGreaterThan(1);
    const t = metadataStrings(h.metadata, 'tokenizer.ggml.tokens')!;
    expect(t.length).toBe(nTok);
    expect(t.get(0)).toBe('tok0▁');
    expect(t.get(nTok - 1)).toBe(`tok${nTok - 1}▁`);
    expect(metadataStrings(h.metadata, 'tokenizer.ggml.merges')!.get(12345)).toBe(`m12345 x${12345 % 97}`);
    expect((h.metadata.get('tokenizer.ggml.scores') as GGUFArray).items.length).toBe(nTok);
    const bytes = await f.readTensor('token_embd.weight');
    expect(bytes).toEqual(file.subarray(h.tensors[0]!.begin, h.tensors[0]!.end));
  });

  it('enforces the header limits, which callers can change', async () => {
    const file = referenceFile();
    const small = { maxHeaderBytes: 100 };
    const err = catchErr(() => parseGGUFHeader(file, file.length, 'lim.gguf', { limits: small }));
    expect(err.code).toBe('BAD_FILE');
    expect(err.message).toContain('past the 100-byte limit on a GGUF header');
    const err2 = await rejectsWithHQQError(openGGUF(bytesSource(file, 'lim.gguf'), { limits: { maxArrayLength: 2 } }));
    expect(err2.message).toContain('metadata key "tokenizer.ggml.tokens": the array has 3 elements, over the limit of 2');
    const err3 = await rejectsWithHQQError(openGGUF(bytesSource(file, 'lim.gguf'), { limits: { maxArrayDepth: 1 } }));
    expect(err3.message).toContain('metadata key "x.nested" element [0]: arrays are nested 2 deep');
    expect(catchErr(() => parseGGUFHeader(file, file.length, 'lim.gguf', { limits: { maxTensorCount: 0 } })).code).toBe('INVALID_ARGUMENT');
    expect(GGUF_LIMITS.maxArrayLength).toBeGreaterThanOrEqual(300_000);
  });

  it('asks for more bytes when parseGGUFHeader gets a prefix that ends inside the header', () => {
    const file = referenceFile();
    const err = catchErr(() => parseGGUFHeader(file.subarray(0, 100), file.length, 'p.gguf'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/pass at least the first \d+ bytes/);
    const h = parse(file);
    expect(parseGGUFHeader(file.subarray(0, h.headerLength), file.length, 'p.gguf')).toEqual({ ...h, fileName: 'p.gguf' });
  });
});

describe('openGGUF file object', () => {
  it('reads tensors and ranges, and refuses reads outside them', async () => {
    const file = referenceFile();
    const f = await openGGUF(bytesSource(file, 'ref.gguf'));
    const t = f.tensor('blk.0.ffn_down.weight')!;
    expect(await f.readTensor(t)).toEqual(file.subarray(t.begin, t.end));
    expect(await f.readRange('blk.0.ffn_down.weight', 34, 34)).toEqual(file.subarray(t.begin + 34, t.end));
    expect((await rejectsWithHQQError(f.readTensor('nope'))).message).toContain('no tensor named "nope"');
    expect((await rejectsWithHQQError(f.readRange(t, 60, 9))).message).toContain('outside the tensor');
    expect((await rejectsWithHQQError(f.readTensor({ ...t, begin: 0 }))).message).toContain('belongs to another file');
    await f.close();
  });

  it('gives typed accessors for model facts', () => {
    const h = parse(referenceFile());
    expect(metadataInteger(h.metadata, 'llama.block_count')).toBe(1);
    expect(metadataInteger(h.metadata, 'missing')).toBeUndefined();
    expect(metadataString(h.metadata, 'general.architecture')).toBe('llama');
    expect(catchErr(() => metadataInteger(h.metadata, 'general.architecture', { fileName: 'm.gguf' })).message).toBe(
      'm.gguf: metadata key "general.architecture": is a string, but an integer is expected',
    );
    expect(catchErr(() => metadataString(h.metadata, 'llama.block_count')).code).toBe('BAD_FILE');
    const perLayer = parse(gguf({ kvs: [kv('llama.attention.head_count_kv', T.array, arr(T.u32, 2, cat(u32(8), u32(4))))] })).metadata;
    expect(metadataInteger(perLayer, 'llama.attention.head_count_kv', { elementOfArray: 0 })).toBe(8);
  });
});
