/**
 * The malformed-safetensors corpus, built in code: each case is a complete file (Uint8Array), the
 * HQQError code the reader must throw and a fragment its message must contain. Also a few valid
 * edge cases that must parse.
 */
import type { HQQErrorCode } from '../../../web/src/errors.js';

export interface BadCase {
  id: string;
  bytes: Uint8Array<ArrayBuffer>;
  code: HQQErrorCode;
  /** Fragments the message must contain (file name is always checked separately). */
  message: (string | RegExp)[];
}

export interface GoodCase {
  id: string;
  bytes: Uint8Array<ArrayBuffer>;
  /** Expected tensors in header order: [name, dtype, shape, byteLength]. */
  tensors: [string, string, number[], number][];
  metadata?: Record<string, string>;
}

const enc = new TextEncoder();

/** prefix (u64 LE N) + header bytes + `data` bytes of data (a counting pattern). */
export function buildFile(header: string | Uint8Array, data = 0, lengthOverride?: bigint): Uint8Array<ArrayBuffer> {
  const h = typeof header === 'string' ? enc.encode(header) : header;
  const out = new Uint8Array(8 + h.byteLength + data);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  for (let i = 0; i < data; i++) out[8 + h.byteLength + i] = (i * 7 + 3) & 0xff;
  return out;
}

