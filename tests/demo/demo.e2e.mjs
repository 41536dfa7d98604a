#!/usr/bin/env node
// End-to-end tests of the built demo (demo/dist) in headless Chromium:
//   - the page loads with its Content-Security-Policy (meta tag and header) and no errors;
//   - the built-in sample: plan rows, a full run, results table against the sample's tensors;
//   - plots of one tensor (histogram + grid, group close-up, error distribution);
//   - the download (Blob path): sharded output + index.json, parsed here as safetensors with the
//     reference HQQLinear keys, copied tensors byte-identical, a layer dequantized with the
//     package in Node giving the expected error;
//   - a malformed file and a bad option show the reader's message and the page recovers;
//   - Cancel mid-run stops the workers and the page stays usable;
//   - after the page has loaded, the server receives no request at all and the browser asks for
//     nothing but its own cached code (checked over the whole session);
//   - a screenshot of the results view: test-artifacts/demo-results.png (+ docs/screenshot-demo.png
//     with --update-screenshot).
// Usage: node tests/demo/demo.e2e.mjs [--dist demo/dist] [--update-screenshot] [--only TEXT]
//   --only TEXT: the page-load test, the tests whose name includes TEXT, and the closing privacy test.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assert, assertEqual, createRunner, launch, startServer } from './harness.mjs';
import { registerFormatTests } from './formats.mjs';
import { registerONNXTests } from './onnx.mjs';
import { registerPolishTests } from './polish.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const distArg = args.indexOf('--dist');
const dist = resolve(distArg >= 0 ? args[distArg + 1] : join(repo, 'demo/dist'));
const updateScreenshot = args.includes('--update-screenshot');
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? args[onlyArg + 1] : undefined;

const pkg = (p) => import(join(repo, 'web/dist', p));
const { loadHQQ } = await pkg('node.js');
const { openSafetensors, readScalarInt, readIntArray, readAsciiString } = await pkg('io/safetensors.js');
const { bytesSource } = await pkg('io/source.js');
const { parseIndexJson } = await pkg('io/index-json.js');
const { planSafetensors } = await pkg('io/writer.js');
const { syntheticPreset, syntheticLlamaSpec, generateTensorData } = await pkg('model/synthetic.js');

const sample = JSON.parse(await readFile(join(dist, 'sample/sample.json'), 'utf8'));
const HQQ_KEYS = [
  'W_q', 'scale', 'zero', 'nbits', 'group_size', 'axis', 'shape', 'packing', 'unpack_view_dtype', 'compute_dtype',
  'view_as_float', 'quant_scale', 'quant_zero', 'offload_meta', 'channel_wise', 'optimize', 'round_zero',
  'encoded_state_dict', 'stores_quant_config',
];
/** Tensors the default options quantize (Llama linear layers; embeddings, lm_head and norms are kept). */
const isLinear = (name) => /\.(self_attn|mlp)\.[a-z_]+_proj\.weight$/.test(name);

const work = await mkdtemp(join(tmpdir(), 'hqq-demo-e2e-'));
const artifacts = join(repo, 'test-artifacts');
await mkdir(artifacts, { recursive: true });

