import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import {
  GGUFStringList,
  ggufValue,
  openGGUF,
  parseGGUFHeader,
  planGGUF,
  withMetadata,
  type GGUFMetadata,
  type GGUFPlan,
  type GGUFPlanTensor,
  type GGUFValue,
} from '../../../web/src/io/gguf.js';
import { openFileSource } from '../../../web/src/io/node-file.js';
import { createSafetensorsFileWriter } from '../../../web/src/io/node-writer.js';
import { TensorCoverage } from '../../../web/src/io/sink.js';
import type { SafetensorsPlan } from '../../../web/src/io/writer.js';
import { bytesSource } from '../../../web/src/io/source.js';
import { arr, cat, f32, gguf, kv, str, T, tinfo, u32, u64 } from './gguf-bytes.js';
import { referenceFile } from './gguf-corpus.js';

const dir = await mkdtemp(join(tmpdir(), 'hqq-gguf-writer-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

function catchErr(fn: () => unknown): HQQError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof HQQError)) throw new Error(`expected an HQQError, got ${String(e)}`);
    return e;
  }
  throw new Error('expected an HQQError, nothing was thrown');
}

/** The file a plan describes with zero tensor data (what a sink writes before the tensors). */
function headerOnlyFile(plan: GGUFPlan): Uint8Array {
  const file = new Uint8Array(plan.totalSize);
  file.set(plan.headerBytes);
  return file;
}

function readBack(plan: GGUFPlan) {
  const file = headerOnlyFile(plan);
  return parseGGUFHeader(file, file.length, 'plan.gguf');
}

/** Every value type, as scalars and arrays, with edge values. */
function allValues(): GGUFMetadata {
  return new Map<string, GGUFValue>([
    ['general.architecture', ggufValue.string('llama')],
    ['t.u8', ggufValue.u8(255)],
    ['t.i8', ggufValue.i8(-128)],
    ['t.u16', ggufValue.u16(65535)],
    ['t.i16', ggufValue.i16(-32768)],
    ['t.u32', ggufValue.u32(4294967295)],
    ['t.i32', ggufValue.i32(-2147483648)],
    ['t.f32', ggufValue.f32(0.1)],
    ['t.f32.nan', ggufValue.f32(Number.NaN)],
    ['t.f32.inf', ggufValue.f32(-Infinity)],
    ['t.bool.true', ggufValue.bool(true)],
    ['t.bool.false', ggufValue.bool(false)],
    ['t.string', ggufValue.string('héllo ☃ 😀\n\0 end')],
    ['t.string.empty', ggufValue.string('')],
    ['t.u64', ggufValue.u64((1n << 64n) - 1n)],
    ['t.i64', ggufValue.i64(-(1n << 63n))],
    ['t.f64', ggufValue.f64(-1e-310)],
    ['a.u8', ggufValue.numbers('u8', [0, 1, 255])],
    ['a.i8', ggufValue.numbers('i8', [-128, 127])],
    ['a.u16', ggufValue.numbers('u16', [1, 65535])],
    ['a.i16', ggufValue.numbers('i16', [-1])],
    ['a.u32', ggufValue.numbers('u32', [0, 4294967295])],
    ['a.i32', ggufValue.numbers('i32', [-5, 5])],
    ['a.f32', { type: 'array', itemType: 'f32', items: new Float32Array(new Uint32Array([0x7fc00001, 0x80000000, 1]).buffer) }],
    ['a.f64', ggufValue.numbers('f64', [Math.PI, -0])],
    ['a.u64', ggufValue.numbers('u64', [0n, (1n << 64n) - 1n])],
    ['a.i64', ggufValue.numbers('i64', [-(1n << 63n), 7])],
    ['a.bool', ggufValue.bools([true, false, true])],
    ['a.string', ggufValue.strings(['', 'a b', '日本', '😀'])],
    ['a.empty.u32', ggufValue.numbers('u32', [])],
    ['a.empty.string', ggufValue.strings([])],
    ['a.nested', ggufValue.arrays([ggufValue.numbers('u16', [1, 2]), ggufValue.strings(['x']), ggufValue.arrays([ggufValue.bools([false])]), ggufValue.arrays([])])],
  ]);
}

