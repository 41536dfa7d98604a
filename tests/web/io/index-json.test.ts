import { describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import { buildIndexJson, parseIndexJson } from '../../../web/src/io/index-json.js';

function err(text: string): HQQError {
  try {
    parseIndexJson(text, 'model.safetensors.index.json');
  } catch (e) {
    expect(e).toBeInstanceOf(HQQError);
    return e as HQQError;
  }
  throw new Error('expected an HQQError');
}

describe('parseIndexJson', () => {
  it('returns the map and the unique shards in order of first appearance', () => {
    const text = JSON.stringify({
      metadata: { total_size: 1234 },
      weight_map: { b: 'model-00002-of-00002.safetensors', a: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' },
    });
    const idx = parseIndexJson(text, 'i.json');
    expect(idx.shards).toEqual(['model-00002-of-00002.safetensors', 'model-00001-of-00002.safetensors']);
    expect([...idx.weightMap.keys()]).toEqual(['b', 'a', 'c']);
    expect(idx.metadata).toEqual({ total_size: 1234 });
    expect(parseIndexJson('{"weight_map":{"1":"x.safetensors","0":"y.safetensors"}}', 'i').shards).toEqual(['x.safetensors', 'y.safetensors']);
  });

  it('rejects malformed indexes with BAD_FILE and a clear message', () => {
    const cases: [string, string][] = [
      ['{', 'not valid JSON'],
      ['[]', 'the top level is an array'],
      ['{"metadata":{}}', 'no "weight_map"'],
      ['{"weight_map":[]}', '"weight_map" is an array'],
      ['{"weight_map":{}}', '"weight_map" is empty'],
      ['{"metadata":[],"weight_map":{"a":"x.safetensors"}}', '"metadata" is an array'],
      ['{"metadata":{"total_size":-1},"weight_map":{"a":"x.safetensors"}}', '"total_size" is -1'],
      ['{"weight_map":{"a":3}}', 'tensor "a": shard is a number'],
      ['{"weight_map":{"a":"../x.safetensors"}}', 'contains a path separator'],
      ['{"weight_map":{"a":"sub\\\\x.safetensors"}}', 'contains a path separator'],
      ['{"weight_map":{"a":".."}}', 'is "." or ".."'],
      ['{"weight_map":{"a":"x.bin"}}', 'does not end with ".safetensors"'],
      ['{"weight_map":{"a":""}}', 'is empty'],
      ['{"weight_map":{"a":"x.safetensors","a":"y.safetensors"}}', 'key "a" appears twice inside "weight_map"'],
      ['{"weight_map":{"a":"x.safetensors"},"weight_map":{}}', 'key "weight_map" appears twice'],
    ];
    for (const [text, msg] of cases) {
      const e = err(text);
      expect(e.code, text).toBe('BAD_FILE');
      expect(e.message.startsWith('model.safetensors.index.json: ')).toBe(true);
      expect(e.message, text).toContain(msg);
    }
  });
});

describe('buildIndexJson', () => {
  it('round-trips through parseIndexJson and keeps order', () => {
    const wm = new Map([
      ['z', 'model-00001-of-00002.safetensors'],
      ['0', 'model-00002-of-00002.safetensors'],
    ]);
    const text = buildIndexJson(wm, 999, { quantization: { nbits: 4 }, total_size: 5 });
    const idx = parseIndexJson(text, 'i.json');
    expect([...idx.weightMap]).toEqual([...wm]);
    expect(idx.metadata).toEqual({ total_size: 999, quantization: { nbits: 4 } });
    expect(text).toContain('\n  "weight_map": {\n    "z": ');
  });
  it('rejects bad input with INVALID_ARGUMENT', () => {
    expect(() => buildIndexJson({}, 0)).toThrow('weight map is empty');
    expect(() => buildIndexJson({ a: 'x/y.safetensors' }, 0)).toThrow('contains a path separator');
    expect(() => buildIndexJson({ a: 'x.safetensors' }, -1)).toThrow('non-negative integer');
  });
});