const server = await startServer(dist);
const browser = await launch();
const { page, context } = browser;
const pageErrors = [];
const consoleErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
page.on('console', (m) => {
  if (m.type() === 'error') consoleErrors.push(m.text());
});
// Headless Chromium cannot click through the File System Access pickers: stand them in with
// handles of the origin-private file system (real FileSystemDirectoryHandle / FileHandle objects),
// so the page's streaming sinks run for real. `window.__pickDir` names the folder returned.
await context.addInitScript(() => {
  window.showDirectoryPicker = async () => (await navigator.storage.getDirectory()).getDirectoryHandle(window.__pickDir ?? 'out', { create: true });
  window.showSaveFilePicker = async (o) => (await navigator.storage.getDirectory()).getFileHandle(o?.suggestedName ?? 'out.safetensors', { create: true });
});
/** Reads files of the origin-private file system (`dir` undefined: the root) as Buffers. */
async function readOpfs(dir, names) {
  const data = await page.evaluate(async ({ dir, names }) => {
    let d = await navigator.storage.getDirectory();
    if (dir) d = await d.getDirectoryHandle(dir);
    const out = {};
    for await (const [name, h] of d.entries()) {
      if (h.kind !== 'file' || (names && !names.includes(name))) continue;
      const bytes = new Uint8Array(await (await h.getFile()).arrayBuffer());
      let bin = '';
      for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      out[name] = btoa(bin);
    }
    return out;
  }, { dir, names });
  return new Map(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}
let readyAt = Infinity;
const requestsAfterReady = [];
context.on('request', (r) => {
  if (Date.now() >= readyAt) requestsAfterReady.push({ url: r.url(), method: r.method(), type: r.resourceType() });
});

const attr = (sel, name) => page.getAttribute(sel, name);
const waitAttr = (sel, timeout = 60_000) => page.waitForSelector(sel, { state: 'attached', timeout });
const rowsInfo = () => page.$$eval('#results tbody tr', (trs) => trs.map((tr) => ({
  name: tr.dataset.name,
  action: tr.dataset.action,
  state: tr.dataset.state,
  rel: tr.dataset.rel === undefined ? undefined : Number(tr.dataset.rel),
  cells: [...tr.cells].map((c) => c.textContent.trim()),
  badge: tr.querySelector('.badge')?.textContent.trim(),
  reason: tr.querySelector('.reason')?.textContent.trim(),
  title: tr.cells[0]?.title,
})));
const parsePercent = (s) => Number(s.replace('%', '')) / 100;

async function runAndWait(timeout = 120_000) {
  await page.click('#run-btn');
  await waitAttr('html[data-run="running"]', 10_000).catch(() => {});
  await waitAttr('html[data-run="done"], html[data-run="failed"], html[data-run="cancelled"]', timeout);
  const state = await attr('html', 'data-run');
  if (state !== 'done') throw new Error(`the run ended "${state}": ${await page.textContent('#error-message')}`);
}

async function loadSample() {
  await page.click('#sample-btn');
  await page.waitForFunction(() => document.querySelector('#input-summary strong')?.textContent === 'built-in sample' && document.querySelectorAll('#results tbody tr').length > 0);
}

const t = createRunner();
let report; // the sample run's rows
const outDir = join(work, 'out'); // the downloaded output of the sample run

t.test('page loads: CSP meta tag and header, quantizer and sample ready, no errors', async () => {
  const res = await page.goto(server.url);
  assertEqual(res.status(), 200, 'index.html status');
  await waitAttr('html[data-state="ready"]', 60_000);
  readyAt = Date.now();
  const header = res.headers()['content-security-policy'];
  const meta = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
  assert(meta && header, 'both the CSP meta tag and the header are present');
  assert(header.startsWith(meta), `the header repeats the meta policy (header: ${header}; meta: ${meta})`);
  for (const d of ["default-src 'none'", "connect-src 'self'", "worker-src 'self'", "style-src 'self'", "'wasm-unsafe-eval'"]) {
    assert(meta.includes(d), `CSP has ${d}`);
  }
  if (meta.includes("'unsafe-eval'")) console.log("       note: the CSP carries 'unsafe-eval' (the build said why: Embind glue without -sDYNAMIC_EXECUTION=0, or protobufjs reflection for ONNX)");
  const wasmUrl = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name).find((n) => n.endsWith('.wasm')));
  assert(wasmUrl, 'the page loaded a .wasm file');
  const head = await fetch(wasmUrl, { method: 'HEAD' }); // from Node: not a request of the page
  server.hits.pop();
  const wasm = head.headers.get('content-type');
  assertEqual(wasm, 'application/wasm', 'the wasm MIME type');
  assert((await page.textContent('#engine-status')).startsWith('Ready'), 'engine status says Ready');
  const defaults = await page.evaluate(() => ({
    nbits: document.querySelector('#opt-nbits').value, group: document.querySelector('#opt-group').value,
    axis: document.querySelector('#opt-axis').value, optimize: document.querySelector('#opt-optimize').checked,
    dtype: document.querySelector('#opt-dtype').value, output: document.querySelector('input[name="output"]:checked').value,
  }));
  assertEqual(JSON.stringify(defaults), JSON.stringify({ nbits: '4', group: '64', axis: '1', optimize: true, dtype: 'float16', output: 'memory' }), 'default options');
  assert((await page.textContent('#privacy')).includes('no network requests'), 'the privacy note is on the page');
  assertEqual(pageErrors.length, 0, `page errors: ${pageErrors.join(' | ')}`);
});

