// HF -> GGUF architecture mapping: hyper-parameter keys per architecture, the tensor name map,
// the q/k permutation against a direct reimplementation of the converter's formula, and tiny
// random models of every supported architecture loaded by llama.cpp, whose logits must match a
// float64 Hugging Face forward pass of the same weights.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLlama, type Llama, type Token } from 'node-llama-cpp';

import {
  applyRopePermutation,
  architectureSpec,
  hfToGGUFPlan,
  hyperParameterEntries,
  llama3RopeFactors,
  mapTensors,
  modelIdComponents,
  sizeLabel,
  parseHFFolder,
  permutedRowSource,
  readHyperParameters,
  SUPPORTED_HF_ARCHITECTURES,
  type HFGGUFPlan,
} from '../../../web/src/model/hf/index.js';
import { buildTinyModel, gaussian, tinyConfig, tinyFolder, tinyWeights, writeTinyGGUF, TINY, type TokenizerPackage } from './hf-fixtures.js';
import { logSoftmax, referenceLogits } from './hf-reference-forward.js';
import { expectHQQError } from '../helpers.js';

function valueOf(plan: HFGGUFPlan, key: string): unknown {
  const v = plan.metadata.get(key) as { value?: unknown } | undefined;
  return v?.value;
}

describe('hyper-parameters -> GGUF keys', () => {
  const entries = (arch: string, cfg: Record<string, unknown>) => {
    const spec = architectureSpec(arch)!;
    return Object.fromEntries(hyperParameterEntries(spec, readHyperParameters(cfg, spec)).map(([k, v]) => [k, { type: v.type, value: (v as { value: unknown }).value }]));
  };

  it('llama (LlamaForCausalLM, MistralForCausalLM): base keys, key/value length from head_dim, vocab_size and rope dims', () => {
    for (const arch of ['LlamaForCausalLM', 'MistralForCausalLM']) {
      const e = entries(arch, tinyConfig(arch, 1000, { max_position_embeddings: 4096, rms_norm_eps: 1e-5, rope_theta: 10000 }));
      expect(Object.keys(e)).toEqual([
        'llama.block_count', 'llama.context_length', 'llama.embedding_length', 'llama.feed_forward_length', 'llama.attention.head_count',
        'llama.attention.head_count_kv', 'llama.rope.freq_base', 'llama.attention.layer_norm_rms_epsilon', 'llama.attention.key_length',
        'llama.attention.value_length', 'llama.vocab_size', 'llama.rope.dimension_count',
      ]);
      expect(e['llama.block_count']).toEqual({ type: 'u32', value: TINY.layers });
      expect(e['llama.context_length']).toEqual({ type: 'u32', value: 4096 });
      expect(e['llama.attention.head_count_kv']).toEqual({ type: 'u32', value: TINY.kvHeads });
      expect(e['llama.rope.freq_base']).toEqual({ type: 'f32', value: 10000 });
      expect(e['llama.attention.layer_norm_rms_epsilon']).toEqual({ type: 'f32', value: Math.fround(1e-5) });
      expect(e['llama.vocab_size']).toEqual({ type: 'u32', value: 1000 });
      expect(e['llama.rope.dimension_count']).toEqual({ type: 'u32', value: TINY.headDim });
    }
  });

  it('qwen2: no head_dim, vocab_size or rope dims keys; qwen3: key/value length', () => {
    const q2 = entries('Qwen2ForCausalLM', tinyConfig('Qwen2ForCausalLM', 500));
    expect(Object.keys(q2)).toEqual([
      'qwen2.block_count', 'qwen2.context_length', 'qwen2.embedding_length', 'qwen2.feed_forward_length', 'qwen2.attention.head_count',
      'qwen2.attention.head_count_kv', 'qwen2.rope.freq_base', 'qwen2.attention.layer_norm_rms_epsilon',
    ]);
    const q3 = entries('Qwen3ForCausalLM', tinyConfig('Qwen3ForCausalLM', 500));
    expect(q3['qwen3.attention.key_length']).toEqual({ type: 'u32', value: TINY.headDim });
    expect(q3['qwen3.vocab_size']).toBeUndefined();
  });

  it('rope scaling: linear, yarn (with its optional keys), llama3 (no keys, a rope_freqs tensor), rope_parameters form', () => {
    const lin = entries('LlamaForCausalLM', tinyConfig('LlamaForCausalLM', 10, { rope_scaling: { type: 'linear', factor: 4 } }));
    expect(lin['llama.rope.scaling.type']).toEqual({ type: 'string', value: 'linear' });
    expect(lin['llama.rope.scaling.factor']).toEqual({ type: 'f32', value: 4 });
    const yarn = entries('Qwen2ForCausalLM', tinyConfig('Qwen2ForCausalLM', 10, { rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768, beta_fast: 32 } }));
    expect(yarn['qwen2.rope.scaling.type']).toEqual({ type: 'string', value: 'yarn' });
    expect(yarn['qwen2.rope.scaling.original_context_length']).toEqual({ type: 'u32', value: 32768 });
    expect(yarn['qwen2.rope.scaling.yarn_beta_fast']).toEqual({ type: 'f32', value: 32 });
    const l3 = entries('LlamaForCausalLM', tinyConfig('LlamaForCausalLM', 10, { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }));
    expect(Object.keys(l3).some((k) => k.includes('scaling'))).toBe(false);
    const v5 = entries('Qwen3ForCausalLM', { ...tinyConfig('Qwen3ForCausalLM', 10), rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 5e6 } });
    expect(v5['qwen3.rope.freq_base']).toEqual({ type: 'f32', value: 5e6 });
    expectHQQError(() => entries('LlamaForCausalLM', tinyConfig('LlamaForCausalLM', 10, { rope_scaling: { rope_type: 'longrope', factor: 2 } })), 'UNSUPPORTED', /longrope/);
    expectHQQError(() => entries('LlamaForCausalLM', tinyConfig('LlamaForCausalLM', 10, { rope_scaling: { rope_type: 'yarn', factor: 2 } })), 'BAD_FILE', /original_max_position_embeddings/);
  });

  it('llama3 rope factors: 1 for short wavelengths, factor for long ones, smooth between (the converter formula)', () => {
    const spec = architectureSpec('LlamaForCausalLM')!;
    const hp = readHyperParameters(tinyConfig('LlamaForCausalLM', 10, { head_dim: 128, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } }), spec);
    const f = llama3RopeFactors(hp);
    expect(f.length).toBe(64);
    for (let i = 0; i < 64; i++) {
      const freq = 1 / Math.pow(500000, (2 * i) / 128);
      const wl = (2 * Math.PI) / freq;
      const want = wl < 8192 / 4 ? 1 : wl > 8192 ? 8 : 1 / ((1 - (8192 / wl - 1) / 3) / 8 + (8192 / wl - 1) / 3);
      expect(f[i]).toBeCloseTo(want, 4);
    }
    expect(f[0]).toBe(1);
    expect(f[63]).toBe(8);
  });

  it('bad configs: missing sizes, heads that do not divide, odd head_dim', () => {
    const spec = architectureSpec('LlamaForCausalLM')!;
    expectHQQError(() => readHyperParameters({ architectures: ['LlamaForCausalLM'], hidden_size: 64 }, spec), 'BAD_FILE', /block \(layer\) count/);
    expectHQQError(() => readHyperParameters(tinyConfig('LlamaForCausalLM', 10, { num_key_value_heads: 3 }), spec), 'BAD_FILE', /multiple of num_key_value_heads/);
    expectHQQError(() => readHyperParameters(tinyConfig('LlamaForCausalLM', 10, { head_dim: 15 }), spec), 'BAD_FILE', /odd/);
    expectHQQError(() => readHyperParameters(tinyConfig('LlamaForCausalLM', 10, { rms_norm_eps: 'x' }), spec), 'BAD_FILE', /rms_norm_eps/);
  });
});