/** A comparable form of metadata (typed arrays by bits, string lists as arrays). */
function plain(m: ReadonlyMap<string, GGUFValue>): unknown {
  const conv = (v: GGUFValue): unknown => {
    if (v.type !== 'array') return v;
    const items = v.items instanceof GGUFStringList
      ? v.items.toArray()
      : v.itemType === 'array'
        ? (v.items as GGUFValue[]).map(conv)
        : ArrayBuffer.isView(v.items)
          ? [v.items.constructor.name, ...new Uint8Array(v.items.buffer, v.items.byteOffset, v.items.byteLength)]
          : v.items;
    return { type: 'array', itemType: v.itemType, items };
  };
  return [...m].map(([k, v]) => [k, conv(v)]);
}

const TENSORS: GGUFPlanTensor[] = [
  { name: 'token_embd.weight', type: 'Q4_K', ne: [256, 10] },
  { name: 'output_norm.weight', type: 'F32', ne: [256] },
  { name: 'blk.0.attn_q.weight', type: 'q8_0', ne: [256, 3] },
  { name: 'blk.0.ffn_down.weight', type: 14, ne: [512, 2, 1] },
  { name: 'odd', type: 'F16', ne: [3, 1, 1, 5] },
];

describe('planGGUF round trips (plan -> bytes -> read)', () => {
  it('keeps every value type, nested arrays and edge values exactly; re-planning the read metadata gives the same bytes', () => {
    const meta = allValues();
    const plan = planGGUF({ metadata: meta, tensors: TENSORS });
    const h = readBack(plan);
    expect(h.version).toBe(3);
    expect(plain(h.metadata)).toEqual(plain(meta));
    expect(Object.is((h.metadata.get('t.f32.nan') as { value: number }).value, NaN)).toBe(true);
    const again = planGGUF({ metadata: h.metadata, tensors: h.tensors.map((t) => ({ name: t.name, type: t.type, ne: t.ne })) });
    expect(again.headerBytes).toEqual(plan.headerBytes);
  });

  it('lays tensors out in the given order, aligned, with zero padding, as the reader and gguf.cpp expect', () => {
    for (const alignment of [1, 8, 32, 64, 4096]) {
      const plan = planGGUF({ metadata: allValues(), tensors: TENSORS, alignment });
      expect(plan.alignment).toBe(alignment);
      expect(plan.dataOffset % alignment).toBe(0);
      expect(plan.headerBytes.byteLength).toBe(plan.dataOffset);
      const h = readBack(plan);
      expect(h.alignment).toBe(alignment);
      expect(h.contiguous).toBe(true);
      expect(h.dataOffset).toBe(plan.dataOffset);
      expect(h.tensors).toEqual(plan.tensors);
      expect(h.metadata.get('general.alignment')).toEqual(alignment === 32 ? undefined : { type: 'u32', value: alignment });
      let pos = plan.dataOffset;
      for (const t of plan.tensors) {
        expect(t.begin).toBe(pos);
        expect(t.begin % alignment).toBe(0);
        expect(plan.offsets.get(t.name)).toEqual({ begin: t.begin, end: t.end });
        pos = Math.ceil(t.end / alignment) * alignment;
      }
      expect(plan.totalSize).toBe(pos); // padding after the last tensor too, as gguf.cpp writes
      expect(plan.headerBytes.subarray(h.headerLength).every((b) => b === 0)).toBe(true);
    }
    expect(planGGUF({ tensors: TENSORS }).tensors.map((t) => [t.name, t.type, t.byteLength, t.shape])).toEqual([
      ['token_embd.weight', 'Q4_K', 1440, [10, 256]],
      ['output_norm.weight', 'F32', 1024, [256]],
      ['blk.0.attn_q.weight', 'Q8_0', 3 * 8 * 34, [3, 256]],
      ['blk.0.ffn_down.weight', 'Q6_K', 2 * 2 * 210, [1, 2, 512]],
      ['odd', 'F16', 30, [5, 1, 1, 3]],
    ]);
  });

  it('handles empty metadata and zero tensors', () => {
    const empty = planGGUF({ tensors: [] });
    expect(empty.totalSize).toBe(32);
    expect([...empty.headerBytes.subarray(0, 24)]).toEqual([...cat(new TextEncoder().encode('GGUF'), u32(3), u64(0), u64(0))]);
    const h = readBack(empty);
    expect(h.metadata.size).toBe(0);
    expect(h.tensors).toEqual([]);
    const metaOnly = readBack(planGGUF({ metadata: [['general.architecture', ggufValue.string('llama')]], tensors: [] }));
    expect(metaOnly.metadata.get('general.architecture')).toEqual({ type: 'string', value: 'llama' });
  });

  it('writes the same bytes as an independent encoder (the test builder), and reads its v2 files back into the same plan', () => {
    const kvs = [
      kv('general.architecture', T.string, str('llama')),
      kv('llama.block_count', T.u32, u32(2)),
      kv('tokenizer.ggml.tokens', T.array, arr(T.string, 2, cat(str('<s>'), str('▁a')))),
      kv('tokenizer.ggml.scores', T.array, arr(T.f32, 2, cat(f32(0), f32(-1)))),
      kv('x.nested', T.array, arr(T.array, 1, arr(T.i64, 1, u64(-3n)))),
    ];
    const infos = [tinfo('a.weight', [32, 2], 8, 0), tinfo('b.weight', [4], 0, 96)];
    for (const version of [3, 2]) {
      const file = gguf({ version, kvs, infos, data: 96 + 16 + 16 });
      const h = parseGGUFHeader(file, file.length, 'raw.gguf');
      const plan = planGGUF({ metadata: h.metadata, tensors: h.tensors.map((t) => ({ name: t.name, type: t.typeId, ne: t.ne })) });
      const expected = file.slice(0, h.dataOffset);
      expected[4] = 3; // we always write version 3
      expect(plan.headerBytes).toEqual(expected);
      expect(plan.tensors.map((t) => [t.begin, t.end])).toEqual(h.tensors.map((t) => [t.begin, t.end]));
      expect(plan.totalSize).toBe(file.length);
    }
  });

  it('copies an input\'s metadata, overriding keys without losing types or order', () => {
    const input = parseGGUFHeader(referenceFile(), referenceFile().length, 'ref.gguf').metadata;
    const out = withMetadata(input, {
      'general.file_type': ggufValue.u32(15),
      'general.quantization_version': ggufValue.u32(2),
      'llama.block_count': ggufValue.u32(7),
      'general.flag': null,
    });
    expect([...out.keys()]).toEqual([
      'general.architecture', 'general.alignment', 'llama.block_count', 'llama.rope.freq_base', 'tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'x.nested', 'general.file_type', 'general.quantization_version',
    ]);
    expect(input.get('general.flag')).toEqual({ type: 'bool', value: true }); // the input is untouched
    const h = readBack(planGGUF({ metadata: out, tensors: [] }));
    expect(plain(h.metadata)).toEqual(plain(out));
    expect(h.metadata.get('llama.block_count')).toEqual({ type: 'u32', value: 7 });
    expect(h.metadata.get('llama.rope.freq_base')).toEqual({ type: 'f32', value: 10000 });
  });
});

