// The GGML block types through the engine (both wasm builds): quantizeGGUF / dequantizeGGUF, the
// GGUF_TYPES table, 16-bit input handover, and every bad argument as an HQQError naming it.
// Bit-exactness against llama.cpp itself is tests/runtimes/llama-harness.
import { beforeAll, describe, expect, it } from 'vitest';

import { GGUF_TYPES, type GGUFTypeName, type HQQ, MAX_TENSOR_ELEMENTS } from '../../../web/src/engine.js';
import { loadHQQ } from '../../../web/src/node.js';
import { normalMatrix } from '../../package/check.js';
import { expectHQQError } from '../helpers.js';

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const ROWS = 16, COLS = 1024;
const W = normalMatrix(ROWS * COLS, 11);

function metrics(w: Float32Array, r: Float32Array) {
  let sa = 0, sq = 0, ww = 0, mx = 0;
  for (let i = 0; i < w.length; i++) {
    const d = w[i]! - r[i]!;
    sa += Math.abs(d);
    sq += d * d;
    ww += w[i]! * w[i]!;
    mx = Math.max(mx, Math.abs(d));
  }
  return { meanAbs: sa / w.length, maxAbs: mx, frobenius: Math.sqrt(sq), relFrobenius: Math.sqrt(sq / ww), weightFrobenius: Math.sqrt(ww) };
}

describe('GGUF_TYPES', () => {
  it('lists the GGML ids and block layouts', () => {
    const byName = Object.fromEntries(GGUF_TYPES.map((t) => [t.name, [t.id, t.blockSize, t.typeSize]]));
    expect(byName).toEqual({
      F32: [0, 1, 4], F16: [1, 1, 2], BF16: [30, 1, 2], Q8_0: [8, 32, 34], Q4_0: [2, 32, 18], Q4_1: [3, 32, 20],
      Q5_0: [6, 32, 22], Q5_1: [7, 32, 24], Q2_K: [10, 256, 84], Q3_K: [11, 256, 110], Q4_K: [12, 256, 144],
      Q5_K: [13, 256, 176], Q6_K: [14, 256, 210],
    });
    expect(Object.isFrozen(GGUF_TYPES) && Object.isFrozen(GGUF_TYPES[0])).toBe(true);
  });
});

