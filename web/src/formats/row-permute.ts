/**
 * Row permutation of a worker's input buffer (browser-safe): llama's q/k RoPE order, applied before
 * quantizing or converting (the rows move whole, so the element type only sets their width).
 */
import { applyRopePermutation, type RopePermutation } from '../model/hf/permute.js';
import type { TaskBuffer } from '../pool/types.js';

/** The rows of `data` (F32/F16/BF16 elements, `cols` per row) in llama.cpp's RoPE order. */
export function permuteRows(data: TaskBuffer, cols: number, dtype: string, permute: RopePermutation): TaskBuffer {
  const out = applyRopePermutation(new Uint8Array(data), cols, dtype === 'F32' ? 4 : 2, permute);
  return out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? (out.buffer as TaskBuffer) : out.slice().buffer;
}
