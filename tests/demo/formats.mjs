// End-to-end tests of the output formats and inputs (registered by demo.e2e.mjs, same page):
//   - GGUF from the sample folder (Q4_K_M): the table's per-tensor ratio to llama.cpp, the
//     downloaded .gguf parsed and a tensor decoded in Node with the package, GGUF plots;
//   - that .gguf dropped back (GGUF input): refused until "requantize" is ticked, then Q8_0;
//   - the HQQ folder for transformers / vLLM: config.json with quantization_config, every other
//     folder file copied; the RUNTIME_COMPAT warning for a config vLLM refuses;
//   - folder input: a folder picked with webkitdirectory (a sub-folder is named, not read), a
//     dropped folder (a FileSystemDirectoryHandle of the origin-private file system), and what the
//     page says is found and missing before anything runs.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assert, assertEqual, dropFolder } from './harness.mjs';

export function registerFormatTests(t, ctx) {
  const { page, sample, dist, work, rowsInfo, runAndWait, loadSample, waitAttr, pkg } = ctx;
  const ggufDir = join(work, 'gguf-out');
  let ggufName;

  async function downloadAll(dir) {
    const links = await page.$$eval('#downloads a[download]', (as) => as.map((a) => a.dataset.file));
    await mkdir(dir, { recursive: true });
    for (const name of links) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#downloads a[data-file="${name}"]`)]);
      await download.saveAs(join(dir, name));
    }
    return links;
  }
  const planBadge = () => page.waitForFunction(() => document.querySelector('#results tbody tr[data-action="quantize"] .badge')?.textContent);

  t.test('GGUF from the sample folder (Q4_K_M): per-tensor ratio to llama.cpp, never above 1; the .gguf parses and decodes in Node', async () => {
    await loadSample();
    assertEqual(await page.isDisabled('#fmt-gguf'), false, 'GGUF offered for a folder with config.json and tokenizer.json');
    assertEqual(await page.inputValue('#opt-gguf-type'), 'Q4_K_M', 'default GGUF type');
    const presets = await page.$$eval('#opt-gguf-type option', (os) => os.map((o) => o.value));
    for (const p of ['Q8_0', 'Q6_K', 'Q5_K_M', 'Q4_K_M', 'Q4_0', 'Q3_K_S', 'Q2_K']) assert(presets.includes(p), `preset ${p} offered`);
    await page.check('#fmt-gguf');
    await page.waitForFunction(() => document.querySelector('#results-card')?.dataset.format === 'gguf');
    assertEqual(await page.isVisible('#opt-nbits'), false, 'HQQ settings hidden for GGUF');
    assertEqual(await page.textContent('#col-gain'), 'hqq-wasm vs llama.cpp', 'baseline column');
    await runAndWait();
    const rows = await rowsInfo();
    const q = rows.filter((r) => r.action === 'quantize');
    assert(q.length >= 10, `quantized rows: ${q.length}`);
    for (const r of q) {
      assert(/^Q\d_(K|0|1)$/.test(r.badge), `${r.name}: GGUF type badge ${r.badge}`);
      const m = /^(\d+\.\d\d)x$/.exec(r.cells[10]);
      assert(m, `${r.name}: ratio cell ${r.cells[10]}`);
      assert(Number(m[1]) <= 1.0, `${r.name}: hqq-wasm's mean |err| is ${m[1]}x llama.cpp's (never worse)`);
    }
    const copied = rows.filter((r) => r.action !== 'quantize');
    assert(copied.every((r) => r.reason), `every copied or converted row shows its reason: ${copied.filter((r) => !r.reason).map((r) => r.name)}`);
    const links = await downloadAll(ggufDir);
    assertEqual(links.length, 1, `one .gguf (${links})`);
    ggufName = links[0];
    assert(ggufName.endsWith('-Q4_K_M.gguf'), `file name ${ggufName}`);
    const { openGGUF } = await pkg('io/gguf-reader.js');
    const { bytesSource } = await pkg('io/source.js');
    const { loadHQQ } = await pkg('node.js');
    const bytes = new Uint8Array(await readFile(join(ggufDir, ggufName)));
    const f = await openGGUF(bytesSource(bytes, ggufName));
    const md = f.header.metadata;
    assertEqual(md.get('general.file_type')?.value, 15, 'general.file_type = LLAMA_FTYPE_MOSTLY_Q4_K_M');
    assertEqual(md.get('general.architecture')?.value, 'llama', 'architecture');
    assert(md.get('tokenizer.ggml.tokens'), 'the tokenizer is in the file');
    // blk.0.ffn_gate is model.layers.0.mlp.gate_proj (not permuted): decode it and compare.
    const row = q.find((r) => r.name === 'model.layers.0.mlp.gate_proj.weight');
    const info = f.tensor('blk.0.ffn_gate.weight');
    assertEqual(info.type, row.badge, 'the type in the file is the table\'s');
    const hqq = await loadHQQ();
    const w = hqq.dequantizeGGUF(await f.readTensor(info), info.shape, info.type);
    const s = sample.tensors.find((x) => x.name === row.name);
    const { openSafetensors } = await pkg('io/safetensors.js');
    const src = await openSafetensors(bytesSource(new Uint8Array(await readFile(join(dist, 'sample', s.shard))), s.shard));
    const orig = await src.readTensor(row.name);
    const ref = hqq.decode16(new Uint16Array(orig.buffer, orig.byteOffset, orig.byteLength / 2), 'f16');
    let e2 = 0;
    let r2 = 0;
    for (let i = 0; i < ref.length; i++) {
      e2 += (ref[i] - w[i]) ** 2;
      r2 += ref[i] ** 2;
    }
    const rel = Math.sqrt(e2 / r2);
    assert(Math.abs(rel - row.rel) < 1e-4, `decoded relative error ${rel.toFixed(5)} is the table's ${row.rel.toFixed(5)}`);
    await f.close();
    // GGUF plots: weights and the error of hqq-wasm against llama.cpp's quantizer.
    await page.click(`#results tbody tr[data-name="${row.name}"]`);
    await waitAttr('#plots-card[data-state="ready"]', 30_000);
    const labels = await page.$$eval('#plots svg.plot', (svgs) => svgs.map((s) => s.getAttribute('aria-label')));
    assertEqual(labels.length, 2, `weights + error plots: ${labels}`);
    const legend = await page.textContent('#plots svg.plot >> nth=1');
    assert(legend.includes('hqq-wasm') && legend.includes('llama.cpp'), `error plot legend: ${legend}`);
    assertEqual(await page.isVisible('#group-nav'), false, 'no group close-up for GGUF blocks');
  });

  t.test('GGUF input: the .gguf dropped back is refused until requantize is ticked, then becomes Q8_0', async () => {
    await page.setInputFiles('#file-input', join(ggufDir, ggufName));
    await page.waitForFunction((n) => document.querySelector('#input-summary strong')?.textContent === n, ggufName);
    assertEqual(await page.isChecked('#fmt-gguf'), true, 'GGUF output chosen for a GGUF input');
    assertEqual(await page.isDisabled('#fmt-hqq'), true, 'no HQQ output from a GGUF');
    assertEqual(await page.isVisible('#opt-requantize'), true, 'the requantize option is offered');
    // Another type would requantize quantized tensors: refused with the library's reason.
    await page.selectOption('#opt-gguf-type', 'Q8_0');
    await page.waitForSelector('#error', { state: 'visible', timeout: 10_000 });
    const msg = await page.textContent('#error-message');
    assert(msg.includes('already quantized') && msg.includes('allowRequantize'), `refusal: ${msg}`);
    await page.check('#opt-requantize');
    await page.waitForSelector('#error', { state: 'hidden', timeout: 10_000 });
    await page.waitForFunction(() => document.querySelector('#results tbody tr[data-action="quantize"] .badge')?.textContent === 'Q8_0');
    await runAndWait();
    const links = await downloadAll(join(work, 'gguf-q8'));
    assertEqual(JSON.stringify(links), JSON.stringify([ggufName.replace('Q4_K_M', 'Q8_0')]), 'output name');
    const { openGGUF } = await pkg('io/gguf-reader.js');
    const { bytesSource } = await pkg('io/source.js');
    const f = await openGGUF(bytesSource(new Uint8Array(await readFile(join(work, 'gguf-q8', links[0]))), links[0]));
    assertEqual(f.header.metadata.get('general.file_type')?.value, 7, 'general.file_type = Q8_0');
    assertEqual(f.tensor('blk.0.ffn_gate.weight').type, 'Q8_0', 'requantized tensor type');
    await f.close();
    // Plots of a tensor read from the GGUF input (decoded from Q4_K, quantized again to Q8_0 both ways).
    const q8 = (await rowsInfo()).find((r) => r.action === 'quantize' && r.badge === 'Q8_0');
    await page.click(`#results tbody tr[data-name="${q8.name}"]`);
    await waitAttr('#plots-card[data-state="ready"]', 30_000);
    assertEqual(await page.$$eval('#plots svg.plot', (s) => s.length), 2, `plots of ${q8.name} from the GGUF`);
    await page.uncheck('#opt-requantize');
    await page.selectOption('#opt-gguf-type', 'Q4_K_M');
  });

  t.test('HQQ folder for transformers / vLLM: config.json with quantization_config, every folder file copied; vLLM warning for 2-bit', async () => {
    await loadSample();
    assertEqual(await page.isChecked('#fmt-hqq'), true, 'back to HQQ for a safetensors folder');
    await page.check('#fmt-hqq-folder');
    await page.waitForFunction(() => [...document.querySelectorAll('#results tbody tr')].some((tr) => tr.dataset.action === 'quantize'));
    assertEqual(await page.isVisible('#warnings'), false, '4-bit g64 axis 1: no runtime warning');
    await page.selectOption('#opt-nbits', '2');
    await page.waitForSelector('#warnings li[data-code="RUNTIME_COMPAT"]', { timeout: 10_000 });
    const warn = await page.textContent('#warnings li[data-code="RUNTIME_COMPAT"]');
    assert(warn.includes('vLLM') && warn.includes('4-bit'), `runtime warning: ${warn}`);
    await page.selectOption('#opt-nbits', '4');
    await page.waitForSelector('#warnings', { state: 'hidden', timeout: 10_000 });
    await runAndWait();
    const dir = join(work, 'hqq-folder');
    const links = await downloadAll(dir);
    const expected = [...sample.files.map((f) => f.name)].sort();
    assertEqual(JSON.stringify([...links].sort()), JSON.stringify(expected), 'shards, index, config.json and every folder file');
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assertEqual(config.architectures?.[0], 'LlamaForCausalLM', 'the input config is kept');
    assertEqual(config.quantization_config?.quant_method, 'hqq', 'quantization_config.quant_method');
    const wq = config.quantization_config?.quant_config?.weight_quant_params;
    assert(wq && wq.nbits === 4 && wq.group_size === 64, `weight_quant_params ${JSON.stringify(wq)}`);
    for (const name of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) {
      assert(Buffer.compare(await readFile(join(dir, name)), await readFile(join(dist, 'sample', name))) === 0, `${name} copied as it is`);
    }
    const text = await page.textContent('#downloads');
    assert(text.includes('HQQ folder'), `downloads say what it is: ${text}`);
    // The same folder streamed into a picked directory: the same files, byte for byte.
    await page.evaluate(() => { window.__pickDir = 'hqq-folder-stream'; });
    await page.check('#out-directory');
    assertEqual(await page.isDisabled('#out-file'), true, 'a folder output cannot go into one file');
    await runAndWait();
    const streamed = await ctx.readOpfs('hqq-folder-stream');
    assertEqual(JSON.stringify([...streamed.keys()].sort()), JSON.stringify(expected), 'files streamed into the folder');
    for (const [name, bytes] of streamed) assert(Buffer.compare(bytes, await readFile(join(dir, name))) === 0, `${name}: streamed = downloaded`);
    await page.check('input[name="output"][value="memory"]');
    await page.check('#fmt-hqq');
  });

  t.test('a model folder picked with webkitdirectory: found files and needs listed, a sub-folder named, not read', async () => {
    const dir = join(work, 'Tiny-Llama');
    await mkdir(join(dir, 'original'), { recursive: true });
    for (const f of sample.files) if (f.name !== 'tokenizer.json') await writeFile(join(dir, f.name), await readFile(join(dist, 'sample', f.name)));
    await writeFile(join(dir, 'original', 'params.json'), '{}');
    await page.setInputFiles('#folder-input', dir);
    await page.waitForFunction(() => document.querySelector('#input-summary strong')?.textContent === 'folder Tiny-Llama');
    const needs = await page.$$eval('#input-summary .needs li', (lis) => lis.map((li) => ({ format: li.dataset.format, cls: li.className, text: li.textContent })));
    const gguf = needs.find((n) => n.format === 'gguf');
    assert(gguf && gguf.cls === 'missing' && gguf.text.includes('✗ tokenizer.json') && gguf.text.includes('✓ config.json'), `GGUF needs: ${JSON.stringify(gguf)}`);
    assertEqual(needs.find((n) => n.format === 'hqq-folder')?.cls, 'ok', 'HQQ folder has what it needs');
    assert(needs.find((n) => n.format === 'hqq-folder').text.includes('optional, not found: tokenizer.json'), 'an optional file that is absent is named');
    assert(gguf.text.includes('✓ tokenizer_config.json'), `optional files found are named: ${gguf.text}`);
    assertEqual(await page.isDisabled('#fmt-gguf'), true, 'GGUF not offered without tokenizer.json');
    assert((await page.textContent('#fmt-gguf-why')).includes('tokenizer.json'), 'the reason is next to the choice');
    const chips = await page.$$eval('#input-summary .chip', (cs) => cs.map((c) => [c.dataset.role ?? 'index', c.textContent.split(' · ')[0]]));
    for (const f of sample.files.filter((x) => x.name !== 'tokenizer.json')) assert(chips.some(([, n]) => n === f.name), `${f.name} listed as found`);
    assertEqual(chips.find(([, n]) => n === 'config.json')?.[0], 'config', 'config.json role');
    assert((await page.textContent('#input-summary .ignored')).includes('original/'), 'the sub-folder is named');
  });

  t.test('several selected files of a folder whose architecture GGUF does not support: HQQ folder works, GGUF says which are supported', async () => {
    const files = [];
    for (const f of sample.files) {
      let buffer = await readFile(join(dist, 'sample', f.name));
      if (f.name === 'config.json') buffer = Buffer.from(JSON.stringify({ ...JSON.parse(buffer), architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }));
      files.push({ name: f.name, mimeType: 'application/octet-stream', buffer });
    }
    await page.setInputFiles('#file-input', files);
    await page.waitForFunction((n) => document.querySelector('#input-summary strong')?.textContent === `${n} files`, files.length);
    assertEqual(await page.isDisabled('#fmt-hqq-folder'), false, 'HQQ folder offered');
    await page.check('#fmt-gguf');
    await page.waitForSelector('#error', { state: 'visible', timeout: 10_000 });
    const msg = await page.textContent('#error-message');
    assertEqual(await page.getAttribute('#error', 'data-code'), 'UNSUPPORTED', 'error code');
    assert(msg.includes('GPT2LMHeadModel') && msg.includes('LlamaForCausalLM') && msg.includes('Qwen3ForCausalLM'), `the message names the architecture and the supported ones: ${msg}`);
    await page.check('#fmt-hqq-folder');
    await page.waitForSelector('#error', { state: 'hidden', timeout: 10_000 });
    await page.check('#fmt-hqq');
  });

  t.test('a dropped folder (FileSystemDirectoryHandle): read, planned, and quantized to GGUF', async () => {
    const files = {};
    for (const f of sample.files) files[f.name] = (await readFile(join(dist, 'sample', f.name))).toString('base64');
    await dropFolder(page, 'Dropped-Llama', files);
    await page.waitForFunction(() => document.querySelector('#input-summary strong')?.textContent === 'folder Dropped-Llama');
    assertEqual(await page.isDisabled('#fmt-gguf'), false, 'GGUF offered: the folder is complete');
    const needs = await page.$$eval('#input-summary .needs li:not([data-format="onnx"])', (lis) => lis.map((li) => li.className));
    assert(needs.length === 3 && needs.every((c) => c === 'ok'), `every safetensors format has what it needs: ${needs}`);
    assertEqual(await page.isDisabled('#fmt-onnx'), true, 'ONNX is made from a .onnx model only');
    await page.check('#fmt-gguf');
    await planBadge();
    await runAndWait();
    const links = await page.$$eval('#downloads a[download]', (as) => as.map((a) => a.dataset.file));
    assert(links.length === 1 && links[0].endsWith('.gguf'), `GGUF output: ${links}`);
    const done = (await rowsInfo()).filter((r) => r.state === 'done').length;
    assertEqual(done, sample.tensors.length, 'every row done');
    await page.check('#fmt-hqq');
    await loadSample();
  });

  t.test('copy warning: a group size that fits few tensors warns that most would be copied', async () => {
    await page.fill('#opt-group', '8192');
    await page.waitForSelector('#warnings li[data-code="MOSTLY_COPIED"]', { timeout: 10_000 });
    const text = await page.textContent('#warnings li[data-code="MOSTLY_COPIED"]');
    assert(text.includes('copied') && text.includes('would fit'), `warning: ${text}`);
    await page.fill('#opt-group', '96');
    await page.waitForSelector('#warnings li[data-code="NOTHING_QUANTIZED"]', { timeout: 10_000 });
    await page.fill('#opt-group', '64');
    await page.waitForSelector('#warnings', { state: 'hidden', timeout: 10_000 });
  });
}
