// Cross-check against llama.cpp's own GGUF code: tests/tools/gguf-ref.cpp, built from the source
// node-llama-cpp ships by scripts/build-gguf-ref.sh (outside the repo tree, cached). Checks that
//  - our GGML type table is ggml's;
//  - a file written by gguf.cpp's writer reads back exactly, and planGGUF lays the same content out
//    in the same bytes;
//  - files planGGUF lays out load in gguf.cpp + llama.cpp's loader bounds check, which sees what our
//    reader sees;
//  - every malformed corpus file that gguf.cpp accepts is one of our documented stricter rules, and
//    on 600 mutants the two readers agree up to those rules and gguf.cpp's packed-layout rule.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import {
  GGML_TYPES,
  GGUFStringList,
  ggmlTypeById,
  ggufValue,
  parseGGUFHeader,
  planGGUF,
  type GGUFHeader,
  type GGUFMetadata,
  type GGUFPlanTensor,
  type GGUFValue,
} from '../../../web/src/io/gguf.js';
import { badGGUFCases, referenceFile } from './gguf-corpus.js';

const ROOT = resolve(__dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'hqq-gguf-ref-'));
let bin = '';

beforeAll(() => {
  const out = execFileSync('bash', [join(ROOT, 'scripts/build-gguf-ref.sh')], { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'inherit'] });
  bin = out.trim().split('\n').pop()!;
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface RefKv { key: string; type: string; item?: string; value: unknown }
interface RefTensor { name: string; type: number; n_dims: number; ne: number[]; offset: number; size: number; fnv1a: string }
type RefDump = { ok: false; why: string } | { ok: true; version: number; alignment: number; data_offset: number; kv: RefKv[]; tensors: RefTensor[] };

let fileNo = 0;
/** What llama.cpp's loader makes of each file (one harness run for all of them). */
function refDumps(files: Uint8Array[]): RefDump[] {
  const paths = files.map((bytes) => {
    const path = join(dir, `f${fileNo++}.gguf`);
    writeFileSync(path, bytes);
    return path;
  });
  const out = execFileSync(bin, ['dump', ...paths], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
  for (const p of paths) rmSync(p);
  const lines = out.trim().split('\n');
  expect(lines.length).toBe(files.length);
  return lines.map((l) => JSON.parse(l) as RefDump);
}
const refDump = (bytes: Uint8Array): RefDump => refDumps([bytes])[0]!;

function fnv1a(bytes: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}

const REF_TYPE: Record<string, string> = { string: 'str', array: 'arr' };

/** One of our values in the harness's JSON form. */
function refValue(type: string, v: number | bigint | boolean | string): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && (type === 'f32' || type === 'f64')) {
    if (Number.isNaN(v)) return 'nan';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    if (v === 0 && Object.is(v, -0)) return '-0';
    return type === 'f32' ? Math.fround(v) : v;
  }
  return v;
}

/** gguf.cpp's C API hands strings out as C strings: the harness sees them up to the first NUL. */
const cString = (s: string) => (s.includes('\0') ? s.slice(0, s.indexOf('\0')) : s);

function refKvs(m: GGUFMetadata): RefKv[] {
  return [...m].map(([key, v]) => {
    if (v.type !== 'array') return { key: cString(key), type: REF_TYPE[v.type] ?? v.type, value: v.type === 'string' ? cString(v.value) : refValue(v.type, v.value) };
    const items = v.items instanceof GGUFStringList ? v.items.toArray().map(cString) : [...(v.items as Iterable<number | bigint | boolean>)].map((x) => refValue(v.itemType, x));
    return { key: cString(key), type: 'arr', item: REF_TYPE[v.itemType] ?? v.itemType, value: items };
  });
}

/** The harness's floats are printed with 9 (f32) / 17 (f64) digits: compare f32 after rounding. */
function normaliseRef(kvs: RefKv[]): RefKv[] {
  const f = (type: string | undefined, x: unknown) => (type === 'f32' && typeof x === 'number' ? Math.fround(x) : x);
  return kvs.map((k) => ({ ...k, value: Array.isArray(k.value) ? k.value.map((x) => f(k.item, x)) : f(k.type, k.value) }));
}

