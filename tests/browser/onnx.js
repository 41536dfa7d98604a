// ONNX in the browser (loaded by onnx.html, driven by tests/runtimes/onnx-web.test.ts): the page
// fetches ?model=<url> (input ?input=<name> of ?dims=<a,b,...>), quantizes it with the built
// package (web/dist) into memory for each zero-point mode, and runs the original and every output
// in onnxruntime-web's wasm execution provider on one deterministic input. It publishes the
// outputs and the quantized bytes (base64) so the driver can check them against onnxruntime-node.
import { bytesSource, createInlinePool, loadHQQ, memorySink, quantizeModel } from '/web/dist/index.js';
import * as ort from '/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';

const params = new URLSearchParams(location.search);
const result = { passed: 0, failed: 0, failures: [], runs: [] };

function input(n) {
  let s = 12345;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

async function run(bytes, name, dims, x) {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'disabled' });
  const out = await session.run({ [name]: new ort.Tensor('float32', x, dims) });
  const y = out[session.outputNames[0]].data;
  await session.release();
  return Array.from(y);
}

try {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
  const url = params.get('model');
  const name = params.get('input');
  const dims = params.get('dims').split(',').map(Number);
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const x = input(dims.reduce((a, b) => a * b, 1));
  const hqq = await loadHQQ();
  result.input = Array.from(x);
  result.original = await run(bytes, name, dims, x);
  for (const zeroPoints of ['uint8', 'float']) {
    try {
      const sink = memorySink();
      const report = await quantizeModel({ sources: [bytesSource(bytes, 'model.onnx')] }, sink, { onnx: { bits: 4, blockSize: 32, zeroPoints }, workers: 1, createPool: () => createInlinePool(hqq) });
      const [file] = sink.files();
      const q = new Uint8Array(await file.blob.arrayBuffer());
      const output = await run(q, name, dims, x);
      result.runs.push({ zeroPoints, quantized: report.totals.quantized, model: base64(q), output });
      result.passed++;
      console.log(`ok   ${zeroPoints}: ${report.totals.quantized} weights quantized, onnxruntime-web ran the output`);
    } catch (e) {
      result.failed++;
      result.failures.push(`${zeroPoints}: ${e?.message ?? e}`);
      console.error(`FAIL ${zeroPoints}: ${e?.stack ?? e}`);
    }
  }
  window.__hqqResult = result;
} catch (e) {
  window.__hqqError = String(e?.stack ?? e);
}
