// A sharded GGUF run in llama.cpp (node-llama-cpp 3.21.1): the tiny Llama quantized in 3 parts
// (`shard: { index, count: 3 }`, then `mergeParts`) is a gguf-split set llama.cpp loads from its
// first file, and it gives the same next-token distribution as the single-file run's output (the
// same tensor bytes, so the same logits up to nothing at all). Without its last split, llama.cpp
// refuses the set (it really reads the other files). The same from a Hugging Face folder (Llama 3
// with its generated rope_freqs tensor, the real Llama 3 tokenizer).
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HQQ } from '../../web/src/engine.js';
import { openGGUF } from '../../web/src/io/gguf-reader.js';
import { openFileSource } from '../../web/src/io/node-file.js';
import { mergeParts } from '../../web/src/node-merge.js';
import { quantizeModelFiles } from '../../web/src/node-model.js';
import { loadHQQ } from '../../web/src/node.js';
import { planSafetensors } from '../../web/src/io/writer.js';
import { tinyFolder, tinyWeights } from '../web/model/hf-fixtures.js';
import { buildTinyLlama } from './tiny-llama.js';

const PROMPT = 'the model is a quant of the weight and it is';
const POSITIONS = 4;

let dir: string;
let llama: Llama;
let hqq: HQQ;
let input: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-shard-llama-'));
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  hqq = await loadHQQ();
  input = join(dir, 'tiny-f32.gguf');
  await writeFile(input, buildTinyLlama().bytes);
});
afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** log-probabilities of the next token after each of the last POSITIONS prompt tokens. */
async function nextTokenLogProbs(path: string): Promise<{ tokens: number[]; lp: Float64Array[] }> {
  const model: LlamaModel = await llama.loadModel({ modelPath: path });
  try {
    const ctx = await model.createContext({ contextSize: 64, threads: 1 });
    try {
      const tokens = model.tokenize(PROMPT);
      const input = tokens.map((t, i) => (i >= tokens.length - POSITIONS
        ? [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 1 << 20, topP: 1, minP: 0 } } }] as const
        : t));
      const out = await ctx.getSequence().controlledEvaluate(input as never);
      const lp = out.filter((o) => o?.next?.probabilities).map((o) => {
        const probs = o!.next!.probabilities!;
        let top = 0;
        for (const tok of probs.keys()) top = Math.max(top, tok); // a loop: 128k keys overflow a spread
        const a = new Float64Array(top + 1).fill(Number.NEGATIVE_INFINITY);
        for (const [tok, p] of probs) a[tok] = Math.log(p);
        return a;
      });
      return { tokens: [...tokens], lp };
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** max |a - b| over positions and tokens (equal infinities count as equal); Infinity when the shapes differ. */
function maxLogDiff(a: Float64Array[], b: Float64Array[]): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let d = 0;
  for (let p = 0; p < a.length; p++) {
    if (a[p]!.length !== b[p]!.length) return Number.POSITIVE_INFINITY;
    for (let i = 0; i < a[p]!.length; i++) if (a[p]![i] !== b[p]![i]) d = Math.max(d, Math.abs(a[p]![i]! - b[p]![i]!));
  }
  return d;
}

describe('a sharded GGUF run in llama.cpp', () => {
  it('3 parts + merge: llama.cpp loads the split set, with the logits of the single file', async () => {
    const single = join(dir, 'single.gguf');
    await quantizeModelFiles(input, single, { gguf: { preset: 'Q4_K_M' }, workers: 1, hqq });
    const out = join(dir, 'parts', 'tiny.gguf');
    const reports = [];
    for (const index of [2, 3, 1]) reports.push(await quantizeModelFiles(input, out, { gguf: { preset: 'Q4_K_M' }, workers: 1, hqq, shard: { index, count: 3 } }));
    expect(new Set(reports.map((r) => r.part!.fingerprint)).size).toBe(1);
    const merged = await mergeParts(out);
    expect(merged.count).toBe(3);
    expect(merged.tensors).toBe(21);
    const a = await nextTokenLogProbs(single);
    const b = await nextTokenLogProbs(merged.files[0]!);
    expect(b.tokens).toEqual(a.tokens);
    expect(b.lp.length).toBe(POSITIONS);
    const maxDiff = maxLogDiff(a.lp, b.lp);
    console.log(`[llama.cpp] 3-part split set vs single file: max |d log p| = ${maxDiff.toExponential(2)} over ${POSITIONS} positions`);
    expect(maxDiff).toBeLessThan(1e-6);

    // Negative control: llama.cpp does read the other splits; without the last one the set is refused.
    await unlink(merged.files[2]!);
    await expect(llama.loadModel({ modelPath: merged.files[0]! })).rejects.toThrow();
  }, 300_000);

  it('Hugging Face folder (Llama 3, rope_freqs generated) -> 2 parts: the --split 2 bytes, the single file\'s logits', async () => {
    const folder = join(dir, 'tiny-llama3');
    await mkdir(folder);
    const rope = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
    const { files, vocab } = tinyFolder('LlamaForCausalLM', 'llama3', { tie_word_embeddings: false, rope_scaling: rope });
    for (const f of files) if (f.text !== undefined) await writeFile(join(folder, f.name.split('/').pop()!), f.text);
    const weights = tinyWeights('LlamaForCausalLM', vocab, { tied: false });
    const plan = planSafetensors(weights.map((w) => ({ name: w.name, dtype: 'F32', shape: w.shape })), { format: 'pt' });
    const bytes = new Uint8Array(plan.totalSize);
    bytes.set(plan.headerBytes);
    for (const w of weights) bytes.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), plan.offsets.get(w.name)!.begin);
    await writeFile(join(folder, 'model.safetensors'), bytes);

    const opts = { gguf: { preset: 'Q4_K_M' }, workers: 1, hqq };
    const single = join(dir, 'llama3.gguf');
    await quantizeModelFiles(folder, single, opts);
    const split = join(dir, 'llama3-split', 'llama3.gguf');
    const s = await quantizeModelFiles(folder, split, { ...opts, split: 2 });
    const out = join(dir, 'llama3-parts', 'llama3.gguf');
    for (const index of [1, 2]) await quantizeModelFiles(folder, out, { ...opts, shard: { index, count: 2 } });
    const merged = await mergeParts(out);
    expect(merged.files.map((f) => f.split('/').pop())).toEqual(['llama3-00001-of-00002.gguf', 'llama3-00002-of-00002.gguf']);
    const first = await openGGUF(await openFileSource(merged.files[0]!));
    const names = first.header.tensors.map((t) => t.name);
    await first.close();
    expect(names).toContain('rope_freqs.weight'); // the generated tensor (a plan constant) went to its split
    for (let k = 0; k < 2; k++) expect(Buffer.compare(await readFile(merged.files[k]!), await readFile(s.outputPaths[k]!)), merged.files[k]).toBe(0);
    const a = await nextTokenLogProbs(single);
    const b = await nextTokenLogProbs(merged.files[0]!);
    expect(b.tokens).toEqual(a.tokens);
    expect(b.lp.length).toBe(POSITIONS);
    const d = maxLogDiff(a.lp, b.lp);
    console.log(`[llama.cpp] Llama 3 folder, 2-part split set vs single file: max |d log p| = ${d.toExponential(2)} over ${POSITIONS} positions`);
    expect(d).toBeLessThan(1e-6);
  }, 300_000);
});