/** ggml_n_dims: the dims up to the last one that is not 1 (at least 1). */
function ggmlNDims(ne: readonly number[]): number {
  let n = ne.length;
  while (n > 1 && ne[n - 1] === 1) n--;
  return n;
}

/** Our reader's view of a file in the harness's form. */
function ourView(h: GGUFHeader, file: Uint8Array) {
  return {
    ok: true,
    version: h.version,
    alignment: h.alignment,
    data_offset: h.dataOffset,
    kv: refKvs(h.metadata),
    tensors: h.tensors.map((t) => ({
      name: t.name,
      type: t.typeId,
      n_dims: ggmlNDims(t.ne),
      ne: [...t.ne, 1, 1, 1].slice(0, 4),
      offset: t.offset,
      size: t.byteLength,
      fnv1a: fnv1a(file.subarray(t.begin, t.end)),
    })),
  };
}

function refView(d: RefDump) {
  if (!d.ok) return d;
  return { ...d, kv: normaliseRef(d.kv) };
}

function fileOf(plan: ReturnType<typeof planGGUF>, fill = true): Uint8Array {
  const file = new Uint8Array(plan.totalSize);
  file.set(plan.headerBytes);
  if (fill) for (const t of plan.tensors) for (let i = t.begin; i < t.end; i++) file[i] = (i * 29 + 7) & 0xff;
  return file;
}

function scalarsAndArrays(): GGUFMetadata {
  return new Map<string, GGUFValue>([
    ['general.architecture', ggufValue.string('llama')],
    ['t.u8', ggufValue.u8(255)],
    ['t.i8', ggufValue.i8(-128)],
    ['t.u16', ggufValue.u16(65535)],
    ['t.i16', ggufValue.i16(-32768)],
    ['t.u32', ggufValue.u32(4294967295)],
    ['t.i32', ggufValue.i32(-2147483648)],
    ['t.f32', ggufValue.f32(-3.25e-12)],
    ['t.f32.nan', ggufValue.f32(Number.NaN)],
    ['t.bool', ggufValue.bool(true)],
    ['t.string', ggufValue.string('héllo ☃ 😀 "q" \\ \t')],
    ['t.u64', ggufValue.u64((1n << 64n) - 1n)],
    ['t.i64', ggufValue.i64(-(1n << 63n))],
    ['t.f64', ggufValue.f64(Math.E)],
    ['a.u8', ggufValue.numbers('u8', [0, 255])],
    ['a.i16', ggufValue.numbers('i16', [-2, 3])],
    ['a.u32', ggufValue.numbers('u32', [7])],
    ['a.f32', ggufValue.numbers('f32', [0.5, -1e30])],
    ['a.f64', ggufValue.numbers('f64', [1e-300])],
    ['a.i64', ggufValue.numbers('i64', [-5n, 1n << 62n])],
    ['a.bool', ggufValue.bools([false, true])],
    ['tokenizer.ggml.tokens', ggufValue.strings(['<s>', '</s>', '▁the', 'é', ''])],
    ['a.empty', ggufValue.numbers('u16', [])],
  ]);
}

const WRITABLE_TENSORS: GGUFPlanTensor[] = [
  { name: 'token_embd.weight', type: 'Q4_K', ne: [256, 3] },
  { name: 'output_norm.weight', type: 'F32', ne: [7] },
  { name: 'blk.0.attn_q.weight', type: 'Q8_0', ne: [64, 2] },
  { name: 'blk.0.attn_k.weight', type: 'Q4_0', ne: [32, 3] },
  { name: 'blk.0.attn_v.weight', type: 'Q4_1', ne: [32, 1, 2] },
  { name: 'blk.0.attn_output.weight', type: 'Q5_0', ne: [96, 1] },
  { name: 'blk.0.ffn_gate.weight', type: 'Q5_1', ne: [32, 5] },
  { name: 'blk.0.ffn_up.weight', type: 'Q2_K', ne: [256, 2] },
  { name: 'blk.0.ffn_down.weight', type: 'Q3_K', ne: [512, 1] },
  { name: 'blk.1.ffn_up.weight', type: 'Q5_K', ne: [256, 1, 1, 2] },
  { name: 'blk.1.ffn_down.weight', type: 'Q6_K', ne: [256, 2] },
  { name: 'blk.1.attn_q.weight', type: 'F16', ne: [3, 3] },
  { name: 'blk.1.attn_k.weight', type: 'BF16', ne: [5, 1] },
];

