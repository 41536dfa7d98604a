// A sharded GGUF run in llama.cpp (node-llama-cpp 3.21.1): the tiny Llama quantized in 3 parts
// (`shard: { index, count: 3 }`, then `mergeParts`) is a gguf-split set llama.cpp loads from its
// first file, and it gives the same next-token distribution as the single-file run's output (the
// same tensor bytes, so the same logits up to nothing at all). Without its last split, llama.cpp
// refuses the set (it really reads the other files).
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HQQ } from '../../web/src/engine.js';
import { mergeParts } from '../../web/src/node-merge.js';
import { quantizeModelFiles } from '../../web/src/node-model.js';
import { loadHQQ } from '../../web/src/node.js';
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
        const a = new Float64Array(Math.max(...probs.keys()) + 1).fill(Number.NEGATIVE_INFINITY);
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
    let maxDiff = 0;
    for (let p = 0; p < POSITIONS; p++) {
      expect(b.lp[p]!.length).toBe(a.lp[p]!.length);
      for (let i = 0; i < a.lp[p]!.length; i++) {
        const x = a.lp[p]![i]!;
        const y = b.lp[p]![i]!;
        if (x === y) continue; // -Infinity on both sides included
        maxDiff = Math.max(maxDiff, Math.abs(x - y));
      }
    }
    console.log(`[llama.cpp] 3-part split set vs single file: max |d log p| = ${maxDiff.toExponential(2)} over ${POSITIONS} positions`);
    expect(maxDiff).toBeLessThan(1e-6);

    // Negative control: llama.cpp does read the other splits; without the last one the set is refused.
    await unlink(merged.files[2]!);
    await expect(llama.loadModel({ modelPath: merged.files[0]! })).rejects.toThrow();
  }, 300_000);
});
