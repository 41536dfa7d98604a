// llama.cpp loads what hqq-wasm writes. A tiny Llama GGUF (synthetic heavy-tailed weights, dims
// multiples of 256, GQA, a SentencePiece vocabulary written in the test) is quantized by us in
// every llama-quantize preset and loaded by llama.cpp through node-llama-cpp (its prebuilt CPU
// build). Its next-token distribution must agree with the same model stored as F32 holding OUR
// dequantized weights, up to llama.cpp's activation quantization (its CPU kernels quantize
// activations to 8 bits for quantized weights): that checks that llama.cpp decodes every block
// exactly as we do. The distance to the original F32 model is printed next to it (the
// quantization error itself) for scale.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HQQ } from '../../web/src/engine.js';
import { memorySink } from '../../web/src/io/browser-sink.js';
import { openGGUF } from '../../web/src/io/gguf-reader.js';
import { withMetadata } from '../../web/src/io/gguf-metadata.js';
import { planGGUF } from '../../web/src/io/gguf-writer.js';
import { bytesSource } from '../../web/src/io/source.js';
import { GGUF_PRESETS } from '../../web/src/formats/gguf/tensor-types.js';
import { quantizeModel } from '../../web/src/model/quantize-model.js';
import { loadHQQ } from '../../web/src/node.js';
import { createInlinePool } from '../../web/src/pool/inline-pool.js';
import { buildTinyLlama } from './tiny-llama.js';

const PROMPT = 'the model is a quant of the weight and it is';
const POSITIONS = 4; // compare the next-token distribution after each of the last 4 prompt tokens
/** llama.cpp's 8-bit activation quantization moves the distribution by at most this much (mean KL)... */
const MAX_NOISE_KL = 0.02;
/** ...and by less than this fraction of what the weights' own quantization moves it. */
const MAX_NOISE_RATIO = 0.4;

let dir: string;
let llama: Llama;
let hqq: HQQ;
const original = buildTinyLlama();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-llama-'));
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  hqq = await loadHQQ();
});
afterAll(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** log-probabilities of the next token after each of the last POSITIONS prompt tokens. */
async function nextTokenLogProbs(path: string): Promise<Float64Array[]> {
  const model: LlamaModel = await llama.loadModel({ modelPath: path });
  try {
    const ctx = await model.createContext({ contextSize: 64, threads: 1 });
    try {
      const tokens = model.tokenize(PROMPT);
      const n = model.tokens.bos === null ? tokens.length : tokens.length;
      const input = tokens.map((t, i) => (i >= n - POSITIONS
        ? [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 1 << 20, topP: 1, minP: 0 } } }] as const
        : t));
      const out = await ctx.getSequence().controlledEvaluate(input as never);
      const vocab = original.vocab.tokens.length;
      return out.filter((o) => o?.next?.probabilities).map((o) => {
        const lp = new Float64Array(vocab).fill(Number.NEGATIVE_INFINITY);
        for (const [tok, p] of o!.next!.probabilities!) lp[tok] = Math.log(p);
        return lp;
      });
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

/** max |a - b| over tokens and positions, and the mean KL(b || a). */
function distance(a: Float64Array[], b: Float64Array[]): { maxLogDiff: number; kl: number } {
  let maxLogDiff = 0;
  let kl = 0;
  for (let p = 0; p < a.length; p++) {
    for (let i = 0; i < a[p]!.length; i++) {
      const pa = a[p]![i]!;
      const pb = b[p]![i]!;
      maxLogDiff = Math.max(maxLogDiff, Math.abs(pa - pb));
      kl += Math.exp(pb) * (pb - pa);
    }
  }
  return { maxLogDiff, kl: kl / a.length };
}

/** The same model as F32, every tensor holding our dequantization of `quantized`. */
async function dequantizedTwin(quantized: Uint8Array): Promise<Uint8Array> {
  const f = await openGGUF(bytesSource(quantized, 'q.gguf'));
  try {
    const plan = planGGUF({
      metadata: withMetadata(f.header.metadata, { 'general.file_type': { type: 'u32', value: 0 } }),
      alignment: f.header.alignment,
      tensors: f.header.tensors.map((t) => ({ name: t.name, type: 'F32', ne: t.ne })),
    });
    const out = new Uint8Array(plan.totalSize);
    out.set(plan.headerBytes);
    for (const t of f.header.tensors) {
      const bytes = (await f.readTensor(t)).slice();
      const rows = t.numel / t.ne[0]!;
      const values = t.type === 'F32' ? new Float32Array(bytes.buffer) : hqq.dequantizeGGUF(bytes, [rows, t.ne[0]!], t.type);
      out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), plan.offsets.get(t.name)!.begin);
    }
    return out;
  } finally {
    await f.close();
  }
}

