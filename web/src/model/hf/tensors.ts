/**
 * Hugging Face tensor names -> llama.cpp's GGUF names for the supported architectures, with the
 * shape each must have, the tensors that are dropped, and the q/k permutation. Browser-safe.
 *
 * Names (gguf-py/gguf/tensor_mapping.py, constants.py TENSOR_NAMES):
 *   model.embed_tokens.weight                    token_embd.weight
 *   model.norm.weight                            output_norm.weight
 *   lm_head.weight                               output.weight   (dropped when embeddings are tied:
 *                                                                 llama.cpp then reuses token_embd)
 *   model.layers.N.input_layernorm.weight        blk.N.attn_norm.weight
 *   model.layers.N.self_attn.{q,k,v}_proj.*      blk.N.attn_{q,k,v}.*
 *   model.layers.N.self_attn.o_proj.*            blk.N.attn_output.*
 *   model.layers.N.self_attn.{q,k}_norm.weight   blk.N.attn_{q,k}_norm.weight   (qwen3)
 *   model.layers.N.post_attention_layernorm.weight  blk.N.ffn_norm.weight
 *   model.layers.N.mlp.{gate,up,down}_proj.*     blk.N.ffn_{gate,up,down}.*
 * Dropped like the converter (prepare_tensors): names ending in .rotary_emb.inv_freq,
 * .attention.masked_bias, .attention.bias.
 * Stored as F32 by the converter whatever the output type: 1-D tensors and "*_norm.weight".
 */
import { HQQError } from '../../errors.js';
import type { ArchitectureSpec } from './architectures.js';
import type { HyperParameters } from './hparams.js';
import type { RopePermutation } from './permute.js';

export type TensorRole = 'embedding' | 'output' | 'norm' | 'attention' | 'ffn';

export interface MappedTensor {
  hfName: string;
  ggufName: string;
  /** Row-major shape, as in the safetensors file. */
  shape: number[];
  /** GGUF dims (the shape reversed: ne[0] is the row length). */
  ne: number[];
  role: TensorRole;
  /** Block (layer) index, for blk.N tensors. */
  block?: number;
  /** Rows to permute before writing or quantizing (llama q/k weights and biases). */
  permute?: RopePermutation;
  /** The converter keeps it in F32 whatever the output type (1-D tensors and norms). */
  keepF32: boolean;
}

export interface DroppedTensor {
  hfName: string;
  reason: string;
}

export interface TensorInput {
  name: string;
  shape: readonly number[];
}

export interface TensorMapping {
  tensors: MappedTensor[];
  dropped: DroppedTensor[];
  warnings: string[];
}

const DROP_SUFFIXES: readonly [string, string][] = [
  ['.rotary_emb.inv_freq', 'rotary inverse frequencies are recomputed by llama.cpp'],
  ['.attention.masked_bias', 'attention mask buffer, not a weight'],
  ['.attention.bias', 'attention mask buffer, not a weight'],
];

type LayerPart = { gguf: string; role: TensorRole; shape: (hp: HyperParameters) => number[]; permuteHeads?: (hp: HyperParameters) => number; qkNormOnly?: boolean };

