/** Messages between the page and the plot worker (inspect-worker.ts). */
import type { GGUFTypeName, Nbits } from 'hqq-wasm';

/** HQQ: the layer's config (HQQ vs round-to-nearest). GGUF: the output type (hqq-wasm vs llama.cpp). */
export type InspectConfig =
  | { kind: 'hqq'; nbits: Nbits; groupSize: number; axis: 0 | 1; roundZero: boolean }
  | { kind: 'gguf'; type: GGUFTypeName };

/** Which group the close-up shows first. */
export type GroupPick = 'widest' | 'different';

export type InspectRequest =
  | { type: 'init'; module: WebAssembly.Module }
  /** `config` absent: the tensor was not quantized; only its weight histogram is computed. */
  | { type: 'inspect'; id: number; file: Blob; fileName: string; container: 'safetensors' | 'gguf'; tensor: string; config?: InspectConfig; note?: string; group?: number }
  | { type: 'group'; id: number; group?: number; pick?: GroupPick };

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
  /**
   * Which group this is: 'widest' (largest max - min, the default), 'different' (where the HQQ and
   * round-to-nearest reconstructions are furthest apart: largest sum |W_hqq - W_rtn|) or 'chosen'.
   */
  reason: 'widest' | 'different' | 'chosen';
  /** sum |W_hqq - W_rtn| over the group. */
  difference: number;
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
    /** Names of the two quantizers compared: HQQ / RTN, or hqq-wasm / llama.cpp. */
    names: { ours: string; base: string };
    /** The group close-up (HQQ only: GGUF blocks have no single grid). */
    group?: GroupView;
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