describe('llama.cpp (node-llama-cpp 3.21.1) runs our GGUF files in every preset', () => {
  const rows: string[] = [];
  afterAll(() => {
    console.log(['[llama.cpp] preset   bpw    ours-vs-dequantized-F32 (max |dlogp|, KL)   vs original F32 (max |dlogp|, KL)', ...rows].join('\n'));
  });

  let base: Float64Array[];
  beforeAll(async () => {
    const p = join(dir, 'original-f32.gguf');
    await writeFile(p, original.bytes);
    base = await nextTokenLogProbs(p);
  });

  for (const preset of GGUF_PRESETS) {
    it(`${preset.name}: loads, and agrees with the F32 model of our dequantized weights`, async () => {
      const sink = memorySink();
      const report = await quantizeModel({ sources: [bytesSource(original.bytes, 'tiny-f32.gguf')], outputFileName: `tiny-${preset.name}.gguf` }, sink, {
        gguf: { preset: preset.name }, workers: 1, createPool: () => createInlinePool(hqq),
      });
      const quantized = new Uint8Array(await sink.files()[0]!.blob!.arrayBuffer());
      const qPath = join(dir, `tiny-${preset.name}.gguf`);
      const dPath = join(dir, `tiny-${preset.name}-dequantized-f32.gguf`);
      await writeFile(qPath, quantized);
      await writeFile(dPath, await dequantizedTwin(quantized));
      const q = await nextTokenLogProbs(qPath);
      const d = await nextTokenLogProbs(dPath);
      const qd = distance(q, d);
      const qo = distance(d, base);
      rows.push(`[llama.cpp] ${preset.name.padEnd(7)} ${report.totals.bitsPerWeight.toFixed(2)}   ${qd.maxLogDiff.toExponential(2)}, ${qd.kl.toExponential(2)}                        ${qo.maxLogDiff.toExponential(2)}, ${qo.kl.toExponential(2)}`);
      expect(q.length).toBe(POSITIONS);
      for (const lp of q) expect(lp.every((v) => Number.isFinite(v))).toBe(true);
      // Activation quantization noise only: well below the weights' own quantization error (measured
      // 0.003x-0.26x of it), and small in absolute terms. A decoding mistake is far above both (below).
      expect(qd.kl).toBeLessThan(MAX_NOISE_KL);
      expect(qd.kl).toBeLessThan(MAX_NOISE_RATIO * qo.kl);
    }, 120_000);
  }

  it('negative control: a decoder with the Q4_0 nibble halves swapped is caught by the same criteria', async () => {
    const sink = memorySink();
    await quantizeModel({ sources: [bytesSource(original.bytes, 'tiny-f32.gguf')], outputFileName: 'tiny-Q4_0.gguf' }, sink, {
      gguf: { preset: 'Q4_0', pure: true }, workers: 1, createPool: () => createInlinePool(hqq),
    });
    const quantized = new Uint8Array(await sink.files()[0]!.blob!.arrayBuffer());
    // The same blocks with each byte's two nibbles exchanged: what a decoder with the wrong order sees.
    const swapped = quantized.slice();
    const f = await openGGUF(bytesSource(quantized, 'q.gguf'));
    for (const t of f.header.tensors) {
      if (t.type !== 'Q4_0') continue;
      for (let b = t.begin; b < t.end; b += 18) for (let j = b + 2; j < b + 18; j++) swapped[j] = ((quantized[j]! & 15) << 4) | (quantized[j]! >> 4);
    }
    await f.close();
    const qPath = join(dir, 'control-q4_0.gguf');
    const wrongPath = join(dir, 'control-wrong-decode-f32.gguf');
    const rightPath = join(dir, 'control-right-decode-f32.gguf');
    await writeFile(qPath, quantized);
    await writeFile(wrongPath, await dequantizedTwin(swapped));
    await writeFile(rightPath, await dequantizedTwin(quantized));
    const q = await nextTokenLogProbs(qPath);
    const wrong = distance(q, await nextTokenLogProbs(wrongPath));
    const right = distance(await nextTokenLogProbs(rightPath), base);
    rows.push(`[llama.cpp] control: Q4_0 vs a nibble-swapped decoder: KL ${wrong.kl.toExponential(2)} (quantization error KL ${right.kl.toExponential(2)})`);
    expect(wrong.kl > MAX_NOISE_KL || wrong.kl > MAX_NOISE_RATIO * right.kl).toBe(true);
    expect(wrong.kl).toBeGreaterThan(MAX_NOISE_KL);
  }, 120_000);
});
