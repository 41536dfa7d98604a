// The JSON files of a Hugging Face folder as Python writes them: json.dump's NaN/Infinity tokens
// and an editor's byte order mark are read as transformers reads them; a NaN where a number is
// needed is an error naming the key.
import { describe, expect, it } from 'vitest';

import { hqqQuantizationConfig, parseHFFolder, withQuantizationConfig } from '../../../web/src/model/hf/index.js';
import { parseHFJson } from '../../../web/src/model/hf/json.js';
import { expectHQQError } from '../helpers.js';
import { tinyConfig } from './hf-fixtures.js';

const TOKENIZER = JSON.stringify({
  model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2, NaN: 3 }, merges: ['a b'] },
  added_tokens: [],
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
  decoder: { type: 'ByteLevel' },
});

function folder(configText: string) {
  return parseHFFolder([
    { name: 'm/config.json', text: configText },
    { name: 'm/tokenizer.json', text: TOKENIZER },
    { name: 'm/model.safetensors' },
  ]);
}

describe('parseHFJson', () => {
  it("reads Python's non-finite tokens outside strings only", () => {
    const v = parseHFJson('{"a": NaN, "b": [Infinity, -Infinity, 1], "c": "NaN \\" Infinity", "NaN": {"d": -1.5e3}}') as Record<string, unknown>;
    expect(Number.isNaN(v.a)).toBe(true);
    expect(v.b).toEqual([Infinity, -Infinity, 1]);
    expect(v.c).toBe('NaN " Infinity');
    expect(v.NaN).toEqual({ d: -1500 });
  });

  it('skips a byte order mark; still refuses what Python refuses', () => {
    expect(parseHFJson('\ufeff{"x": 1}')).toEqual({ x: 1 });
    for (const bad of ['{"a": nan}', '{"a": NaNx}', '{"a": 1NaN}', '{"a": +Infinity}', '{"a": NaN', '{NaN: 1}', '{"a": 1, Infinity: 2}', '{"a": NaN NaN}']) {
      expect(() => parseHFJson(bad), bad).toThrow(SyntaxError);
    }
    expect(parseHFJson('[NaN, [-Infinity], {"k": [1, Infinity]}]')).toEqual([NaN, [-Infinity], { k: [1, Infinity] }]);
    expect(parseHFJson('NaN')).toBeNaN();
  });

  it('errors point into the text as written, never at the stand-in for a token', () => {
    const text = '{"x": NaN, "y": +Infinity}';
    let message = '';
    try {
      parseHFJson(text);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toMatch(/hqq-wasm|\\u0000/);
    expect(message).toMatch(/position 16|column 17|Unexpected token '\+'/);
  });
});

describe('config.json with NaN', () => {
  it('a NaN in a field the converters do not read is accepted', () => {
    const text = JSON.stringify(tinyConfig('LlamaForCausalLM', 4, { custom_score: 0 })).replace('"custom_score":0', '"custom_score":NaN');
    const f = folder(text);
    expect(f.architecture!.gguf).toBe('llama');
    expect(Number.isNaN(f.config.custom_score)).toBe(true);
  });

  it('a NaN where a number is needed names the key', () => {
    const text = JSON.stringify(tinyConfig('LlamaForCausalLM', 4)).replace(/"rms_norm_eps":[^,}]+/, '"rms_norm_eps":NaN');
    expectHQQError(() => folder(text), 'BAD_FILE', /rms_norm_eps.* is NaN/); // not "is null" (JSON.stringify(NaN))
  });

  it('withQuantizationConfig keeps a BOM-prefixed, NaN-holding config as written', () => {
    const { config } = hqqQuantizationConfig([
      { module: 'model.layers.0.mlp.up_proj', quant: { nbits: 4, groupSize: 64, axis: 1, optimize: true, roundZero: true } },
      { module: 'lm_head', quant: null },
    ]);
    const input = '\ufeff{\n  "architectures": ["LlamaForCausalLM"],\n  "score": NaN\n}\n';
    const out = withQuantizationConfig(input, config);
    expect(out.startsWith('\ufeff{\n  "architectures": ["LlamaForCausalLM"],\n  "score": NaN,\n  "quantization_config": {')).toBe(true);
    expect((parseHFJson(out) as { quantization_config: unknown }).quantization_config).toEqual(config);
  });
});