describe.each([true, false])('quantizeGGUF / dequantizeGGUF (simd: %s)', (simd) => {
  let hqq: HQQ;
  beforeAll(async () => {
    hqq = await loadHQQ({ simd });
  });

  it.each(GGUF_TYPES.map((t) => t.name))('%s: bytes of the table size, statistics of what dequantizeGGUF returns', (type) => {
    const t = GGUF_TYPES.find((x) => x.name === type)!;
    const q = hqq.quantizeGGUF(W, [ROWS, COLS], type, { compareReference: true });
    expect(q.type).toBe(type);
    expect(q.shape).toEqual([ROWS, COLS]);
    expect(q.bytes).toBeInstanceOf(Uint8Array);
    expect(q.bytes.length).toBe((ROWS * COLS) / t.blockSize * t.typeSize);
    const r = hqq.dequantizeGGUF(q.bytes, [ROWS, COLS], type);
    expect(r).toBeInstanceOf(Float32Array);
    const m = metrics(W, r);
    for (const k of ['meanAbs', 'frobenius', 'relFrobenius', 'weightFrobenius'] as const) expect(q.stats[k]).toBeCloseTo(m[k], 12);
    expect(q.stats.maxAbs).toBe(m.maxAbs);
    expect(q.reference).toBeDefined();
    expect(q.stats.meanAbs).toBeLessThanOrEqual(q.reference!.meanAbs);
    expect(q.stats.relFrobenius).toBeLessThanOrEqual(q.reference!.relFrobenius);
    const ref = hqq.quantizeGGUF(W, [ROWS, COLS], type, { method: 'reference' });
    expect(ref.reference).toEqual(ref.stats);
    expect(ref.stats).toEqual(q.reference);
    expect(hqq.quantizeGGUF(W, [ROWS, COLS], type).reference).toBeUndefined();
  });

  it('improves on llama.cpp\'s quantizer for the legacy types', () => {
    for (const type of ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1'] as const) {
      const q = hqq.quantizeGGUF(W, [ROWS, COLS], type, { compareReference: true });
      expect(q.stats.meanAbs / q.reference!.meanAbs, type).toBeLessThan(0.97);
      expect(q.stats.relFrobenius / q.reference!.relFrobenius, type).toBeLessThan(0.97);
    }
  });

  it.each(['f16', 'bf16'] as const)('%s input (handed over to the core) gives the bytes of its float32 decoding and frees it', (dtype) => {
    const bits = hqq.encode16(W, dtype);
    const decoded = hqq.decode16(bits, dtype);
    hqq.quantizeGGUF(bits, [ROWS, COLS], 'Q4_K', { dtype });  // warm-up: the heap reaches its size
    const start = hqq.heapInUse();
    for (const type of ['Q4_K', 'Q4_1', 'F16', 'Q8_0'] as GGUFTypeName[]) {
      const a = hqq.quantizeGGUF(bits, [ROWS, COLS], type, { dtype });
      const b = hqq.quantizeGGUF(decoded, [ROWS, COLS], type);
      expect(bytesOf(a.bytes).equals(bytesOf(b.bytes)), type).toBe(true);
      expect(a.stats).toEqual(b.stats);
    }
    const withNaN = bits.slice();
    withNaN[3 * COLS + 5] = dtype === 'f16' ? 0x7e00 : 0x7fc0;
    for (let i = 0; i < 20; i++) {
      expectHQQError(() => hqq.quantizeGGUF(withNaN, [ROWS, COLS], 'Q4_0', { dtype }), 'INVALID_VALUE', 'row 3, column 5');
      expectHQQError(() => hqq.quantizeGGUF(bits, [ROWS, COLS], 'Q4_0', { dtype, method: 'fast' as 'reference' }), 'INVALID_ARGUMENT', 'method');
    }
    expect(hqq.heapInUse()).toBe(start);
    expect(bits[0]).toBe(hqq.encode16(W.subarray(0, 1), dtype)[0]);  // the caller's array is untouched
  });

  it('dequantizes arbitrary block bytes and leaves the heap as it was', () => {
    const bytes = new Uint8Array((2 * 512) / 256 * 144);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37) & 0xff;
    bytes[0] = 0x00, bytes[1] = 0x3c;  // d = 1.0 (f16) in the first super-block
    const start = hqq.heapInUse();
    const r = hqq.dequantizeGGUF(bytes, [2, 512], 'Q4_K');
    expect(r.length).toBe(1024);
    expect(r.every((v) => Number.isFinite(v))).toBe(true);
    expect(hqq.heapInUse()).toBe(start);
  });

  describe('every bad argument is an HQQError naming it', () => {
    const small = W.subarray(0, 2 * 256);
    const qz = (type: unknown, shape: unknown = [2, 256], options?: unknown, data: unknown = small) => () =>
      hqq.quantizeGGUF(data as Float32Array, shape as [number, number], type as GGUFTypeName, options as undefined);

    it('types', () => {
      expectHQQError(qz('q4_k'), 'INVALID_ARGUMENT', "'q4_k'", 'upper case', "'Q4_K'");
      expectHQQError(qz('Q4_K_M'), 'INVALID_ARGUMENT', "'Q4_K_M'", 'preset', 'Q4_K, Q5_K');
      expectHQQError(qz('IQ4_XS'), 'INVALID_ARGUMENT', "'IQ4_XS'", 'not a supported GGUF tensor type');
      expectHQQError(qz(12), 'INVALID_ARGUMENT', 'type 12');
      expectHQQError(() => hqq.dequantizeGGUF(new Uint8Array(18), [1, 32], 'Q9' as GGUFTypeName), 'INVALID_ARGUMENT', 'dequantizeGGUF', "'Q9'");
    });
    it('shapes', () => {
      expectHQQError(qz('Q4_0', [512]), 'INVALID_ARGUMENT', 'shape must be [rows, cols]');
      expectHQQError(qz('Q4_0', [2, 256, 1]), 'INVALID_ARGUMENT', 'shape must be [rows, cols]');
      expectHQQError(qz('Q4_0', [0, 256]), 'INVALID_ARGUMENT', 'positive integers');
      expectHQQError(qz('Q4_0', [2.5, 256]), 'INVALID_ARGUMENT', 'positive integers');
      expectHQQError(qz('Q4_K', [4, 128]), 'INVALID_ARGUMENT', 'Q4_K', 'blocks of 256', '128 columns');
      expectHQQError(qz('Q4_0', [4, 256]), 'INVALID_ARGUMENT', '1024 weights but data holds 512');
      expectHQQError(qz('F32', [2 ** 15, 2 ** 14]), 'INVALID_ARGUMENT', String(MAX_TENSOR_ELEMENTS), 'row ranges');
    });
    it('data, dtype and options', () => {
      expectHQQError(qz('Q4_0', [2, 256], undefined, Array.from(small)), 'INVALID_ARGUMENT', 'data must be a Float32Array');
      expectHQQError(qz('Q4_0', [2, 256], undefined, new Uint16Array(512)), 'INVALID_ARGUMENT', "dtype: 'f16' or 'bf16'");
      expectHQQError(qz('Q4_0', [2, 256], { dtype: 'f16' }), 'INVALID_ARGUMENT', "dtype 'f16'", 'Float32Array');
      expectHQQError(qz('Q4_0', [2, 256], { dtype: 'f32' }, new Uint16Array(512)), 'INVALID_ARGUMENT', "(got f32)");
      expectHQQError(qz('Q4_0', [2, 256], { method: 'best' }), 'INVALID_ARGUMENT', 'method', "'optimized'", "'reference'");
      expectHQQError(qz('Q4_0', [2, 256], { compareReference: 1 }), 'INVALID_ARGUMENT', 'compareReference must be true or false');
      expectHQQError(qz('Q4_0', [2, 256], { groupSize: 32 }), 'INVALID_ARGUMENT', 'unknown option "groupSize"', 'dtype, method, compareReference');
      expectHQQError(qz('Q4_0', [2, 256], 'fast'), 'INVALID_ARGUMENT', 'options must be an object');
    });
    it('values', () => {
      const w = small.slice();
      w[256 + 7] = Number.POSITIVE_INFINITY;
      expectHQQError(qz('Q6_K', [2, 256], undefined, w), 'INVALID_VALUE', 'row 1, column 7', 'non-finite');
      const huge = small.map((v) => v * 1e9);
      expectHQQError(qz('Q4_1', [2, 256], undefined, huge), 'INVALID_VALUE', 'Q4_1', 'float16 scales overflow', 'F32/BF16');
      expectHQQError(qz('F16', [2, 256], undefined, huge), 'INVALID_VALUE', 'outside the range of F16', 'BF16');
      // Far beyond float16: a search's float32 sums of squares overflow and the blocks came out as
      // zeros (finite, so accepted, relative error 1). Every block type refuses them now.
      const far = small.map((v) => v * 1e21);
      for (const t of GGUF_TYPES.filter((x) => x.blockSize > 1).map((x) => x.name)) {
        expectHQQError(qz(t, [2, 256], undefined, far), 'INVALID_VALUE', `${t} cannot represent the block`, 'F32/BF16');
      }
    });
    it('dequantize bytes', () => {
      expectHQQError(() => hqq.dequantizeGGUF(new Uint8Array(17), [1, 32], 'Q4_0'), 'INVALID_ARGUMENT', 'Q4_0', '18 bytes', 'holds 17');
      expectHQQError(() => hqq.dequantizeGGUF([1, 2] as unknown as Uint8Array, [1, 1], 'F16'), 'INVALID_ARGUMENT', 'bytes must be a Uint8Array');
      expectHQQError(() => hqq.dequantizeGGUF(new Uint8Array(18), [1, 33], 'Q4_0'), 'INVALID_ARGUMENT', 'blocks of 32');
    });
  });
});
