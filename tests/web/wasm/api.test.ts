// The JS API over both wasm builds: dtype inputs, validation errors, heap hygiene, the SIMD/scalar
// loader, module sharing and worker_threads.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';

import type { HQQ, QuantizeOptions, QuantizedTensor } from '../../../web/src/engine.js';
import { HQQError, type HQQErrorCode } from '../../../web/src/errors.js';
import { loadHQQ, simdSupported } from '../../../web/src/node.js';
import { REPO_ROOT } from '../refdata.js';
// The deterministic matrix generator of the packaging check (plain JS, shared by the browser suite).
import { normalMatrix } from '../../package/check.js';

const SIMD_WASM = resolve(REPO_ROOT, 'web/wasm/hqq-simd.wasm');
const SCALAR_WASM = resolve(REPO_ROOT, 'web/wasm/hqq-scalar.wasm');
const DIST_NODE = resolve(REPO_ROOT, 'web/dist/node.js');


function checkError(thrown: unknown, code: HQQErrorCode, fragments: (string | RegExp)[]): HQQError {
  expect(thrown, `expected HQQError ${code}, got ${String(thrown)}`).toBeInstanceOf(HQQError);
  const err = thrown as HQQError;
  expect(err.name).toBe('HQQError');
  expect(err.code, err.message).toBe(code);
  for (const f of fragments) {
    if (typeof f === 'string') expect(err.message).toContain(f);
    else expect(err.message).toMatch(f);
  }
  return err;
}

function expectHQQError(fn: () => unknown, code: HQQErrorCode, ...fragments: (string | RegExp)[]): HQQError {
  try {
    fn();
  } catch (e) {
    return checkError(e, code, fragments);
  }
  return checkError(undefined, code, fragments);
}

async function expectHQQErrorAsync(fn: () => Promise<unknown>, code: HQQErrorCode, ...fragments: (string | RegExp)[]): Promise<HQQError> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, code, fragments);
  }
  return checkError(undefined, code, fragments);
}

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectSameResult(a: QuantizedTensor, b: QuantizedTensor, what: string) {
  expect(bytes(a.packed).equals(bytes(b.packed)), `${what}: packed`).toBe(true);
  expect(bytes(a.scale).equals(bytes(b.scale)), `${what}: scale`).toBe(true);
  expect(bytes(a.zero).equals(bytes(b.zero)), `${what}: zero`).toBe(true);
  expect(a.iterations, what).toBe(b.iterations);
  expect(a.stats, what).toEqual(b.stats);
}

const W = normalMatrix(256 * 512, 7);
const SHAPE = [256, 512];

