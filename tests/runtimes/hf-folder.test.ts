// A Hugging Face model folder on disk, through quantizeModelFiles, into (1) a GGUF that llama.cpp
// loads and tokenizes like the converter's file, whose every tensor is the converter's tensor
// (renamed, q/k rows permuted) up to the quantization error; (2) an HQQ folder transformers reads:
// config.json with quantization_config, every other file copied.
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HQQ } from '../../web/src/engine.js';
import { openGGUF } from '../../web/src/io/gguf-reader.js';
import { openFileSource } from '../../web/src/io/node-file.js';
import { openSafetensors } from '../../web/src/io/safetensors.js';
import { planSafetensors } from '../../web/src/io/writer.js';
import { quantizeModelFiles } from '../../web/src/node-model.js';
import { loadHQQ } from '../../web/src/node.js';
import { buildTinyModel, lenmlTokenizer, tinyFolder, type TinyTensor } from '../web/model/hf-fixtures.js';

let dir: string;
let llama: Llama;
let hqq: HQQ;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-hf-'));
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  hqq = await loadHQQ();
});
afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function writeSafetensors(path: string, weights: readonly TinyTensor[], dtype: 'F32' | 'BF16'): Promise<void> {
  const plan = planSafetensors(weights.map((w) => ({ name: w.name, dtype, shape: w.shape })), { format: 'pt' });
  const out = new Uint8Array(plan.totalSize);
  out.set(plan.headerBytes);
  for (const w of weights) {
    const bytes = dtype === 'F32' ? new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength) : new Uint8Array(hqq.encode16(w.data, 'bf16').buffer);
    out.set(bytes, plan.offsets.get(w.name)!.begin);
  }
  await writeFile(path, out);
}

/** A folder on disk: config.json, tokenizer files, a README, the weights. */
async function makeFolder(name: string, architecture: string, tokenizer: 'llama3' | 'qwen3' | 'llama2', dtype: 'F32' | 'BF16') {
  const folder = join(dir, name);
  await mkdir(folder);
  const reference = join(dir, `${name}-converter-f32.gguf`);
  const built = buildTinyModel(reference, architecture, tokenizer, { tied: false });
  const { files } = tinyFolder(architecture, tokenizer, { tie_word_embeddings: false });
  for (const f of files) if (f.text !== undefined) await writeFile(join(folder, f.name.split('/').pop()!), f.text);
  await writeFile(join(folder, 'README.md'), '# tiny test model\n');
  await writeSafetensors(join(folder, 'model.safetensors'), built.weights, dtype);
  return { ...built, folder, reference };
}

