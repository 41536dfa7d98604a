// Ours against llama.cpp on real trained weights (tests/corpus/real-weights.ts: the float matrices
// of the TensorFlow.js models @vladmandic/human ships, a pinned devDependency). For every GGML type:
// ours (wasm SIMD, Method::Optimized) <= llama.cpp's own quantizer (the harness, no importance
// matrix) on EVERY matrix, by mean |W - W_r| and relative Frobenius error, both measured from
// ggml's own dequantization of the two byte streams. The table is printed.
import { beforeAll, describe, expect, it } from 'vitest';

import type { GGUFTypeName, HQQ } from '../../../web/src/engine.js';
import { loadHQQ } from '../../../web/src/node.js';
import { loadRealWeights, type RealMatrix } from '../../corpus/real-weights.js';
import { buildHarness, errorMetrics, llamaDequantize, llamaQuantize } from './llama.mjs';

const TYPES = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'];

let harness = '';
let hqq: HQQ;
let matrices: RealMatrix[];
beforeAll(async () => {
  harness = buildHarness();
  hqq = await loadHQQ({ simd: true });
  // Up to 64K weights of each matrix keeps the suite quick; every matrix of the corpus is used.
  matrices = loadRealWeights({ rowMultiple: 256, maxElements: 1 << 16 });
}, 900_000);

describe('ours vs llama.cpp on real trained weights', () => {
  it('is never worse on any matrix, by both metrics, for every type', () => {
    expect(matrices.length).toBeGreaterThan(50);
    const table = [`real weights: ${matrices.length} matrices from @vladmandic/human; ratio = ours / llama.cpp (below 1: ours is better)`,
      '| type | mean |err| ratio: mean | worst | rel. Frobenius ratio: mean | worst |', '|---|---|---|---|---|'];
    for (const type of TYPES) {
      let sumA = 0;
      let sumF = 0;
      let worstA = 0;
      let worstF = 0;
      for (const m of matrices) {
        const ours = hqq.quantizeGGUF(m.data, [m.rows, m.cols], type as GGUFTypeName).bytes;
        const mo = errorMetrics(m.data, llamaDequantize(harness, type, m.rows, m.cols, ours));
        const ml = errorMetrics(m.data, llamaDequantize(harness, type, m.rows, m.cols, llamaQuantize(harness, type, m.rows, m.cols, m.data)));
        const a = ml.meanAbs > 0 ? mo.meanAbs / ml.meanAbs : 1;
        const f = ml.relFrobenius > 0 ? mo.relFrobenius / ml.relFrobenius : 1;
        expect(a, `${type} ${m.name}: mean |err| ratio`).toBeLessThanOrEqual(1 + 1e-12);
        expect(f, `${type} ${m.name}: relative Frobenius ratio`).toBeLessThanOrEqual(1 + 1e-12);
        sumA += a;
        sumF += f;
        worstA = Math.max(worstA, a);
        worstF = Math.max(worstF, f);
      }
      const n = matrices.length;
      table.push(`| ${type.padEnd(4)} | ${(sumA / n).toFixed(4)} | ${worstA.toFixed(4)} | ${(sumF / n).toFixed(4)} | ${worstF.toFixed(4)} |`);
    }
    console.log(table.join('\n'));
  });
});