t.test('built-in sample: the plan lists every tensor of the sample, in order', async () => {
  await loadSample();
  const rows = await rowsInfo();
  assertEqual(rows.length, sample.tensors.length, 'row count');
  rows.forEach((r, i) => {
    const s = sample.tensors[i];
    assertEqual(r.name, s.name, `row ${i} name`);
    assertEqual(r.cells[1], `[${s.shape.join(', ')}]`, `${s.name} shape`);
    assertEqual(r.cells[2], s.dtype, `${s.name} dtype`);
    assertEqual(r.action, isLinear(s.name) ? 'quantize' : 'copy', `${s.name} action`);
    assertEqual(r.state, 'planned', `${s.name} state`);
  });
  assertEqual(await attr('#results-card', 'data-final'), 'false', 'results card shows a plan');
});

t.test('quantize the sample (4-bit, g64): every row filled in, HQQ beats round-to-nearest', async () => {
  await runAndWait();
  const rows = await rowsInfo();
  assertEqual(rows.length, sample.tensors.length, 'row count');
  let q = 0;
  for (const r of rows) {
    assertEqual(r.state, 'done', `${r.name} state`);
    if (r.action !== 'quantize') {
      assertEqual(r.badge, 'copy', `${r.name} action badge`);
      continue;
    }
    q++;
    assertEqual(r.badge, '4-bit g64', `${r.name} action badge`);
    const bits = Number(r.cells[5]);
    assert(bits > 4.4 && bits < 4.6, `${r.name}: bits per weight ${bits} (4-bit g64 with f16 scale+zero is about 4.5)`);
    const hqqRel = parsePercent(r.cells[7]);
    const rtnRel = parsePercent(r.cells[9]);
    assert(hqqRel > 0.06 && hqqRel < 0.16, `${r.name}: HQQ relative error ${hqqRel}`);
    assert(rtnRel >= hqqRel, `${r.name}: RTN ${rtnRel} >= HQQ ${hqqRel}`);
    assert(/^−\d/.test(r.cells[10]), `${r.name}: HQQ vs RTN cell ${r.cells[10]}`);
    assert(Math.abs(r.rel - hqqRel) < 1e-4, `${r.name}: data-rel ${r.rel} matches the cell`);
  }
  assertEqual(q, sample.tensors.filter((s) => isLinear(s.name)).length, 'quantized rows');
  const foot = await page.$$eval('#results tfoot td', (tds) => tds.map((td) => td.textContent.trim()));
  assert(foot[0].includes(`${sample.tensors.length} tensors`) && foot[0].includes(`${q} quantized`), `totals: ${foot[0]}`);
  assert(foot[7].endsWith('%') && foot[9].endsWith('%'), `totals carry errors: ${foot.join(' | ')}`);
  report = rows;
  assertEqual(await page.isVisible('#progress-card'), false, 'progress card hidden after the run');
});

