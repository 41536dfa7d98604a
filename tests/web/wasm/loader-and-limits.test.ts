// Options and arguments that once reached the core unchecked: out-of-range integers, a missing
// dequantize axis, and a SIMD/scalar request that contradicts the binary passed in.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

import { MAX_TENSOR_ELEMENTS } from '../../../web/src/engine.js';
import { HQQError } from '../../../web/src/errors.js';
import { loadHQQ } from '../../../web/src/node.js';

const wasmDir = resolve(__dirname, '../../../web/wasm');

function expectCode(fn: () => unknown, code: string, fragment: string) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HQQError);
    expect((e as HQQError).code).toBe(code);
    expect((e as HQQError).message).toContain(fragment);
    return;
  }
  throw new Error('expected an HQQError');
}

describe('argument limits', () => {
  it('rejects integers the 32-bit core cannot represent, with the option name', async () => {
    const hqq = await loadHQQ();
    const w = new Float32Array(64 * 64).map((_, i) => Math.sin(i) * 0.02);
    expectCode(() => hqq.quantize(w, [64, 64], { groupSize: 2 ** 32 + 64 }), 'INVALID_ARGUMENT', 'groupSize = 4294967360 is invalid');
    expectCode(() => hqq.quantize(w, [64, 64], { iters: 2 ** 32 + 20 }), 'INVALID_ARGUMENT', 'iters = 4294967316 is out of range');
    expect(MAX_TENSOR_ELEMENTS).toBe(2 ** 28 - 1);
  });

  it('dequantize requires the axis the tensor was quantized with', async () => {
    const hqq = await loadHQQ();
    const w = new Float32Array(64 * 64).map((_, i) => Math.cos(i) * 0.02);
    const q = hqq.quantize(w, [64, 64]);
    const { axis: _dropped, ...withoutAxis } = q;
    expectCode(() => hqq.dequantize(withoutAxis as typeof q), 'INVALID_ARGUMENT', 'q.axis = undefined is invalid');
    expectCode(() => hqq.dequantize({ ...q, axis: 2 as 0 }), 'INVALID_ARGUMENT', 'q.axis = 2 is invalid');
    expect(hqq.dequantize(q).length).toBe(64 * 64);
  });
});

describe('loadHQQ with a given binary', () => {
  it('rejects a simd option that contradicts the binary, and reports the flavour it loaded', async () => {
    const scalarBytes = readFileSync(resolve(wasmDir, 'hqq-scalar.wasm'));
    const simdBytes = readFileSync(resolve(wasmDir, 'hqq-simd.wasm'));
    await expect(loadHQQ({ wasm: scalarBytes, simd: true })).rejects.toThrow(/was given the scalar build/);
    await expect(loadHQQ({ wasm: simdBytes, simd: false })).rejects.toThrow(/was given the simd build/);
    expect((await loadHQQ({ wasm: scalarBytes, simd: false })).flavour).toBe('scalar');
    expect((await loadHQQ({ wasm: simdBytes })).flavour).toBe('simd');
  });
});