describe('q/k permutation (llama)', () => {
  // The converter's formula written directly: w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).reshape(rows, cols).
  function converterPermute(w: Float32Array, rows: number, cols: number, nHead: number, nHeadKV: number | undefined): Float32Array {
    const n = nHeadKV !== undefined && nHeadKV !== nHead ? nHeadKV : nHead;
    const half = rows / n / 2;
    const out = new Float32Array(w.length);
    // Output element [h, i, j, c] (after swapaxes) = input element [h, j, i, c].
    for (let h = 0; h < n; h++) for (let i = 0; i < half; i++) for (let j = 0; j < 2; j++) for (let c = 0; c < cols; c++) {
      out[((h * half + i) * 2 + j) * cols + c] = w[((h * 2 + j) * half + i) * cols + c]!;
    }
    return out;
  }

  it.each([
    { what: 'q, 4 heads', rows: 64, cols: 24, heads: 4, kv: undefined },
    { what: 'k under GQA, 2 kv heads of 8', rows: 32, cols: 24, heads: 8, kv: 2 },
    { what: 'q bias (cols 1)', rows: 48, cols: 1, heads: 6, kv: undefined },
    { what: 'one head', rows: 10, cols: 3, heads: 1, kv: undefined },
  ])('matches the converter: $what', ({ rows, cols, heads, kv }) => {
    const w = gaussian(rows * cols, rows + cols, 1);
    const want = converterPermute(w, rows, cols, heads, kv);
    const spec = { kind: 'llama-rope-interleave' as const, heads: kv ?? heads, rows };
    const got = new Float32Array(applyRopePermutation(new Uint8Array(w.buffer.slice(0)), cols, 4, spec).buffer);
    expect(got).toEqual(want);
    for (let r = 0; r < rows; r++) expect(got.subarray(r * cols, (r + 1) * cols)).toEqual(w.subarray(permutedRowSource(spec, r) * cols, (permutedRowSource(spec, r) + 1) * cols));
    // 2-byte elements (F16/BF16 bit patterns) move the same way.
    const u16 = new Uint16Array(rows * cols).map((_, i) => i);
    const got16 = new Uint16Array(applyRopePermutation(new Uint8Array(u16.buffer), cols, 2, spec).buffer);
    const want16 = converterPermute(Float32Array.from(u16), rows, cols, heads, kv);
    expect(Array.from(got16)).toEqual(Array.from(want16));
  });

  it('refuses sizes it cannot permute', () => {
    expectHQQError(() => applyRopePermutation(new Uint8Array(12 * 4), 1, 4, { kind: 'llama-rope-interleave', heads: 5, rows: 12 }), 'INVALID_ARGUMENT', /heads/);
    expectHQQError(() => applyRopePermutation(new Uint8Array(10), 1, 4, { kind: 'llama-rope-interleave', heads: 2, rows: 4 }), 'INVALID_ARGUMENT', /bytes/);
  });
});

