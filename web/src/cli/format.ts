/** Text formatting shared by the commands: sizes, counts, durations and the per-tensor lines. */
import type { QuantizeModelReport, TensorReport } from '../model/quantize-model.js';

/** Longest line the per-tensor output prints (a 120-column terminal does not wrap it). */
export const MAX_LINE = 119;
/** Names are shortened in the middle, but never below this many characters. */
const MIN_NAME = 24;

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(2)} KiB`;
  return `${n} B`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
  }
  const h = Math.floor(s / 3600);
  return `${h}h${String(Math.round((s - h * 3600) / 60)).padStart(2, '0')}m`;
}

/** `text` shortened to at most `max` characters by replacing its middle with "…". */
export function middleTruncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '…'.slice(0, max);
  const keep = max - 1;
  const head = Math.ceil(keep * 0.4); // the end of a tensor name (its role) says more than its start
  return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`;
}

/** `text` cut at the end with "…" to at most `max` characters. */
function endTruncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}


/**
 * One line per tensor, in the manner of llama-quantize, at most MAX_LINE characters:
 *   [ 3/13] model.layers.0.mlp.up_proj.weight [688, 256] F16 -> q4 g64 344.00 KiB -> 97.25 KiB 4.52 bpw |err| 1.2e-3
 * Long names are shortened in the middle (the layer number and the suffix stay readable), long
 * copy reasons at the end.
 */
export function tensorLine(r: TensorReport, index: number, total: number, planned = false): string {
  const w = String(total).length;
  const head = `[${String(index).padStart(w + 1)}/${String(total).padStart(w + 1)}] `;
  const what = ` [${r.shape.join(', ')}] ${r.dtype}`;
  let tail: string;
  if (r.action === 'copy' || r.action === 'drop' || (r.action === 'convert' && r.meanAbs === undefined)) {
    const as = r.action === 'drop' ? 'dropped' : r.action === 'convert' ? `as ${r.label}` : 'copy';
    const fixed = `${what} -> ${as} ${formatBytes(r.bytesBefore)}`;
    // The name comes first (up to 60 characters), the reason gets the rest but at least 20.
    const room = MAX_LINE - head.length - Math.min(r.name.length, 60) - fixed.length - 3; // " (" + ")"
    tail = r.reason ? `${fixed} (${endTruncate(r.reason, Math.max(20, room))})` : fixed;
  } else {
    tail = `${what} -> ${r.label} ${formatBytes(r.bytesBefore)} -> ${formatBytes(r.bytesAfter)} ${r.bitsPerWeight.toFixed(2)} bpw`;
    if (!planned && r.meanAbs !== undefined) {
      tail += ` |err| ${r.meanAbs.toExponential(1)}`;
      const b = r.baseline;
      // The baseline as a ratio of mean |err| (below 1: ours is better).
      const rtn = b && b.meanAbs > 0 ? ` ${(r.meanAbs / b.meanAbs).toFixed(2)}x ${b.name === 'round-to-nearest' ? 'rtn' : b.name}` : '';
      if (head.length + MIN_NAME + tail.length + rtn.length <= MAX_LINE) tail += rtn;
    }
  }
  const nameRoom = Math.max(MIN_NAME, MAX_LINE - head.length - tail.length);
  return endTruncate(`${head}${middleTruncate(r.name, nameRoom)}${tail}`, MAX_LINE);
}

/** The summary after a quantize run (or a dry run). */
export function summaryLines(r: QuantizeModelReport, outputs: readonly string[]): string[] {
  const t = r.totals;
  const lines = [
    `${r.dryRun ? 'plan: would quantize' : 'quantized'} ${t.quantized} of ${t.tensors} tensors (${formatCount(t.quantizedParameters)} of ${formatCount(t.parameters)} parameters), ${t.copied} copied`,
    `size: ${formatBytes(t.bytesBefore)} -> ${formatBytes(t.fileBytes)} (quantized weights ${formatBytes(t.quantizedBytesBefore)} -> ${formatBytes(t.quantizedBytesAfter)}, ${t.bitsPerWeight.toFixed(3)} bits per weight)`,
  ];
  if (!r.dryRun) {
    lines.push(`time: ${r.seconds.toFixed(1)} s with ${r.workers} worker${r.workers === 1 ? '' : 's'} (${formatCount(t.quantizedParameters / Math.max(r.seconds, 1e-9))} params/s)`);
    if (t.quantized > 0) {
      const b = r.baseline;
      lines.push(`error: mean|err| ${r.meanAbs.toExponential(3)}, relative Frobenius ${r.relFrobenius.toFixed(4)}${b ? ` (${b.name}: ${b.meanAbs.toExponential(3)}, ${b.relFrobenius.toFixed(4)}; ours/${b.name} ${(r.meanAbs / b.meanAbs).toFixed(3)}, ${(r.relFrobenius / b.relFrobenius).toFixed(3)})` : ''}`);
    }
    for (const o of outputs) lines.push(`wrote ${o}`);
  }
  return lines;
}

/** The largest value of `f` over `items` (a loop: spreading 110k+ values into Math.max overflows). */
export function maxOf<T>(items: Iterable<T>, f: (x: T) => number, init: number): number {
  let m = init;
  for (const x of items) {
    const v = f(x);
    if (v > m) m = v;
  }
  return m;
}