t.test('clicking a row shows the weight histogram with a group grid, the group close-up and the error distribution', async () => {
  const name = 'model.layers.1.mlp.down_proj.weight';
  await page.click(`#results tbody tr[data-name="${name}"]`);
  await waitAttr('#plots-card[data-state="ready"]', 30_000);
  assertEqual(await page.textContent('#plots-h'), name, 'plot title');
  const plots = await page.$$eval('#plots svg.plot', (svgs) => svgs.map((s) => ({
    label: s.getAttribute('aria-label'),
    paths: s.querySelectorAll('path').length,
    hqqLevels: s.querySelectorAll('.level-hqq, .tick-hqq').length,
    dots: s.querySelectorAll('.dot-weight').length,
  })));
  assertEqual(plots.length, 3, 'three plots');
  assert(plots[0].label.startsWith('Weights') && plots[0].paths >= 1 && plots[0].hqqLevels >= 2, `weights plot ${JSON.stringify(plots[0])}`);
  assert(plots[1].label.startsWith('Quantization error') && plots[1].paths === 2, `error plot ${JSON.stringify(plots[1])}`);
  assert(plots[2].label.startsWith('Group') && plots[2].dots === 64 && plots[2].hqqLevels >= 8, `group plot ${JSON.stringify(plots[2])}`);
  assertEqual(await attr(`#results tbody tr[data-name="${name}"]`, 'aria-selected'), 'true', 'row selected');
  // Step to the next group.
  const before = Number(await page.inputValue('#group-index'));
  await page.click('#group-next');
  await page.waitForFunction((b) => Number(document.querySelector('#group-index').value) === b + 1, before);
  const label = await page.getAttribute('#plots svg.plot >> nth=2', 'aria-label');
  assert(label.startsWith(`Group ${before + 1} `), `group plot follows: ${label}`);
  await page.click('#group-widest');
  await page.waitForFunction((b) => Number(document.querySelector('#group-index').value) === b, before);
});

t.test('screenshot of the results view', async () => {
  await page.click('#results tbody tr[data-name="model.layers.0.self_attn.q_proj.weight"]');
  await waitAttr('#plots-card[data-state="ready"]', 30_000);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.mouse.move(1270, 890); // no hover highlight in the picture
  await page.waitForTimeout(300);
  const file = join(artifacts, 'demo-results.png');
  await page.screenshot({ path: file, fullPage: true });
  if (updateScreenshot) {
    await mkdir(join(repo, 'docs'), { recursive: true });
    await copyFile(file, join(repo, 'docs/screenshot-demo.png'));
  }
});

