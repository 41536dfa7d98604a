// The real-weights corpus loader (tests/corpus/real-weights.ts) on the pinned package.
import { describe, expect, it } from 'vitest';

import { loadRealWeights } from '../../corpus/real-weights.js';

describe('real-weights corpus', () => {
  const all = loadRealWeights();

  it('finds the float matrices of every model the package ships', () => {
    // 3.3.6 ships 11 graph models with float weights; 110 matrices of at least 16384 weights.
    expect(all.length).toBe(110);
    const models = new Set(all.map((m) => m.model));
    expect([...models].sort()).toEqual(['antispoof', 'centernet', 'emotion', 'facemesh', 'faceres',
      'handlandmark-lite', 'iris', 'liveness', 'movenet-lightning']);
    expect(all.some((m) => m.storedAs === 'float16') && all.some((m) => m.storedAs === 'float32')).toBe(true);
  });

  it('gives finite row-major matrices with rows a multiple of 256 weights, like trained weights', () => {
    for (const m of all) {
      expect(m.cols % 256).toBe(0);
      expect(m.data.length).toBe(m.rows * m.cols);
      let sum2 = 0, max = 0;
      for (const v of m.data) {
        sum2 += v * v;
        max = Math.max(max, Math.abs(v));
      }
      const rms = Math.sqrt(sum2 / m.data.length);
      expect(rms).toBeGreaterThan(0);
      // not constant (one dense layer of liveness is nearly uniform: max / rms 1.8)
      expect(max / rms).toBeGreaterThan(1.5);
    }
  });

  it('transposes kernels to [out, K]: a 1x1 convolution row is one output channel', () => {
    const [m] = loadRealWeights({ models: ['faceres'], minElements: 1 << 18 });
    expect(m).toBeDefined();
    expect(m.rows * m.cols).toBeGreaterThanOrEqual(1 << 18);
    const capped = loadRealWeights({ models: ['faceres'], maxElements: 4096 });
    for (const c of capped) expect(c.rows * c.cols).toBeLessThanOrEqual(Math.max(4096, c.cols));
    const full = loadRealWeights({ models: ['faceres'] });
    // the first rows of a capped matrix are those of the full one
    expect(Array.from(capped[0].data.subarray(0, 16))).toEqual(Array.from(full[0].data.subarray(0, 16)));
  });
});
