/// <reference lib="webworker" />
/**
 * Plot worker: reads one tensor from its file, quantizes it twice with the package (HQQ, and plain
 * round-to-nearest: optimize off), dequantizes both and bins the values for the plots. All
 * quantization and decoding is done by the wasm core through the public API; this file only bins
 * numbers for display. Runs off the main thread so the page stays responsive.
 */
import { blobSource, loadHQQ, openGGUF, openSafetensors, type GGUFTypeName, type HQQ, type QuantizedTensor } from 'hqq-wasm';
import type { GridInfo, GroupPick, GroupView, Histogram, InspectConfig, InspectRequest, InspectResponse, InspectResult } from './inspect-protocol';

declare const self: DedicatedWorkerGlobalScope;

/** Plots of very large tensors use a leading slice of rows of about this many elements. */
const MAX_PLOT_ELEMENTS = 1 << 22;
const WEIGHT_BINS = 120;
const ERROR_BINS = 101;

let hqq: HQQ | undefined;
type HQQConfig = Extract<InspectConfig, { kind: 'hqq' }>;
let last: { w: Float32Array; h: QuantizedTensor; r: QuantizedTensor; wh: Float32Array; wr: Float32Array; cfg: HQQConfig } | undefined;

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
function groupIndices(k: number, n: number, cfg: HQQConfig): number[] {
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

/** The group maximising `score` (ties: the first). */
function argmaxGroup(count: number, score: (j: number) => number): number {
  let best = -Infinity;
  let index = 0;
  for (let j = 0; j < count; j++) {
    const s = score(j);
    if (s > best) {
      best = s;
      index = j;
    }
  }
  return index;
}

function groupView(k: number | undefined, pick: GroupPick = 'widest'): GroupView {
  const { w, h, r, wh, wr, cfg } = last!;
  const n = w.length;
  const count = n / cfg.groupSize;
  const spread = (j: number) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of groupIndices(j, n, cfg)) {
      const v = w[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    return hi - lo;
  };
  const difference = (j: number) => {
    let d = 0;
    for (const i of groupIndices(j, n, cfg)) d += Math.abs(wh[i]! - wr[i]!);
    return d;
  };
  let index = k ?? 0;
  let reason: GroupView['reason'] = 'chosen';
  if (k === undefined) {
    reason = pick;
    index = argmaxGroup(count, pick === 'different' ? difference : spread);
  }
  index = Math.min(Math.max(0, Math.trunc(index)), count - 1);
  const idx = groupIndices(index, n, cfg);
  return { index, count, reason, difference: difference(index), values: idx.map((i) => w[i]!), hqq: grid(h, wh, index, idx), rtn: grid(r, wr, index, idx) };
}

/** The tensor's values as the quantizers take them: F32, or F16/BF16 bits; a quantized GGUF tensor decoded. */
interface Values {
  w: Float32Array;
  input: Float32Array | Uint16Array;
  dtype?: 'f16' | 'bf16';
}

function decodeValues(bytes: Uint8Array, dtype: string, elements: number, cols: number): Values {
  if (dtype === 'F32') {
    const w = new Float32Array(bytes.buffer, bytes.byteOffset, elements).slice();
    return { w, input: w };
  }
  if (dtype === 'F16' || dtype === 'BF16') {
    const d = dtype === 'F16' ? 'f16' : 'bf16';
    const input = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return { w: hqq!.decode16(input, d), input, dtype: d };
  }
  const w = hqq!.dequantizeGGUF(bytes, [elements / cols, cols], dtype as GGUFTypeName);
  return { w, input: w };
}

/** Opens the tensor's file (safetensors or GGUF) and returns what plotting needs to read it. */
async function openTensor(req: Extract<InspectRequest, { type: 'inspect' }>) {
  const source = blobSource(req.file, req.fileName);
  if (req.container === 'gguf') {
    const f = await openGGUF(source);
    const info = f.tensor(req.tensor);
    if (!info) {
      await f.close();
      throw new Error(`${req.fileName} has no tensor named ${req.tensor}`);
    }
    const rowBytes = info.byteLength / (info.shape.length >= 1 ? info.shape[0]! : 1);
    return { name: info.name, dtype: info.type, shape: info.shape, numel: info.numel, rowBytes, read: (n: number) => f.readRange(info, 0, n), close: () => f.close() };
  }
  const f = await openSafetensors(source);
  const info = f.tensor(req.tensor);
  if (!info) {
    await f.close();
    throw new Error(`${req.fileName} has no tensor named ${req.tensor}`);
  }
  const rows = info.shape.length >= 1 ? info.shape[0]! : 1;
  return { name: info.name, dtype: info.dtype, shape: info.shape, numel: info.numel, rowBytes: info.byteLength / Math.max(rows, 1), read: (n: number) => f.readRange(info, 0, n), close: () => f.close() };
}

async function inspect(req: Extract<InspectRequest, { type: 'inspect' }>): Promise<InspectResult> {
  if (!hqq) throw new Error('the quantizer is not loaded yet');
  last = undefined;
  const t = await openTensor(req);
  try {
    const shape = t.shape;
    const totalRows = shape.length >= 1 ? shape[0]! : 1;
    const cols = shape.length >= 1 ? t.numel / totalRows : 1;
    const cfg = req.config;
    let rows = totalRows;
    if (t.numel > MAX_PLOT_ELEMENTS && shape.length === 2) {
      // A leading slice of whole rows whose element count keeps groups and packing whole.
      const g = cfg?.kind === 'hqq' ? cfg.groupSize : 1;
      const unit = (8 * g) / gcd(cols, 8 * g);
      rows = Math.min(totalRows, Math.max(unit, Math.floor(MAX_PLOT_ELEMENTS / cols / unit) * unit));
    }
    const elements = rows * cols;
    const bytes = await t.read(Math.round(rows * t.rowBytes));
    const v = decodeValues(bytes, t.dtype, elements, cols);
    const [lo, hi] = range(v.w);
    const result: InspectResult = { tensor: t.name, dtype: t.dtype, shape, elements, rows, totalRows, weights: histogram(v.w, lo, hi, WEIGHT_BINS) };
    if (!cfg || shape.length !== 2) {
      result.note = req.note ?? 'not quantized: copied to the output unchanged';
      return result;
    }
    try {
      result.quant = cfg.kind === 'hqq' ? compareHQQ(v, [rows, cols], cfg, req.group) : compareGGUF(v, [rows, cols], cfg.type);
    } catch (e) {
      result.note = `cannot be quantized with these options: ${(e as Error).message}`;
    }
    return result;
  } finally {
    await t.close();
  }
}

function errorHistograms(w: Float32Array, ours: Float32Array, base: Float32Array) {
  const eh = new Float32Array(w.length);
  const er = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) {
    eh[i] = w[i]! - ours[i]!;
    er[i] = w[i]! - base[i]!;
  }
  const [a, b] = range(eh);
  const [c, d] = range(er);
  const m = Math.max(Math.abs(a), Math.abs(b), Math.abs(c), Math.abs(d)) || 1e-8;
  return { hqq: histogram(eh, -m, m, ERROR_BINS), rtn: histogram(er, -m, m, ERROR_BINS) };
}