t.test('download (Blob path): sharded output + index parse as safetensors with HQQLinear keys; a layer dequantizes with the expected error', async () => {
  const links = await page.$$eval('#downloads a[download]', (as) => as.map((a) => a.dataset.file));
  const expected = [...sample.weightFiles];
  assertEqual(JSON.stringify([...links].sort()), JSON.stringify([...expected].sort()), 'download links (shards + index)');
  await mkdir(outDir, { recursive: true });
  for (const name of links) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#downloads a[data-file="${name}"]`)]);
    assertEqual(download.suggestedFilename(), name, 'download file name');
    await download.saveAs(join(outDir, name));
  }
  const indexName = 'model.safetensors.index.json';
  const index = parseIndexJson(await readFile(join(outDir, indexName), 'utf8'), indexName);
  const open = async (dir, name) => openSafetensors(bytesSource(new Uint8Array(await readFile(join(dir, name))), name));
  const outFiles = new Map();
  for (const shard of index.shards) outFiles.set(shard, await open(outDir, shard));
  const inFiles = new Map();
  for (const f of sample.files.filter((f) => f.name.endsWith('.safetensors'))) inFiles.set(f.name, await open(join(dist, 'sample'), f.name));
  // Every output tensor is in the shard the index names.
  let keys = 0;
  for (const [shard, f] of outFiles) {
    for (const info of f.header.tensors) {
      assertEqual(index.weightMap.get(info.name), shard, `index entry of ${info.name}`);
      keys++;
    }
  }
  assertEqual(index.weightMap.size, keys, 'index covers every output tensor');
  const hqq = await loadHQQ();
  for (const s of sample.tensors) {
    const inF = inFiles.get(s.shard);
    const outF = outFiles.get(s.shard);
    assert(outF, `output shard ${s.shard}`);
    if (!isLinear(s.name)) {
      const a = await inF.readTensor(s.name);
      const b = await outF.readTensor(s.name);
      assert(Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0, `${s.name} copied byte for byte`);
      continue;
    }
    const p = s.name.slice(0, -'weight'.length);
    for (const k of HQQ_KEYS) assert(outF.tensor(p + k), `${p}${k} is in ${s.shard}`);
    assert(!outF.tensor(s.name), `${s.name} itself is replaced`);
    const numel = s.shape[0] * s.shape[1];
    const wq = outF.tensor(p + 'W_q');
    assertEqual(wq.dtype, 'U8', `${p}W_q dtype`);
    assertEqual(JSON.stringify(wq.shape), JSON.stringify([numel / 64 / 2, 64]), `${p}W_q shape`);
    assertEqual(outF.tensor(p + 'scale').dtype, 'F16', `${p}scale dtype`);
    assertEqual(JSON.stringify(outF.tensor(p + 'scale').shape), JSON.stringify([numel / 64, 1]), `${p}scale shape`);
    assertEqual(readScalarInt(outF.tensor(p + 'nbits'), await outF.readTensor(p + 'nbits')), 4, `${p}nbits`);
    assertEqual(readScalarInt(outF.tensor(p + 'group_size'), await outF.readTensor(p + 'group_size')), 64, `${p}group_size`);
    assertEqual(readScalarInt(outF.tensor(p + 'axis'), await outF.readTensor(p + 'axis')), 1, `${p}axis`);
    assertEqual(JSON.stringify(readIntArray(outF.tensor(p + 'shape'), await outF.readTensor(p + 'shape'))), JSON.stringify(s.shape), `${p}shape`);
    assertEqual(readAsciiString(outF.tensor(p + 'packing'), await outF.readTensor(p + 'packing')), '4bit_u8', `${p}packing`);
    assertEqual(readAsciiString(outF.tensor(p + 'compute_dtype'), await outF.readTensor(p + 'compute_dtype')), 'torch.float16', `${p}compute_dtype`);
  }
  // Dequantize two layers with the package in Node and compare with the input weights.
  for (const name of ['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.mlp.down_proj.weight']) {
    const s = sample.tensors.find((x) => x.name === name);
    const outF = outFiles.get(s.shard);
    const p = name.slice(0, -'weight'.length);
    const u16 = async (k) => {
      const b = await outF.readTensor(p + k);
      return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    };
    const numel = s.shape[0] * s.shape[1];
    const w = hqq.dequantize({
      packed: await outF.readTensor(p + 'W_q'), nbits: 4, groupedShape: [numel / 64, 64], axis: 1,
      scale: hqq.decode16(await u16('scale'), 'f16'), zero: hqq.decode16(await u16('zero'), 'f16'),
    });
    const orig = await inFiles.get(s.shard).readTensor(name);
    const ref = hqq.decode16(new Uint16Array(orig.buffer, orig.byteOffset, orig.byteLength / 2), 'f16');
    let e2 = 0;
    let r2 = 0;
    for (let i = 0; i < numel; i++) {
      e2 += (ref[i] - w[i]) ** 2;
      r2 += ref[i] ** 2;
    }
    const rel = Math.sqrt(e2 / r2);
    const shown = report.find((r) => r.name === name).rel;
    assert(rel > 0.06 && rel < 0.16, `${name}: dequantized relative error ${rel.toFixed(4)} in the 4-bit range`);
    assert(Math.abs(rel - shown) < 0.005, `${name}: file error ${rel.toFixed(4)} matches the table's ${shown.toFixed(4)} (scale/zero stored as float16)`);
  }
});

