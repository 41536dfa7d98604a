/// <reference lib="webworker" />
/**
 * Plot worker: reads one tensor from its file, quantizes it twice with the package (HQQ, and plain
 * round-to-nearest: optimize off), dequantizes both and bins the values for the plots. All
 * quantization and decoding is done by the wasm core through the public API; this file only bins
 * numbers for display. Runs off the main thread so the page stays responsive.
 */
import { blobSource, loadHQQ, openSafetensors, type HQQ, type QuantizedTensor } from 'hqq-wasm';
import type { GridInfo, GroupView, Histogram, InspectConfig, InspectRequest, InspectResponse, InspectResult } from './inspect-protocol';

declare const self: DedicatedWorkerGlobalScope;

/** Plots of very large tensors use a leading slice of rows of about this many elements. */
const MAX_PLOT_ELEMENTS = 1 << 22;
const WEIGHT_BINS = 120;
const ERROR_BINS = 101;

let hqq: HQQ | undefined;
let last: { w: Float32Array; h: QuantizedTensor; r: QuantizedTensor; wh: Float32Array; wr: Float32Array; cfg: InspectConfig } | undefined;

function post(msg: InspectResponse): void {
  self.postMessage(msg);
}

function histogram(values: Float32Array, lo: number, hi: number, bins: number): Histogram {
  const counts = new Array<number>(bins).fill(0);
  const width = hi - lo || 1;
  for (let i = 0; i < values.length; i++) {
    let b = Math.floor(((values[i]! - lo) / width) * bins);
    if (b < 0) b = 0;
    else if (b >= bins) b = bins - 1;
    counts[b]!++;
  }
  return { lo, hi, counts };
}

