// HF folder model: which files are found / needed / missing, parsing, and clear errors for bad
// folders (no config.json, unsupported architecture, missing or inconsistent index, tokenizer
// without a vocabulary, an already quantized model).
import { describe, expect, it } from 'vitest';

import { HQQError } from '../../../web/src/errors.js';
import { describeFolderFiles, parseHFFolder, type HFFolderInputFile } from '../../../web/src/model/hf/index.js';
import { tinyConfig } from './hf-fixtures.js';

const TOKENIZER = JSON.stringify({
  model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] },
  added_tokens: [],
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
  decoder: { type: 'ByteLevel' },
});

function files(overrides: Record<string, string | null | undefined> = {}): HFFolderInputFile[] {
  const base: Record<string, string | null | undefined> = {
    'm/config.json': JSON.stringify(tinyConfig('LlamaForCausalLM', 3)),
    'm/tokenizer.json': TOKENIZER,
    'm/model.safetensors': null,
    ...overrides,
  };
  return Object.entries(base)
    .filter(([, v]) => v !== undefined)
    .map(([name, text]) => (text === null ? { name } : { name, text }));
}

function fails(fn: () => unknown, code: string, pattern: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HQQError);
  expect((err as HQQError).code).toBe(code);
  expect((err as Error).message).toMatch(pattern);
}

