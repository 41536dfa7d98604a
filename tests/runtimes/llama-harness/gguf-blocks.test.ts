// The GGML block types against llama.cpp itself (its ggml built from node-llama-cpp's source by
// scripts/llama-harness.sh): decoding is bit-identical, Method::Reference writes llama.cpp's bytes,
// and Method::Optimized is never worse than llama.cpp on any tensor by mean |err| and relative
// Frobenius error. Checked for the native build (build/native/gguf_native) and both wasm builds.
import { beforeAll, describe, expect, it } from 'vitest';

import type { GGUFTypeName, HQQ } from '../../../web/src/engine.js';
import { loadHQQ } from '../../../web/src/node.js';

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

interface Build {
  name: string;
  quantize(type: string, method: 'reference' | 'optimized', rows: number, cols: number, w: Float32Array): Uint8Array;
  dequantize(type: string, rows: number, cols: number, bytes: Uint8Array): Float32Array;
}

function wasmBuild(name: string, hqq: HQQ): Build {
  return {
    name,
    quantize: (type, method, rows, cols, w) => hqq.quantizeGGUF(w, [rows, cols], type as GGUFTypeName, { method }).bytes,
    dequantize: (type, rows, cols, bytes) => hqq.dequantizeGGUF(bytes, [rows, cols], type as GGUFTypeName),
  };
}

let harness = '';
const builds: Build[] = [];
beforeAll(async () => {
  harness = buildHarness();
  builds.push({
    name: 'native',
    quantize: (type, method, rows, cols, w) => nativeQuantize(type, method, rows, cols, w).bytes,
    dequantize: nativeDequantize,
  });
  builds.push(wasmBuild('wasm SIMD', await loadHQQ({ simd: true })));
  builds.push(wasmBuild('wasm scalar', await loadHQQ({ simd: false })));
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

describe('GGML block types vs llama.cpp (native and wasm builds)', () => {
  it('decodes random valid block bytes bit-identically to ggml to_float', () => {
    for (const type of NAMES) {
      for (const seed of [1, 2, 3]) {
        const bytes = randomBlocks(type, 8, 1024, seed * 101 + type.length);
        const theirs = llamaDequantize(harness, type, 8, 1024, bytes);
        for (const b of builds) {
          expect(sameBits(b.dequantize(type, 8, 1024, bytes), theirs), `${b.name} ${type} seed ${seed}: first differing element`).toBe(-1);
        }
      }
    }
  });

  it('Method::Reference writes llama.cpp\'s bytes on every synthetic matrix', () => {
    for (const { name, weights } of syntheticMatrices(ROWS, COLS)) {
      for (const type of NAMES) {
        const theirs = llamaQuantize(harness, type, ROWS, COLS, weights);
        for (const b of builds) {
          expect(firstDifference(b.quantize(type, 'reference', ROWS, COLS, weights), theirs), `${b.name} ${type} on ${name}`).toBe('equal');
        }
      }
    }
  });

  it('Method::Optimized is never worse than llama.cpp on any tensor, by mean |err| and relative Frobenius', () => {
    // Metrics are computed here, in double, from ggml's own dequantization of both byte streams.
    // The per-block guard makes "no worse" exact; 1e-12 absorbs only the summation order of the
    // totals. The table is the wasm SIMD build's (what the package runs).
    const rows: string[] = [];
    const matrices = syntheticMatrices(ROWS, COLS);
    const ratio = (a: number, b: number) => (b > 0 ? a / b : a > 0 ? Infinity : 1);
    for (const type of NAMES) {
      const ratios: { abs: number; frob: number }[] = [];
      for (const { name, weights } of matrices) {
        const ml = errorMetrics(weights, llamaDequantize(harness, type, ROWS, COLS, llamaQuantize(harness, type, ROWS, COLS, weights)));
        const outputs = builds.map((b) => b.quantize(type, 'optimized', ROWS, COLS, weights));
        // The native and wasm SIMD builds run the same float32 operations in the same order.
        expect(firstDifference(outputs[1]!, outputs[0]!), `${type} on ${name}: wasm SIMD vs native`).toBe('equal');
        builds.forEach((b, i) => {
          const mo = errorMetrics(weights, llamaDequantize(harness, type, ROWS, COLS, outputs[i]!));
          const r = { abs: ratio(mo.meanAbs, ml.meanAbs), frob: ratio(mo.relFrobenius, ml.relFrobenius) };
          expect(r.abs, `${b.name} ${type} on ${name}: mean |err| ratio`).toBeLessThanOrEqual(1 + 1e-12);
          expect(r.frob, `${b.name} ${type} on ${name}: relative Frobenius ratio`).toBeLessThanOrEqual(1 + 1e-12);
          if (b.name === 'wasm SIMD') ratios.push(r);
        });
      }
      const mean = (k: 'abs' | 'frob') => ratios.reduce((a, r) => a + r[k], 0) / ratios.length;
      const worst = (k: 'abs' | 'frob') => Math.max(...ratios.map((r) => r[k]));
      rows.push(`| ${type.padEnd(4)} | ${mean('abs').toFixed(4)} | ${worst('abs').toFixed(4)} | ${mean('frob').toFixed(4)} | ${worst('frob').toFixed(4)} |`);
    }
    console.log(['', `Optimized vs llama.cpp (wasm SIMD build), ${matrices.length} synthetic ${ROWS}x${COLS} matrices: ${matrices.map((m) => m.name).join(', ')}`,
      'ratio = ours / llama.cpp (below 1: ours is better)',
      '| type | mean |err| ratio: mean | worst | rel. Frobenius ratio: mean | worst |', '|---|---|---|---|---|', ...rows].join('\n'));
  });
});