t.test('stream into a folder (File System Access): the same bytes as the download; an occupied folder is refused', async () => {
  await page.evaluate(() => { window.__pickDir = 'stream-1'; });
  await page.check('#out-directory');
  await runAndWait();
  const saved = await page.textContent('#downloads');
  assert(saved.includes('Saved 3 files') && saved.includes('stream-1'), `saved note: ${saved}`);
  const files = await readOpfs('stream-1');
  assertEqual(JSON.stringify([...files.keys()].sort()), JSON.stringify([...sample.weightFiles].sort()), 'files in the folder');
  for (const [name, bytes] of files) {
    assert(Buffer.compare(bytes, await readFile(join(outDir, name))) === 0, `${name}: streamed bytes equal the downloaded ones`);
  }
  // The same folder again: nothing is overwritten, the reason is shown, the page recovers.
  await page.click('#run-btn');
  await waitAttr('html[data-run="failed"]', 60_000);
  const msg = await page.textContent('#error-message');
  assert(msg.includes('already holds') && msg.includes('stream-1'), `error: ${msg}`);
  const again = await readOpfs('stream-1');
  for (const [name, bytes] of again) assert(Buffer.compare(bytes, files.get(name)) === 0, `${name} untouched`);
  await page.check('input[name="output"][value="memory"]');
});

t.test('stream a single-file model into one file (save dialog path)', async () => {
  const shard = 'model-00002-of-00002.safetensors'; // a shard alone is a valid single-file model
  await page.setInputFiles('#file-input', join(dist, 'sample', shard));
  await page.waitForFunction((n) => document.querySelector('#input-summary strong')?.textContent === n, shard);
  assertEqual(await page.isDisabled('#out-file'), false, 'one-file output offered for a single file');
  await page.check('#out-file');
  await runAndWait();
  const name = 'model-00002-of-00002-hqq4bit.safetensors';
  const bytes = (await readOpfs(undefined, [name])).get(name);
  assert(bytes, `${name} written`);
  const f = await openSafetensors(bytesSource(new Uint8Array(bytes), name));
  const expected = sample.tensors.filter((x) => x.shard === shard);
  for (const x of expected) {
    if (isLinear(x.name)) for (const k of HQQ_KEYS) assert(f.tensor(x.name.slice(0, -'weight'.length) + k), `${x.name}: ${k}`);
    else assert(f.tensor(x.name), `${x.name} copied`);
  }
  await page.check('input[name="output"][value="memory"]');
  await loadSample();
  assertEqual(await page.isDisabled('#out-file'), true, 'one-file output not offered for a sharded model');
});

t.test('a malformed .safetensors file: the reader\'s message is shown, then the page recovers', async () => {
  const bad = Buffer.alloc(64);
  bad.writeBigUInt64LE(1_000_000n, 0); // header length past the end of the file
  await page.setInputFiles('#file-input', { name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: bad });
  await page.waitForSelector('#error', { state: 'visible', timeout: 10_000 });
  const msg = await page.textContent('#error-message');
  assert(msg.includes('broken.safetensors') && msg.includes('header length'), `error message: ${msg}`);
  assertEqual(await attr('#error', 'data-code'), 'BAD_FILE', 'error code');
  assertEqual(await page.isDisabled('#run-btn'), true, 'nothing to run');
  // The same through the drop zone (a 5-byte file made in the page).
  const dt = await page.evaluateHandle(() => {
    const d = new DataTransfer();
    d.items.add(new File([new Uint8Array(5)], 'tiny.safetensors'));
    return d;
  });
  await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
  await page.waitForFunction(() => document.querySelector('#error-message').textContent.includes('tiny.safetensors'));
  assert((await page.textContent('#error-message')).includes('5 bytes long'), 'the reader says why');
  // A shard without its index.
  await page.setInputFiles('#file-input', [
    { name: 'model-00001-of-00002.safetensors', mimeType: 'application/octet-stream', buffer: await readFile(join(dist, 'sample/model-00001-of-00002.safetensors')) },
    { name: 'model.safetensors.index.json', mimeType: 'application/json', buffer: await readFile(join(dist, 'sample/model.safetensors.index.json')) },
  ]);
  await page.waitForFunction(() => document.querySelector('#error-message').textContent.includes('model-00002-of-00002.safetensors'));
  // Recovery without a reload: the sample loads and runs.
  await loadSample();
  assertEqual(await page.isVisible('#error'), false, 'the error is cleared');
  await runAndWait();
  assertEqual((await rowsInfo()).filter((r) => r.state === 'done').length, sample.tensors.length, 'every row done again');
});