/** One tensor entry as JSON text. */
export function entry(dtype: string, shape: unknown[], offsets: unknown[]): string {
  return `{"dtype":${JSON.stringify(dtype)},"shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;
}

const W = 'layers.0.mlp.up_proj.weight';
const ok16 = entry('F16', [2, 2], [0, 8]);

export function badCases(): BadCase[] {
  const cases: BadCase[] = [];
  const add = (id: string, bytes: Uint8Array<ArrayBuffer>, code: HQQErrorCode, ...message: (string | RegExp)[]) => cases.push({ id, bytes, code, message });

  // --- the 8-byte prefix
  add('too-short', new Uint8Array([1, 0, 0, 0, 0]), 'BAD_FILE', 'is 5 bytes long', '8-byte header-length prefix');
  add('empty-file', new Uint8Array(0), 'BAD_FILE', 'is 0 bytes long');
  add('header-length-zero', buildFile('', 16, 0n), 'BAD_FILE', 'header length (first 8 bytes) is 0');
  add('header-length-over-limit', buildFile('{}', 6, 100_000_001n), 'BAD_FILE', '100000001 bytes, over the limit of 100000000');
  add('header-length-u64-max', buildFile('{}', 6, 0xffff_ffff_ffff_ffffn), 'BAD_FILE', '18446744073709551615 bytes, over the limit');
  add('header-length-past-eof', buildFile('{"a":1}', 0, 1000n), 'BAD_FILE', 'says 1000 bytes of header follow', 'truncated');

  // --- header text
  const badUtf8 = new Uint8Array([...enc.encode('{"a'), 0xff, ...enc.encode('":{}}')]);
  add('invalid-utf8', buildFile(badUtf8), 'BAD_FILE', 'not valid UTF-8', '0xff at header byte 3');
  add('utf8-bom', buildFile(new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode('{}')])), 'BAD_FILE', 'must begin with "{"', 'byte-order mark');
  add('invalid-json', buildFile(`{"${W}": }`), 'BAD_FILE', 'not valid JSON');
  add('truncated-json', buildFile(`{"${W}": ${ok16}`), 'BAD_FILE', 'not valid JSON');
  add('json-array-top-level', buildFile('[]'), 'BAD_FILE', 'top level is an array', 'must be an object');
  add('json-null-top-level', buildFile('null'), 'BAD_FILE', 'top level is null');
  add('json-string-top-level', buildFile('"hello"'), 'BAD_FILE', 'top level is a string');
  add('only-spaces', buildFile('        '), 'BAD_FILE', '8 bytes of whitespace and no JSON');
  add('nul-padding', buildFile('{}\0\0\0\0\0\0'), 'BAD_FILE', '6 byte(s) after the JSON object that are not JSON whitespace', '0x00', 'only whitespace');
  add('junk-after-object', buildFile('{}{}'), 'BAD_FILE', 'after the JSON object that are not JSON whitespace', '0x7b');
  add('vertical-tab-before-object', buildFile('\v{}'), 'BAD_FILE', 'not valid JSON', 'U+000B');
  // Strings must be valid Unicode (serde_json, the reference's parser, refuses lone surrogates).
  add('lone-high-surrogate-in-name', buildFile(`{"w\\ud800":${ok16}}`, 8), 'BAD_FILE', 'not valid JSON', 'lone high surrogate \\ud800');
  add('lone-low-surrogate-in-metadata', buildFile('{"__metadata__":{"k":"\\udc00x"}}'), 'BAD_FILE', 'lone low surrogate \\udc00');
  add('high-surrogate-then-non-low', buildFile('{"__metadata__":{"k":"\\ud83d\\u0041"}}'), 'BAD_FILE', 'not followed by a low surrogate');
  add('surrogate-in-ignored-key', buildFile(`{"${W}":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8],"note":"\\ud800"}}`, 8), 'BAD_FILE', 'lone high surrogate');
  add('control-character-in-string', buildFile('{"__metadata__":{"k":"a\tb"}}'), 'BAD_FILE', 'unescaped control character');
  add('invalid-escape', buildFile('{"__metadata__":{"k":"\\x41"}}'), 'BAD_FILE', 'invalid escape');
  add('nested-too-deep', buildFile(`{"${W}":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8],"x":${'['.repeat(200)}${']'.repeat(200)}}}`, 8), 'BAD_FILE', 'nested more than 128 levels deep');

  // --- __metadata__
  add('metadata-not-object', buildFile('{"__metadata__":[1]}'), 'BAD_FILE', '"__metadata__" is an array', 'strings to strings');
  add('metadata-value-not-string', buildFile('{"__metadata__":{"format":1}}'), 'BAD_FILE', '"__metadata__" key "format" has a number (1)', 'must be a string');
  add('metadata-duplicate', buildFile('{"__metadata__":{},"__metadata__":{}}'), 'BAD_FILE', '"__metadata__" appears twice');
  add('metadata-duplicate-key', buildFile('{"__metadata__":{"format":"pt","format":"np"}}'), 'BAD_FILE', '"__metadata__": key "format" appears twice');

  // --- entries
  add('entry-not-object', buildFile(`{"${W}":[1,2]}`), 'BAD_FILE', `tensor "${W}": the entry is an array`);
  add('entry-null', buildFile(`{"${W}":null}`), 'BAD_FILE', `tensor "${W}": the entry is null`);
  add('missing-dtype', buildFile(`{"${W}":{"shape":[2],"data_offsets":[0,4]}}`, 4), 'BAD_FILE', `tensor "${W}": the entry has no "dtype"`);
  add('unknown-dtype', buildFile(`{"${W}":${entry('F4', [2], [0, 1])}}`, 1), 'BAD_FILE', `tensor "${W}": unknown dtype "F4"`, 'known dtypes are BOOL');
  add('dtype-lowercase', buildFile(`{"${W}":${entry('f16', [2], [0, 4])}}`, 4), 'BAD_FILE', 'unknown dtype "f16"');
  add('dtype-not-string', buildFile(`{"${W}":{"dtype":16,"shape":[2],"data_offsets":[0,4]}}`, 4), 'BAD_FILE', '"dtype" is a number (16)');
  add('missing-shape', buildFile(`{"${W}":{"dtype":"F16","data_offsets":[0,4]}}`, 4), 'BAD_FILE', 'the entry has no "shape"');
  add('shape-not-array', buildFile(`{"${W}":{"dtype":"F16","shape":4,"data_offsets":[0,8]}}`, 8), 'BAD_FILE', '"shape" is a number (4)');
  add('negative-dim', buildFile(`{"${W}":${entry('F16', [2, -2], [0, 8])}}`, 8), 'BAD_FILE', 'shape[1] is -2, negative');
  add('fractional-dim', buildFile(`{"${W}":${entry('F16', [2.5, 2], [0, 10])}}`, 10), 'BAD_FILE', 'shape[0] is 2.5, not an integer');
  // Integers are digits only, as the reference reads them (serde_json into usize).
  add('dim-exponent', buildFile(`{"${W}":{"dtype":"U8","shape":[1e3],"data_offsets":[0,1000]}}`, 1000), 'BAD_FILE', 'shape[0] is 1e3, not an integer (written with a fraction or an exponent)');
  add('dim-with-point-zero', buildFile(`{"${W}":{"dtype":"U8","shape":[64.0],"data_offsets":[0,64]}}`, 64), 'BAD_FILE', 'shape[0] is 64.0, not an integer');
  add('offset-exponent', buildFile(`{"${W}":{"dtype":"U8","shape":[8],"data_offsets":[0,8E0]}}`, 8), 'BAD_FILE', 'data_offsets[1] (end) is 8E0, not an integer');
  add('dim-negative-zero', buildFile(`{"${W}":{"dtype":"U8","shape":[-0],"data_offsets":[0,0]}}`), 'BAD_FILE', 'shape[0] is -0, a signed zero');
  add('dim-leading-zero', buildFile(`{"${W}":{"dtype":"U8","shape":[08],"data_offsets":[0,8]}}`, 8), 'BAD_FILE', 'not valid JSON');
  add('dim-as-string', buildFile(`{"${W}":${entry('F16', [2, '4'], [0, 16])}}`, 16), 'BAD_FILE', 'shape[1] is a string ("4")');
  add('dim-unsafe-integer', buildFile(`{"${W}":${entry('U8', [2 ** 53], [0, 1])}}`, 1), 'BAD_FILE', 'shape[0] is 9007199254740992, above 2^53-1');
  add('missing-data-offsets', buildFile(`{"${W}":{"dtype":"F16","shape":[2]}}`, 4), 'BAD_FILE', 'the entry has no "data_offsets"');
  add('data-offsets-arity-3', buildFile(`{"${W}":${entry('F16', [2], [0, 4, 8])}}`, 8), 'BAD_FILE', '"data_offsets" is an array of 3 element(s)', 'exactly 2');
  add('data-offsets-arity-1', buildFile(`{"${W}":${entry('F16', [2], [4])}}`, 4), 'BAD_FILE', '"data_offsets" is an array of 1 element(s)');
  add('data-offsets-string', buildFile(`{"${W}":${entry('F16', [2], ['0', '4'])}}`, 4), 'BAD_FILE', 'data_offsets[0] (begin) is a string');
  add('data-offsets-negative', buildFile(`{"${W}":${entry('F16', [2], [-4, 0])}}`, 4), 'BAD_FILE', 'data_offsets[0] (begin) is -4, negative');
  add('begin-after-end', buildFile(`{"${W}":${entry('F16', [0], [8, 4])}}`, 8), 'BAD_FILE', 'data_offsets [8, 4] begin after they end');
  add(
    'size-mismatch',
    buildFile(`{"${W}":${entry('F16', [10, 10], [0, 100])}}`, 100),
    'BAD_FILE',
    `tensor "${W}": data_offsets [0, 100] hold 100 bytes but F16 [10, 10] needs 200 bytes (100 elements x 2)`,
  );
  add('shape-product-overflow', buildFile(`{"${W}":${entry('F32', [2 ** 40, 2 ** 40], [0, 8])}}`, 8), 'BAD_FILE', 'shape [1099511627776, 1099511627776]', 'overflows 2^53-1');
  add('duplicate-key-in-ignored-value', buildFile(`{"${W}":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8],"x":{"a":1,"a":2}}}`, 8), 'BAD_FILE', `tensor "${W}": key "a" appears twice inside "x"`);
  add('duplicate-key-in-entry', buildFile(`{"${W}":{"dtype":"F32","dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}`, 8), 'BAD_FILE', `tensor "${W}": key "dtype" appears twice`);
  add('duplicate-tensor', buildFile(`{"a":${ok16},"b":${entry('F16', [2, 2], [8, 16])},"a":${ok16}}`, 16), 'BAD_FILE', 'tensor "a" appears twice', 'duplicate name');
  add('duplicate-tensor-escaped', buildFile(`{"a\\u0062":${ok16},"ab":${ok16}}`, 8), 'BAD_FILE', 'tensor "ab" appears twice');

  // --- layout of the data section
  add('gap-between-tensors', buildFile(`{"a":${ok16},"b":${entry('F16', [2, 2], [12, 20])}}`, 20), 'BAD_FILE', 'tensor "b": gap of 4 bytes between tensor "a" (ends at data offset 8)');
  add('overlap', buildFile(`{"a":${ok16},"b":${entry('F16', [2, 2], [4, 12])}}`, 12), 'BAD_FILE', 'tensor "b": data_offsets [4, 12] overlap tensor "a", which ends at data offset 8');
  add('same-offsets-twice', buildFile(`{"a":${ok16},"b":${ok16}}`, 8), 'BAD_FILE', 'overlap tensor "a"');
  add('first-not-at-zero', buildFile(`{"a":${entry('F16', [2, 2], [4, 12])}}`, 12), 'BAD_FILE', 'tensor "a": the first tensor in the data section begins at data offset 4, not 0');
  add('trailing-bytes', buildFile(`{"a":${ok16}}`, 11), 'BAD_FILE', 'the data section holds 11 bytes but the tensors end at data offset 8; 3 trailing bytes');
  add('no-tensors-but-data', buildFile('{}', 5), 'BAD_FILE', 'the data section holds 5 bytes but the tensors end at data offset 0');
  add('truncated-data', buildFile(`{"a":${ok16},"b":${entry('F32', [4], [8, 24])}}`, 20), 'BAD_FILE', 'tensor "b": data_offsets [8, 24] end past the data section, which holds only 20 bytes', 'truncated');
  return cases;
}

/** Pads a header with spaces to a multiple of 8 (what conforming writers do). */
function padded(h: string): string {
  return h + ' '.repeat((8 - (enc.encode(h).byteLength % 8)) % 8);
}

export function goodCases(): GoodCase[] {
  return [
    { id: 'zero-tensors', bytes: buildFile('{}'), tensors: [] },
    { id: 'zero-tensors-padded', bytes: buildFile(padded('{}')), tensors: [] },
    // The reference reader (serde_json) accepts JSON whitespace around the object.
    { id: 'leading-whitespace', bytes: buildFile(` \n\t\r{"a":${ok16}}`, 8), tensors: [['a', 'F16', [2, 2], 8]] },
    { id: 'trailing-newline', bytes: buildFile(`{"a":${ok16}}\n`, 8), tensors: [['a', 'F16', [2, 2], 8]] },
    { id: 'metadata-null', bytes: buildFile('{"__metadata__":null}'), tensors: [] },
    {
      // Unknown keys inside an entry are read (valid JSON) and ignored, as the reference does.
      id: 'unknown-entry-keys',
      bytes: buildFile(`{"w":{"strides":[2,1],"dtype":"F16","shape":[2,2],"note":{"by":"x","n":1.5e3},"data_offsets":[0,8]}}`, 8),
      tensors: [['w', 'F16', [2, 2], 8]],
    },
    { id: 'surrogate-pair-name', bytes: buildFile(`{"\\ud83d\\ude00":${ok16}}`, 8), tensors: [['\u{1F600}', 'F16', [2, 2], 8]] },
    {
      id: 'only-metadata',
      bytes: buildFile('{"__metadata__":{"format":"pt","__proto__":"x"}}'),
      tensors: [],
      metadata: { format: 'pt', ['__proto__']: 'x' },
    },
    {
      id: 'empty-tensors',
      bytes: buildFile(`{"e":${entry('F16', [0, 4], [8, 8])},"a":${ok16},"z":${entry('F32', [4, 0], [0, 0])},"b":${entry('U8', [3], [8, 11])}}`, 11),
      tensors: [
        ['e', 'F16', [0, 4], 0],
        ['a', 'F16', [2, 2], 8],
        ['z', 'F32', [4, 0], 0],
        ['b', 'U8', [3], 3],
      ],
    },
    {
      id: 'scalar-0d',
      bytes: buildFile(`{"s":${entry('I64', [], [0, 8])},"t":${entry('BF16', [], [8, 10])}}`, 10),
      tensors: [
        ['s', 'I64', [], 8],
        ['t', 'BF16', [], 2],
      ],
    },
    {
      id: 'out-of-order',
      bytes: buildFile(`{"c":${entry('F32', [2], [12, 20])},"a":${entry('F16', [2], [0, 4])},"__metadata__":{"k":"v"},"b":${entry('I32', [2], [4, 12])}}`, 20),
      tensors: [
        ['c', 'F32', [2], 8],
        ['a', 'F16', [2], 4],
        ['b', 'I32', [2], 8],
      ],
      metadata: { k: 'v' },
    },
    {
      id: 'integer-like-names-keep-order',
      bytes: buildFile(padded(`{"b":${entry('U8', [1], [0, 1])},"1":${entry('U8', [1], [1, 2])},"0":${entry('U8', [1], [2, 3])}}`), 3),
      tensors: [
        ['b', 'U8', [1], 1],
        ['1', 'U8', [1], 1],
        ['0', 'U8', [1], 1],
      ],
    },
    {
      id: 'escaped-names-and-spaces-padding',
      bytes: buildFile(`{"x\\"}{\\\\":${entry('U8', [2], [0, 2])},"caf\\u00e9 \\u2603":${entry('BOOL', [1], [2, 3])}}                `, 3),
      tensors: [
        ['x"}{\\', 'U8', [2], 2],
        ['café ☃', 'BOOL', [1], 1],
      ],
    },
    {
      id: 'all-dtypes',
      bytes: (() => {
        const dts: [string, number][] = [
          ['BOOL', 1], ['U8', 1], ['I8', 1], ['F8_E5M2', 1], ['F8_E4M3', 1], ['I16', 2], ['U16', 2], ['F16', 2],
          ['BF16', 2], ['I32', 4], ['U32', 4], ['F32', 4], ['F64', 8], ['I64', 8], ['U64', 8],
        ];
        let pos = 0;
        const parts = dts.map(([d, s]) => {
          const p = `"t_${d}":${entry(d, [3], [pos, pos + 3 * s])}`;
          pos += 3 * s;
          return p;
        });
        return buildFile(`{${parts.join(',')}}`, pos);
      })(),
      tensors: (
        [
          ['BOOL', 1], ['U8', 1], ['I8', 1], ['F8_E5M2', 1], ['F8_E4M3', 1], ['I16', 2], ['U16', 2], ['F16', 2],
          ['BF16', 2], ['I32', 4], ['U32', 4], ['F32', 4], ['F64', 8], ['I64', 8], ['U64', 8],
        ] as [string, number][]
      ).map(([d, s]) => [`t_${d}`, d, [3], 3 * s] as [string, string, number[], number]),
    },
  ];
}
