/**
 * The q/k row permutation llama.cpp's converter applies for the `llama` architecture
 * (`LlamaModel.permute` in conversion/llama.py, used because `undo_permute = True`).
 * Browser-safe.
 *
 * Hugging Face stores q/k projections for "rotate half" RoPE: within each head the first half of
 * the rows pairs with the second half. GGML's llama RoPE rotates adjacent rows (0,1), (2,3)...
 * The converter views the [rows, cols] weight as [heads, 2, rows/heads/2, cols], swaps the two
 * middle axes and flattens back: output row h*d + 2*i + j is input row h*d + j*(d/2) + i, with
 * d = rows/heads, i < d/2, j in {0, 1}. `heads` is num_attention_heads for q and
 * num_key_value_heads for k (the converter passes n_head_kv whenever it differs from n_head,
 * i.e. under grouped-query attention). A bias is the same with cols = 1.
 */
import { HQQError } from '../../errors.js';

/** The q/k row permutation llama.cpp's converter applies for GGML's interleaved RoPE (see above). */
export interface RopePermutation {
  /** The only permutation there is: llama's `permute` of q and k rows. */
  kind: 'llama-rope-interleave';
  /** Heads the rows are split into (q: attention heads, k: key/value heads). */
  heads: number;
  /** Rows of the tensor (its first dimension). */
  rows: number;
}

function checkSpec(spec: RopePermutation): number {
  const { heads, rows } = spec;
  if (!Number.isSafeInteger(heads) || heads <= 0 || !Number.isSafeInteger(rows) || rows <= 0 || rows % (2 * heads) !== 0) {
    throw new HQQError('INVALID_ARGUMENT', `RoPE permutation: ${rows} rows cannot be split into ${heads} heads of an even number of rows`);
  }
  return rows / heads;
}

/** The input row that output row `outRow` comes from. */
export function permutedRowSource(spec: RopePermutation, outRow: number): number {
  const d = checkSpec(spec);
  if (!Number.isSafeInteger(outRow) || outRow < 0 || outRow >= spec.rows) {
    throw new HQQError('INVALID_ARGUMENT', `RoPE permutation: row ${outRow} is outside 0..${spec.rows - 1}`);
  }
  const h = Math.floor(outRow / d);
  const r = outRow % d;
  return h * d + (r % 2) * (d / 2) + (r >> 1);
}

/**
 * Applies the permutation to a row-major [rows, cols] tensor of `elementBytes`-byte elements
 * (2 for F16/BF16, 4 for F32), returning a new buffer. Rows are moved whole, so the element
 * type itself is irrelevant.
 */
export function applyRopePermutation(data: Uint8Array, cols: number, elementBytes: 2 | 4, spec: RopePermutation): Uint8Array {
  const d = checkSpec(spec);
  if (elementBytes !== 2 && elementBytes !== 4) throw new HQQError('INVALID_ARGUMENT', `RoPE permutation: elementBytes must be 2 or 4, got ${elementBytes}`);
  if (!Number.isSafeInteger(cols) || cols <= 0) throw new HQQError('INVALID_ARGUMENT', `RoPE permutation: cols must be a positive integer, got ${cols}`);
  const rowBytes = cols * elementBytes;
  if (!(data instanceof Uint8Array) || data.byteLength !== spec.rows * rowBytes) {
    throw new HQQError('INVALID_ARGUMENT', `RoPE permutation: expected ${spec.rows} x ${cols} x ${elementBytes} = ${spec.rows * rowBytes} bytes, got ${data?.byteLength}`);
  }
  const out = new Uint8Array(data.byteLength);
  const half = d / 2;
  for (let h = 0; h < spec.heads; h++) {
    const base = h * d;
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (base + j * half + i) * rowBytes;
        out.set(data.subarray(src, src + rowBytes), (base + 2 * i + j) * rowBytes);
      }
    }
  }
  return out;
}