describe.each([true, false])('API (simd: %s)', (simd) => {
  let hqq: HQQ;
  beforeAll(async () => {
    hqq = await loadHQQ({ simd });
  });

  it('returns a consistent QuantizedTensor that unpacks and dequantizes', () => {
    const q = hqq.quantize(W, SHAPE, { nbits: 4, groupSize: 64 });
    expect(q).toMatchObject({ shape: SHAPE, nbits: 4, groupSize: 64, axis: 1, packing: '4bit_u8', optimize: true, roundZero: false });
    expect(q.groupedShape).toEqual([2048, 64]);
    expect(q.packed.length).toBe(q.packedShape[0] * q.packedShape[1]);
    expect(q.scale.length).toBe(2048);
    expect(q.zero.length).toBe(2048);
    expect(q.errorTrace.length).toBe(q.iterations);
    const levels = hqq.unpack(q);
    expect(levels.length).toBe(256 * 512);
    expect(levels.reduce((m, v) => Math.max(m, v), 0)).toBe(15);
    const r = hqq.dequantize(q);
    expect(r.length).toBe(W.length);
    let sum = 0;
    for (let i = 0; i < r.length; i++) {
      const g = i >> 6;
      expect(r[i]).toBe(Math.fround(Math.fround(levels[i]! - q.zero[g]!) * q.scale[g]!));
      sum += Math.abs(W[i]! - r[i]!);
    }
    expect(sum / r.length).toBeCloseTo(q.stats.meanAbs, 9);
    expect(q.stats.relFrobenius).toBeLessThan(0.15);
  });

  describe.each(['f16', 'bf16'] as const)('dtype %s', (kind) => {
    it.each<[string, QuantizeOptions]>([
      ['4-bit optimized axis 1', { nbits: 4 }],
      ['3-bit RTN axis 0', { nbits: 3, axis: 0, optimize: false }],
      ['8-bit optimized axis 0', { nbits: 8, axis: 0 }],
      ['2-bit per-group-best', { nbits: 2, earlyStop: 'per-group-best' }],
    ])('Uint16Array input equals quantizing the decoded floats (%s)', (_, opts) => {
      const bits = hqq.encode16(W, kind);
      expect(bits).toBeInstanceOf(Uint16Array);
      const decoded = hqq.decode16(bits, kind);
      // Sanity: the decoded values are the 16-bit roundings of W.
      for (let i = 0; i < 64; i++) expect(Math.abs(decoded[i]! - W[i]!)).toBeLessThanOrEqual(Math.abs(W[i]!) * (kind === 'f16' ? 2 ** -10 : 2 ** -7) + 1e-7);
      expectSameResult(hqq.quantize(bits, SHAPE, { ...opts, dtype: kind }), hqq.quantize(decoded, SHAPE, opts), `${kind} ${JSON.stringify(opts)}`);
    });
  });

  describe('validation errors', () => {
    const small = normalMatrix(64 * 64, 3);
    const q = (opts: unknown, data: Float32Array | Uint16Array = small, shape: unknown = [64, 64]) => () =>
      hqq.quantize(data, shape as number[], opts as QuantizeOptions);

    it('rejects unknown options, with a camelCase hint for snake_case names', () => {
      expectHQQError(q({ foo: 1 }), 'INVALID_ARGUMENT', 'unknown option "foo"', 'groupSize');
      expectHQQError(q({ group_size: 64 }), 'INVALID_ARGUMENT', 'unknown option "group_size"', 'did you mean groupSize?');
      expectHQQError(q({ lp_norm: 0.7 }), 'INVALID_ARGUMENT', 'did you mean lpNorm?');
      expectHQQError(q('fast'), 'INVALID_ARGUMENT', 'options must be an object');
    });
    it('rejects bad nbits, groupSize and axis', () => {
      expectHQQError(q({ nbits: 7 }), 'INVALID_ARGUMENT', 'nbits = 7 is not supported', '8, 6, 5, 4, 3, 2, 1.58, 1');
      expectHQQError(q({ nbits: '4' }), 'INVALID_ARGUMENT', 'nbits = "4" is not supported');
      expectHQQError(q({ groupSize: 100 }), 'INVALID_ARGUMENT', 'groupSize 100 does not divide the 4096 elements of shape [64, 64]');
      expectHQQError(q({ groupSize: 6.5 }), 'INVALID_ARGUMENT', 'groupSize = 6.5 is invalid', 'positive integer');
      expectHQQError(q({ groupSize: 0 }), 'INVALID_ARGUMENT', 'groupSize = 0 is invalid');
      expectHQQError(q({ axis: 2 }), 'INVALID_ARGUMENT', 'axis = 2 is invalid');
      expectHQQError(q({ axis: -1 }), 'INVALID_ARGUMENT', 'axis = -1 is invalid');
    });
    it('rejects bad shapes and data types', () => {
      expectHQQError(q({}, small, [64, 63]), 'INVALID_ARGUMENT', 'shape [64,63] has 4032 elements but data holds 4096 values');
      expectHQQError(q({}, small, []), 'INVALID_ARGUMENT', 'shape must be a non-empty array');
      expectHQQError(q({}, small, [64, 0, 64]), 'INVALID_ARGUMENT', 'must hold positive integers');
      expectHQQError(q({}, small, [64.5, 64]), 'INVALID_ARGUMENT', 'must hold positive integers');
      expectHQQError(q({}, new Uint16Array(4096)), 'INVALID_ARGUMENT', 'Uint16Array', "dtype: 'f16' or 'bf16'");
      expectHQQError(q({ dtype: 'f32' }, new Uint16Array(4096)), 'INVALID_ARGUMENT', 'Uint16Array');
      expectHQQError(q({ dtype: 'f16' }), 'INVALID_ARGUMENT', "dtype 'f16' needs a Uint16Array", 'Float32Array');
      expectHQQError(q({}, new Float64Array(4096) as unknown as Float32Array), 'INVALID_ARGUMENT', 'got Float64Array');
      expectHQQError(q({}, [1, 2] as unknown as Float32Array, [2]), 'INVALID_ARGUMENT', 'data must be a Float32Array');
    });
    it('rejects non-finite weights with their position (f32, f16, bf16)', () => {
      const w = small.slice();
      w[5 * 64 + 7] = NaN;
      expectHQQError(q({}, w), 'INVALID_VALUE', 'contain 1 non-finite value(s)', 'nan at flat index 327 (row 5, column 7)');
      w[5 * 64 + 7] = 0;
      w[4095] = -Infinity;
      expectHQQError(q({ optimize: false }, w), 'INVALID_VALUE', 'inf at flat index 4095 (row 63, column 63)');
      const h = new Uint16Array(4096).fill(0x3c00);
      h[100] = 0x7e00;
      expectHQQError(q({ dtype: 'f16' }, h), 'INVALID_VALUE', 'nan at flat index 100 (row 1, column 36)');
      const b = new Uint16Array(4096).fill(0x3f80);
      b[64] = 0x7f80;
      expectHQQError(q({ dtype: 'bf16' }, b), 'INVALID_VALUE', 'inf at flat index 64 (row 1, column 0)');
    });
    it('rejects solver parameters out of range', () => {
      for (const p of [0, -0.5, 1.5]) expectHQQError(q({ lpNorm: p }), 'INVALID_ARGUMENT', `lpNorm = ${p} is out of range`, '0 < p <= 1');
      expectHQQError(q({ lpNorm: NaN }), 'INVALID_ARGUMENT', 'lpNorm must be a finite number');
      for (const b of [0, -1]) expectHQQError(q({ beta: b }), 'INVALID_ARGUMENT', `beta = ${b} is out of range`, '> 0');
      expectHQQError(q({ beta: Infinity }), 'INVALID_ARGUMENT', 'beta must be a finite number');
      expectHQQError(q({ kappa: 0.99 }), 'INVALID_ARGUMENT', 'kappa = 0.99 is out of range', '>= 1');
      expectHQQError(q({ iters: 1001 }), 'INVALID_ARGUMENT', 'iters = 1001 is out of range', '0..1000');
      expectHQQError(q({ iters: -1 }), 'INVALID_ARGUMENT', 'iters = -1 is out of range');
      expectHQQError(q({ iters: 2.5 }), 'INVALID_ARGUMENT', 'iters must be an integer');
      expectHQQError(q({ earlyStop: 'best' }), 'INVALID_ARGUMENT', 'earlyStop = "best" is invalid', 'per-group-best');
      expectHQQError(q({ optimize: 1 }), 'INVALID_ARGUMENT', 'optimize must be true or false');
      // The bounds themselves are accepted.
      expect(hqq.quantize(small, [64, 64], { lpNorm: 1, kappa: 1, iters: 0 }).iterations).toBe(0);
    });
    it('rejects shapes the packing cannot hold', () => {
      expectHQQError(q({ nbits: 4 }, new Float32Array(3 * 64), [3, 64]), 'INVALID_ARGUMENT', '4bit_u8 packs 2 rows', 'shape [3, 64], groupSize 64, axis 1');
      expectHQQError(q({ nbits: 2 }, new Float32Array(6 * 64), [6, 64]), 'INVALID_ARGUMENT', '2bit_u8 packs 4 rows', 'has 6 rows');
      expectHQQError(q({ nbits: 1 }, new Float32Array(64 * 4), [64, 4], ), 'INVALID_ARGUMENT', '1bit_u8 packs 8 rows');
      // 3-bit pads to a multiple of 10 rows and 8-bit stores one level per byte: any row count works.
      expect(hqq.quantize(normalMatrix(9 * 64, 5), [9, 64], { nbits: 3 }).packedShape).toEqual([1, 64]);
      expect(hqq.quantize(normalMatrix(3 * 64, 5), [3, 64], { nbits: 8 }).packedShape).toEqual([3, 64]);
    });
    it('validates unpack/dequantize/encode16 inputs', () => {
      const t = hqq.quantize(small, [64, 64]);
      expectHQQError(() => hqq.unpack({ ...t, groupedShape: [0, 64] }), 'INVALID_ARGUMENT', 'groupedShape must be [rows, cols]');
      expectHQQError(() => hqq.unpack({ ...t, packed: Array.from(t.packed) as unknown as Uint8Array }), 'INVALID_ARGUMENT', 'q.packed must be a Uint8Array');
      expectHQQError(() => hqq.dequantize({ ...t, zero: t.zero.subarray(1) }), 'INVALID_ARGUMENT', 'q.scale has 64 values but q.zero has 63');
      expectHQQError(() => hqq.encode16(small, 'f8' as 'f16'), 'INVALID_ARGUMENT', "kind must be 'f16' or 'bf16'");
    });
  });

  it('scaleDtype: scale/zero rounded to their storage dtype, stats of the stored values, overflow refused', () => {
    for (const scaleDtype of ['f16', 'bf16'] as const) {
      const q = hqq.quantize(W, SHAPE, { nbits: 8, groupSize: 64, scaleDtype });
      const q32 = hqq.quantize(W, SHAPE, { nbits: 8, groupSize: 64 });
      expect(bytes(q.packed).equals(bytes(q32.packed))).toBe(true);
      // The returned values are exactly representable: encoding them loses nothing.
      expect(hqq.decode16(hqq.encode16(q.scale, scaleDtype), scaleDtype)).toEqual(q.scale);
      expect(hqq.decode16(hqq.encode16(q.zero, scaleDtype), scaleDtype)).toEqual(q.zero);
      // The stats are those of the stored values: recomputed from dequantize(), not the float32 ones.
      const restored = hqq.dequantize(q);
      let sum = 0;
      for (let i = 0; i < W.length; i++) sum += Math.abs(W[i]! - restored[i]!);
      expect(q.stats.meanAbs).toBeCloseTo(sum / W.length, 9);
      if (scaleDtype === 'bf16') expect(q.stats.meanAbs).toBeGreaterThan(q32.stats.meanAbs * 1.2); // finding 5: 29-31% worse
    }
    const wide = W.map((v) => v * 1.5e7); // std 3e5
    expectHQQError(() => hqq.quantize(wide, SHAPE, { scaleDtype: 'f16' }), 'INVALID_VALUE', 'overflows float16', 'bfloat16 or float32');
    expect(Number.isFinite(hqq.quantize(wide, SHAPE, { scaleDtype: 'bf16' }).scale[0])).toBe(true);
    expectHQQError(() => hqq.quantize(W, SHAPE, { scaleDtype: 'fp8' as never }), 'INVALID_ARGUMENT', 'scaleDtype = "fp8" is invalid');
  });

  it('limitedGroups counts the groups whose grid the reference scale limits left at most half used', () => {
    expect(hqq.quantize(W, SHAPE, { nbits: 4, groupSize: 64 }).limitedGroups).toBe(0);
    const tiny = hqq.quantize(W.map((v) => v * 1e-3), SHAPE, { nbits: 4, groupSize: 64 });
    expect(tiny.limitedGroups).toBe(tiny.scale.length);
    expect(hqq.quantize(new Float32Array(W.length), SHAPE, { nbits: 4, groupSize: 64 }).limitedGroups).toBe(0); // range 0: exact
    // The count is per group: a tensor whose first half is tiny has half its groups counted.
    const half = W.map((v, i) => (i < W.length / 2 ? v * 1e-3 : v));
    const q = hqq.quantize(half, SHAPE, { nbits: 4, groupSize: 64, axis: 1 });
    expect(q.limitedGroups).toBe(q.scale.length / 2);
  });

  it('dequantize refuses NaN/Inf scale and zero, like quantize refuses NaN/Inf weights', () => {
    const q = hqq.quantize(W, SHAPE, { nbits: 4, groupSize: 64 });
    const scale = q.scale.slice();
    scale[3] = Number.NaN;
    expectHQQError(() => hqq.dequantize({ ...q, scale }), 'INVALID_VALUE', 'scale holds 1 non-finite value', 'group 3');
    const zero = q.zero.slice();
    zero[0] = Infinity;
    expectHQQError(() => hqq.dequantize({ ...q, zero }), 'INVALID_VALUE', 'zero holds 1 non-finite value');
  });

  it('a detached input buffer (transferred to a worker) is an HQQError for every method, not a TypeError', () => {
    const detach = <T extends ArrayBufferView>(a: T): T => {
      structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
      return a;
    };
    const q = hqq.quantize(W, SHAPE, { nbits: 4, groupSize: 64 });
    const fresh = () => ({ ...q, packed: q.packed.slice(), scale: q.scale.slice(), zero: q.zero.slice() });
    expectHQQError(() => hqq.quantize(detach(W.slice()), SHAPE), 'INVALID_ARGUMENT', 'data is a view on a detached ArrayBuffer');
    expectHQQError(() => hqq.quantize(detach(new Uint16Array(8)), [8], { dtype: 'f16' }), 'INVALID_ARGUMENT', 'detached');
    expectHQQError(() => hqq.unpack({ ...fresh(), packed: detach(q.packed.slice()) }), 'INVALID_ARGUMENT', 'q.packed is a view on a detached');
    expectHQQError(() => hqq.dequantize({ ...fresh(), packed: detach(q.packed.slice()) }), 'INVALID_ARGUMENT', 'q.packed is a view on a detached');
    expectHQQError(() => hqq.dequantize({ ...fresh(), scale: detach(q.scale.slice()) }), 'INVALID_ARGUMENT', 'q.scale is a view on a detached');
    expectHQQError(() => hqq.dequantize({ ...fresh(), zero: detach(q.zero.slice()) }), 'INVALID_ARGUMENT', 'q.zero is a view on a detached');
    expectHQQError(() => hqq.encode16(detach(new Float32Array(4)), 'f16'), 'INVALID_ARGUMENT', 'values is a view on a detached');
    expectHQQError(() => hqq.decode16(detach(new Uint16Array(4)), 'bf16'), 'INVALID_ARGUMENT', 'values is a view on a detached');
    // Empty but attached inputs are not mistaken for detached ones.
    expect(hqq.encode16(new Float32Array(0), 'f16').length).toBe(0);
  });

  it('leaves the wasm heap exactly where it was after 1000 calls and 200 errors', () => {
    const start = hqq.heapInUse();
    const w = normalMatrix(64 * 64, 11);
    const w16 = hqq.encode16(w, 'bf16');
    const nbits = [8, 6, 5, 4, 3, 2, 1.58, 1] as const;
    let checksum = 0;
    for (let i = 0; i < 1000; i++) {
      const opts: QuantizeOptions = { nbits: nbits[i % nbits.length], axis: (i >> 3) % 2 ? 0 : 1, optimize: i % 5 !== 0, iters: 5 };
      const t = i % 7 === 0 ? hqq.quantize(w16, [64, 64], { ...opts, dtype: 'bf16' }) : hqq.quantize(w, [64, 64], opts);
      checksum += t.scale[0]!;
      if (i % 50 === 0) checksum += hqq.unpack(t)[0]! + hqq.dequantize(t)[0]!;
    }
    expect(Number.isFinite(checksum)).toBe(true);
    expect(hqq.heapInUse()).toBe(start);
    const bad = w.slice();
    bad[17] = NaN;
    const failing: [() => unknown, HQQErrorCode][] = [ // one of each failure path, 25 times each
      [() => hqq.quantize(bad, [64, 64]), 'INVALID_VALUE'], // thrown in C++ after the copy-in
      [() => hqq.quantize(w, [64, 64], { lpNorm: 2 }), 'INVALID_ARGUMENT'], // C++ range check
      [() => hqq.quantize(w.subarray(0, 192), [3, 64]), 'INVALID_ARGUMENT'], // packing
      [() => hqq.quantize(w, [64, 64], { groupSize: 100 }), 'INVALID_ARGUMENT'], // C++ divisibility
      [() => hqq.quantize(w, [64, 64], { nbits: 9 as 8 }), 'INVALID_ARGUMENT'], // JS, before any malloc
      [() => hqq.quantize(w16, [64, 64], { dtype: 'f16', kappa: 0.5 }), 'INVALID_ARGUMENT'], // 16-bit path
      [() => hqq.quantize(new Uint16Array(64 * 64).fill(0x7fc0), [64, 64], { dtype: 'bf16' }), 'INVALID_VALUE'],
    ];
    for (let i = 0; i < 200; i++) {
      const [fn, code] = failing[i % failing.length]!;
      expectHQQError(fn, code);
    }
    expect(hqq.heapInUse()).toBe(start);
    // And the instance still gives the same answer as a fresh one would.
    expect(hqq.quantize(w, [64, 64]).stats.meanAbs).toBeGreaterThan(0);
  });
});