t.test('a bad option (invalid regex) is explained in the page and clears once fixed', async () => {
  await page.fill('#opt-include', 'mlp(');
  await page.waitForSelector('#error', { state: 'visible', timeout: 5_000 });
  const msg = await page.textContent('#error-message');
  assert(msg.includes('regular expression'), `error message: ${msg}`);
  await page.fill('#opt-include', 'mlp');
  await page.waitForSelector('#error', { state: 'hidden', timeout: 5_000 });
  const rows = await rowsInfo();
  for (const r of rows) assertEqual(r.action, isLinear(r.name) && r.name.includes('.mlp.') ? 'quantize' : 'copy', `${r.name} with include=mlp`);
  await page.fill('#opt-include', '');
  await page.waitForFunction(() => [...document.querySelectorAll('#results tbody tr')].filter((tr) => tr.dataset.action === 'quantize').length === 14);
});

t.test('other options reach the quantizer: 2-bit, group 32, axis 0, bfloat16, no solver', async () => {
  await page.selectOption('#opt-nbits', '2');
  await page.fill('#opt-group', '32');
  await page.selectOption('#opt-axis', '0');
  await page.selectOption('#opt-dtype', 'bfloat16');
  await page.uncheck('#opt-optimize');
  await page.waitForFunction(() => document.querySelector('#results tbody tr[data-action="quantize"] .badge')?.textContent === '2-bit g32');
  await runAndWait();
  const rows = (await rowsInfo()).filter((r) => r.action === 'quantize');
  assertEqual(rows.length, 14, 'quantized rows');
  for (const r of rows) {
    assertEqual(r.badge, '2-bit g32', `${r.name} action`);
    const bits = Number(r.cells[5]);
    assert(bits > 2.9 && bits < 3.1, `${r.name}: bits per weight ${bits} (2 + 2x16/32)`);
    const hqqRel = parsePercent(r.cells[7]);
    const rtnRel = parsePercent(r.cells[9]);
    assert(hqqRel > 0.25 && hqqRel < 0.8, `${r.name}: 2-bit relative error ${hqqRel}`);
    assertEqual(hqqRel, rtnRel, `${r.name}: without the solver HQQ is RTN`);
  }
  await page.selectOption('#opt-nbits', '4');
  await page.fill('#opt-group', '64');
  await page.selectOption('#opt-axis', '1');
  await page.selectOption('#opt-dtype', 'float16');
  await page.check('#opt-optimize');
  await page.waitForFunction(() => document.querySelector('#results tbody tr[data-action="quantize"] .badge')?.textContent === '4-bit g64');
});

