// Issue 9, findings 4 and 5 through whole-model runs: a scale that overflows the compute dtype is an
// error naming the tensor and the fix, and the reported error describes the bytes written.
import { describe, expect, it } from 'vitest';
import { memorySink } from '../../../web/src/io/browser-sink.js';
import { openSafetensors } from '../../../web/src/io/safetensors.js';
import { bytesSource } from '../../../web/src/io/source.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { quantizeModel } from '../../../web/src/model/quantize-model.js';
import { loadHQQ } from '../../../web/src/node.js';
import { createInlinePool } from '../../../web/src/pool/inline-pool.js';
import { rejectsWithHQQError } from '../helpers.js';

function model(values: Float32Array, shape: [number, number]): Uint8Array {
  const plan = planSafetensors([{ name: 'l.weight', dtype: 'F32', shape }]);
  const out = new Uint8Array(plan.totalSize);
  out.set(plan.headerBytes);
  out.set(new Uint8Array(values.buffer), plan.offsets.get('l.weight')!.begin);
  return out;
}

function normal(n: number, std: number, seed = 3): Float32Array {
  let s = seed;
  const u = () => ((s = (s * 1103515245 + 12345) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: n }, () => std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

describe('values of whole-model runs', () => {
  it('weights whose float16 scale overflows fail naming the tensor and the fix; bfloat16 works', async () => {
    const hqq = await loadHQQ();
    const bytes = model(normal(64 * 64, 3e5), [64, 64]);
    const run = (computeDtype: 'float16' | 'bfloat16') => quantizeModel({ sources: [bytesSource(bytes, 'big.safetensors')] }, memorySink(), {
      computeDtype, workers: 1, createPool: () => createInlinePool(hqq),
    });
    const err = await rejectsWithHQQError(run('float16'));
    expect(err.code).toBe('INVALID_VALUE');
    expect(err.message).toMatch(/l\.weight/);
    expect(err.message).toMatch(/bfloat16|float32/);
    const ok = await run('bfloat16');
    expect(Number.isFinite(ok.relFrobenius)).toBe(true);
  });

  it('the reported error is that of the scale and zero written (bfloat16 rounding included)', async () => {
    const hqq = await loadHQQ();
    const w = normal(64 * 128, 0.02);
    const sink = memorySink();
    const rep = await quantizeModel({ sources: [bytesSource(model(w, [64, 128]), 'm.safetensors')] }, sink, {
      nbits: 8, computeDtype: 'bfloat16', workers: 1, createPool: () => createInlinePool(hqq),
    });
    const out = await openSafetensors(bytesSource(new Uint8Array(await sink.files()[0]!.blob!.arrayBuffer()), 'o.safetensors'));
    const read16 = async (n: string) => hqq.decode16(new Uint16Array((await out.readTensor(out.tensor(n)!)).slice().buffer), 'bf16');
    const restored = hqq.dequantize({
      packed: await out.readTensor(out.tensor('l.W_q')!), nbits: 8, axis: 1, groupedShape: [64 * 128 / 64, 64],
      scale: await read16('l.scale'), zero: await read16('l.zero'),
    });
    let abs = 0;
    for (let i = 0; i < w.length; i++) abs += Math.abs(w[i]! - restored[i]!);
    expect(Math.abs(rep.tensors[0]!.meanAbs! - abs / w.length) / (abs / w.length)).toBeLessThan(1e-6);
  });
});