function compareHQQ(v: Values, shape: [number, number], cfg: HQQConfig, group: number | undefined): NonNullable<InspectResult['quant']> {
  const base = { nbits: cfg.nbits, groupSize: cfg.groupSize, axis: cfg.axis, roundZero: cfg.roundZero, dtype: v.dtype };
  const h = hqq!.quantize(v.input, shape, { ...base, optimize: true });
  const r = hqq!.quantize(v.input, shape, { ...base, optimize: false });
  const wh = hqq!.dequantize(h);
  const wr = hqq!.dequantize(r);
  last = { w: v.w, h, r, wh, wr, cfg };
  return {
    names: { ours: 'HQQ', base: 'RTN' },
    group: groupView(group),
    error: errorHistograms(v.w, wh, wr),
    hqqStats: h.stats,
    rtnStats: r.stats,
    iterations: h.iterations,
  };
}

/** hqq-wasm's GGUF quantizer against llama.cpp's reference one, both decoded as llama.cpp does. */
function compareGGUF(v: Values, shape: [number, number], type: GGUFTypeName): NonNullable<InspectResult['quant']> {
  const ours = hqq!.quantizeGGUF(v.input, shape, type, { dtype: v.dtype });
  const ref = hqq!.quantizeGGUF(v.input, shape, type, { dtype: v.dtype, method: 'reference' });
  const wo = hqq!.dequantizeGGUF(ours.bytes, shape, type);
  const wr = hqq!.dequantizeGGUF(ref.bytes, shape, type);
  return { names: { ours: 'hqq-wasm', base: 'llama.cpp' }, error: errorHistograms(v.w, wo, wr), hqqStats: ours.stats, rtnStats: ref.stats, iterations: 0 };
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
      post({ type: 'group', id: msg.id, group: groupView(msg.group, msg.pick) });
    }
  } catch (e) {
    post({ type: 'error', id: 'id' in msg ? msg.id : -1, message: e instanceof Error ? e.message : String(e) });
  }
};