describe('tensor map', () => {
  const plan = (arch: string, tok: TokenizerPackage, extraCfg: Record<string, unknown> = {}, extraTensors: { name: string; shape: number[] }[] = [], tied = true) => {
    const { files, vocab } = tinyFolder(arch, tok, { ...extraCfg, tie_word_embeddings: tied });
    const folder = parseHFFolder(files, { target: 'gguf' });
    const w = tinyWeights(arch, vocab, { tied }).map((t) => ({ name: t.name, shape: t.shape }));
    return hfToGGUFPlan(folder, [...w, ...extraTensors]);
  };

  it('llama: names, q/k permutation specs (kv heads for k), F32 norms, inv_freq dropped, tied lm_head dropped', () => {
    const p = plan('LlamaForCausalLM', 'llama3', {}, [{ name: 'model.layers.0.self_attn.rotary_emb.inv_freq', shape: [8] }, { name: 'lm_head.weight', shape: [128256, 64] }]);
    const by = new Map(p.tensors.map((t) => [t.hfName, t]));
    expect(by.get('model.embed_tokens.weight')!.ggufName).toBe('token_embd.weight');
    expect(by.get('model.embed_tokens.weight')!.ne).toEqual([64, 128256]);
    expect(by.get('model.norm.weight')!.ggufName).toBe('output_norm.weight');
    expect(by.get('model.layers.1.input_layernorm.weight')!).toMatchObject({ ggufName: 'blk.1.attn_norm.weight', keepF32: true });
    expect(by.get('model.layers.1.post_attention_layernorm.weight')!.ggufName).toBe('blk.1.ffn_norm.weight');
    expect(by.get('model.layers.0.self_attn.q_proj.weight')!).toMatchObject({ ggufName: 'blk.0.attn_q.weight', keepF32: false, permute: { heads: TINY.heads, rows: TINY.heads * TINY.headDim } });
    expect(by.get('model.layers.0.self_attn.k_proj.weight')!).toMatchObject({ ggufName: 'blk.0.attn_k.weight', permute: { heads: TINY.kvHeads, rows: TINY.kvHeads * TINY.headDim } });
    expect(by.get('model.layers.0.self_attn.v_proj.weight')!.permute).toBeUndefined();
    expect(by.get('model.layers.0.self_attn.o_proj.weight')!.ggufName).toBe('blk.0.attn_output.weight');
    expect(by.get('model.layers.0.mlp.gate_proj.weight')!.ggufName).toBe('blk.0.ffn_gate.weight');
    expect(by.get('model.layers.0.mlp.up_proj.weight')!.ggufName).toBe('blk.0.ffn_up.weight');
    expect(by.get('model.layers.0.mlp.down_proj.weight')!.ggufName).toBe('blk.0.ffn_down.weight');
    expect(p.dropped.map((d) => d.hfName)).toEqual(['model.layers.0.self_attn.rotary_emb.inv_freq', 'lm_head.weight']);
    expect(p.tensors.some((t) => t.ggufName === 'output.weight')).toBe(false);
    expect(p.tensors.length).toBe(2 + TINY.layers * 9);
  });

  it('untied: lm_head -> output.weight; qwen2 biases; qwen3 q/k norms; no permutation for qwen', () => {
    const l = plan('LlamaForCausalLM', 'llama3', {}, [], false);
    expect(l.tensors.find((t) => t.hfName === 'lm_head.weight')!.ggufName).toBe('output.weight');
    const q2 = plan('Qwen2ForCausalLM', 'qwen3');
    expect(q2.tensors.find((t) => t.hfName === 'model.layers.1.self_attn.k_proj.bias')).toMatchObject({ ggufName: 'blk.1.attn_k.bias', keepF32: true });
    expect(q2.tensors.every((t) => t.permute === undefined)).toBe(true);
    const q3 = plan('Qwen3ForCausalLM', 'qwen3');
    expect(q3.tensors.find((t) => t.hfName === 'model.layers.0.self_attn.q_norm.weight')!.ggufName).toBe('blk.0.attn_q_norm.weight');
    expect(q3.tensors.find((t) => t.hfName === 'model.layers.0.self_attn.k_norm.weight')!.ggufName).toBe('blk.0.attn_k_norm.weight');
    expect(q3.tensors.every((t) => t.permute === undefined)).toBe(true);
  });

  it('llama3 rope scaling adds rope_freqs.weight first; general.* naming; metadata order', () => {
    const p = plan('LlamaForCausalLM', 'llama3', { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 }, _name_or_path: 'meta-llama/Llama-3.2-1B-Instruct' });
    expect(p.generated.map((g) => [g.ggufName, g.ne])).toEqual([['rope_freqs.weight', [TINY.headDim / 2]]]);
    expect(valueOf(p, 'general.name')).toBe('Llama 3.2 1B Instruct');
    expect(valueOf(p, 'general.organization')).toBe('Meta Llama');
    expect(valueOf(p, 'general.basename')).toBe('Llama-3.2');
    // The tiny model has ~8M parameters, so "1B" does not fit it: the converter's heuristic then
    // counts it as part of the fine-tune name and labels the size from the parameter count.
    expect(valueOf(p, 'general.finetune')).toBe('1b-Instruct');
    expect(valueOf(p, 'general.size_label')).toBe(sizeLabel(p.totalParameters));
    expect(modelIdComponents('meta-llama/Llama-3.2-1B-Instruct')).toEqual({ name: 'Llama-3.2-1B-Instruct', organization: 'meta-llama', basename: 'Llama-3.2', finetune: 'Instruct', version: undefined, sizeLabel: '1B' });
    expect(modelIdComponents('Qwen/Qwen2.5-0.5B-Instruct', 494_000_000)).toMatchObject({ basename: 'Qwen2.5', sizeLabel: '0.5B', finetune: 'Instruct' });
    expect(modelIdComponents('mistralai/Mistral-7B-Instruct-v0.3')).toMatchObject({ basename: 'Mistral', sizeLabel: '7B', finetune: 'Instruct', version: 'v0.3' });
    expect(sizeLabel(1_235_814_400)).toBe('1.2B');
    expect(sizeLabel(494_032_768)).toBe('494M');
    expect(sizeLabel(8_030_261_248)).toBe('8.0B');
    const keys = [...p.metadata.keys()];
    expect(keys.slice(0, 2)).toEqual(['general.architecture', 'general.type']);
    expect(keys.indexOf('general.quantization_version')).toBeLessThan(keys.indexOf('tokenizer.ggml.model'));
    expect(keys.indexOf('llama.block_count')).toBeGreaterThan(keys.indexOf('general.name'));
  });

  it('refuses what llama.cpp would not load: unknown tensors, a bias llama.cpp has no slot for, wrong shapes, missing tensors, stray layers', () => {
    const spec = architectureSpec('Qwen2ForCausalLM')!;
    const hp = readHyperParameters(tinyConfig('Qwen2ForCausalLM', 100), spec);
    const base = tinyWeights('Qwen2ForCausalLM', 100).map((t) => ({ name: t.name, shape: t.shape }));
    expectHQQError(() => mapTensors([...base, { name: 'vision_tower.proj.weight', shape: [4, 4] }], spec, hp), 'UNSUPPORTED', /no llama\.cpp qwen2 equivalent: "vision_tower\.proj\.weight"/);
    expectHQQError(() => mapTensors([...base, { name: 'model.layers.0.self_attn.o_proj.bias', shape: [64] }], spec, hp), 'UNSUPPORTED', /attn_output bias/);
    const wrong = base.map((t) => (t.name === 'model.layers.1.mlp.up_proj.weight' ? { ...t, shape: [95, 64] } : t));
    expectHQQError(() => mapTensors(wrong, spec, hp), 'BAD_FILE', /up_proj\.weight.*\[95, 64\].*\[96, 64\]/);
    expectHQQError(() => mapTensors(base.filter((t) => !t.name.includes('layers.1.mlp')), spec, hp), 'BAD_FILE', /missing: model\.layers\.1\.mlp/);
    expectHQQError(() => mapTensors([...base, { name: 'model.layers.7.input_layernorm.weight', shape: [64] }], spec, hp), 'BAD_FILE', /layer 7.*2 layers/);
    const llama = architectureSpec('LlamaForCausalLM')!;
    const lhp = readHyperParameters(tinyConfig('LlamaForCausalLM', 100), llama);
    const lbase = tinyWeights('LlamaForCausalLM', 100).map((t) => ({ name: t.name, shape: t.shape }));
    expectHQQError(() => mapTensors([...lbase, { name: 'model.layers.0.self_attn.q_norm.weight', shape: [16] }], llama, lhp), 'UNSUPPORTED', /q_norm/);
    expect(mapTensors([...lbase, { name: 'model.layers.0.self_attn.o_proj.bias', shape: [64] }], llama, lhp).tensors.some((t) => t.ggufName === 'blk.0.attn_output.bias')).toBe(true);
  });

  it('lists the supported architectures', () => {
    expect(SUPPORTED_HF_ARCHITECTURES).toEqual(expect.arrayContaining(['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM']));
  });
});

