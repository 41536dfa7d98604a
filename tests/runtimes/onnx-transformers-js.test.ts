// The transformers.js layout: a model folder (config.json, tokenizer.json, onnx/model.onnx) is
// quantized in place to onnx/model_q4.onnx, and @huggingface/transformers 4.3.1 loads it with
// pipeline('feature-extraction', folder, { dtype: 'q4' }) (local files only). The folder is a tiny
// BERT-style encoder built here: an embedding, a projection, an MLP.
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { env, pipeline } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { HQQ } from '../../web/src/engine.js';
import { quantizeModelFiles } from '../../web/src/node-model.js';
import { loadHQQ } from '../../web/src/node.js';
import { createInlinePool } from '../../web/src/pool/inline-pool.js';
import { buildModel, randn } from '../web/onnx/models.js';
import { relErr } from '../web/onnx/run-helpers.js';

const WORDS = ['[UNK]', '[PAD]', 'the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'hello', 'world'];
const H = 64;
let hqq: HQQ;
let root: string;

function encoder(): Uint8Array {
  return buildModel({
    inputs: [{ name: 'input_ids', dims: ['batch', 'seq'], elemType: 7 }, { name: 'attention_mask', dims: ['batch', 'seq'], elemType: 7 }],
    outputs: [{ name: 'last_hidden_state', dims: ['batch', 'seq', H] }],
    initializers: [
      { name: 'embeddings.word_embeddings.weight', dims: [WORDS.length, H], values: randn(WORDS.length * H, 31, 0.5) },
      { name: 'encoder.dense.weight', dims: [H, 128], values: randn(H * 128, 32, 0.12) },
      { name: 'encoder.output.weight', dims: [128, H], values: randn(128 * H, 33, 0.1) },
    ],
    nodes: [
      { op: 'Gather', inputs: ['embeddings.word_embeddings.weight', 'input_ids'], outputs: ['e'] },
      { op: 'MatMul', inputs: ['e', 'encoder.dense.weight'], outputs: ['h'] },
      { op: 'Relu', inputs: ['h'], outputs: ['hr'] },
      { op: 'MatMul', inputs: ['hr', 'encoder.output.weight'], outputs: ['o'] },
      { op: 'Add', inputs: ['e', 'o'], outputs: ['last_hidden_state'] },
    ],
  }).bytes;
}

beforeAll(async () => {
  hqq = await loadHQQ();
  root = await mkdtemp(join(tmpdir(), 'hqq-tjs-'));
  const dir = join(root, 'tiny-encoder');
  await mkdir(join(dir, 'onnx'), { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', architectures: ['BertModel'], hidden_size: H, vocab_size: WORDS.length }));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({
    version: '1.0', truncation: null, padding: null,
    added_tokens: [0, 1].map((id) => ({ id, content: WORDS[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Lowercase' }, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(WORDS.map((w, i) => [w, i])), unk_token: '[UNK]' },
  }));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', unk_token: '[UNK]', pad_token: '[PAD]', model_max_length: 128 }));
  await writeFile(join(dir, 'onnx', 'model.onnx'), encoder());
  env.allowRemoteModels = false;
  env.localModelPath = root;
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('transformers.js folder', () => {
  it("onnx/model.onnx -> onnx/model_q4.onnx in place, loaded by pipeline(..., { dtype: 'q4' })", async () => {
    const dir = join(root, 'tiny-encoder');
    const r = await quantizeModelFiles(dir, undefined, { workers: 1, createPool: () => createInlinePool(hqq) });
    expect(r.outputPaths).toEqual([join(dir, 'onnx', 'model_q4.onnx')]);
    expect(r.totals.quantized).toBe(2); // the two MatMul weights; the embedding (Gather) stays
    expect((await readdir(join(dir, 'onnx'))).sort()).toEqual(['model.onnx', 'model_q4.onnx']);
    const text = 'the quick brown fox jumps over the lazy dog';
    const fp32 = await pipeline('feature-extraction', 'tiny-encoder', { dtype: 'fp32', device: 'cpu' });
    const q4 = await pipeline('feature-extraction', 'tiny-encoder', { dtype: 'q4', device: 'cpu' });
    const a = (await fp32(text)).data as Float32Array;
    const b = (await q4(text)).data as Float32Array;
    expect(a.length).toBe(9 * H);
    const e = relErr(b, a);
    expect(e).toBeGreaterThan(1e-4); // the q4 file was loaded, not the fp32 one
    expect(e).toBeLessThan(0.1);
    await fp32.dispose();
    await q4.dispose();
  });
});
