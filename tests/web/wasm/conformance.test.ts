// Conformance against the reference library's outputs through the JS API, for both wasm builds.
// Mirrors tests/cpp/test_conformance.cpp; every case listed in manifest.json is checked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { HQQ, Nbits, QuantizedTensor } from '../../../web/src/engine.js';
import { loadHQQ } from '../../../web/src/node.js';
import { caseOptions, loadArrayBytes, loadInput, manifest, sameAsReference, sha256Hex, type RefCase } from '../refdata.js';

function referenceLevels(hqq: HQQ, c: RefCase): Uint8Array {
  const wq = loadArrayBytes(c.wq);
  if (wq) return wq;
  const packed = loadArrayBytes(c.packed);
  if (!packed) throw new Error(`case ${c.id} stores neither wq nor packed`);
  return hqq.unpack({ packed, nbits: c.nbits as Nbits, groupedShape: c.grouped_shape });
}

const relClose = (a: number, b: number, eps: number) => Math.abs(a - b) <= eps * Math.max(Math.abs(a), Math.abs(b));

describe.each([true, false])('conformance (simd: %s)', (simd) => {
  let hqq: HQQ;
  const label = simd ? 'simd' : 'scalar';
  const summary = { rtn: 'not run', optimized: 'not run' };
  beforeAll(async () => {
    hqq = await loadHQQ({ simd });
    expect(hqq.flavour).toBe(label);
  });
  afterAll(() => {
    console.log(`[conformance ${label}] summary: RTN ${summary.rtn}; optimized ${summary.optimized}`);
  });

  it('RTN cases are bit-identical to the reference', () => {
    const cases = manifest().cases.filter((c) => !c.optimize);
    expect(cases.length).toBeGreaterThan(0);
    const failures: string[] = [];
    let exact = 0;
    for (const c of cases) {
      const q = hqq.quantize(loadInput(c.input), c.shape, caseOptions(c));
      const levels = hqq.unpack(q);
      const recon = hqq.dequantize(q);
      const bitExact: Record<string, boolean> = {
        packed: sameAsReference(c.packed, q.packed),
        levels: sameAsReference(c.wq, levels),
        scale: sameAsReference(c.scale, q.scale),
        zero: sameAsReference(c.zero, q.zero),
        dequant: sha256Hex(recon) === c.dequant.sha256,
      };
      // The error statistics come from float32 differences summed in double (as in the C++
      // conformance test): relative 1e-6 from the reference's float64 figures.
      const other: Record<string, boolean> = {
        packing: q.packing === c.packing,
        groupedShape: q.groupedShape[0] === c.grouped_shape[0] && q.groupedShape[1] === c.grouped_shape[1],
        iterations: q.iterations === 0,
        [`meanAbs ${q.stats.meanAbs} vs ${c.errors.mean_abs}`]: relClose(q.stats.meanAbs, c.errors.mean_abs, 1e-6),
        [`maxAbs ${q.stats.maxAbs} vs ${c.errors.max_abs}`]: relClose(q.stats.maxAbs, c.errors.max_abs, 1e-6),
        [`relFrobenius ${q.stats.relFrobenius} vs ${c.errors.rel_frobenius}`]: relClose(q.stats.relFrobenius, c.errors.rel_frobenius, 1e-6),
      };
      if (Object.values(bitExact).every(Boolean)) exact++;
      const bad = Object.entries({ ...bitExact, ...other }).filter(([, ok]) => !ok).map(([k]) => k);
      if (bad.length) failures.push(`${c.id}: ${bad.join(', ')}`);
    }
    console.log(`[conformance ${label}] RTN: ${exact} of ${cases.length} cases bit-identical (packed, levels, scale, zero, dequant)`);
    summary.rtn = `${exact}/${cases.length} bit-exact`;
    expect(failures).toEqual([]);
    expect(exact).toBe(cases.length);
  });

  it('optimized cases agree with the reference within tolerance; per-group-best never worse', () => {
    const cases = manifest().cases.filter((c) => c.optimize);
    expect(cases.length).toBeGreaterThan(0);
    const failures: string[] = [];
    let exactLevels = 0, iterMismatch = 0, maxIterDiff = 0, worstAgreement = 1, worstRatio = 0;
    let worstAgreementCase = '', worstRatioCase = '', bestRatioSum = 0, worstBestRatio = 0;
    for (const c of cases) {
      const w = loadInput(c.input);
      const opts = caseOptions(c);
      const q: QuantizedTensor = hqq.quantize(w, c.shape, opts);
      const ours = hqq.unpack(q);
      const ref = referenceLevels(hqq, c);
      expect(ours.length, c.id).toBe(ref.length);
      let same = 0;
      for (let i = 0; i < ours.length; i++) same += ours[i] === ref[i] ? 1 : 0;
      const agreement = same / ours.length;
      const refIters = c.optimizer!.n_iters;
      const iterDiff = Math.abs(q.iterations - refIters);
      const ratio = q.stats.meanAbs / c.errors.mean_abs;
      const best = hqq.quantize(w, c.shape, { ...opts, earlyStop: 'per-group-best' });
      const bestRatio = best.stats.meanAbs / q.stats.meanAbs;
      const checks: Record<string, boolean> = {
        [`agreement ${agreement.toFixed(6)} >= 0.999`]: agreement >= 0.999,
        [`iterations ${q.iterations} vs ${refIters}`]: iterDiff <= 1,
        [`error ratio ${ratio.toFixed(6)} <= 1.001`]: ratio <= 1.001,
        'scale bit-identical': sameAsReference(c.scale, q.scale),
        packing: q.packing === c.packing,
        'errorTrace length': q.errorTrace.length === q.iterations,
        [`per-group-best ratio ${bestRatio} <= 1`]: bestRatio <= 1 + 1e-12,
      };
      const bad = Object.entries(checks).filter(([, ok]) => !ok).map(([k]) => k);
      if (bad.length) failures.push(`${c.id}: ${bad.join('; ')}`);
      if (same === ours.length) exactLevels++;
      if (iterDiff) iterMismatch++;
      maxIterDiff = Math.max(maxIterDiff, iterDiff);
      if (agreement < worstAgreement) [worstAgreement, worstAgreementCase] = [agreement, c.id];
      if (ratio > worstRatio) [worstRatio, worstRatioCase] = [ratio, c.id];
      bestRatioSum += bestRatio;
      worstBestRatio = Math.max(worstBestRatio, bestRatio);
    }
    const meanBestRatio = bestRatioSum / cases.length;
    console.log(
      `[conformance ${label}] optimized: ${cases.length} cases; levels identical in ${exactLevels}; ` +
        `worst level agreement ${worstAgreement.toFixed(6)} (${worstAgreementCase || '-'}); ` +
        `worst error ratio ours/ref ${worstRatio.toFixed(6)} (${worstRatioCase}); ` +
        `iteration count differs in ${iterMismatch} case(s), by at most ${maxIterDiff}; ` +
        `per-group-best/global error: mean ${meanBestRatio.toFixed(6)}, worst ${worstBestRatio.toFixed(6)}`,
    );
    summary.optimized = `${cases.length} cases, worst level agreement ${worstAgreement.toFixed(6)}, worst error ratio ${worstRatio.toFixed(6)}, ` +
      `iteration diffs in ${iterMismatch} case(s) (max ${maxIterDiff})`;
    expect(failures).toEqual([]);
    expect(meanBestRatio).toBeLessThan(1);
  });
});

