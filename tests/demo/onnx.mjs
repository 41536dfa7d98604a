// End-to-end tests of ONNX input (registered by demo.e2e.mjs, same page):
//   - an MLP (MatMul, Gemm transB 0/1 with bias, a shared weight, a Constant weight, K = 72, a
//     matrix too small to quantize), built by the model builder of tests/web/onnx, dropped on the
//     page: plan rows and reasons, then quantized with uint8 and with float zero points; each
//     download is parsed (MatMulNBits nodes and attributes) and run in onnxruntime-node, where it
//     must equal the original graph run with the dequantized weights (the twin) to 1e-4;
//   - float zero points with 8 bits: the page explains why not, and recovers; a truncated .onnx;
//   - the MLP with external data: dropped without its data file, the page names the missing file
//     and offers no run; with it, the output (.onnx + .onnx_data) runs in onnxruntime-node, and
//     streamed into a picked folder it is the same bytes;
//   - a transformers.js folder (config.json, onnx/model.onnx and another variant) picked with
//     webkitdirectory: onnx/model.onnx is the model, the output is model_q4.onnx;
//   - a transformers.js folder with onnx/model_fp16.onnx dropped as a FileSystemDirectoryHandle:
//     the onnx/ sub-folder is read, the output is model_q4f16.onnx with float16 scales.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import * as ort from 'onnxruntime-node';
import { assert, assertEqual, dropFolder } from './harness.mjs';

/** The TypeScript model builder and output readers of tests/web/onnx, bundled for this plain-.mjs suite. */
async function loadModelHelpers(repo, work) {
  const out = await build({
    stdin: {
      contents: "export * from './tests/web/onnx/models.ts'; export { dequantizedWeights, openOutput, relErr } from './tests/web/onnx/run-helpers.ts'; export { transpose } from './tests/web/onnx/nbits-ref.ts';",
      resolveDir: repo, loader: 'ts', sourcefile: 'onnx-helpers.ts',
    },
    bundle: true, platform: 'node', format: 'esm', write: false, logLevel: 'error',
  });
  const file = join(work, 'onnx-helpers.mjs');
  await writeFile(file, out.outputFiles[0].contents);
  return import(file);
}

const MLP_QUANTIZED = ['W1', 'W2t', 'Wshared', 'W4', 'Wc'];

/** float32 -> IEEE half bits (round half up; tiny values flush to zero: enough for N(0, 0.1) weights). */
function toHalf(v) {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const e = ((u >>> 23) & 0xff) - 112;
  if (e <= 0) return sign;
  if (e >= 31) return sign | 0x7c00;
  return (sign | (e << 10) | ((u & 0x7fffff) >>> 13)) + ((u >>> 12) & 1);
}

/** One float16 MatMul (x [batch, 64] @ W [64, 64]), as model_fp16.onnx of a transformers.js folder. */
function fp16Model(h) {
  const w = h.randn(64 * 64, 21, 0.1);
  const raw = new Uint8Array(new Uint16Array(Array.from(w, toHalf)).buffer);
  return h.buildModel({
    inputs: [{ name: 'x', dims: ['batch', 64], elemType: 10 }],
    outputs: [{ name: 'y', dims: ['batch', 64], elemType: 10 }],
    initializers: [{ name: 'W', dims: [64, 64], raw, dataType: 10 }],
    nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'], name: 'fc' }],
  }).bytes;
}