describe('planGGUF refuses bad input (INVALID_ARGUMENT naming the key or tensor)', () => {
  const cases: [string, () => unknown, string][] = [
    ['duplicate tensor', () => planGGUF({ tensors: [TENSORS[0]!, TENSORS[0]!] }), 'tensor "token_embd.weight": appears twice'],
    ['empty tensor name', () => planGGUF({ tensors: [{ name: '', type: 'F32', ne: [1] }] }), 'tensor name "" must be a non-empty string'],
    ['64-byte tensor name', () => planGGUF({ tensors: [{ name: 'x'.repeat(64), type: 'F32', ne: [1] }] }), 'the name is 64 bytes of UTF-8; GGML allows at most 63'],
    ['NUL in tensor name', () => planGGUF({ tensors: [{ name: 'a\0', type: 'F32', ne: [1] }] }), 'the name holds a NUL'],
    ['unknown type', () => planGGUF({ tensors: [{ name: 'w', type: 'Q4_K_M', ne: [256] }] }), 'tensor "w": type: "Q4_K_M" is not a GGML type'],
    ['removed type id', () => planGGUF({ tensors: [{ name: 'w', type: 4, ne: [32] }] }), 'tensor "w": type: 4 is not a GGML type'],
    ['row not a multiple of the block', () => planGGUF({ tensors: [{ name: 'w', type: 'Q4_K', ne: [4096 + 32, 2] }] }), 'a row (ne[0]) has 4128, not a multiple of 256'],
    ['no dims', () => planGGUF({ tensors: [{ name: 'w', type: 'F32', ne: [] }] }), 'ne must be an array of 1 to 4 dims'],
    ['five dims', () => planGGUF({ tensors: [{ name: 'w', type: 'F32', ne: [1, 1, 1, 1, 1] }] }), 'ne must be an array of 1 to 4 dims'],
    ['zero dim', () => planGGUF({ tensors: [{ name: 'w', type: 'F32', ne: [4, 0] }] }), 'ne[1] is 0'],
    ['fractional dim', () => planGGUF({ tensors: [{ name: 'w', type: 'F32', ne: [4.5] }] }), 'ne[0] is 4.5'],
    ['byteLength mismatch', () => planGGUF({ tensors: [{ name: 'w', type: 'F16', ne: [4], byteLength: 4 }] }), 'byteLength 4 does not match F16 [4], which needs 8 bytes'],
    ['huge tensor', () => planGGUF({ tensors: [{ name: 'w', type: 'F32', ne: [2 ** 30, 2 ** 30] }] }), 'over 2^53 - 1'],
    ['u8 out of range', () => planGGUF({ metadata: [['k', { type: 'u8', value: 256 }]], tensors: [] }), 'metadata key "k": 256 is not a u8'],
    ['u64 as number', () => planGGUF({ metadata: [['k', { type: 'u64', value: 5 } as unknown as GGUFValue]], tensors: [] }), 'metadata key "k": 5 is not a u64'],
    ['unknown value type', () => planGGUF({ metadata: [['k', { type: 'u128', value: 1 } as unknown as GGUFValue]], tensors: [] }), '"u128" is not a GGUF value type'],
    ['lone surrogate', () => planGGUF({ metadata: [['k', { type: 'string', value: 'a\ud800' }]], tensors: [] }), 'metadata key "k": the string holds a lone UTF-16 surrogate'],
    ['wrong typed array', () => planGGUF({ metadata: [['k', { type: 'array', itemType: 'u32', items: new Int32Array(1) } as unknown as GGUFValue]], tensors: [] }), 'u32 array items must be a Uint32Array'],
    ['string array as string[]', () => planGGUF({ metadata: [['k', { type: 'array', itemType: 'string', items: ['a'] } as unknown as GGUFValue]], tensors: [] }), 'string array items must be a GGUFStringList'],
    ['bad bool item', () => planGGUF({ metadata: [['k', { type: 'array', itemType: 'bool', items: [1] } as unknown as GGUFValue]], tensors: [] }), 'k"[0]: 1 is not a boolean'],
    ['nested too deep', () => {
      let v: GGUFValue = ggufValue.numbers('u8', [1]);
      for (let i = 0; i < 8; i++) v = ggufValue.arrays([v as never]);
      return planGGUF({ metadata: [['k', v]], tensors: [] });
    }, 'arrays nested 9 deep'],
    ['duplicate key', () => planGGUF({ metadata: [['k', ggufValue.u8(1)], ['k', ggufValue.u8(2)]], tensors: [] }), 'metadata key "k" appears twice'],
    ['empty key', () => planGGUF({ metadata: [['', ggufValue.u8(1)]], tensors: [] }), 'metadata key "" must be a non-empty string'],
    ['alignment not a power of two', () => planGGUF({ tensors: [], alignment: 48 }), 'alignment is 48; the alignment must be a power of two'],
    ['alignment of the wrong type', () => planGGUF({ metadata: [['general.alignment', ggufValue.u64(32)]], tensors: [] }), '"general.alignment" is a u64, but GGUF readers require a u32'],
    ['alignment conflict', () => planGGUF({ metadata: [['general.alignment', ggufValue.u32(64)]], tensors: [], alignment: 32 }), 'alignment 32 contradicts the metadata\'s "general.alignment" (64)'],
    ['tensors not an array', () => planGGUF({ tensors: undefined as never }), 'tensors must be an array'],
  ];
  for (const [what, fn, message] of cases) {
    it(what, () => {
      const err = catchErr(fn);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain(message);
    });
  }

  it('ggufValue builders check their arguments', () => {
    expect(catchErr(() => ggufValue.u32(-1)).message).toContain('a u32 is an integer in [0, 4294967295]');
    expect(catchErr(() => ggufValue.i8(1.5)).code).toBe('INVALID_ARGUMENT');
    expect(catchErr(() => ggufValue.u64(2 ** 60)).message).toContain('pass a bigint or a safe integer');
    expect(catchErr(() => ggufValue.i64(1n << 63n)).code).toBe('INVALID_ARGUMENT');
    expect(catchErr(() => ggufValue.numbers('u16', [70000])).code).toBe('INVALID_ARGUMENT');
    expect(catchErr(() => ggufValue.strings(['ok', 'bad\udc00'])).message).toContain('element 1 holds a lone UTF-16 surrogate');
    expect(ggufValue.u64(5)).toEqual({ type: 'u64', value: 5n });
    expect(ggufValue.f32(0.1)).toEqual({ type: 'f32', value: Math.fround(0.1) });
  });
});

