// tokenizer.json -> GGUF tokenizer metadata, without llama.cpp: pre-tokenizer detection, merges in
// both forms, token types, special tokens and flags, chat templates, and refusals.
import { describe, expect, it } from 'vitest';

import { HQQError } from '../../../web/src/errors.js';
import type { GGUFValue } from '../../../web/src/io/gguf.js';
import { KNOWN_BPE_PRE_TYPES, TOKEN_TYPE, classifyTokenizer, parseTokenizerJson, tokenizerToGGUF, type TokenizerGGUF } from '../../../web/src/model/hf/index.js';
import { lenmlTokenizer } from './hf-fixtures.js';

const LLAMA3_RE = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2_RE = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;

function splitPre(regex: string) {
  return { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] };
}

function bpe(over: Record<string, unknown> = {}, model: Record<string, unknown> = {}) {
  return {
    model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2, 'Ġ': 3, 'Ġa': 4 }, merges: ['a b', 'Ġ a'], ...model },
    added_tokens: [] as unknown[],
    normalizer: null,
    pre_tokenizer: splitPre(LLAMA3_RE),
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    post_processor: null,
    ...over,
  };
}

const meta = (t: TokenizerGGUF) => new Map<string, GGUFValue>(t.metadata);
const val = (t: TokenizerGGUF, k: string) => (meta(t).get(k) as { value?: unknown } | undefined)?.value;
const items = (t: TokenizerGGUF, k: string) => (meta(t).get(k) as { items: { toArray?: () => unknown[] } & ArrayLike<number> }).items;

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

describe('pre-tokenizer detection', () => {
  const kind = (json: Record<string, unknown>) => classifyTokenizer(parseTokenizerJson(json));

  it('names the llama.cpp pre-type from the Split regex and ignore_merges', () => {
    expect(kind(bpe({}, { ignore_merges: true }))).toMatchObject({ model: 'gpt2', pre: 'llama-bpe' });
    expect(kind(bpe())).toMatchObject({ model: 'gpt2', pre: 'smaug-bpe' });
    expect(kind(bpe({ pre_tokenizer: splitPre(QWEN2_RE), normalizer: { type: 'NFC' } }))).toMatchObject({ pre: 'qwen2', notes: [expect.stringMatching(/NFC/)] });
    expect(kind(bpe({ pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true } }))).toMatchObject({ pre: 'gpt-2' });
    expect(kind(bpe({ pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, use_regex: true }] } }))).toMatchObject({ pre: 'smollm' });
    expect(KNOWN_BPE_PRE_TYPES).toEqual(['llama-bpe', 'smaug-bpe', 'qwen2', 'qwen35', 'tekken', 'gpt-4o', 'gpt-2', 'smollm']);
  });

  it('refuses an unknown pre-tokenizer (UNSUPPORTED), never guesses', () => {
    fails(() => kind(bpe({ pre_tokenizer: splitPre(String.raw`\p{L}+|\p{N}+`) })), 'UNSUPPORTED', /Split pre-tokenizer regex .* is not one llama\.cpp implements.*convert_hf_to_gguf\.py/);
    fails(() => kind(bpe({ pre_tokenizer: splitPre(QWEN2_RE) }, { ignore_merges: true })), 'UNSUPPORTED', /qwen2 one, but model\.ignore_merges is true/);
    fails(() => kind(bpe({ pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: true } })), 'UNSUPPORTED', /adds a prefix space/);
    fails(() => kind(bpe({ normalizer: { type: 'Lowercase' } })), 'UNSUPPORTED', /normalizer .*Lowercase/);
    fails(() => kind(bpe({ pre_tokenizer: { type: 'Whitespace' } })), 'UNSUPPORTED', /without byte-level encoding or byte fallback/);
    fails(() => kind(bpe({ decoder: { type: 'WordPiece' } })), 'UNSUPPORTED', /decoder "WordPiece"/);
  });

  it('SentencePiece-style BPE: legacy normalizer or Metaspace', () => {
    const spm = (over: Record<string, unknown>) => bpe({ pre_tokenizer: null, decoder: { type: 'Sequence', decoders: [] }, ...over }, { byte_fallback: true });
    const prepend = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] };
    expect(kind(spm({ normalizer: prepend }))).toMatchObject({ model: 'llama', pre: 'default', addSpacePrefix: true });
    expect(kind(spm({ pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false } }))).toMatchObject({ addSpacePrefix: true, notes: [expect.stringMatching(/after each special token/)] });
    expect(kind(spm({ pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'never', split: false } }))).toMatchObject({ addSpacePrefix: false });
    fails(() => kind(spm({ normalizer: { type: 'NFKC' } })), 'UNSUPPORTED', /SentencePiece-style .* normalizer/);
    fails(() => kind(spm({ normalizer: prepend, decoder: { type: 'ByteFallback' } })), 'UNSUPPORTED', /Sequence decoder/);
  });
});