export async function registerONNXTests(t, ctx) {
  const { page, work, rowsInfo, runAndWait } = ctx;
  const repo = resolve(ctx.dist, '../..');
  const h = await loadModelHelpers(repo, work);
  const x = h.randn(3 * 72, 99, 1);

  /** Drops files (name -> bytes) on the drop zone, as a DataTransfer of Files. */
  async function dropFiles(files) {
    const payload = Object.entries(files).map(([name, bytes]) => [name, Buffer.from(bytes).toString('base64')]);
    const dt = await page.evaluateHandle((items) => {
      const d = new DataTransfer();
      for (const [name, b64] of items) d.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
      return d;
    }, payload);
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
  }
  const waitLabel = (label) => page.waitForFunction((l) => document.querySelector('#input-summary strong')?.textContent === l, label, { timeout: 30_000 });
  const waitPlan = () => page.waitForFunction(() => document.querySelector('#results-card')?.dataset.format === 'onnx' && document.querySelectorAll('#results tbody tr').length > 0, undefined, { timeout: 30_000 });

  async function download(dir) {
    const names = await page.$$eval('#downloads a[download]', (as) => as.map((a) => a.dataset.file));
    await mkdir(dir, { recursive: true });
    const files = new Map();
    for (const name of names) {
      const [d] = await Promise.all([page.waitForEvent('download'), page.click(`#downloads a[data-file="${name}"]`)]);
      await d.saveAs(join(dir, name));
      files.set(name, new Uint8Array(await readFile(join(dir, name))));
    }
    return files;
  }

  async function runMLP(session) {
    const out = await session.run({ x: new ort.Tensor('float32', x, [3, 72]) });
    const y = out.y.data;
    await session.release();
    return y;
  }

  /**
   * The output's MatMulNBits nodes and attributes, and its outputs in onnxruntime-node against the
   * dequantized twin (to 1e-4) and the original (the quantization error).
   */
  async function checkOutput(files, name, dir, want) {
    const m = await h.openOutput(files, name);
    const nodes = m.nodes.filter((n) => n.opType === 'MatMulNBits');
    assertEqual(nodes.length, 6, 'MatMulNBits nodes: fc1, fc2, shared_a, shared_b, fc4, fc_const');
    assertEqual(m.nodes.filter((n) => n.opType === 'MatMul').length, 1, 'the small MatMul stays');
    for (const n of nodes) {
      const attr = Object.fromEntries(n.attribute.map((a) => [a.name, Number(a.i)]));
      assertEqual(attr.bits, want.bits, `${n.name}: bits`);
      assertEqual(attr.block_size, want.blockSize, `${n.name}: block_size`);
      assert(attr.K > 0 && attr.N > 0, `${n.name}: K ${attr.K}, N ${attr.N}`);
      const zp = m.initializers.find((i) => i.name === n.input[3]);
      assertEqual(zp?.dataType, want.zeroPoints === 'uint8' ? 2 : 1, `${n.name}: zero points ${want.zeroPoints}`);
    }
    const fc1 = nodes.find((n) => n.input[1].startsWith('W1_'));
    assertEqual(Number(fc1.attribute.find((a) => a.name === 'K').i), 72, 'fc1: K = 72 (a partial last block)');
    const shared = nodes.filter((n) => n.input[1].startsWith('Wshared_'));
    assert(shared.length === 2 && shared[0].input[1] === shared[1].input[1], 'the shared weight is quantized once, read by both nodes');
    const deq = await h.dequantizedWeights(m);
    const w = h.mlpWeights();
    const override = new Map();
    for (const [k, v] of deq) override.set(k, w.get(k).dims[0] === v.K ? v.values : h.transpose(v.values, v.K, v.N));
    assertEqual(JSON.stringify([...override.keys()].sort()), JSON.stringify([...MLP_QUANTIZED].sort()), 'dequantized weights');
    const quant = await runMLP(await ort.InferenceSession.create(join(dir, name), { graphOptimizationLevel: 'disabled' }));
    const twin = await runMLP(await ort.InferenceSession.create(h.mlpModel(override).bytes));
    const orig = await runMLP(await ort.InferenceSession.create(h.mlpModel().bytes));
    assert(quant.every(Number.isFinite), 'finite outputs');
    const eTwin = h.relErr(quant, twin);
    const eOrig = h.relErr(quant, orig);
    assert(eTwin < 1e-4, `quantized model = dequantized twin: rel. err ${eTwin}`);
    assert(eOrig > 1e-5 && eOrig < 0.25, `quantized vs original: rel. err ${eOrig}`);
    return { eTwin, eOrig };
  }

  /** Every quantized row: its badge, HQQ's error at most RTN's, the "x RTN" ratio. */
  async function checkRows(label) {
    const rows = await rowsInfo();
    const q = rows.filter((r) => r.action === 'quantize');
    assertEqual(JSON.stringify(q.map((r) => r.name).sort()), JSON.stringify([...MLP_QUANTIZED].sort()), 'quantized rows');
    const ratios = [];
    for (const r of q) {
      assertEqual(r.badge, label, `${r.name}: badge`);
      const m = /^(\d+\.\d\d)x RTN$/.exec(r.cells[10]);
      assert(m, `${r.name}: ratio cell "${r.cells[10]}"`);
      const baseRel = Number(await page.getAttribute(`#results tbody tr[data-name="${r.name}"]`, 'data-base-rel'));
      assert(r.rel > 0 && r.rel <= baseRel, `${r.name}: HQQ rel. err ${r.rel} <= RTN's ${baseRel}`);
      ratios.push(Number(m[1]));
    }
    return ratios;
  }

  t.test('ONNX: a dropped .onnx (MLP): plan with reasons; uint8 and float zero points; the output runs in onnxruntime-node as its dequantized twin', async () => {
    await dropFiles({ 'mlp.onnx': h.mlpModel().bytes });
    await waitLabel('mlp.onnx');
    await waitPlan();
    assertEqual(await page.isChecked('#fmt-onnx'), true, 'ONNX output chosen for an ONNX model');
    for (const id of ['#fmt-hqq', '#fmt-hqq-folder', '#fmt-gguf']) assertEqual(await page.isDisabled(id), true, `${id} not offered`);
    assertEqual(await page.isVisible('#onnx-options'), true, 'ONNX settings shown');
    assertEqual(await page.isVisible('#opt-nbits'), false, 'HQQ settings hidden');
    assertEqual(await page.inputValue('#opt-onnx-bits'), '4', 'default bits');
    assertEqual(await page.inputValue('#opt-onnx-block'), '32', 'default block size');
    assertEqual(await page.inputValue('#opt-onnx-zeros'), 'uint8', 'default zero points');
    for (const id of ['opt-onnx-bits', 'opt-onnx-block', 'opt-onnx-zeros']) {
      const help = await page.getAttribute(`#${id}`, 'aria-describedby');
      assert(help && (await page.textContent(`#${help}`)).length > 20, `${id} has a one-line help`);
    }
    const plan = await rowsInfo();
    const small = plan.find((r) => r.name === 'small');
    assert(small.action === 'copy' && /fewer than 1024/.test(small.reason), `small: ${small.action} (${small.reason})`);
    assert(plan.find((r) => r.name === 'b1').reason, 'a bias shows why it is kept');
    assertEqual(plan.filter((r) => r.action === 'quantize').length, MLP_QUANTIZED.length, 'planned quantized rows');

    await runAndWait();
    const u8 = await checkRows('q4 b32');
    const dirU8 = join(work, 'onnx-u8');
    const filesU8 = await download(dirU8);
    assertEqual(JSON.stringify([...filesU8.keys()]), '["mlp_q4.onnx"]', 'one file, named as transformers.js names q4');
    const a = await checkOutput(filesU8, 'mlp_q4.onnx', dirU8, { bits: 4, blockSize: 32, zeroPoints: 'uint8' });

    await page.selectOption('#opt-onnx-zeros', 'float');
    await page.waitForFunction(() => document.querySelector('#results-card')?.dataset.final === 'false');
    await runAndWait();
    const fl = await checkRows('q4 b32 fz'); // the library's label of float zero points
    const dirF = join(work, 'onnx-float');
    const filesF = await download(dirF);
    const b = await checkOutput(filesF, 'mlp_q4.onnx', dirF, { bits: 4, blockSize: 32, zeroPoints: 'float' });
    console.log(`       x RTN (mean |err|) uint8 ${u8.join(' ')}; float ${fl.join(' ')}; output vs fp32 ${a.eOrig.toFixed(4)} / ${b.eOrig.toFixed(4)}, vs twin ${a.eTwin.toExponential(1)} / ${b.eTwin.toExponential(1)}`);
    await page.selectOption('#opt-onnx-zeros', 'uint8');
  });

  t.test('ONNX: float zero points with 8 bits are explained, and the page recovers', async () => {
    await page.selectOption('#opt-onnx-zeros', 'float');
    await page.selectOption('#opt-onnx-bits', '8');
    await page.waitForSelector('#error', { state: 'visible', timeout: 10_000 });
    const msg = await page.textContent('#error-message');
    assertEqual(await page.getAttribute('#error', 'data-code'), 'INVALID_ARGUMENT', 'error code');
    assert(/float zero points/.test(msg) && /4-bit/.test(msg) && /uint8/.test(msg), `the reason and the way out: ${msg}`);
    await page.selectOption('#opt-onnx-zeros', 'uint8');
    await page.waitForSelector('#error', { state: 'hidden', timeout: 10_000 });
    await page.waitForFunction(() => /8/.test(document.querySelector('#results tbody tr[data-action="quantize"] .badge')?.textContent ?? ''));
    await page.selectOption('#opt-onnx-bits', '4');
    await page.waitForFunction(() => /4/.test(document.querySelector('#results tbody tr[data-action="quantize"] .badge')?.textContent ?? ''));
  });

  t.test('ONNX: external data: the missing file is named and nothing runs; with it, .onnx + .onnx_data run in onnxruntime-node', async () => {
    const ext = h.mlpModel(undefined, { external: { file: 'mlp.onnx_data', threshold: 1024 } });
    await dropFiles({ 'mlp.onnx': ext.bytes });
    await page.waitForSelector('#error', { state: 'visible', timeout: 30_000 });
    const msg = await page.textContent('#error-message');
    assert(msg.includes('mlp.onnx_data') && /missing/.test(msg) && /together with the \.onnx/.test(msg), `the page names the missing file: ${msg}`);
    assertEqual(await page.getAttribute('#input-summary .external', 'data-missing'), 'mlp.onnx_data', 'the summary names it missing');
    assert((await page.textContent('#input-summary .needs li[data-format="onnx"]')).includes('✗ mlp.onnx_data'), 'the needs line marks it');
    assertEqual(await page.isDisabled('#run-btn'), true, 'no run without the data');
    assertEqual(await page.isVisible('#results-card'), false, 'no plan without the data');

    await dropFiles({ 'mlp.onnx': ext.bytes, 'mlp.onnx_data': ext.external, 'notes.txt': new TextEncoder().encode('not data') });
    await waitLabel('3 files');
    await waitPlan();
    assertEqual(await page.isVisible('#error'), false, 'the error is gone');
    const roles = await page.$$eval('#input-summary .chip', (cs) => Object.fromEntries(cs.map((c) => [c.textContent.split(' · ')[0], c.dataset.role])));
    assertEqual(roles['mlp.onnx_data'], 'external-data', 'the data file\'s role');
    assertEqual(roles['notes.txt'], 'other', 'an unrelated file');
    await runAndWait();
    const dir = join(work, 'onnx-ext');
    const files = await download(dir);
    assertEqual(JSON.stringify([...files.keys()].sort()), '["mlp_q4.onnx","mlp_q4.onnx_data"]', 'the model and its external data');
    const m = await h.openOutput(files, 'mlp_q4.onnx');
    assert(m.externalFiles.includes('mlp_q4.onnx_data'), 'the output reads its weights from mlp_q4.onnx_data');
    const { eOrig } = await checkOutput(files, 'mlp_q4.onnx', dir, { bits: 4, blockSize: 32, zeroPoints: 'uint8' });
    console.log(`       external data: output vs fp32 ${eOrig.toFixed(4)}`);
    // The same two files streamed into a picked folder: one file is not offered, the bytes are the download's.
    assertEqual(await page.isDisabled('#out-file'), true, 'a two-file output cannot go into one file');
    await page.evaluate(() => { window.__pickDir = 'onnx-stream'; });
    await page.check('#out-directory');
    await runAndWait();
    const streamed = await ctx.readOpfs('onnx-stream');
    assertEqual(JSON.stringify([...streamed.keys()].sort()), '["mlp_q4.onnx","mlp_q4.onnx_data"]', 'files streamed into the folder');
    for (const [name, bytes] of streamed) assert(Buffer.compare(bytes, Buffer.from(files.get(name))) === 0, `${name}: streamed = downloaded`);
    await page.check('input[name="output"][value="memory"]');
  });

  t.test('ONNX: a truncated .onnx gets the reader\'s message, no plan, and the page recovers', async () => {
    const bytes = h.mlpModel().bytes;
    await dropFiles({ 'cut.onnx': bytes.slice(0, Math.floor(bytes.length / 2)) });
    await page.waitForSelector('#error', { state: 'visible', timeout: 30_000 });
    const msg = await page.textContent('#error-message');
    assertEqual(await page.getAttribute('#error', 'data-code'), 'BAD_FILE', 'error code');
    assert(msg.includes('cut.onnx') && /ONNX/.test(msg), `the message names the file: ${msg}`);
    assertEqual(await page.isDisabled('#run-btn'), true, 'nothing to run');
    await dropFiles({ 'mlp.onnx': bytes });
    await waitLabel('mlp.onnx');
    await waitPlan();
    assertEqual(await page.isVisible('#error'), false, 'the error is gone once a good model is opened');
  });

  t.test('ONNX: a transformers.js folder (webkitdirectory): onnx/model.onnx is quantized to model_q4.onnx', async () => {
    const dir = join(work, 'tiny-tj');
    await mkdir(join(dir, 'onnx'), { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', architectures: ['BertModel'] }));
    await writeFile(join(dir, 'tokenizer.json'), '{}');
    await writeFile(join(dir, 'onnx', 'model.onnx'), h.mlpModel().bytes);
    await writeFile(join(dir, 'onnx', 'model_quantized.onnx'), h.mlpModel().bytes);
    await page.setInputFiles('#folder-input', dir);
    await waitLabel('folder tiny-tj (onnx/model.onnx)');
    await waitPlan();
    assert((await page.textContent('#input-summary .ignored')).includes('onnx/model_quantized.onnx'), 'the other variant is named, not used');
    const chips = await page.$$eval('#input-summary .chip', (cs) => cs.map((c) => c.textContent.split(' · ')[0]));
    for (const n of ['model.onnx', 'config.json', 'tokenizer.json']) assert(chips.includes(n), `${n} listed`);
    await runAndWait();
    const links = await page.$$eval('#downloads a[download]', (as) => as.map((a) => a.dataset.file));
    assertEqual(JSON.stringify(links), '["model_q4.onnx"]', 'transformers.js\'s q4 name');
  });

  t.test('ONNX: a transformers.js folder dropped as a FileSystemDirectoryHandle: onnx/model_fp16.onnx -> model_q4f16.onnx, float16 scales', async () => {
    const files = { 'config.json': Buffer.from('{"model_type":"bert"}').toString('base64'), 'onnx/model_fp16.onnx': Buffer.from(fp16Model(h)).toString('base64') };
    await dropFolder(page, 'Dropped-TJ', files);
    await waitLabel('folder Dropped-TJ (onnx/model_fp16.onnx)');
    await waitPlan();
    const plan = await rowsInfo();
    assert(plan.length === 1 && plan[0].name === 'W' && plan[0].action === 'quantize', `one row, W, quantized: ${JSON.stringify(plan.map((r) => [r.name, r.action]))}`);
    assertEqual(plan[0].cells[2], 'F16', 'the weight is float16');
    await runAndWait();
    const dir = join(work, 'onnx-fp16');
    const out = await download(dir);
    assertEqual(JSON.stringify([...out.keys()]), '["model_q4f16.onnx"]', 'transformers.js\'s q4f16 name');
    const m = await h.openOutput(out, 'model_q4f16.onnx');
    const node = m.nodes.find((n) => n.opType === 'MatMulNBits');
    assertEqual(m.initializers.find((i) => i.name === node.input[2])?.dataType, 10, 'scales in A\'s type, float16');
  });
}
