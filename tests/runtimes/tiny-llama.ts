/**
 * A tiny Llama-architecture GGUF written in the test, for loading in llama.cpp: synthetic weights
 * (seeded, heavy-tailed like trained ones), dims that are multiples of 256 so every K-quant
 * applies, grouped-query attention, and a small SentencePiece-style vocabulary (control tokens,
 * 256 byte-fallback tokens, some word pieces) with scores and token types.
 */
import { ggufValue, type GGUFValue } from '../../web/src/io/gguf-metadata.js';
import { planGGUF } from '../../web/src/io/gguf-writer.js';

export interface TinyLlamaSpec {
  layers: number;
  nEmbd: number;
  nFF: number;
  nHead: number;
  nHeadKv: number;
  /** Word pieces after the control and byte tokens. */
  words: number;
  seed: number;
  /** Storage type of the 2-D weights (norms are always F32). */
  dtype: 'F32' | 'F16';
}

export const TINY_LLAMA: TinyLlamaSpec = { layers: 2, nEmbd: 256, nFF: 512, nHead: 4, nHeadKv: 2, words: 253, seed: 7, dtype: 'F32' };

/** mulberry32: a small seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Student-t (3 degrees of freedom) samples scaled by `scale`: heavy tails, as trained weights have. */
function heavyTailed(n: number, scale: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  for (let i = 0; i < n; i++) {
    const z = normal();
    const chi = normal() ** 2 + normal() ** 2 + normal() ** 2;
    out[i] = (scale * z) / Math.sqrt(chi / 3);
  }
  return out;
}

function f16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign; // tiny values flush to zero (weights here are far from that)
  if (exp >= 31) return sign | 0x7c00;
  const half = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}

export interface TinyVocab {
  tokens: string[];
  scores: number[];
  types: number[];
}

/** <unk>, <s>, </s>, the 256 byte tokens, then word pieces; llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte. */
export function tinyVocab(words: number): TinyVocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  const pieces = ['▁the', '▁a', '▁of', '▁and', '▁to', '▁in', '▁is', '▁it', 'ing', 'ed', 'er', '▁model', '▁weight', '▁quant'];
  for (let i = 0; i < words; i++) {
    tokens.push(i < pieces.length ? pieces[i]! : `▁w${i}`);
    types.push(1);
  }
  const scores = tokens.map((_, i) => (types[i] === 1 ? -i : 0));
  return { tokens, scores, types };
}

export interface BuiltModel {
  bytes: Uint8Array;
  vocab: TinyVocab;
  /** Tensor name -> float32 values in the file's row-major order (F16 files: the stored values). */
  weights: Map<string, Float32Array>;
}

function metadata(spec: TinyLlamaSpec, vocab: TinyVocab): Map<string, GGUFValue> {
  return new Map<string, GGUFValue>([
    ['general.architecture', ggufValue.string('llama')],
    ['general.name', ggufValue.string('hqq-wasm tiny llama')],
    ['general.file_type', ggufValue.u32(spec.dtype === 'F32' ? 0 : 1)],
    ['llama.context_length', ggufValue.u32(256)],
    ['llama.embedding_length', ggufValue.u32(spec.nEmbd)],
    ['llama.block_count', ggufValue.u32(spec.layers)],
    ['llama.feed_forward_length', ggufValue.u32(spec.nFF)],
    ['llama.attention.head_count', ggufValue.u32(spec.nHead)],
    ['llama.attention.head_count_kv', ggufValue.u32(spec.nHeadKv)],
    ['llama.attention.layer_norm_rms_epsilon', ggufValue.f32(1e-5)],
    ['llama.rope.freq_base', ggufValue.f32(10000)],
    ['llama.rope.dimension_count', ggufValue.u32(spec.nEmbd / spec.nHead)],
    ['llama.vocab_size', ggufValue.u32(vocab.tokens.length)],
    ['tokenizer.ggml.model', ggufValue.string('llama')],
    ['tokenizer.ggml.tokens', ggufValue.strings(vocab.tokens)],
    ['tokenizer.ggml.scores', ggufValue.numbers('f32', vocab.scores)],
    ['tokenizer.ggml.token_type', ggufValue.numbers('i32', vocab.types)],
    ['tokenizer.ggml.unknown_token_id', ggufValue.u32(0)],
    ['tokenizer.ggml.bos_token_id', ggufValue.u32(1)],
    ['tokenizer.ggml.eos_token_id', ggufValue.u32(2)],
    ['tokenizer.ggml.add_bos_token', ggufValue.bool(true)],
    ['tokenizer.ggml.add_eos_token', ggufValue.bool(false)],
  ]);
}

/** [name, ne] of every tensor, in llama.cpp's usual order. */
function tensorShapes(spec: TinyLlamaSpec, nVocab: number): [string, number[]][] {
  const kv = (spec.nEmbd / spec.nHead) * spec.nHeadKv;
  const out: [string, number[]][] = [['token_embd.weight', [spec.nEmbd, nVocab]]];
  for (let l = 0; l < spec.layers; l++) {
    const p = `blk.${l}.`;
    out.push(
      [`${p}attn_norm.weight`, [spec.nEmbd]],
      [`${p}attn_q.weight`, [spec.nEmbd, spec.nEmbd]],
      [`${p}attn_k.weight`, [spec.nEmbd, kv]],
      [`${p}attn_v.weight`, [spec.nEmbd, kv]],
      [`${p}attn_output.weight`, [spec.nEmbd, spec.nEmbd]],
      [`${p}ffn_norm.weight`, [spec.nEmbd]],
      [`${p}ffn_gate.weight`, [spec.nEmbd, spec.nFF]],
      [`${p}ffn_up.weight`, [spec.nEmbd, spec.nFF]],
      [`${p}ffn_down.weight`, [spec.nFF, spec.nEmbd]],
    );
  }
  out.push(['output_norm.weight', [spec.nEmbd]], ['output.weight', [spec.nEmbd, nVocab]]);
  return out;
}

/** Builds the model file in memory. */
export function buildTinyLlama(spec: TinyLlamaSpec = TINY_LLAMA): BuiltModel {
  const vocab = tinyVocab(spec.words);
  const next = rng(spec.seed);
  const shapes = tensorShapes(spec, vocab.tokens.length);
  const typeOf = (ne: number[]) => (ne.length === 1 ? 'F32' : spec.dtype);
  const plan = planGGUF({ metadata: metadata(spec, vocab), tensors: shapes.map(([name, ne]) => ({ name, type: typeOf(ne), ne })) });
  const bytes = new Uint8Array(plan.totalSize);
  bytes.set(plan.headerBytes, 0);
  const weights = new Map<string, Float32Array>();
  for (const [name, ne] of shapes) {
    const n = ne.reduce((a, b) => a * b, 1);
    const values = ne.length === 1
      ? Float32Array.from({ length: n }, () => 1 + 0.1 * (next() - 0.5)) // norm weights near 1
      : heavyTailed(n, name.startsWith('token_embd') ? 0.5 : 1 / Math.sqrt(ne[0]!), next);
    const at = plan.offsets.get(name)!.begin;
    if (typeOf(ne) === 'F32') {
      bytes.set(new Uint8Array(values.buffer), at);
    } else {
      const bits = Uint16Array.from(values, f16Bits);
      bytes.set(new Uint8Array(bits.buffer), at);
      // Keep the values the file really holds.
      for (let i = 0; i < n; i++) values[i] = halfToFloat(bits[i]!);
    }
    weights.set(name, values);
  }
  return { bytes, vocab, weights };
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