/** Per-layer modules: HF module path (after model.layers.N.) -> GGUF name and expected weight shape. */
const LAYER_PARTS: Readonly<Record<string, LayerPart>> = {
  input_layernorm: { gguf: 'attn_norm', role: 'norm', shape: (hp) => [hp.embeddingLength] },
  post_attention_layernorm: { gguf: 'ffn_norm', role: 'norm', shape: (hp) => [hp.embeddingLength] },
  'self_attn.q_proj': { gguf: 'attn_q', role: 'attention', shape: (hp) => [hp.headCount * hp.headDim, hp.embeddingLength], permuteHeads: (hp) => hp.headCount },
  'self_attn.k_proj': { gguf: 'attn_k', role: 'attention', shape: (hp) => [hp.headCountKV * hp.headDim, hp.embeddingLength], permuteHeads: (hp) => hp.headCountKV },
  'self_attn.v_proj': { gguf: 'attn_v', role: 'attention', shape: (hp) => [hp.headCountKV * hp.headDim, hp.embeddingLength] },
  'self_attn.o_proj': { gguf: 'attn_output', role: 'attention', shape: (hp) => [hp.embeddingLength, hp.headCount * hp.headDim] },
  'self_attn.q_norm': { gguf: 'attn_q_norm', role: 'norm', shape: (hp) => [hp.headDim], qkNormOnly: true },
  'self_attn.k_norm': { gguf: 'attn_k_norm', role: 'norm', shape: (hp) => [hp.headDim], qkNormOnly: true },
  'mlp.gate_proj': { gguf: 'ffn_gate', role: 'ffn', shape: (hp) => [hp.feedForwardLength, hp.embeddingLength] },
  'mlp.up_proj': { gguf: 'ffn_up', role: 'ffn', shape: (hp) => [hp.feedForwardLength, hp.embeddingLength] },
  'mlp.down_proj': { gguf: 'ffn_down', role: 'ffn', shape: (hp) => [hp.embeddingLength, hp.feedForwardLength] },
};

const GLOBAL_PARTS: Readonly<Record<string, { gguf: string; role: TensorRole; shape: (hp: HyperParameters) => number[] }>> = {
  'model.embed_tokens.weight': { gguf: 'token_embd.weight', role: 'embedding', shape: (hp) => [hp.vocabSize, hp.embeddingLength] },
  'model.norm.weight': { gguf: 'output_norm.weight', role: 'norm', shape: (hp) => [hp.embeddingLength] },
  'lm_head.weight': { gguf: 'output.weight', role: 'output', shape: (hp) => [hp.vocabSize, hp.embeddingLength] },
};

const LAYER_RE = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function shapeError(name: string, got: readonly number[], want: readonly number[], why: string): HQQError {
  return new HQQError('BAD_FILE', `tensor ${JSON.stringify(name)} has shape [${got.join(', ')}] but config.json implies [${want.join(', ')}] (${why}); the weights do not match the config`);
}

const keepF32 = (gguf: string, shape: readonly number[]) => shape.length <= 1 || gguf.endsWith('_norm.weight');

function mapLayerTensor(t: TensorInput, arch: ArchitectureSpec, hp: HyperParameters): MappedTensor | undefined {
  const m = LAYER_RE.exec(t.name);
  if (!m) return undefined;
  const block = Number(m[1]);
  const part = LAYER_PARTS[m[2]!];
  const kind = m[3]!;
  if (!part || (part.qkNormOnly && !arch.qkNorm)) return undefined;
  if (block >= hp.blockCount) {
    throw new HQQError('BAD_FILE', `tensor ${JSON.stringify(t.name)} belongs to layer ${block}, but config.json has ${hp.blockCount} layers (num_hidden_layers); the weights do not match the config`);
  }
  const weightShape = part.shape(hp);
  if (kind === 'bias') {
    if (part.role === 'norm' || !arch.biases.has(part.gguf)) {
      throw new HQQError('UNSUPPORTED', `tensor ${JSON.stringify(t.name)}: llama.cpp's ${arch.gguf} architecture has no ${part.gguf} bias and would refuse the file; this checkpoint is not a plain ${arch.hfName}`);
    }
  }
  const want = kind === 'bias' ? [weightShape[0]!] : weightShape;
  if (!sameShape(t.shape, want)) throw shapeError(t.name, t.shape, want, `${part.gguf} of layer ${block}`);
  const ggufName = `blk.${block}.${part.gguf}.${kind}`;
  const mapped: MappedTensor = { hfName: t.name, ggufName, shape: [...t.shape], ne: [...t.shape].reverse(), role: part.role, block, keepF32: keepF32(ggufName, t.shape) };
  if (arch.permuteQK && part.permuteHeads) mapped.permute = { kind: 'llama-rope-interleave', heads: part.permuteHeads(hp), rows: want[0]! };
  return mapped;
}

/** At most this many missing names are collected (messages show a few; num_hidden_layers = 1e12 must not loop). */
const MISSING_LIST_LIMIT = 64;