describe('vocabulary', () => {
  it('byte-level: merges (string and pair form), token types, padding to vocab_size', () => {
    const json = bpe(
      { added_tokens: [{ id: 5, content: '<|begin|>', special: true }, { id: 6, content: '<think>', special: false }, { id: 7, content: '<|user|>', special: false }, { id: 8, content: 'x\u2581y', special: false }] },
      { ignore_merges: true },
    );
    const t = tokenizerToGGUF({ tokenizer: json, config: { vocab_size: 12 } });
    expect(t.tokenCount).toBe(12);
    expect((items(t, 'tokenizer.ggml.tokens') as unknown as { toArray(): string[] }).toArray()).toEqual(['a', 'b', 'ab', 'Ġ', 'Ġa', '<|begin|>', '<think>', '<|user|>', 'x y', '[PAD9]', '[PAD10]', '[PAD11]']);
    const N = TOKEN_TYPE.NORMAL;
    expect(Array.from(items(t, 'tokenizer.ggml.token_type'))).toEqual([N, N, N, N, N, TOKEN_TYPE.CONTROL, TOKEN_TYPE.USER_DEFINED, TOKEN_TYPE.CONTROL, TOKEN_TYPE.USER_DEFINED, TOKEN_TYPE.UNUSED, TOKEN_TYPE.UNUSED, TOKEN_TYPE.UNUSED]);
    expect((items(t, 'tokenizer.ggml.merges') as unknown as { toArray(): string[] }).toArray()).toEqual(['a b', 'Ġ a']);
    // The pair form (transformers >= 4.45) may hold spaces inside a part: encoded as U+0120.
    const pairs = tokenizerToGGUF({ tokenizer: bpe({}, { ignore_merges: true, merges: [['a', 'b'], [' ', 'a'], ['a b', 'c']] }) });
    expect((items(pairs, 'tokenizer.ggml.merges') as unknown as { toArray(): string[] }).toArray()).toEqual(['a b', '\u0120 a', 'a\u0120b c']);
  });

  it('refuses ids beyond config vocab_size, no merges, SentencePiece gaps and missing byte tokens', () => {
    fails(() => tokenizerToGGUF({ tokenizer: bpe({}, { ignore_merges: true }), config: { vocab_size: 4 } }), 'BAD_FILE', /id 4, but config\.json's vocab_size is 4/);
    fails(() => tokenizerToGGUF({ tokenizer: bpe({}, { ignore_merges: true, merges: [] }) }), 'BAD_FILE', /no merges/);
    const spmVocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
    for (let b = 0; b < 256; b++) spmVocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
    Object.assign(spmVocab, { '\u2581': 259, a: 260, '\u2581a': 261 });
    const spm = (vocab: Record<string, number>, added: unknown[] = []) => ({
      model: { type: 'BPE', vocab, merges: ['\u2581 a'], byte_fallback: true },
      added_tokens: added,
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
      pre_tokenizer: null,
      decoder: { type: 'Sequence', decoders: [] },
    });
    const ok = tokenizerToGGUF({ tokenizer: spm(spmVocab, [{ id: 262, content: '<extra>', special: true }]), tokenizerConfig: { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>' }, config: { vocab_size: 264 } });
    const types = Array.from(items(ok, 'tokenizer.ggml.token_type'));
    expect(types.slice(0, 4)).toEqual([TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL, TOKEN_TYPE.CONTROL, TOKEN_TYPE.BYTE]);
    expect(types.slice(259)).toEqual([TOKEN_TYPE.NORMAL, TOKEN_TYPE.NORMAL, TOKEN_TYPE.NORMAL, TOKEN_TYPE.CONTROL, TOKEN_TYPE.UNUSED]);
    const scores = Array.from(items(ok, 'tokenizer.ggml.scores'));
    expect(scores[261]).toBe(-0); // "▁a" comes from merge 0
    expect(scores[260]).toBe(-2); // no merge makes "a": below every merge
    expect(val(ok, 'tokenizer.ggml.add_space_prefix')).toBe(true);
    const { ['<0x41>']: _drop, ...noA } = spmVocab;
    void _drop;
    fails(() => tokenizerToGGUF({ tokenizer: spm({ ...noA, zz: 68 }) }), 'BAD_FILE', /lacks 1 byte tokens \(<0x41>/);
    fails(() => tokenizerToGGUF({ tokenizer: spm(spmVocab, [{ id: 300, content: '<far>', special: true }]) }), 'BAD_FILE', /numbered 262, 263, \.\.\. without gaps/);
    // An added token that takes a byte token's id: the message names the clash, not only the missing byte.
    fails(() => tokenizerToGGUF({ tokenizer: spm(spmVocab, [{ id: 5, content: '<dup5>', special: true }]) }), 'BAD_FILE', /lacks 1 byte tokens \(<0x02>\): <0x02> lost its id 5 to "<dup5>", so two tokens claim one id/);
  });

  it('an id claimed by two tokens (no byte fallback) is a warning naming them', () => {
    const t = tokenizerToGGUF({ tokenizer: bpe({ added_tokens: [{ id: 2, content: '<x>', special: true }] }, { ignore_merges: true }) });
    expect(t.notes.join('\n')).toMatch(/1 token id\(s\) are claimed twice \("ab" lost id 2 to "<x>"\)/);
    const same = tokenizerToGGUF({ tokenizer: bpe({ added_tokens: [{ id: 2, content: 'ab', special: false }] }, { ignore_merges: true }) });
    expect(same.notes.join('\n')).not.toMatch(/claimed twice/);
  });
});

describe('special tokens, flags, chat template', () => {
  it('ids from tokenizer_config.json (added tokens only), then config.json; add flags; eot from the post-processor', () => {
    const json = bpe({
      added_tokens: [{ id: 5, content: '<s>', special: true }, { id: 6, content: '</s>', special: true }, { id: 7, content: '<|eot|>', special: true }],
      post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|eot|>', type_id: 0 } }] },
    }, { ignore_merges: true });
    const t = tokenizerToGGUF({ tokenizer: json, tokenizerConfig: { bos_token: '<s>', eos_token: { content: '</s>' }, pad_token: 'b' }, config: { vocab_size: 8, pad_token_id: 1, unk_token_id: 0 } });
    // pad "b" is not an added token, so config.json's pad_token_id is used (as the converter does).
    expect(t.specialTokens).toEqual({ bos: 5, eos: 7, eot: 6, unk: 0, pad: 1 });
    expect(val(t, 'tokenizer.ggml.eot_token_id')).toBe(6);
    expect(val(t, 'tokenizer.ggml.padding_token_id')).toBe(1);
    expect(val(t, 'tokenizer.ggml.unknown_token_id')).toBe(0);
    expect([t.addBos, t.addEos]).toEqual([true, true]);
    // tokenizer_config.json's flags win over the post-processor.
    const t2 = tokenizerToGGUF({ tokenizer: json, tokenizerConfig: { bos_token: '<s>', add_bos_token: false, add_eos_token: false } });
    expect([t2.addBos, t2.addEos]).toEqual([false, false]);
    // Nothing says: the HF tokenizer adds nothing, so false is written (llama.cpp would default to true for llama-bpe).
    const t3 = tokenizerToGGUF({ tokenizer: bpe({}, { ignore_merges: true }) });
    expect(val(t3, 'tokenizer.ggml.add_bos_token')).toBe(false);
    expect(val(t3, 'tokenizer.ggml.add_eos_token')).toBe(false);
    // special_tokens_map.json fills a role tokenizer_config.json does not name.
    const t4 = tokenizerToGGUF({ tokenizer: json, tokenizerConfig: {}, specialTokensMap: { bos_token: '<s>' } });
    expect(t4.specialTokens.bos).toBe(5);
  });

  it('special-token settings of the wrong type, and no EOS at all, are warned about (they passed silently)', () => {
    const json = bpe({ added_tokens: [{ id: 5, content: '<s>', special: true }, { id: 6, content: '</s>', special: true }] }, { ignore_merges: true });
    const t = tokenizerToGGUF({ tokenizer: json, tokenizerConfig: { bos_token: '<s>', eos_token: 123, add_bos_token: 'yes' }, config: { vocab_size: 8 } });
    expect(t.specialTokens.eos).toBeUndefined();
    expect(t.notes.join('\n')).toMatch(/"eos_token" is 123, but it must be the token's text .*no EOS token id comes from it, so generation may not stop/);
    expect(t.notes.join('\n')).toMatch(/"add_bos_token" is "yes", not true or false; ignored/);
    expect(t.notes.join('\n')).toMatch(/no EOS token is defined .*llama\.cpp will not stop generating at an end token/);
    const ok = tokenizerToGGUF({ tokenizer: json, tokenizerConfig: { bos_token: '<s>', eos_token: '</s>' }, config: { vocab_size: 8 } });
    expect(ok.notes.filter((n) => /EOS|eos_token|add_bos/.test(n))).toEqual([]);
  });

  it('chat template: string, named list (default + others), chat_template.jinja', () => {
    const base = { tokenizer: bpe({}, { ignore_merges: true }) };
    expect(val(tokenizerToGGUF({ ...base, tokenizerConfig: { chat_template: '{{ messages }}' } }), 'tokenizer.chat_template')).toBe('{{ messages }}');
    const named = tokenizerToGGUF({ ...base, tokenizerConfig: { chat_template: [{ name: 'default', template: 'D' }, { name: 'tool use', template: 'T' }, { name: 'rag', template: 'R' }] } });
    expect(named.metadata.map(([k]) => k).filter((k) => k.startsWith('tokenizer.chat'))).toEqual(['tokenizer.chat_template.tool_use', 'tokenizer.chat_template.rag', 'tokenizer.chat_templates', 'tokenizer.chat_template']);
    expect(val(named, 'tokenizer.chat_template')).toBe('D');
    expect(val(named, 'tokenizer.chat_template.tool_use')).toBe('T');
    expect(val(tokenizerToGGUF({ ...base, tokenizerConfig: {}, chatTemplateJinja: 'J' }), 'tokenizer.chat_template')).toBe('J');
    fails(() => tokenizerToGGUF({ ...base, tokenizerConfig: { chat_template: 3 } }), 'BAD_FILE', /chat_template/);
  });

  it('real tokenizers: model, pre, special ids, flags, chat template', () => {
    const load = (name: 'llama3' | 'qwen3' | 'llama2', vocab: number) => {
      const t = lenmlTokenizer(name);
      return tokenizerToGGUF({ tokenizer: JSON.parse(t.tokenizerText), tokenizerConfig: JSON.parse(t.tokenizerConfigText), config: { vocab_size: vocab } });
    };
    const l3 = load('llama3', 128256);
    expect([l3.model, l3.pre, l3.specialTokens.bos, l3.specialTokens.eos, l3.addBos]).toEqual(['gpt2', 'llama-bpe', 128000, 128001, false]);
    expect(typeof l3.chatTemplate).toBe('string');
    expect((items(l3, 'tokenizer.ggml.merges') as unknown as { length: number }).length).toBe(280147);
    const q3 = load('qwen3', 151936);
    expect([q3.model, q3.pre, q3.specialTokens.eos, q3.specialTokens.pad, q3.addBos, q3.tokenCount]).toEqual(['gpt2', 'qwen2', 151645, 151643, false, 151936]);
    expect(q3.specialTokens.bos).toBeUndefined();
    const types = items(q3, 'tokenizer.ggml.token_type');
    expect(types[151644]).toBe(TOKEN_TYPE.CONTROL); // <|im_start|>
    expect(types[151667]).toBe(TOKEN_TYPE.USER_DEFINED); // <think> (special: false)
    expect(types[151700]).toBe(TOKEN_TYPE.UNUSED); // config vocab_size pads past the tokenizer
    const l2 = load('llama2', 32000);
    expect([l2.model, l2.pre, l2.specialTokens.bos, l2.specialTokens.eos, l2.specialTokens.unk, l2.addBos, l2.addEos]).toEqual(['llama', 'default', 1, 2, 0, true, false]);
  });
});