describe('loader', () => {
  it('detects SIMD in Node 20 and picks the SIMD build by default', async () => {
    expect(simdSupported()).toBe(true);
    const h = await loadHQQ();
    expect(h.flavour).toBe('simd');
    expect(h.kernel).toBe('wasm-simd128');
    const s = await loadHQQ({ simd: false });
    expect(s.flavour).toBe('scalar');
    expect(s.kernel).toBe('scalar');
    expect((await loadHQQ({ simd: true })).flavour).toBe('simd');
  });

  it('loads given bytes, paths and file URLs and reports their build', async () => {
    const scalar = await loadHQQ({ wasm: readFileSync(SCALAR_WASM) });
    expect(scalar.flavour).toBe('scalar');
    expect(scalar.kernel).toBe('scalar');
    const fromAB = await loadHQQ({ wasm: new Uint8Array(readFileSync(SIMD_WASM)).buffer });
    expect(fromAB.flavour).toBe('simd');
    expect((await loadHQQ({ wasm: SCALAR_WASM })).flavour).toBe('scalar');
    expect((await loadHQQ({ wasm: pathToFileURL(SIMD_WASM) })).flavour).toBe('simd');
    const ref = await loadHQQ({ simd: false });
    expectSameResult(scalar.quantize(W, SHAPE), ref.quantize(W, SHAPE), 'scalar from bytes vs shipped scalar');
  });

  it('rejects bad load options and wasm', async () => {
    await expectHQQErrorAsync(() => loadHQQ({ fast: true } as never), 'INVALID_ARGUMENT', 'unknown loadHQQ option "fast"', 'wasm, simd');
    await expectHQQErrorAsync(() => loadHQQ({ simd: 'yes' } as never), 'INVALID_ARGUMENT', 'simd must be true, false or omitted', 'yes');
    await expectHQQErrorAsync(() => loadHQQ(42 as never), 'INVALID_ARGUMENT', 'options must be an object');
    await expectHQQErrorAsync(() => loadHQQ({ wasm: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }), 'INVALID_ARGUMENT', 'not a valid WebAssembly module');
    // A valid module that is not hqq-wasm (the empty module).
    await expectHQQErrorAsync(() => loadHQQ({ wasm: new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]) }), 'INVALID_ARGUMENT', 'does not fit this version of hqq-wasm');
    await expectHQQErrorAsync(() => loadHQQ({ wasm: resolve(REPO_ROOT, 'web/wasm/missing.wasm') }), 'IO_ERROR', 'missing.wasm');
    await expectHQQErrorAsync(() => loadHQQ({ wasm: 12 as never }), 'INVALID_ARGUMENT', 'must be a URL, a path, bytes or a WebAssembly.Module');
  });

  it('shares a compiled module between independent instances', async () => {
    const a = await loadHQQ();
    const b = await loadHQQ({ wasm: a.module });
    expect(b).not.toBe(a);
    expect(b.module).toBe(a.module);
    expect(b.flavour).toBe('simd');
    const startA = a.heapInUse();
    // A failure that grows b's heap (the 3 GiB input cannot be allocated) leaves a untouched.
    expectHQQError(() => b.quantize(new Uint16Array(3 * 2 ** 29), [3 * 2 ** 23, 64], { dtype: 'bf16' }), 'OUT_OF_MEMORY');
    expect(a.heapInUse()).toBe(startA);
    expectSameResult(a.quantize(W, SHAPE), b.quantize(W, SHAPE), 'two instances of one module');
  });

  it('runs in a worker_threads Worker with the module passed through workerData', async () => {
    if (!existsSync(DIST_NODE)) throw new Error(`${DIST_NODE} is missing: run bash scripts/build.sh first`);
    const main = await loadHQQ();
    const expected = main.quantize(W, SHAPE, { nbits: 3, axis: 0 });
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.entry).then(async ({ loadHQQ }) => {
        const hqq = await loadHQQ({ wasm: workerData.module });
        const q = hqq.quantize(workerData.w, workerData.shape, { nbits: 3, axis: 0 });
        parentPort.postMessage({ flavour: hqq.flavour, packed: q.packed, scale: q.scale, zero: q.zero, iterations: q.iterations, stats: q.stats });
      }).catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
    const worker = new Worker(code, { eval: true, workerData: { entry: pathToFileURL(DIST_NODE).href, module: main.module, w: W, shape: SHAPE } });
    try {
      const result = await new Promise<any>((res, rej) => {
        worker.once('message', res);
        worker.once('error', rej);
        worker.once('exit', (c) => rej(new Error(`worker exited with ${c} before answering`)));
      });
      expect(result.error).toBeUndefined();
      expect(result.flavour).toBe('simd');
      expectSameResult(result, expected, 'worker vs main thread');
    } finally {
      await worker.terminate();
    }
  });
});
