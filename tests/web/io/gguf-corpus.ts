/**
 * The malformed-GGUF corpus, built in code: each case is a complete file, and fragments the reader's
 * BAD_FILE message must contain (naming the key or tensor and the rule). Also the reference valid
 * file the truncation sweep and the mutation fuzz start from.
 */
import { arr, cat, f32, gguf, kv, str, T, tinfo, u32, u64, type RawFile } from './gguf-bytes.js';

export interface BadGGUF {
  id: string;
  bytes: Uint8Array<ArrayBuffer>;
  message: (string | RegExp)[];
}

const F32 = 0;
const Q8_0 = 8;
const Q4_K = 12;
const W = 'blk.0.ffn_down.weight';

const arch = kv('general.architecture', T.string, str('llama'));
const f32x8 = (name: string | Uint8Array = W, offset: number | bigint = 0) => tinfo(name, [4, 2], F32, offset);

/** A valid file with one F32 [2, 4] tensor (32 bytes of data). */
function oneTensor(info: Uint8Array, extra: Partial<RawFile> = {}): Uint8Array<ArrayBuffer> {
  return gguf({ kvs: [arch], infos: [info], data: 32, ...extra });
}

export function badGGUFCases(): BadGGUF[] {
  const cases: BadGGUF[] = [];
  const add = (id: string, bytes: Uint8Array<ArrayBuffer>, ...message: (string | RegExp)[]) => cases.push({ id, bytes, message });

  // --- magic, version, counts
  add('empty-file', new Uint8Array(0), 'is 0 bytes long', 'not a GGUF file');
  add('three-bytes', new Uint8Array([0x47, 0x47, 0x55]), 'is 3 bytes long');
  add('bad-magic-ggml', gguf({ magic: 'GGML' }), 'does not begin with the GGUF magic', 'found "GGML"');
  add('safetensors-not-gguf', cat(u64(2), new TextEncoder().encode('{}')), 'does not begin with the GGUF magic', '0x02 0x00 0x00 0x00');
  add('magic-only', new Uint8Array([0x47, 0x47, 0x55, 0x46]), 'inside the version', 'truncated');
  add('version-0', gguf({ version: 0 }), 'GGUF version 0 is not supported');
  add('version-1', gguf({ version: 1 }), 'GGUF version 1 is not supported', 'obsolete');
  add('version-4', gguf({ version: 4 }), 'GGUF version 4 is not supported', 'reads versions 2 and 3');
  add('big-endian', gguf({ version: 0x03000000 }), 'big-endian GGUF');
  add('tensor-count-2^63', gguf({ nTensors: 1n << 63n }), 'says 9223372036854775808 tensors, over the limit');
  add('kv-count-u64-max', gguf({ nKv: (1n << 64n) - 1n }), 'says 18446744073709551615 metadata keys, over the limit');
  add('counts-exceed-file', gguf({ nKv: 1000, kvs: [arch] }), 'says 1000 metadata keys and 0 tensors, which need at least 14000 bytes', 'truncated');

  // --- keys
  add('empty-key', gguf({ kvs: [kv('', T.u8, new Uint8Array([1]))] }), 'metadata key #0 has an empty name');
  add('key-invalid-utf8', gguf({ kvs: [kv(new Uint8Array([0x61, 0xff, 0x62]), T.u8, new Uint8Array([1]))] }), 'the name of metadata key #0 is not valid UTF-8', 'byte 0xff');
  add('key-overlong-utf8', gguf({ kvs: [kv(new Uint8Array([0x61, 0xc0, 0xaf]), T.u8, new Uint8Array([1]))] }), 'metadata key #0 is not valid UTF-8', 'byte 0xc0');
  add('key-surrogate-utf8', gguf({ kvs: [kv(new Uint8Array([0xed, 0xa0, 0x80]), T.u8, new Uint8Array([1]))] }), 'metadata key #0 is not valid UTF-8', 'byte 0xed');
  add('key-truncated-utf8', gguf({ kvs: [kv(new Uint8Array([0x61, 0xe2, 0x82]), T.u8, new Uint8Array([1]))] }), 'metadata key #0 is not valid UTF-8', 'byte 0xe2');
  add('key-too-long', gguf({ kvs: [cat(str('k', 65536), new Uint8Array(70000))] }), 'the name of metadata key #0 is 65536 bytes long, over the limit of 65535');
  add('key-length-past-eof', gguf({ kvs: [cat(str('k', 5000))] }), 'the name of metadata key #0 is 5000 bytes long, but only');
  add('duplicate-key', gguf({ kvs: [arch, kv('general.architecture', T.string, str('qwen2'))] }), 'metadata key "general.architecture" appears twice');

  // --- values
  add('unknown-value-type', gguf({ kvs: [kv('x.y', 13, new Uint8Array(4))] }), 'metadata key "x.y": the value type id 13 is not a GGUF value type');
  add('value-type-u32-max', gguf({ kvs: [kv('x.y', 0xffffffff, new Uint8Array(4))] }), 'the value type id 4294967295 is not a GGUF value type');
  add('bool-2', gguf({ kvs: [kv('x.flag', T.bool, new Uint8Array([2]))] }), 'metadata key "x.flag": a bool is stored as byte 0 or 1, but this one is 2');
  add('bool-array-5', gguf({ kvs: [kv('x.flags', T.array, arr(T.bool, 3, new Uint8Array([0, 1, 5])))] }), 'metadata key "x.flags" element [2]: a bool is stored as byte 0 or 1, but this one is 5');
  add('string-invalid-utf8', gguf({ kvs: [kv('general.name', T.string, str(new Uint8Array([0x41, 0x80])))] }), 'the value of metadata key "general.name" is not valid UTF-8', 'byte 0x80');
  add('string-too-long', gguf({ kvs: [kv('general.name', T.string, cat(u64(1n << 40n)))] }), 'the value of metadata key "general.name" is 1099511627776 bytes long, over the limit');
  add('string-past-eof', gguf({ kvs: [kv('general.name', T.string, cat(u64(300), new Uint8Array(10)))] }), 'the value of metadata key "general.name" is 300 bytes long, but only');
  add('u32-value-truncated', cat(gguf({ kvs: [] , nKv: 1}).slice(0, 24), str('x.y'), u32(T.u32), new Uint8Array([1, 2])), 'inside the value of metadata key "x.y"', 'truncated');
  add('array-item-type-unknown', gguf({ kvs: [kv('x.a', T.array, arr(99, 1, new Uint8Array(8)))] }), 'metadata key "x.a": the array item type id 99 is not a GGUF value type');
  add('array-count-huge', gguf({ kvs: [kv('x.a', T.array, arr(T.u8, 1n << 62n))] }), 'metadata key "x.a": the array has 4611686018427387904 elements, over the limit');
  add('array-count-past-eof', gguf({ kvs: [kv('tokenizer.ggml.scores', T.array, arr(T.f32, 1_000_000, new Uint8Array(64)))] }), 'metadata key "tokenizer.ggml.scores": 1000000 elements of type f32 need at least 4000000 bytes');
  add('string-array-count-past-eof', gguf({ kvs: [kv('tokenizer.ggml.tokens', T.array, arr(T.string, 50_000, str('a')))] }), '50000 elements of type string need at least 400000 bytes');
  add('string-array-element-utf8', gguf({ kvs: [kv('tokenizer.ggml.tokens', T.array, arr(T.string, 3, cat(str('a'), str('b'), str(new Uint8Array([0xf8, 0x80])))))] }), 'metadata key "tokenizer.ggml.tokens" element [2]: the string is not valid UTF-8', 'byte 0xf8');
  add('string-array-element-too-long', gguf({ kvs: [kv('tokenizer.ggml.merges', T.array, arr(T.string, 2, cat(str('a b'), u64(1n << 50n))))] }), 'metadata key "tokenizer.ggml.merges" element [1]: the string is 1125899906842624 bytes long, over the limit');
  add('string-array-element-past-eof', gguf({ kvs: [kv('tokenizer.ggml.merges', T.array, arr(T.string, 2, cat(str('a b'), u64(5000))))] }), 'element [1]: the string is 5000 bytes long, but only');
  {
    let nested = arr(T.u8, 1, new Uint8Array([7]));
    for (let d = 0; d < 8; d++) nested = arr(T.array, 1, nested);
    add('array-nested-too-deep', gguf({ kvs: [kv('x.deep', T.array, nested)] }), 'metadata key "x.deep" element [0][0][0][0][0][0][0][0]: arrays are nested 9 deep, over the limit of 8');
  }
  add('nested-array-bad-inner-type', gguf({ kvs: [kv('x.n', T.array, arr(T.array, 2, cat(arr(T.u8, 1, new Uint8Array([1])), arr(77, 0))))] }), 'metadata key "x.n" element [1]: the array item type id 77 is not a GGUF value type');
  add('alignment-u64', gguf({ kvs: [kv('general.alignment', T.u64, u64(32))] }), '"general.alignment" is a u64, but it must be a u32');
  add('alignment-string', gguf({ kvs: [kv('general.alignment', T.string, str('32'))] }), '"general.alignment" is a string, but it must be a u32');
  add('alignment-array', gguf({ kvs: [kv('general.alignment', T.array, arr(T.u32, 1, u32(32)))] }), '"general.alignment" is an array of u32');
  add('alignment-0', gguf({ kvs: [kv('general.alignment', T.u32, u32(0))] }), '"general.alignment" is 0, but the alignment must be a non-zero power of two');
  add('alignment-48', gguf({ kvs: [kv('general.alignment', T.u32, u32(48))] }), '"general.alignment" is 48');

  // --- tensor infos
  add('tensor-empty-name', oneTensor(f32x8('')), 'tensor #0 has an empty name');
  add('tensor-name-64-bytes', oneTensor(f32x8('x'.repeat(64))), 'tensor #0: the name is 64 bytes long (it begins "xxxx', 'at most 63 bytes');
  add('tensor-name-length-huge', gguf({ kvs: [arch], infos: [cat(u64(1n << 60n))], data: 32 }), 'tensor #0: the name is 1152921504606846976 bytes long');
  add('tensor-name-invalid-utf8', oneTensor(f32x8(new Uint8Array([0x62, 0x6c, 0x6b, 0xc3]))), 'the name of tensor #0 is not valid UTF-8', 'byte 0xc3');
  add('tensor-name-nul', oneTensor(f32x8('a\0b')), 'tensor "a\\u0000b": the name holds a NUL byte');
  add('tensor-duplicate-name', gguf({ kvs: [arch], infos: [f32x8(W, 0), f32x8(W, 32)], data: 64 }), `tensor "${W}": appears twice (again as tensor #1)`);
  add('tensor-ndims-0', oneTensor(tinfo(W, [], F32, 0, 0)), `tensor "${W}": has 0 dimensions, but a GGML tensor has 1 to 4`);
  add('tensor-ndims-5', oneTensor(tinfo(W, [1, 1, 1, 1, 1], F32, 0)), `tensor "${W}": has 5 dimensions`);
  add('tensor-ndims-huge', oneTensor(cat(str(W), u32(0xffffffff))), 'has 4294967295 dimensions');
  add('tensor-dim-0', oneTensor(tinfo(W, [4, 0], F32, 0)), `tensor "${W}": dimension ne[1] is 0`);
  add('tensor-dim-negative', oneTensor(tinfo(W, [4, (1n << 64n) - 2n], F32, 0)), 'dimension ne[1] is 18446744073709551614, negative as the int64');
  add('tensor-dims-overflow-int64', oneTensor(tinfo(W, [1n << 32n, 1n << 32n], F32, 0)), 'dims [4294967296, 4294967296] hold 18446744073709551616 or more elements, which overflows int64');
  add('tensor-bytes-over-2^53', oneTensor(tinfo(W, [1 << 30, 1 << 30], F32, 0)), `tensor "${W}": F32 [1073741824, 1073741824] is 4611686018427387904 bytes, over the 2^53 - 1 bytes`);
  add('tensor-type-unknown', oneTensor(tinfo(W, [4, 2], 43, 0)), `tensor "${W}": type id 43 is not a GGML type`);
  add('tensor-type-removed', oneTensor(tinfo(W, [32, 2], 4, 0)), 'type id 4 (Q4_2) was removed from GGML');
  add('tensor-type-negative', oneTensor(tinfo(W, [4, 2], 0x80000000, 0)), 'type id 2147483648 is not a GGML type');
  add('tensor-row-not-multiple-of-block', oneTensor(tinfo(W, [128, 2], Q4_K, 0)), `tensor "${W}": type Q4_K stores blocks of 256 weights, but a row (ne[0]) has 128 weights`);
  add('tensor-misaligned', gguf({ kvs: [arch], infos: [f32x8(W, 8)], data: 40 }), `tensor "${W}": its data offset 8 is not a multiple of the file's alignment (32)`);
  add('tensor-misaligned-custom', gguf({ kvs: [arch, kv('general.alignment', T.u32, u32(64))], infos: [f32x8(W, 32)], data: 64, alignment: 64 }), 'its data offset 32 is not a multiple of the file\'s alignment (64)');
  add('tensor-out-of-file', gguf({ kvs: [arch], infos: [f32x8(W, 1024)], data: 32 }), `tensor "${W}": its 32 bytes at file offset`, 'past the end of the', 'truncated');
  add('tensor-offset-u64-max', gguf({ kvs: [arch], infos: [f32x8(W, (1n << 64n) - 32n)], data: 32 }), 'its 32 bytes at file offset 18446744073709551', 'past the end');
  add('tensor-partly-past-eof', gguf({ kvs: [arch], infos: [f32x8(W, 0)], data: 20 }), `tensor "${W}": its 32 bytes at file offset`, 'past the end of the');
  add('data-section-past-eof', gguf({ kvs: [arch], infos: [tinfo(W, [32], Q8_0, 0)], noPad: true }), 'the data section would begin at byte', 'truncated');
  add('tensors-overlap', gguf({ kvs: [arch], infos: [f32x8('a', 0), tinfo('b', [8, 2], F32, 32), f32x8('c', 64)], data: 96 }), 'tensor "c": its bytes', 'overlap tensor "b"');
  add('tensors-same-offset', gguf({ kvs: [arch], infos: [f32x8('a', 0), f32x8('b', 0)], data: 32 }), 'overlap tensor "a"');
  add('tensor-info-truncated', gguf({ kvs: [arch], infos: [cat(str(W), u32(2), u64(4))] , noPad: true}), `dimension 1 of tensor "${W}"`, 'truncated');
  return cases;
}

/** The valid file the truncation sweep and the fuzz start from: every structure once. */
export function referenceFile(): Uint8Array<ArrayBuffer> {
  const nested = arr(T.array, 2, cat(arr(T.u16, 2, cat(new Uint8Array([1, 0, 2, 0]))), arr(T.string, 1, str('x'))));
  return gguf({
    kvs: [
      arch,
      kv('general.alignment', T.u32, u32(32)),
      kv('llama.block_count', T.u32, u32(1)),
      kv('general.flag', T.bool, new Uint8Array([1])),
      kv('llama.rope.freq_base', T.f32, f32(10000)),
      kv('tokenizer.ggml.tokens', T.array, arr(T.string, 3, cat(str('<s>'), str('é'), str('▁the')))),
      kv('tokenizer.ggml.scores', T.array, arr(T.f32, 3, cat(f32(0), f32(-1), f32(-2.5)))),
      kv('x.nested', T.array, nested),
    ],
    infos: [tinfo('token_embd.weight', [4, 2], F32, 0), tinfo(W, [32, 2], Q8_0, 32)],
    data: 32 + 68,
  });
}