describe('Hugging Face folder -> GGUF (llama.cpp) and -> HQQ folder (transformers/vLLM)', () => {
  for (const [arch, tok, dtype] of [['LlamaForCausalLM', 'llama3', 'BF16'], ['Qwen3ForCausalLM', 'qwen3', 'F32']] as const) {
    it(`${arch} (${dtype}) -> Q8_0 GGUF: the converter's tensors up to Q8_0 error, loads and tokenizes in llama.cpp`, async () => {
      const m = await makeFolder(`tiny-${arch}`, arch, tok, dtype);
      const out = join(dir, `${arch}-Q8_0.gguf`);
      const report = await quantizeModelFiles(m.folder, out, { gguf: { preset: 'Q8_0' }, workers: 2 });
      expect(report.format).toBe('gguf');
      const ours = await openGGUF(await openFileSource(out));
      const ref = await openGGUF(await openFileSource(m.reference));
      try {
        expect(ours.header.metadata.get('general.architecture')).toEqual(ref.header.metadata.get('general.architecture'));
        expect(ours.header.metadata.get('general.file_type')).toEqual({ type: 'u32', value: 7 });
        expect(ours.header.tensors.map((t) => t.name).sort()).toEqual(ref.header.tensors.map((t) => t.name).sort());
        for (const r of ref.header.tensors) {
          const o = ours.tensor(r.name)!;
          expect(o.ne, r.name).toEqual(r.ne);
          const want = new Float32Array((await ref.readTensor(r)).slice().buffer);
          const bytes = (await ours.readTensor(o)).slice();
          const got = o.type === 'F32' ? new Float32Array(bytes.buffer) : hqq.dequantizeGGUF(bytes, [o.numel / o.ne[0]!, o.ne[0]!], o.type);
          let e2 = 0;
          let w2 = 0;
          for (let i = 0; i < want.length; i++) {
            e2 += (got[i]! - want[i]!) ** 2;
            w2 += want[i]! ** 2;
          }
          // Q8_0 of these weights is ~0.3% relative; BF16 input adds its rounding; a wrong row order is ~140%.
          expect(Math.sqrt(e2 / w2), `${r.name} (${o.type})`).toBeLessThan(0.01);
        }
      } finally {
        await ours.close();
        await ref.close();
      }
      const [a, b] = await Promise.all([llama.loadModel({ modelPath: out }), llama.loadModel({ modelPath: m.reference })]);
      try {
        for (const text of ['Hello, world! 123', 'accents: éàü, CJK: 你好, emoji: 🙂', '  spaces\tand\nnewlines  ', 'def f(x):\n    return x ** 2']) {
          expect(a.tokenize(text), text).toEqual(b.tokenize(text));
        }
        const ctx = await a.createContext({ contextSize: 32, threads: 1 });
        const res = await ctx.getSequence().controlledEvaluate([...a.tokenize('Hello').slice(0, -1), [a.tokenize('Hello').at(-1)!, { generateNext: { probabilities: true } }]] as never);
        const probs = res.at(-1)!.next!.probabilities!;
        expect([...probs.values()].every((p) => Number.isFinite(p))).toBe(true);
        await ctx.dispose();
      } finally {
        await a.dispose();
        await b.dispose();
      }
    }, 300_000);
  }

  it('-> HQQ folder: shards with HQQLinear layers, config.json with quantization_config, every other file copied', async () => {
    const m = await makeFolder('tiny-hqq', 'LlamaForCausalLM', 'llama2', 'BF16');
    const out = join(dir, 'tiny-hqq-out');
    const report = await quantizeModelFiles(m.folder, `${out}/`, { nbits: 4, groupSize: 32, workers: 2 });
    expect(report.format).toBe('hqq');
    const names = (await readdir(out)).filter((n) => !n.startsWith('.')).sort();
    expect(names).toEqual(['README.md', 'config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.quantization_config).toMatchObject({ quant_method: 'hqq', quant_config: { weight_quant_params: { nbits: 4, group_size: 32, axis: 1 } } });
    expect(config.quantization_config.skip_modules).toContain('lm_head');
    expect(config.architectures).toEqual(['LlamaForCausalLM']);
    expect(await readFile(join(out, 'tokenizer.json'), 'utf8')).toBe(lenmlTokenizer('llama2').tokenizerText);
    const st = await openSafetensors(await openFileSource(join(out, 'model.safetensors')));
    try {
      expect(st.tensor('model.layers.0.self_attn.q_proj.W_q')).toBeDefined();
      expect(st.tensor('model.layers.0.self_attn.q_proj.weight')).toBeUndefined();
      expect(st.tensor('model.embed_tokens.weight')).toBeDefined();
    } finally {
      await st.close();
    }
    // vLLM takes 4-bit g64 only: group 32 is said.
    expect(report.warnings.some((w) => w.code === 'RUNTIME_COMPAT' && /vLLM/.test(w.message))).toBe(true);
  }, 300_000);

  it('bad folders: no config.json, an unsupported architecture: clear errors, no output', async () => {
    const m = await makeFolder('tiny-bad', 'LlamaForCausalLM', 'llama2', 'F32');
    await rm(join(m.folder, 'config.json'));
    const out = join(dir, 'bad.gguf');
    await expect(quantizeModelFiles(m.folder, out, { gguf: { preset: 'Q8_0' } })).rejects.toThrow(/no config\.json/);
    await writeFile(join(m.folder, 'config.json'), JSON.stringify({ architectures: ['GPTNeoXForCausalLM'], hidden_size: 64 }));
    await expect(quantizeModelFiles(m.folder, out, { gguf: { preset: 'Q8_0' } })).rejects.toThrow(/GPTNeoXForCausalLM/);
    expect((await readdir(dir)).includes('bad.gguf')).toBe(false);
  }, 120_000);
});
