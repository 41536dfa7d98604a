// 16-bit input is handed over to the core, which frees it once decoded (so it never coexists with
// the solver's working memory). Every path must free it exactly once: success, errors found after
// decoding (NaN) and errors found before (bad group size).
import { describe, expect, it } from 'vitest';

import { HQQError } from '../../../web/src/errors.js';
import { loadHQQ } from '../../../web/src/node.js';

describe.each([true, false])('16-bit input handover (simd: %s)', (simd) => {
  it('frees the input on success and on both kinds of error, with results unchanged', async () => {
    const hqq = await loadHQQ({ simd });
    const bits = new Uint16Array(64 * 64).map((_, i) => 0x3c00 + (i % 200)); // f16 values in [1, 1.2)
    const withNaN = bits.slice();
    withNaN[5] = 0x7e00;
    const expected = hqq.quantize(hqq.decode16(bits, 'f16'), [64, 64]);
    hqq.quantize(bits, [64, 64], { dtype: 'f16' }); // warm-up: the heap reaches its working size
    const start = hqq.heapInUse();
    for (let i = 0; i < 200; i++) {
      const q = hqq.quantize(bits, [64, 64], { dtype: 'f16' });
      expect(q.packed).toEqual(expected.packed);
      expect(() => hqq.quantize(withNaN, [64, 64], { dtype: 'f16' })).toThrow(HQQError);
      expect(() => hqq.quantize(bits, [64, 64], { dtype: 'bf16', groupSize: 48 })).toThrow(/groupSize 48 does not divide/);
    }
    expect(hqq.heapInUse()).toBe(start);
    // The caller's array is untouched (the core works on its own copy).
    expect(bits[0]).toBe(0x3c00);
  });
});