describe('a GGUF plan is a file layout the existing sinks write', () => {
  it('TensorCoverage and the Node file writer work on it unchanged; the file reads back with every byte in place', async () => {
    const plan = planGGUF({ metadata: allValues(), tensors: TENSORS });
    const layout = plan as unknown as SafetensorsPlan; // the lead generalises the sink type to the shared layout shape
    const coverage = new TensorCoverage('cov.gguf', layout);
    expect(coverage.incomplete().map((t) => t.name)).toEqual(TENSORS.map((t) => t.name));
    const target = join(dir, 'out.gguf');
    const writer = await createSafetensorsFileWriter(target, layout);
    const data = new Map(plan.tensors.map((t) => [t.name, Uint8Array.from({ length: t.byteLength }, (_, i) => (i * 31 + t.name.length) & 0xff)]));
    for (const t of [...plan.tensors].reverse()) {
      const bytes = data.get(t.name)!;
      const half = Math.floor(bytes.length / 2);
      await writer.writeTensor(t.name, bytes.subarray(half), half);
      await writer.writeTensor(t.name, bytes.subarray(0, half), 0);
      coverage.add(t.name, bytes, 0);
    }
    coverage.check();
    await writer.commit();
    const file = new Uint8Array(await readFile(target));
    expect(file.length).toBe(plan.totalSize);
    const f = await openGGUF(await openFileSource(target));
    expect(f.header.tensors).toEqual(plan.tensors);
    for (const t of f.header.tensors) expect(await f.readTensor(t)).toEqual(data.get(t.name));
    // Every byte outside the header and the tensors is zero.
    const covered = new Uint8Array(file.length);
    covered.fill(1, 0, plan.dataOffset);
    for (const t of plan.tensors) covered.fill(1, t.begin, t.end);
    expect(file.every((b, i) => covered[i] === 1 || b === 0)).toBe(true);
    await f.close();
  });

  it('openGGUF reads what planGGUF laid out, through a ByteSource', async () => {
    const plan = planGGUF({ tensors: TENSORS, alignment: 64 });
    const f = await openGGUF(bytesSource(headerOnlyFile(plan), 'plan.gguf'));
    expect(f.header.tensors).toEqual(plan.tensors);
    expect(f.header.alignment).toBe(64);
  });
});
