// The GGUF tokenizer metadata we write, loaded by llama.cpp (node-llama-cpp 3.21.1), must tokenize
// like @huggingface/transformers does with the same tokenizer.json, string by string, for real
// tokenizers (Llama 3 byte-level BPE, Qwen 3 byte-level BPE, Llama 2 SentencePiece-style BPE).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { getLlama, type Llama } from 'node-llama-cpp';

import { buildTinyModel, lenmlTokenizer, writeTinyGGUF, type TokenizerPackage } from './hf-fixtures.js';
import { tokenizerCorpus } from './hf-corpus.js';

let llama: Llama;
let dir: string;

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never, progressLogs: false });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hqq-hf-tok-'));
});

afterAll(async () => {
  await llama?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function hfTokenizer(name: TokenizerPackage, extraSpecial: readonly { id: number; content: string }[] = []): PreTrainedTokenizer {
  const t = lenmlTokenizer(name);
  const json = JSON.parse(t.tokenizerText);
  for (const e of extraSpecial) json.added_tokens.push({ ...e, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return new PreTrainedTokenizer(json, JSON.parse(t.tokenizerConfigText));
}

// llama.cpp marks vocabulary tokens with these texts as control (end-of-generation) tokens
// whatever the GGUF says (src/llama-vocab.cpp, the special_eog_ids scan: "control-looking token
// ... its type will be overridden"), so it splits them out of text where the Hugging Face
// tokenizer merges their characters. That is llama.cpp's behaviour for every GGUF, converter-made
// ones included; strings holding such a token are compared with a Hugging Face tokenizer that
// also treats them as special.
const LLAMA_CPP_FORCED_CONTROL = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>', '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>', '<eos>', '<turn|>', '<|tool_response>', '<\uff5cend\u2581of\u2581sentence\uff5c>', '[e~['];

// llama.cpp's converter hashes the tokenization of this string to name the pre-tokenizer
// (conversion/base.py get_vocab_base_pre).
const CHKTXT = '\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български \'\'\'\'\'\'```````""""......!!!!!!?????? I\'ve been \'told he\'s there, \'RE you sure? \'M not sure I\'ll make it, \'D you like some tea? We\'Ve a\'lL';

const CASES: { tokenizer: TokenizerPackage; arch: string; model: string; pre: string; hash?: string; nfc: boolean }[] = [
  // c136ed...: the hash conversion/base.py maps to "smaug-bpe" (this is the Llama 3 tokenizer.json
  // without the BOS post-processor); hqq-wasm picks llama-bpe from ignore_merges=true (see pre-tokenizer.ts).
  { tokenizer: 'llama3', arch: 'LlamaForCausalLM', model: 'gpt2', pre: 'llama-bpe', hash: 'c136ed14d01c2745d4f60a9596ae66800e2b61fa45643e72436041855ad4089d', nfc: false },
  // e636dc...: conversion/base.py's "qwen2" entry.
  { tokenizer: 'qwen3', arch: 'Qwen3ForCausalLM', model: 'gpt2', pre: 'qwen2', hash: 'e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea', nfc: true },
  { tokenizer: 'llama2', arch: 'LlamaForCausalLM', model: 'llama', pre: 'default', nfc: false },
];

describe.each(CASES)('$tokenizer tokenizer -> GGUF -> llama.cpp', (c) => {
  it('tokenizes every corpus string like the Hugging Face tokenizer', async () => {
    const file = path.join(dir, `${c.tokenizer}.gguf`);
    const { plan } = buildTinyModel(file, c.arch, c.tokenizer);
    expect(plan.tokenizer.model).toBe(c.model);
    expect(plan.tokenizer.pre).toBe(c.pre);
    const hf = hfTokenizer(c.tokenizer);
    const tokens0 = plan.metadata.get('tokenizer.ggml.tokens') as { items: { get(i: number): string; length: number } };
    const types0 = (plan.metadata.get('tokenizer.ggml.token_type') as { items: Int32Array }).items;
    const forced: { id: number; content: string }[] = [];
    for (let id = 0; id < tokens0.items.length; id++) {
      const text = tokens0.items.get(id);
      if (types0[id] === 1 && LLAMA_CPP_FORCED_CONTROL.includes(text)) forced.push({ id, content: text });
    }
    const hfForced = forced.length ? hfTokenizer(c.tokenizer, forced) : hf;
    if (c.hash) {
      // The JS tokenizer reproduces the Python tokenizer's ids on the converter's test string.
      const ids = hf.encode(CHKTXT, { add_special_tokens: true });
      expect(crypto.createHash('sha256').update(`[${ids.join(', ')}]`).digest('hex')).toBe(c.hash);
    }
    const model = await llama.loadModel({ modelPath: file, vocabOnly: true });
    try {
      const specials = JSON.parse(lenmlTokenizer(c.tokenizer).tokenizerText).added_tokens.map((t: { content: string }) => t.content) as string[];
      const corpus = tokenizerCorpus(specials);
      const mismatches: { text: string; hf: number[]; llama: number[] }[] = [];
      let nonNfc = 0;
      let tokens = 0;
      let forcedStrings = 0;
      for (const text of corpus) {
        const hasForced = forced.some((f) => text.includes(f.content));
        if (hasForced) forcedStrings++;
        const want = (hasForced ? hfForced : hf).encode(text, { add_special_tokens: false });
        // node-llama-cpp's tokenize(text, true) = llama_tokenize(add_special=false, parse_special=true):
        // special tokens written out are recognised, nothing is added: HF's add_special_tokens=false.
        const input = c.nfc ? text.normalize('NFC') : text;
        if (input !== text) nonNfc++;
        const got = [...model.tokenize(input, true)];
        tokens += want.length;
        if (got.length !== want.length || got.some((id, i) => id !== want[i])) mismatches.push({ text, hf: want, llama: got });
      }
      console.log(
        `[hf-tokenizer] ${c.tokenizer}: ${corpus.length} strings, ${tokens} tokens, ${corpus.length - mismatches.length}/${corpus.length} identical` +
          ` (model ${plan.tokenizer.model}, pre ${plan.tokenizer.pre}${c.nfc ? `, ${nonNfc} strings NFC-normalised before llama.cpp` : ''}` +
          `${forced.length ? `, ${forcedStrings} strings hold ${forced.map((f) => JSON.stringify(f.content)).join(', ')}, which llama.cpp forces to control` : ''})`,
      );
      for (const m of mismatches.slice(0, 5)) console.log('  mismatch', JSON.stringify(m.text), 'hf', m.hf.join(' '), 'llama', m.llama.join(' '));
      expect(mismatches).toEqual([]);
      // llama.cpp's BOS/EOS behaviour follows the flags we wrote, which follow the HF tokenizer.
      const hfAddsBos = hf.encode('hello', { add_special_tokens: true }).length > hf.encode('hello', { add_special_tokens: false }).length;
      expect(plan.tokenizer.addBos).toBe(hfAddsBos);
      expect(model.tokens.shouldPrependBosToken).toBe(hfAddsBos);
    } finally {
      await model.dispose();
    }
  });
});

describe('llama2 tokenizer with the converter scores', () => {
  it("the converter's LlamaHfVocab scores (-1000 for every token) tokenize differently in llama.cpp; our merge-rank scores do not", async () => {
    // The reason vocab.ts departs from the converter here: with equal scores llama.cpp's
    // SentencePiece merger merges left to right instead of in BPE rank order.
    const file = path.join(dir, 'llama2-flat-scores.gguf');
    const { plan, weights } = buildTinyModel(file, 'LlamaForCausalLM', 'llama2');
    const scores = plan.metadata.get('tokenizer.ggml.scores') as { type: 'array'; itemType: 'f32'; items: Float32Array };
    const flat = { ...plan, metadata: new Map(plan.metadata).set('tokenizer.ggml.scores', { ...scores, items: new Float32Array(scores.items.length).fill(-1000) }) };
    writeTinyGGUF(file, flat, weights);
    const hf = hfTokenizer('llama2');
    const model = await llama.loadModel({ modelPath: file, vocabOnly: true });
    try {
      const corpus = tokenizerCorpus([]);
      const differ = corpus.filter((t) => {
        const want = hf.encode(t, { add_special_tokens: false });
        const got = [...model.tokenize(t, true)];
        return got.length !== want.length || got.some((id, i) => id !== want[i]);
      }).length;
      console.log(`[hf-tokenizer] llama2 with the converter's flat scores: ${differ}/${corpus.length} strings tokenize differently from Hugging Face`);
      expect(differ).toBeGreaterThan(corpus.length / 4);
    } finally {
      await model.dispose();
    }
  });
});