t.test('Cancel mid-run stops the work (workers terminated) and the page stays usable', async () => {
  // A bigger single-file model (~50 M parameters, F16) so that the run lasts long enough.
  const cfg = syntheticPreset('tiny', 'F16', { hiddenSize: 1024, intermediateSize: 2816, numLayers: 4, numHeads: 8, numKvHeads: 4 });
  const spec = syntheticLlamaSpec(cfg);
  const layout = planSafetensors(spec.map((x) => ({ name: x.name, dtype: x.dtype, shape: x.shape })));
  const bytes = new Uint8Array(layout.totalSize);
  bytes.set(layout.headerBytes, 0);
  for (const x of spec) bytes.set(generateTensorData(x, 7), layout.offsets.get(x.name).begin);
  const big = join(work, 'big.safetensors');
  await writeFile(big, bytes);
  await page.setInputFiles('#file-input', big);
  await page.waitForFunction(() => document.querySelector('#input-summary strong')?.textContent === 'big.safetensors');
  await page.fill('#opt-workers', '1');
  await page.waitForTimeout(400); // the plan refresh
  await page.click('#run-btn');
  await page.waitForFunction(() => Number(document.querySelector('#progress').value) > 0.05, null, { timeout: 60_000 });
  const poolWorkers = () => page.workers().filter((w) => /hqq-worker/.test(w.url())).length;
  assert(poolWorkers() >= 1, `a pool worker runs (workers: ${page.workers().map((w) => w.url()).join(', ')})`);
  const eta = await page.textContent('#progress-eta');
  assert(/left/.test(eta), `ETA shown: ${eta}`);
  assert((await page.textContent('#progress-current')).startsWith('now: '), 'current tensor shown');
  // The page stays responsive while the workers run.
  const t0 = Date.now();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  assert(Date.now() - t0 < 1000, 'a frame renders promptly during the run');
  await page.screenshot({ path: join(artifacts, 'demo-progress.png') });
  await page.click('#cancel-btn');
  await waitAttr('html[data-run="cancelled"]', 10_000);
  for (let i = 0; i < 50 && poolWorkers() > 0; i++) await page.waitForTimeout(100);
  assertEqual(poolWorkers(), 0, 'pool workers terminated');
  const done = (await rowsInfo()).filter((r) => r.state === 'done').length;
  assert(done < (await rowsInfo()).length, 'the run did not finish');
  await page.waitForTimeout(1500);
  assertEqual((await rowsInfo()).filter((r) => r.state === 'done').length, done, 'no tensor completes after Cancel');
  assertEqual(await page.isVisible('#error'), false, 'a cancel is not an error');
  assert((await page.textContent('#notice')).includes('Cancelled'), 'cancel notice');
  assertEqual(await page.isVisible('#notice'), true, 'cancel notice visible');
  assertEqual(await page.$$eval('#downloads a', (as) => as.length), 0, 'no output offered');
  // Usable again: the sample runs to completion.
  await page.fill('#opt-workers', '2');
  await loadSample();
  await runAndWait();
  assertEqual((await rowsInfo()).filter((r) => r.state === 'done').length, sample.tensors.length, 'every row done after the cancel');
});

const ctx = { page, sample, dist, work, artifacts, readOpfs, rowsInfo, runAndWait, loadSample, waitAttr, pkg };
registerFormatTests(t, ctx);
registerPolishTests(t, ctx);
await registerONNXTests(t, ctx);

t.test('privacy: after load the server got no request and the browser fetched nothing but its cached code', async () => {
  const hits = server.hits.filter((h) => h.t >= readyAt);
  assertEqual(hits.length, 0, `requests that reached the server after load: ${hits.map((h) => `${h.method} ${h.url}`).join(', ')}`);
  const origin = new URL(server.url).origin;
  const network = requestsAfterReady.filter((r) => /^(https?|wss?):/.test(r.url));
  const foreign = network.filter((r) => new URL(r.url).origin !== origin || !new URL(r.url).pathname.startsWith('/assets/') || r.method !== 'GET');
  assertEqual(foreign.length, 0, `requests after load other than the page's own code: ${foreign.map((r) => `${r.method} ${r.url}`).join(', ')}`);
  console.log(`       after load: 0 requests reached the server; the browser loaded ${network.length} worker script(s) of its own from its cache`);
  assertEqual(pageErrors.length, 0, `page errors: ${pageErrors.join(' | ')}`);
  assertEqual(consoleErrors.length, 0, `console errors: ${consoleErrors.join(' | ')}`);
});

const { passed, failed } = await t.run({ only: (name, i) => !only || i === 0 || name.includes(only) || name.startsWith('privacy') });
await browser.close();
await server.close();
await rm(work, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
