// A plain reimplementation of the Hugging Face forward pass of Llama / Mistral / Qwen2 / Qwen3
// decoders (RMSNorm, rotate-half RoPE, grouped-query causal attention, SwiGLU MLP), on the
// HF-layout weights, in float64. The logits llama.cpp computes from our GGUF must agree with it.
import type { TinyTensor } from './hf-fixtures.js';

export interface RefConfig {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ff: number;
  vocab: number;
  eps: number;
  theta: number;
  qkNorm: boolean;
  tied: boolean;
  /** Per-frequency divisors of the rotary frequencies (Llama 3 rope scaling), or none. */
  ropeFactors?: Float32Array;
}

type W = Map<string, Float32Array>;

function rmsnorm(x: Float64Array, w: Float32Array, eps: number, off = 0, n = x.length): void {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[off + i]! * x[off + i]!;
  const r = 1 / Math.sqrt(s / n + eps);
  for (let i = 0; i < n; i++) x[off + i] = x[off + i]! * r * w[i]!;
}

/** y = W x (+ b), W row-major [rows, cols]. */
function matvec(w: Float32Array, rows: number, cols: number, x: Float64Array, b?: Float32Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = b ? b[r]! : 0;
    const o = r * cols;
    for (let c = 0; c < cols; c++) s += w[o + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}

function rope(v: Float64Array, nHeads: number, hd: number, pos: number, cfg: RefConfig): void {
  const half = hd / 2;
  for (let h = 0; h < nHeads; h++) {
    const o = h * hd;
    for (let i = 0; i < half; i++) {
      let f = 1 / Math.pow(cfg.theta, (2 * i) / hd);
      if (cfg.ropeFactors) f /= cfg.ropeFactors[i]!;
      const c = Math.cos(pos * f);
      const s = Math.sin(pos * f);
      const a = v[o + i]!;
      const b = v[o + i + half]!;
      v[o + i] = a * c - b * s;
      v[o + i + half] = b * c + a * s;
    }
  }
}

/** Logits of the last position for `tokens`. */
export function referenceLogits(weights: readonly TinyTensor[], cfg: RefConfig, tokens: readonly number[]): Float64Array {
  const w: W = new Map(weights.map((t) => [t.name, t.data]));
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`missing ${n}`);
    return t;
  };
  const { hidden: d, heads: H, kvHeads: KV, headDim: hd } = cfg;
  const emb = get('model.embed_tokens.weight');
  const xs = tokens.map((t) => Float64Array.from(emb.subarray(t * d, (t + 1) * d)));
  for (let l = 0; l < cfg.layers; l++) {
    const p = `model.layers.${l}.`;
    const ks: Float64Array[] = [];
    const vs: Float64Array[] = [];
    const qs: Float64Array[] = [];
    xs.forEach((x, pos) => {
      const h = Float64Array.from(x);
      rmsnorm(h, get(p + 'input_layernorm.weight'), cfg.eps);
      const q = matvec(get(p + 'self_attn.q_proj.weight'), H * hd, d, h, w.get(p + 'self_attn.q_proj.bias'));
      const k = matvec(get(p + 'self_attn.k_proj.weight'), KV * hd, d, h, w.get(p + 'self_attn.k_proj.bias'));
      const v = matvec(get(p + 'self_attn.v_proj.weight'), KV * hd, d, h, w.get(p + 'self_attn.v_proj.bias'));
      if (cfg.qkNorm) {
        for (let i = 0; i < H; i++) rmsnorm(q, get(p + 'self_attn.q_norm.weight'), cfg.eps, i * hd, hd);
        for (let i = 0; i < KV; i++) rmsnorm(k, get(p + 'self_attn.k_norm.weight'), cfg.eps, i * hd, hd);
      }
      rope(q, H, hd, pos, cfg);
      rope(k, KV, hd, pos, cfg);
      qs.push(q);
      ks.push(k);
      vs.push(v);
    });
    xs.forEach((x, pos) => {
      const att = new Float64Array(H * hd);
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / KV));
        const scores = new Float64Array(pos + 1);
        let mx = -Infinity;
        for (let j = 0; j <= pos; j++) {
          let s = 0;
          for (let i = 0; i < hd; i++) s += qs[pos]![h * hd + i]! * ks[j]![kvh * hd + i]!;
          scores[j] = s / Math.sqrt(hd);
          mx = Math.max(mx, scores[j]!);
        }
        let z = 0;
        for (let j = 0; j <= pos; j++) z += (scores[j] = Math.exp(scores[j]! - mx));
        for (let j = 0; j <= pos; j++) for (let i = 0; i < hd; i++) att[h * hd + i] += (scores[j]! / z) * vs[j]![kvh * hd + i]!;
      }
      const o = matvec(get(p + 'self_attn.o_proj.weight'), d, H * hd, att);
      for (let i = 0; i < d; i++) x[i] += o[i]!;
    });
    for (const x of xs) {
      const h = Float64Array.from(x);
      rmsnorm(h, get(p + 'post_attention_layernorm.weight'), cfg.eps);
      const g = matvec(get(p + 'mlp.gate_proj.weight'), cfg.ff, d, h);
      const u = matvec(get(p + 'mlp.up_proj.weight'), cfg.ff, d, h);
      for (let i = 0; i < cfg.ff; i++) g[i] = (g[i]! / (1 + Math.exp(-g[i]!))) * u[i]!;
      const m = matvec(get(p + 'mlp.down_proj.weight'), d, cfg.ff, g);
      for (let i = 0; i < d; i++) x[i] += m[i]!;
    }
  }
  const last = Float64Array.from(xs[xs.length - 1]!);
  rmsnorm(last, get('model.norm.weight'), cfg.eps);
  return matvec(cfg.tied ? emb : get('lm_head.weight'), cfg.vocab, d, last);
}

/** log-softmax. */
export function logSoftmax(logits: Float64Array): Float64Array {
  let mx = -Infinity;
  for (const v of logits) mx = Math.max(mx, v);
  let z = 0;
  for (const v of logits) z += Math.exp(v - mx);
  const lz = mx + Math.log(z);
  return logits.map((v) => v - lz);
}