describe('tiny random models in llama.cpp: logits match a Hugging Face forward pass', () => {
  let llama: Llama;
  let dir: string;
  beforeAll(async () => {
    llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never, progressLogs: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hqq-hf-arch-'));
  });
  afterAll(async () => {
    await llama?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** log-probabilities llama.cpp gives for the token after `tokens`. */
  async function llamaLogProbs(file: string, tokens: number[]): Promise<Map<number, number>> {
    const model = await llama.loadModel({ modelPath: file });
    try {
      const ctx = await model.createContext({ contextSize: 64, batchSize: 64 });
      try {
        const seq = ctx.getSequence();
        const last = tokens[tokens.length - 1]! as Token;
        const out = await seq.controlledEvaluate([...(tokens.slice(0, -1) as Token[]), [last, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }]]);
        const probs = out[tokens.length - 1]?.next?.probabilities;
        if (!probs) throw new Error('no probabilities');
        return new Map([...probs].map(([t, p]) => [t as number, Math.log(p)]));
      } finally {
        await ctx.dispose();
      }
    } finally {
      await model.dispose();
    }
  }

  function compare(plan: HFGGUFPlan, weights: ReturnType<typeof tinyWeights>, vocab: number, got: Map<number, number>, tokens: number[]) {
    const hp = plan.hparams;
    const ref = logSoftmax(
      referenceLogits(weights, {
        layers: hp.blockCount, hidden: hp.embeddingLength, heads: hp.headCount, kvHeads: hp.headCountKV, headDim: hp.headDim, ff: hp.feedForwardLength,
        vocab, eps: hp.rmsEps ?? 1e-6, theta: hp.ropeTheta ?? 10000, qkNorm: plan.architecture.qkNorm, tied: hp.tieWordEmbeddings,
        ropeFactors: plan.generated[0]?.data,
      }, tokens),
    );
    let maxDiff = 0;
    let finite = 0;
    for (const [t, lp] of got) {
      if (Number.isFinite(lp)) finite++;
      maxDiff = Math.max(maxDiff, Math.abs(lp - ref[t]!));
    }
    let top = 0;
    for (let i = 1; i < ref.length; i++) if (ref[i]! > ref[top]!) top = i;
    const topGot = [...got.entries()].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    let spread = 0;
    for (const v of ref) spread = Math.max(spread, ref[top]! - v);
    return { maxDiff, finite, top, topGot, spread };
  }

  const TOKENS = [100, 2000, 345, 7, 9999, 31];
  it.each([
    { arch: 'LlamaForCausalLM', tok: 'llama3' as const, tied: false, cfg: { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 4 } } },
    { arch: 'MistralForCausalLM', tok: 'llama2' as const, tied: true, cfg: {} },
    { arch: 'Qwen2ForCausalLM', tok: 'qwen3' as const, tied: true, cfg: {} },
    { arch: 'Qwen3ForCausalLM', tok: 'qwen3' as const, tied: false, cfg: {} },
  ])('$arch ($tok tokenizer, tied $tied)', async ({ arch, tok, tied, cfg }) => {
    const file = path.join(dir, `${arch}.gguf`);
    const { plan, weights, vocab } = buildTinyModel(file, arch, tok, { configExtra: cfg, std: 0.1, tied });
    const got = await llamaLogProbs(file, TOKENS);
    const r = compare(plan, weights, vocab, got, TOKENS);
    console.log(`[hf-arch] ${arch}: ${got.size} finite log-probs, max |llama.cpp - reference| ${r.maxDiff.toExponential(2)} (log-prob spread ${r.spread.toFixed(2)}), top token ${r.topGot} vs ${r.top}`);
    expect(r.finite).toBe(got.size);
    expect(got.size).toBeGreaterThan(vocab * 0.99);
    expect(r.spread).toBeGreaterThan(2); // the weights are large enough for the comparison to mean something
    expect(r.maxDiff).toBeLessThan(0.02);
    expect(r.topGot).toBe(r.top);

    if (plan.architecture.permuteQK) {
      // Negative control: the same llama GGUF without the q/k permutation computes something else.
      const unpermuted = { ...plan, tensors: plan.tensors.map((t) => ({ ...t, permute: undefined })) };
      const bad = path.join(dir, `${arch}-unpermuted.gguf`);
      writeTinyGGUF(bad, unpermuted, weights);
      const r2 = compare(plan, weights, vocab, await llamaLogProbs(bad, TOKENS), TOKENS);
      console.log(`[hf-arch] ${arch} without the q/k permutation: max difference ${r2.maxDiff.toExponential(2)}`);
      expect(r2.maxDiff).toBeGreaterThan(20 * r.maxDiff);
    }
  });
});
