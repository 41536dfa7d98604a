// onnxruntime-node runs our MatMulNBits output: the quantized model's outputs equal the original
// graph run with our dequantized weights (float32, independent dequantizer), to 1e-4 relative,
// for both zero-point modes; against the unquantized model they show the quantization error.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';

import type { HQQ } from '../../web/src/engine.js';
import { loadHQQ } from '../../web/src/node.js';
import { attentionModel, mlpModel, mlpWeights, randn } from '../web/onnx/models.js';
import { transpose } from '../web/onnx/nbits-ref.js';
import { dequantizedWeights, openOutput, quantizeInMemory, relErr } from '../web/onnx/run-helpers.js';

let hqq: HQQ;
beforeAll(async () => {
  hqq = await loadHQQ();
});

async function run(bytes: Uint8Array, x: Float32Array, batch: number): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const r = await s.run({ x: new ort.Tensor('float32', x, [batch, 72]) });
  await s.release();
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
}

describe.each(['uint8', 'float'] as const)('MLP quantized with %s zero points, run in onnxruntime-node', (zeroPoints) => {
  it('equals the original graph with our dequantized weights (1e-4), and differs from fp32 by the quantization error', async () => {
    const { bytes } = mlpModel();
    const { report, files } = await quantizeInMemory(hqq, 'mlp.onnx', bytes, { bits: 4, blockSize: 32, zeroPoints });
    const byName = Object.fromEntries(report.tensors.map((t) => [t.name, t]));
    for (const q of ['W1', 'W2t', 'Wshared', 'W4', 'Wc']) expect(byName[q]!.action, q).toBe('quantize');
    for (const k of ['small', 'b1', 'b2', 'starts']) expect(byName[k]!.action, k).toBe('copy');
    expect(byName.small!.reason).toMatch(/too small/);
    const out = files.get('mlp.onnx')!;
    const m = await openOutput(files, 'mlp.onnx');
    expect(m.nodes.filter((n) => n.opType === 'MatMulNBits').length).toBe(6); // Wshared is read by two nodes
    expect(m.nodes.some((n) => n.opType === 'Constant')).toBe(false);
    expect(m.opsets).toContainEqual({ domain: 'com.microsoft', version: 1 });
    expect(m.initializers.filter((t) => t.name.startsWith('Wshared_Q4')).length).toBe(1); // quantized once

    const deq = await dequantizedWeights(m);
    const w = mlpWeights();
    const twin = new Map<string, Float32Array>();
    for (const [name, d] of deq) twin.set(name, name === 'W2t' ? transpose(d.values, d.K, d.N) : d.values); // W2t is stored [N, K]
    const twinBytes = mlpModel(twin).bytes;
    const batch = 3;
    const x = randn(batch * 72, 99);
    const [q, t, f] = [await run(out, x, batch), await run(twinBytes, x, batch), await run(bytes, x, batch)];
    for (const k of ['y', 'z']) {
      expect(relErr(q[k]!, t[k]!), k).toBeLessThan(1e-4);
      const e = relErr(q[k]!, f[k]!);
      expect(e, k).toBeGreaterThan(1e-3); // 4-bit weights change the output...
      expect(e, k).toBeLessThan(0.25); // ...by the quantization error, not more
    }
    // The weights themselves: our error per tensor, and the RTN baseline beside it.
    for (const [name, d] of deq) {
      const ref = name === 'W2t' ? transpose(w.get(name)!.values, 48, 64) : w.get(name)!.values;
      const e = relErr(d.values, ref);
      expect(e, name).toBeLessThan(0.2);
      expect(Math.abs(e - byName[name]!.relFrobenius!), name).toBeLessThan(1e-3);
    }
  });
});

async function runIds(bytes: Uint8Array, ids: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  const r = await s.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) });
  await s.release();
  return r.logits!.data as Float32Array;
}

describe.each([
  { bits: 4, zeroPoints: 'uint8' },
  { bits: 4, zeroPoints: 'float' },
  { bits: 8, zeroPoints: 'uint8' },
  { bits: 2, zeroPoints: 'uint8' },
] as const)('attention block, $bits-bit $zeroPoints zero points, in onnxruntime-node', ({ bits, zeroPoints }) => {
  it('equals the dequantized twin (1e-4); the weights beat RTN on every tensor', async () => {
    const { bytes } = attentionModel();
    const { report, files } = await quantizeInMemory(hqq, 'attn.onnx', bytes, { bits, blockSize: 32, zeroPoints });
    const q = report.tensors.filter((t) => t.action === 'quantize').map((t) => t.name).sort();
    expect(q).toEqual(['Wdown', 'Wk', 'Wo', 'Wq', 'Wup', 'Wv', 'lm_head']);
    expect(report.tensors.find((t) => t.name === 'emb')!.reason).toMatch(/not the B of a MatMul/);
    const m = await openOutput(files, 'attn.onnx');
    const deq = await dequantizedWeights(m);
    const twin = new Map([...deq].map(([k, v]) => [k, v.values]));
    const ids = [3, 14, 15, 9, 2, 6, 49];
    const [ours, tw, fp] = [await runIds(files.get('attn.onnx')!, ids), await runIds(attentionModel(twin).bytes, ids), await runIds(bytes, ids)];
    expect(relErr(ours, tw)).toBeLessThan(1e-4);
    const e = relErr(ours, fp);
    expect(e).toBeGreaterThan(bits === 8 ? 1e-5 : 1e-3);
    expect(e).toBeLessThan(bits === 2 ? 0.8 : bits === 4 ? 0.2 : 0.02);
    const rows = report.tensors.filter((t) => t.action === 'quantize').map((t) => ({ t, ratio: t.relFrobenius! / t.baseline!.relFrobenius }));
    console.log(`attention ${bits}-bit ${zeroPoints}: output rel. error vs fp32 ${e.toExponential(2)}; weights ours/RTN (rel. Frobenius): ${rows.map((r) => `${r.t.name} ${r.ratio.toFixed(3)}`).join(', ')}`);
    for (const r of rows) expect(r.ratio, r.t.name).toBeLessThan(1);
  });
});