describe('our GGUF code against llama.cpp\'s (gguf.cpp)', () => {
  it('has ggml\'s type table', () => {
    const ref = JSON.parse(execFileSync(bin, ['types'], { encoding: 'utf8' })) as [number, string, number, number, boolean][];
    expect(ref.length).toBe(43);
    for (const [id, name, blck, size, quantized] of ref) {
      const ours = ggmlTypeById(id);
      if (blck === 0) {
        expect(ours, `removed id ${id}`).toBeUndefined();
        continue;
      }
      expect(ours, `id ${id} (${name})`).toBeDefined();
      expect([ours!.ggmlName, ours!.blockSize, ours!.typeSize, ours!.quantized]).toEqual([name, blck, size, quantized]);
    }
    expect(GGML_TYPES.length).toBe(ref.filter((r) => r[2] !== 0).length);
  });

  it('reads a file written by gguf.cpp\'s writer exactly, and planGGUF lays the same content out in the same bytes', () => {
    const path = join(dir, 'written-by-gguf-cpp.gguf');
    execFileSync(bin, ['write', path]);
    const file = new Uint8Array(readFileSync(path));
    const h = parseGGUFHeader(file, file.length, 'cpp.gguf');
    expect(h.contiguous).toBe(true);
    expect(ourView(h, file)).toEqual(refView(refDump(file)));
    expect(h.metadata.get('t.u64')).toEqual({ type: 'u64', value: (1n << 64n) - 1n });
    expect(h.metadata.get('t.string')).toEqual({ type: 'string', value: 'héllo "quoted"\n' });
    const plan = planGGUF({ metadata: h.metadata, tensors: h.tensors.map((t) => ({ name: t.name, type: t.type, ne: t.ne })) });
    expect(plan.headerBytes).toEqual(file.subarray(0, h.dataOffset));
    expect(plan.totalSize).toBe(file.length); // gguf.cpp pads after the last tensor too
    expect(plan.tensors).toEqual(h.tensors);
  });

  it('loads every file planGGUF lays out and sees what our reader sees (every value type, every writable tensor type, alignments)', () => {
    const variants: [string, Parameters<typeof planGGUF>[0]][] = [
      ['all values, all writable types', { metadata: scalarsAndArrays(), tensors: WRITABLE_TENSORS }],
      ['alignment 1', { metadata: scalarsAndArrays(), tensors: WRITABLE_TENSORS, alignment: 1 }],
      ['alignment 64', { metadata: scalarsAndArrays(), tensors: WRITABLE_TENSORS, alignment: 64 }],
      ['alignment 4096', { metadata: [['general.alignment', ggufValue.u32(4096)]], tensors: WRITABLE_TENSORS.slice(0, 3) }],
      ['no metadata', { tensors: WRITABLE_TENSORS.slice(2, 5) }],
      ['no tensors', { metadata: scalarsAndArrays(), tensors: [] }],
      ['empty', { tensors: [] }],
    ];
    for (const [what, input] of variants) {
      const file = fileOf(planGGUF(input));
      const h = parseGGUFHeader(file, file.length, `${what}.gguf`);
      expect(ourView(h, file), what).toEqual(refView(refDump(file)));
    }
  });

  // Rules where we refuse what gguf.cpp accepts (documented in gguf-reader.ts): bool bytes other than
  // 0/1, invalid UTF-8, keys over the spec's 65535 bytes, n_dims 0 and zero-sized dims, empty names (and names with NUL, which GGML
  // silently truncates).
  const STRICTER = [
    /a bool is stored as byte 0 or 1/,
    /over the limit of 65535 \(limits.maxKeyBytes\)/,
    // gguf.cpp's int64 overflow check is skipped when the element count wraps around to 0 or below.
    /which overflows int64/, /not valid UTF-8/, /has 0 dimensions/, /every dimension must be at least 1/, /has an empty name/, /holds a NUL byte/,
  ];
  const stricter = (message: string) => STRICTER.some((r) => r.test(message));

  it('rejects every corpus file gguf.cpp rejects; the ones gguf.cpp accepts break one of our stricter rules', () => {
    const acceptedByRef: string[] = [];
    const cases = badGGUFCases();
    const refs = refDumps(cases.map((c) => c.bytes));
    for (const [i, c] of cases.entries()) {
      if (!refs[i]!.ok) continue;
      acceptedByRef.push(c.id);
      let message = '';
      try {
        parseGGUFHeader(c.bytes, c.bytes.length, 'c.gguf');
      } catch (e) {
        message = (e as HQQError).message;
      }
      expect(stricter(message), `${c.id}: gguf.cpp accepts it and our message is not a stricter rule: ${message}`).toBe(true);
    }
    expect(acceptedByRef.sort()).toEqual([
      'bool-2', 'bool-array-5', 'key-invalid-utf8', 'key-too-long', 'key-overlong-utf8', 'key-surrogate-utf8', 'key-truncated-utf8', 'string-array-element-utf8', 'string-invalid-utf8',
      'tensor-dim-0', 'tensor-dims-overflow-int64', 'tensor-empty-name', 'tensor-name-invalid-utf8', 'tensor-name-nul', 'tensor-ndims-0',
    ].sort());
  });

  it('agrees with gguf.cpp on 600 mutants of a llama.cpp-loadable file, up to the documented differences', () => {
    const plan = planGGUF({ metadata: scalarsAndArrays(), tensors: WRITABLE_TENSORS.slice(0, 6) });
    const file = fileOf(plan);
    let a = 20261203 >>> 0;
    const r = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const tally = { both: 0, neither: 0, oursStricter: 0, refPacked: 0 };
    const mutants: Uint8Array[] = [];
    for (let i = 0; i < 600; i++) {
      const m = file.slice();
      if (r() < 0.2) {
        mutants.push(m.slice(0, Math.floor(r() * m.length)));
        continue;
      }
      for (let k = 0, n = 1 + Math.floor(r() * 3); k < n; k++) m[Math.floor(r() * plan.dataOffset)] ^= 1 << Math.floor(r() * 8);
      mutants.push(m);
    }
    const refs = refDumps(mutants);
    mutants.forEach((m, i) => {
      let ours: GGUFHeader | undefined;
      let message = '';
      try {
        ours = parseGGUFHeader(m, m.length, 'm.gguf');
      } catch (e) {
        if (!(e instanceof HQQError) || e.code !== 'BAD_FILE') throw e;
        message = e.message;
      }
      const ref = refs[i]!;
      if (ours && ref.ok) {
        expect(ourView(ours, m)).toEqual(refView(ref));
        tally.both++;
      } else if (!ours && !ref.ok) tally.neither++;
      else if (!ours && ref.ok) {
        expect(stricter(message), `gguf.cpp accepts a mutant we refuse with: ${message}`).toBe(true);
        tally.oursStricter++;
      } else {
        // We accept, gguf.cpp refuses: only for data laid out out of tensor-info order (gguf.cpp
        // wants it packed), which we report as contiguous = false.
        expect(ours!.contiguous, `we accept a mutant gguf.cpp refuses (${(ref as { why: string }).why})`).toBe(false);
        tally.refPacked++;
      }
    });
    console.log(`[gguf-reference] 600 mutants: both accept (same view) ${tally.both}, both refuse ${tally.neither}, only gguf.cpp accepts (our stricter rules) ${tally.oursStricter}, only we accept (not packed) ${tally.refPacked}`);
    expect(tally.both + tally.neither + tally.oursStricter + tally.refPacked).toBe(600);
    expect(tally.both).toBeGreaterThan(20);
    expect(tally.neither).toBeGreaterThan(200);
  });

  it('documents where we are more lenient: nested arrays and non-packed layouts, which gguf.cpp refuses', () => {
    const ref = referenceFile(); // holds an array of arrays
    expect(parseGGUFHeader(ref, ref.length, 'r.gguf').tensors.length).toBe(2);
    expect(refDump(ref)).toEqual({ ok: false, why: 'gguf_init_from_file' });
    const nested = fileOf(planGGUF({ metadata: [['x', ggufValue.arrays([ggufValue.numbers('u8', [1])])]], tensors: [] }));
    expect(refDump(nested).ok).toBe(false);
  });
});