function range(values: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

function maxQ(nbits: number): number {
  return Math.round(2 ** nbits - 1);
}

/** Element indices of group `k` (HQQ-SPEC.md section 1). */
function groupIndices(k: number, n: number, cfg: InspectConfig): number[] {
  const g = cfg.groupSize;
  const out = new Array<number>(g);
  if (cfg.axis === 1) for (let i = 0; i < g; i++) out[i] = k * g + i;
  else for (let i = 0; i < g; i++) out[i] = k + i * (n / g);
  return out;
}

function grid(q: QuantizedTensor, restored: Float32Array, k: number, idx: number[]): GridInfo {
  const scale = q.scale[k]!;
  const zero = q.zero[k]!;
  const levels: number[] = [];
  for (let l = 0; l <= maxQ(q.nbits); l++) levels.push((l - zero) * scale);
  return { scale, zero, levels, restored: idx.map((i) => restored[i]!) };
}

function groupView(k: number | undefined): GroupView {
  const { w, h, r, wh, wr, cfg } = last!;
  const n = w.length;
  const count = n / cfg.groupSize;
  let index = k ?? 0;
  let reason: GroupView['reason'] = 'chosen';
  if (k === undefined) {
    reason = 'widest';
    let best = -1;
    for (let j = 0; j < count; j++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const i of groupIndices(j, n, cfg)) {
        const v = w[i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (hi - lo > best) {
        best = hi - lo;
        index = j;
      }
    }
  }
  index = Math.min(Math.max(0, Math.trunc(index)), count - 1);
  const idx = groupIndices(index, n, cfg);
  return { index, count, reason, values: idx.map((i) => w[i]!), hqq: grid(h, wh, index, idx), rtn: grid(r, wr, index, idx) };
}

async function inspect(req: Extract<InspectRequest, { type: 'inspect' }>): Promise<InspectResult> {
  if (!hqq) throw new Error('the quantizer is not loaded yet');
  last = undefined;
  const file = await openSafetensors(blobSource(req.file, req.fileName));
  try {
    const info = file.tensor(req.tensor);
    if (!info) throw new Error(`${req.fileName} has no tensor named ${req.tensor}`);
    const shape = info.shape;
    const isFloat = info.dtype === 'F16' || info.dtype === 'BF16' || info.dtype === 'F32';
    if (!isFloat) throw new Error(`${info.name} is ${info.dtype}; only F16, BF16 and F32 tensors can be plotted`);
    const totalRows = shape.length >= 1 ? shape[0]! : 1;
    const cols = shape.length >= 1 ? info.numel / totalRows : 1;
    let rows = totalRows;
    const cfg = req.config;
    if (info.numel > MAX_PLOT_ELEMENTS && shape.length === 2) {
      // A leading slice of whole rows whose element count keeps groups and packing whole.
      const g = cfg?.groupSize ?? 1;
      const unit = (8 * g) / gcd(cols, 8 * g);
      rows = Math.max(unit, Math.floor(MAX_PLOT_ELEMENTS / cols / unit) * unit);
      rows = Math.min(rows, totalRows);
    }
    const elements = rows * cols;
    const size = info.dtype === 'F32' ? 4 : 2;
    const bytes = elements === info.numel ? await file.readTensor(info) : await file.readRange(info, 0, elements * size);
    let w: Float32Array;
    let input: Float32Array | Uint16Array;
    let dtype: 'f16' | 'bf16' | undefined;
    if (info.dtype === 'F32') {
      w = new Float32Array(bytes.buffer, bytes.byteOffset, elements).slice();
      input = w;
    } else {
      dtype = info.dtype === 'F16' ? 'f16' : 'bf16';
      input = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      w = hqq.decode16(input, dtype);
    }
    const [lo, hi] = range(w);
    const result: InspectResult = {
      tensor: info.name, dtype: info.dtype, shape, elements, rows, totalRows,
      weights: histogram(w, lo, hi, WEIGHT_BINS),
    };
    const qShape = shape.length === 2 ? [rows, cols] : shape;
    if (!cfg || shape.length !== 2) {
      result.note = req.note ?? 'not quantized: copied to the output unchanged';
      return result;
    }
    const base = { nbits: cfg.nbits, groupSize: cfg.groupSize, axis: cfg.axis, roundZero: cfg.roundZero, dtype };
    let h: QuantizedTensor;
    let r: QuantizedTensor;
    try {
      h = hqq.quantize(input, qShape, { ...base, optimize: true });
      r = hqq.quantize(input, qShape, { ...base, optimize: false });
    } catch (e) {
      result.note = `cannot be quantized with these options: ${(e as Error).message}`;
      return result;
    }
    const wh = hqq.dequantize(h);
    const wr = hqq.dequantize(r);
    last = { w, h, r, wh, wr, cfg };
    const eh = new Float32Array(w.length);
    const er = new Float32Array(w.length);
    for (let i = 0; i < w.length; i++) {
      eh[i] = w[i]! - wh[i]!;
      er[i] = w[i]! - wr[i]!;
    }
    const [a, b] = range(eh);
    const [c, d] = range(er);
    const m = Math.max(Math.abs(a), Math.abs(b), Math.abs(c), Math.abs(d)) || 1e-8;
    result.quant = {
      group: groupView(req.group),
      error: { hqq: histogram(eh, -m, m, ERROR_BINS), rtn: histogram(er, -m, m, ERROR_BINS) },
      hqqStats: h.stats,
      rtnStats: r.stats,
      iterations: h.iterations,
    };
    return result;
  } finally {
    await file.close();
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

self.onmessage = async (ev: MessageEvent<InspectRequest>) => {
  const msg = ev.data;
  try {
    if (msg.type === 'init') {
      hqq = await loadHQQ({ wasm: msg.module });
      post({ type: 'ready', kernel: hqq.kernel });
    } else if (msg.type === 'inspect') {
      post({ type: 'result', id: msg.id, result: await inspect(msg) });
    } else if (msg.type === 'group') {
      if (!last) throw new Error('no tensor is being inspected');
      post({ type: 'group', id: msg.id, group: groupView(msg.group) });
    }
  } catch (e) {
    post({ type: 'error', id: 'id' in msg ? msg.id : -1, message: e instanceof Error ? e.message : String(e) });
  }
};
