// The GGML block types against llama.cpp itself (its ggml built from node-llama-cpp's source by
// scripts/llama-harness.sh): decoding is bit-identical, Method::Reference writes llama.cpp's bytes,
// and Method::Optimized is never worse than llama.cpp on any tensor by mean |err| and relative
// Frobenius error. Checked for the native build (build/native/gguf_native).
import { beforeAll, describe, expect, it } from 'vitest';

import {
  buildHarness, errorMetrics, llamaDequantize, llamaQuantize, nativeDequantize, nativeQuantize,
  syntheticMatrices, uniforms,
} from './llama.mjs';

// name -> [weights per block, bytes per block, byte offsets of the f16 fields in a block]
const TYPES: Record<string, [number, number, number[]]> = {
  F32: [1, 4, []], F16: [1, 2, []], BF16: [1, 2, []],
  Q8_0: [32, 34, [0]], Q4_0: [32, 18, [0]], Q4_1: [32, 20, [0, 2]], Q5_0: [32, 22, [0]], Q5_1: [32, 24, [0, 2]],
  Q2_K: [256, 84, [80, 82]], Q3_K: [256, 110, [108]], Q4_K: [256, 144, [0, 2]], Q5_K: [256, 176, [0, 2]],
  Q6_K: [256, 210, [208]],
};
const NAMES = Object.keys(TYPES);
const ROWS = 32, COLS = 1024;

let harness = '';
beforeAll(() => {
  harness = buildHarness();
}, 900_000);

/**
 * Random block bytes that are valid input: every f16 field finite (a NaN or Inf scale has no single
 * right reconstruction), and for the float types no NaN (x86 quiets signalling NaNs).
 */
function randomBlocks(type: string, rows: number, cols: number, seed: number): Uint8Array {
  const [block, size, f16Fields] = TYPES[type]!;
  const bytes = new Uint8Array((rows * cols) / block * size);
  const u = uniforms(seed);
  for (let i = 0; i < bytes.length; ++i) bytes[i] = Math.floor(u() * 256);
  const view = new DataView(bytes.buffer);
  if (type === 'F16' || type === 'BF16') {
    const expMask = type === 'F16' ? 0x7c00 : 0x7f80;
    for (let i = 0; i < bytes.length; i += 2) {
      const h = view.getUint16(i, true);
      if ((h & expMask) === expMask && (h & ~expMask & 0x7fff) !== 0) view.setUint16(i, h & ~0x4000, true);
    }
  }
  for (let b = 0; b < bytes.length / size; ++b) {
    for (const off of f16Fields) {
      const h = view.getUint16(b * size + off, true);
      if ((h & 0x7c00) === 0x7c00) view.setUint16(b * size + off, h & ~0x4000, true);
    }
  }
  return bytes;
}

function sameBits(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (x.length !== y.length) return -2;
  for (let i = 0; i < x.length; ++i) if (x[i] !== y[i]) return i;
  return -1;
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  let count = 0, first = -1;
  for (let i = 0; i < a.length; ++i) if (a[i] !== b[i]) { count++; if (first < 0) first = i; }
  return count === 0 ? 'equal' : `${count} bytes differ, first at ${first}`;
}

describe('GGML block types vs llama.cpp (native build)', () => {
  it('decodes random valid block bytes bit-identically to ggml to_float', () => {
    for (const type of NAMES) {
      for (const seed of [1, 2, 3]) {
        const bytes = randomBlocks(type, 8, 1024, seed * 101 + type.length);
        const theirs = llamaDequantize(harness, type, 8, 1024, bytes);
        const ours = nativeDequantize(type, 8, 1024, bytes);
        expect(sameBits(ours, theirs), `${type} seed ${seed}: first differing element`).toBe(-1);
      }
    }
  });

  it('Method::Reference writes llama.cpp\'s bytes on every synthetic matrix', () => {
    for (const { name, weights } of syntheticMatrices(ROWS, COLS)) {
      for (const type of NAMES) {
        const theirs = llamaQuantize(harness, type, ROWS, COLS, weights);
        const ours = nativeQuantize(type, 'reference', ROWS, COLS, weights);
        expect(firstDifference(ours.bytes, theirs), `${type} on ${name}`).toBe('equal');
      }
    }
  });

  it('Method::Optimized is never worse than llama.cpp on any tensor, by mean |err| and relative Frobenius', () => {
    // Metrics are computed here, in double, from ggml's own dequantization of both byte streams.
    // The per-block guard makes "no worse" exact; 1e-12 absorbs only the summation order of the
    // totals.
    const rows: string[] = [];
    for (const type of NAMES) {
      const ratios: { abs: number; frob: number }[] = [];
      for (const { name, weights } of syntheticMatrices(ROWS, COLS)) {
        const ours = nativeQuantize(type, 'optimized', ROWS, COLS, weights).bytes;
        const theirs = llamaQuantize(harness, type, ROWS, COLS, weights);
        const mo = errorMetrics(weights, llamaDequantize(harness, type, ROWS, COLS, ours));
        const ml = errorMetrics(weights, llamaDequantize(harness, type, ROWS, COLS, theirs));
        const ratio = (a: number, b: number) => (b > 0 ? a / b : a > 0 ? Infinity : 1);
        const r = { abs: ratio(mo.meanAbs, ml.meanAbs), frob: ratio(mo.relFrobenius, ml.relFrobenius) };
        expect(r.abs, `${type} on ${name}: mean |err| ratio`).toBeLessThanOrEqual(1 + 1e-12);
        expect(r.frob, `${type} on ${name}: relative Frobenius ratio`).toBeLessThanOrEqual(1 + 1e-12);
        ratios.push(r);
      }
      const mean = (k: 'abs' | 'frob') => ratios.reduce((a, r) => a + r[k], 0) / ratios.length;
      const worst = (k: 'abs' | 'frob') => Math.max(...ratios.map((r) => r[k]));
      rows.push(`| ${type.padEnd(4)} | ${mean('abs').toFixed(4)} | ${worst('abs').toFixed(4)} | ${mean('frob').toFixed(4)} | ${worst('frob').toFixed(4)} |`);
    }
    console.log(['', `Optimized vs llama.cpp, ${syntheticMatrices(1, 256).length} synthetic ${ROWS}x${COLS} matrices (ratio < 1: ours is better)`,
      '| type | mean |err| ratio (mean) | (worst) | rel. Frobenius ratio (mean) | (worst) |', '|---|---|---|---|---|', ...rows].join('\n'));
  });
});
