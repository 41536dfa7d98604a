/** Messages between the page and the plot worker (inspect-worker.ts). */
import type { Nbits } from 'hqq-wasm';

export interface InspectConfig {
  nbits: Nbits;
  groupSize: number;
  axis: 0 | 1;
  roundZero: boolean;
}

export type InspectRequest =
  | { type: 'init'; module: WebAssembly.Module }
  /** `config` absent: the tensor was not quantized; only its weight histogram is computed. */
  | { type: 'inspect'; id: number; file: Blob; fileName: string; tensor: string; config?: InspectConfig; note?: string; group?: number }
  | { type: 'group'; id: number; group: number };

export interface Histogram {
  lo: number;
  hi: number;
  counts: number[];
}

export interface GridInfo {
  scale: number;
  zero: number;
  /** Dequantized value of every level 0..max_q: (level - zero) * scale. */
  levels: number[];
  /** The group's values after quantize + dequantize. */
  restored: number[];
}

export interface GroupView {
  index: number;
  count: number;
  /** Which group this is: 'widest' (largest max - min, the default) or 'chosen'. */
  reason: 'widest' | 'chosen';
  values: number[];
  hqq: GridInfo;
  rtn: GridInfo;
}

export interface Stats {
  meanAbs: number;
  maxAbs: number;
  relFrobenius: number;
}

export interface InspectResult {
  tensor: string;
  dtype: string;
  shape: number[];
  /** Elements the plots were computed on (a leading slice of rows for very large tensors). */
  elements: number;
  rows: number;
  totalRows: number;
  weights: Histogram;
  /** Present when the tensor can be quantized with this config. */
  quant?: {
    group: GroupView;
    error: { hqq: Histogram; rtn: Histogram };
    hqqStats: Stats;
    rtnStats: Stats;
    iterations: number;
  };
  /** Why there is no quantization view. */
  note?: string;
}

export type InspectResponse =
  | { type: 'ready'; kernel: string }
  | { type: 'result'; id: number; result: InspectResult }
  | { type: 'group'; id: number; group: GroupView }
  | { type: 'error'; id: number; message: string };