/** Required tensors that are missing, as HF names (at most MISSING_LIST_LIMIT of them). */
function missingTensors(have: ReadonlySet<string>, arch: ArchitectureSpec, hp: HyperParameters): string[] {
  const missing: string[] = [];
  for (const name of ['model.embed_tokens.weight', 'model.norm.weight']) if (!have.has(name)) missing.push(name);
  for (let b = 0; b < hp.blockCount && missing.length < MISSING_LIST_LIMIT; b++) {
    for (const [path, part] of Object.entries(LAYER_PARTS)) {
      if (part.qkNormOnly && !arch.qkNorm) continue;
      const name = `model.layers.${b}.${path}.weight`;
      if (!have.has(name)) missing.push(name);
    }
  }
  return missing;
}

/**
 * Maps every input tensor: GGUF name and role, or dropped with a reason. Unknown tensors are
 * UNSUPPORTED (as in the converter, which stops with "Can not map tensor"), wrong shapes and
 * missing tensors BAD_FILE.
 */
export function mapTensors(inputs: readonly TensorInput[], arch: ArchitectureSpec, hp: HyperParameters): TensorMapping {
  const tensors: MappedTensor[] = [];
  const dropped: DroppedTensor[] = [];
  const warnings: string[] = [];
  const unknown: string[] = [];
  const names = new Set(inputs.map((t) => t.name));
  for (const t of inputs) {
    const drop = DROP_SUFFIXES.find(([suffix]) => t.name.endsWith(suffix));
    if (drop) {
      dropped.push({ hfName: t.name, reason: drop[1] });
      continue;
    }
    const global = GLOBAL_PARTS[t.name];
    if (global) {
      if (t.name === 'lm_head.weight' && hp.tieWordEmbeddings) {
        dropped.push({ hfName: t.name, reason: 'tie_word_embeddings is true: llama.cpp uses token_embd.weight as the output projection' });
        continue;
      }
      const want = global.shape(hp);
      if (!sameShape(t.shape, want)) throw shapeError(t.name, t.shape, want, global.role === 'norm' ? 'hidden_size' : '[vocab_size, hidden_size]');
      tensors.push({ hfName: t.name, ggufName: global.gguf, shape: [...t.shape], ne: [...t.shape].reverse(), role: global.role, keepF32: keepF32(global.gguf, t.shape) });
      continue;
    }
    const layer = mapLayerTensor(t, arch, hp);
    if (layer) tensors.push(layer);
    else unknown.push(t.name);
  }
  if (unknown.length > 0) {
    throw new HQQError(
      'UNSUPPORTED',
      `${unknown.length} tensor(s) have no llama.cpp ${arch.gguf} equivalent: ${unknown.slice(0, 5).map((n) => JSON.stringify(n)).join(', ')}${unknown.length > 5 ? ', ...' : ''}; this checkpoint is not a plain ${arch.hfName} (adapters, vision towers or extra heads are not converted)`,
    );
  }
  const missing = missingTensors(names, arch, hp);
  if (missing.length > 0) {
    let layers = -1; // the highest layer index the weights hold
    for (const n of names) {
      const m = /^model\.layers\.(\d+)\./.exec(n);
      if (m) layers = Math.max(layers, Number(m[1]));
    }
    const count = missing.length >= MISSING_LIST_LIMIT ? `at least ${missing.length}` : String(missing.length);
    const layerHint = hp.blockCount > layers + 1 ? ` (config.json has num_hidden_layers = ${hp.blockCount}, the weights hold layers ${layers >= 0 ? `0..${layers}` : 'none'})` : '';
    throw new HQQError('BAD_FILE', `${count} tensor(s) that ${arch.hfName} needs are missing${layerHint}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}; is every shard there, and does the config match the weights?`);
  }
  if (!hp.tieWordEmbeddings && !names.has('lm_head.weight')) {
    warnings.push('lm_head.weight is missing although tie_word_embeddings is false; llama.cpp will use token_embd.weight as the output projection (transformers would initialise a random one)');
  }
  return { tensors, dropped, warnings };
}
