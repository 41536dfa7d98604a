// ONNX files on disk through quantizeModelFiles (Node): external data next to the model in, a
// folder with <name>.onnx + <name>.onnx_data out, loaded by onnxruntime-node from its path; a
// float16 model (scales in float16); a transformers.js folder written in place
// (onnx/model_fp16.onnx -> onnx/model_q4f16.onnx); and a failing run that leaves nothing behind.
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { HQQ } from '../../web/src/engine.js';
import { quantizeModelFiles } from '../../web/src/node-model.js';
import { loadHQQ } from '../../web/src/node.js';
import { createInlinePool } from '../../web/src/pool/inline-pool.js';
import { rejectsWithHQQError } from '../web/helpers.js';
import { buildModel, mlpModel, randn } from '../web/onnx/models.js';
import { relErr } from '../web/onnx/run-helpers.js';

let hqq: HQQ;
let dir: string;
beforeAll(async () => {
  hqq = await loadHQQ();
  dir = await mkdtemp(join(tmpdir(), 'hqq-onnx-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const pool = () => ({ workers: 1, createPool: () => createInlinePool(hqq) });

async function runPath(path: string, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  const r = await s.run(feeds);
  await s.release();
  return r[s.outputNames[0]!]!.data as Float32Array;
}

describe('ONNX files (Node)', () => {
  it('external data in; a folder with the model and its .onnx_data out, run by onnxruntime-node from the path', async () => {
    const src = join(dir, 'ext');
    await mkdir(src);
    const { bytes, external } = mlpModel(undefined, { external: { file: 'mlp.onnx.data', threshold: 1024 } });
    await writeFile(join(src, 'mlp.onnx'), bytes);
    await writeFile(join(src, 'mlp.onnx.data'), external!);
    const out = join(dir, 'ext-q4', 'mlp_q4.onnx');
    const r = await quantizeModelFiles(join(src, 'mlp.onnx'), out, { ...pool(), onnx: { bits: 4 } });
    expect(r.output).toEqual({ kind: 'folder', path: join(dir, 'ext-q4') });
    expect((await readdir(join(dir, 'ext-q4'))).filter((f) => !f.startsWith('.')).sort()).toEqual(['mlp_q4.onnx', 'mlp_q4.onnx_data']);
    const x = new ort.Tensor('float32', randn(2 * 72, 5), [2, 72]);
    const yq = await runPath(out, { x });
    const yf = await runPath(join(src, 'mlp.onnx'), { x });
    const e = relErr(yq, yf);
    expect(e).toBeGreaterThan(1e-3);
    expect(e).toBeLessThan(0.25);
    // Next to the input (a folder of the user's) it cannot go: the reason and the way out.
    const err = await rejectsWithHQQError(quantizeModelFiles(join(src, 'mlp.onnx'), join(src, 'mlp_q4.onnx'), pool()));
    expect(err.message).toMatch(/external data file, so the output is a folder of two files \(mlp_q4\.onnx, mlp_q4\.onnx_data\).*-o q4\/mlp_q4\.onnx/);
    expect((await readdir(src)).sort()).toEqual(['mlp.onnx', 'mlp.onnx.data']);
  });

  it('a float16 model gets float16 scales and runs (q4f16)', async () => {
    const K = 96;
    const N = 40;
    const w = hqq.encode16(randn(K * N, 21, 0.1), 'f16');
    const bytes = buildModel({
      inputs: [{ name: 'x', dims: [1, K], elemType: 10 }], outputs: [{ name: 'y', dims: [1, N], elemType: 10 }],
      initializers: [{ name: 'W', dims: [K, N], raw: new Uint8Array(w.buffer), dataType: 10 }],
      nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }],
    }).bytes;
    const folder = join(dir, 'tjs');
    await mkdir(join(folder, 'onnx'), { recursive: true });
    await writeFile(join(folder, 'config.json'), '{"model_type": "test"}');
    await writeFile(join(folder, 'onnx', 'model_fp16.onnx'), bytes);
    const r = await quantizeModelFiles(folder, undefined, { ...pool() });
    expect(r.outputPaths).toEqual([join(folder, 'onnx', 'model_q4f16.onnx')]);
    expect((await readdir(join(folder, 'onnx'))).sort()).toEqual(['model_fp16.onnx', 'model_q4f16.onnx']);
    const q = r.tensors.find((t) => t.name === 'W')!;
    expect(q.bytesAfter).toBe(N * 3 * 16 + N * 3 * 2 + N * 2); // blocks, float16 scales, packed zero points
    const x16 = hqq.encode16(randn(K, 3), 'f16');
    const feeds = { x: new ort.Tensor('float16', x16, [1, K]) };
    const [yq, yf] = [await runPath(join(folder, 'onnx', 'model_q4f16.onnx'), feeds), await runPath(join(folder, 'onnx', 'model_fp16.onnx'), feeds)];
    const dec = (a: unknown) => hqq.decode16(a instanceof Uint16Array ? a : new Uint16Array((a as Float32Array).buffer), 'f16');
    const e = relErr(dec(yq), dec(yf));
    expect(e).toBeGreaterThan(1e-3);
    expect(e).toBeLessThan(0.2);
    // Float zero points in float16 (T1) run too.
    const fz = join(dir, 'fz_q4f16.onnx');
    await quantizeModelFiles(join(folder, 'onnx', 'model_fp16.onnx'), fz, { ...pool(), onnx: { zeroPoints: 'float' } });
    const ez = relErr(dec(await runPath(fz, feeds)), dec(yf));
    expect(ez).toBeGreaterThan(1e-3);
    expect(ez).toBeLessThan(0.2);
  });

  it('a run that fails (external data missing) leaves no output and no temporary', async () => {
    const src = join(dir, 'broken');
    await mkdir(src);
    const { bytes } = mlpModel(undefined, { external: { file: 'gone.data', threshold: 1024 } });
    await writeFile(join(src, 'm.onnx'), bytes);
    const e = await rejectsWithHQQError(quantizeModelFiles(join(src, 'm.onnx'), join(dir, 'broken-out.onnx'), pool()));
    expect(e.message).toMatch(/external data file "gone\.data", which was not given; put it next to the model/);
    expect((await readdir(dir)).filter((f) => f.includes('broken-out'))).toEqual([]);
    expect(await readFile(join(src, 'm.onnx'))).toEqual(Buffer.from(bytes));
  });
});