describe('describeFolderFiles', () => {
  it('a complete single-file folder (dropped with its directory prefix)', () => {
    const r = describeFolderFiles(['Llama-3.2-1B/config.json', 'Llama-3.2-1B/tokenizer.json', 'Llama-3.2-1B/tokenizer_config.json', 'Llama-3.2-1B/model.safetensors', 'Llama-3.2-1B/README.md', 'Llama-3.2-1B/original/params.json']);
    expect(r.ok).toBe(true);
    expect(r.root).toBe('Llama-3.2-1B');
    expect(r.missing).toEqual([]);
    expect(r.needed).toEqual(['config.json', 'tokenizer.json', 'model.safetensors']);
    expect(r.optionalMissing).toEqual(['generation_config.json', 'special_tokens_map.json']);
    expect(Object.fromEntries(r.files.map((f) => [f.name, f.role]))).toEqual({
      'config.json': 'config', 'tokenizer.json': 'tokenizer', 'tokenizer_config.json': 'tokenizer-config', 'model.safetensors': 'weights', 'README.md': 'other',
    });
  });

  it('sharded: shards from the index text, missing shards and unused weight files reported', () => {
    const index = JSON.stringify({ metadata: {}, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } });
    const r = describeFolderFiles(['config.json', 'tokenizer.json', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'consolidated.safetensors'], { indexText: index });
    expect(r.ok).toBe(false);
    expect(r.weights).toEqual({ index: 'model.safetensors.index.json', shards: ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'] });
    expect(r.missing).toEqual(['model-00002-of-00002.safetensors']);
    expect(r.files.find((f) => f.name === 'consolidated.safetensors')!.role).toBe('unused-weights');
  });

  it('reports what is missing instead of throwing', () => {
    const r = describeFolderFiles(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(r.ok).toBe(false);
    expect(r.missing).toEqual(['config.json', 'tokenizer.json', 'model.safetensors.index.json']);
    expect(r.problems.join(' ')).toMatch(/config\.json is missing.*tokenizer\.json is missing/);
    expect(r.problems.join(' ')).toMatch(/2 safetensors files but no model\.safetensors\.index\.json/);
    // An HQQ folder does not need the tokenizer (it is copied when present).
    expect(describeFolderFiles(['config.json', 'model.safetensors'], { target: 'hqq' }).ok).toBe(true);
    expect(describeFolderFiles([]).missing).toEqual(['config.json', 'tokenizer.json', 'model.safetensors']);
  });
});

describe('parseHFFolder', () => {
  it('parses a GGUF-ready folder', () => {
    const f = parseHFFolder(files({ 'm/generation_config.json': '{"temperature": 0.6}', 'm/chat_template.jinja': '{{ x }}' }));
    expect(f.architecture!.gguf).toBe('llama');
    expect(f.hparams!.blockCount).toBe(2);
    expect(f.weightFiles).toEqual(['model.safetensors']);
    expect(f.folderName).toBe('m');
    expect(f.generationConfig).toEqual({ temperature: 0.6 });
    expect(f.chatTemplateJinja).toBe('{{ x }}');
  });

  it('no config.json', () => {
    fails(() => parseHFFolder(files({ 'm/config.json': undefined })), 'BAD_FILE', /no config\.json in the folder "m".*Pick the whole model folder/);
  });

  it('unsupported architecture: named, with the supported list', () => {
    const cfg = { ...tinyConfig('LlamaForCausalLM', 3), architectures: ['GPTNeoXForCausalLM'] };
    fails(() => parseHFFolder(files({ 'm/config.json': JSON.stringify(cfg) })), 'UNSUPPORTED', /"GPTNeoXForCausalLM" is not supported.*LlamaForCausalLM, LLaMAForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM/);
    // The same folder is fine for HQQ output, which does not depend on the architecture.
    expect(parseHFFolder(files({ 'm/config.json': JSON.stringify(cfg) }), { target: 'hqq' }).architecture).toBeUndefined();
    fails(() => parseHFFolder(files({ 'm/config.json': '{"model_type": "llama"}' })), 'BAD_FILE', /no "architectures" list \(model_type "llama"\)/);
  });

  it('index: inconsistent (a listed shard absent), missing (several shards), corrupt', () => {
    const index = JSON.stringify({ weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors' } });
    fails(
      () => parseHFFolder(files({ 'm/model.safetensors': undefined, 'm/model.safetensors.index.json': index, 'm/model-00001-of-00002.safetensors': null })),
      'BAD_FILE',
      /lists 1 shard\(s\) that are not in the folder: model-00002-of-00002\.safetensors/,
    );
    fails(
      () => parseHFFolder(files({ 'm/model.safetensors': undefined, 'm/model-00001-of-00002.safetensors': null, 'm/model-00002-of-00002.safetensors': null })),
      'BAD_FILE',
      /2 safetensors files .* but no model\.safetensors\.index\.json/,
    );
    fails(() => parseHFFolder(files({ 'm/model.safetensors.index.json': '{"weight_map": ' })), 'BAD_FILE', /not valid JSON/);
    const ok = parseHFFolder(files({ 'm/model.safetensors': undefined, 'm/model.safetensors.index.json': index, 'm/model-00001-of-00002.safetensors': null, 'm/model-00002-of-00002.safetensors': null }));
    expect(ok.weightFiles).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    fails(() => parseHFFolder(files({ 'm/model.safetensors': undefined })), 'BAD_FILE', /no weights in the folder/);
  });

  it('tokenizer: missing, without a vocabulary, not BPE', () => {
    fails(() => parseHFFolder(files({ 'm/tokenizer.json': undefined })), 'BAD_FILE', /no tokenizer\.json in the folder/);
    fails(() => parseHFFolder(files({ 'm/tokenizer.json': JSON.stringify({ model: { type: 'BPE', merges: [] } }) })), 'BAD_FILE', /tokenizer\.json: the tokenizer has no vocabulary \("model\.vocab" is missing\)/);
    fails(() => parseHFFolder(files({ 'm/tokenizer.json': JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }) })), 'BAD_FILE', /vocabulary \("model\.vocab"\) is empty/);
    fails(() => parseHFFolder(files({ 'm/tokenizer.json': JSON.stringify({ model: { type: 'Unigram', vocab: [['a', 0]] } }) })), 'UNSUPPORTED', /tokenizer model "Unigram" is not supported/);
    fails(() => parseHFFolder(files({ 'm/tokenizer.json': '[1, 2]' })), 'BAD_FILE', /tokenizer\.json: the top level is an array/);
  });

  it('config problems: duplicate keys, already quantized, text missing', () => {
    fails(() => parseHFFolder(files({ 'm/config.json': '{"architectures": ["LlamaForCausalLM"], "vocab_size": 3, "vocab_size": 4}' })), 'BAD_FILE', /"vocab_size" appears twice/);
    const q = { ...tinyConfig('LlamaForCausalLM', 3), quantization_config: { quant_method: 'gptq' } };
    fails(() => parseHFFolder(files({ 'm/config.json': JSON.stringify(q) })), 'UNSUPPORTED', /already quantized \(quantization_config\.quant_method "gptq"\)/);
    fails(() => parseHFFolder(files({ 'm/config.json': null })), 'INVALID_ARGUMENT', /config\.json was listed without its text/);
  });
});
