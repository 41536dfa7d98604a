/** SVG plots of one tensor: weight histogram with a group's grid, the group close up, error histograms. */
import { formatSci } from './format';
import type { GroupView, Histogram, InspectResult } from './inspect-protocol';

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 230;
const M = { l: 52, r: 14, t: 26, b: 34 };
/**
 * Below this width (CSS pixels) a plot is drawn for its real width, so that its text stays at its
 * CSS size on phones (a 640-unit viewBox in a 330 px box would shrink 11 px labels to 6 px), and
 * the legend moves under the title.
 */
export const NARROW = 560;

type Attrs = Record<string, string | number>;

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceTicks(lo: number, hi: number, count = 6): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(3)));
  return v.toExponential(1);
}

interface Frame {
  svg: SVGSVGElement;
  width: number;
  /** Top of the plotting area (below the title, and the legend when narrow). */
  top: number;
  bottom: number;
  x: (v: number) => number;
  y: (v: number) => number;
  plot: SVGGElement;
}

function frame(title: string, xlo: number, xhi: number, ylo: number, yhi: number, opts: { logY?: boolean; yLabel?: string; xLabel?: string; height?: number; width?: number; left?: number; noY?: boolean } = {}): Frame {
  const width = opts.width ?? W;
  const narrow = width < NARROW;
  const top = narrow ? M.t + 18 : M.t;
  const height = (opts.height ?? H) + (top - M.t);
  const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, class: `plot${narrow ? ' narrow' : ''}`, role: 'img', 'aria-label': title });
  if (narrow) svg.style.maxWidth = `${width}px`;
  const left = opts.left ?? M.l;
  const iw = width - left - M.r;
  const ih = height - top - M.b;
  const x = (v: number) => left + ((v - xlo) / (xhi - xlo || 1)) * iw;
  const ly = (v: number) => (opts.logY ? Math.log10(Math.max(v, 1e-12)) : v);
  const y0 = ly(ylo);
  const y1 = ly(yhi);
  const y = (v: number) => top + ih - ((ly(v) - y0) / (y1 - y0 || 1)) * ih;
  svg.append(svgEl('text', { x: narrow ? 8 : left, y: 16, class: 'plot-title' }, title));
  const axes = svgEl('g', { class: 'axes' });
  axes.append(svgEl('line', { x1: left, y1: top + ih, x2: left + iw, y2: top + ih }));
  for (const t of niceTicks(xlo, xhi, Math.max(3, Math.min(7, Math.round(iw / 80))))) {
    const px = x(t);
    axes.append(svgEl('line', { x1: px, y1: top + ih, x2: px, y2: top + ih + 4 }));
    axes.append(svgEl('text', { x: px, y: top + ih + 16, 'text-anchor': 'middle' }, tickLabel(t)));
  }
  if (opts.xLabel) axes.append(svgEl('text', { x: left + iw, y: height - 3, 'text-anchor': 'end', class: 'axis-label' }, opts.xLabel));
  if (!opts.noY) {
    axes.append(svgEl('line', { x1: M.l, y1: top, x2: M.l, y2: top + ih }));
    const yt = opts.logY
      ? Array.from({ length: Math.floor(y1) - Math.ceil(y0) + 1 }, (_, i) => 10 ** (Math.ceil(y0) + i))
      : niceTicks(ylo, yhi, 4);
    for (const t of yt) {
      const py = y(t);
      axes.append(svgEl('line', { x1: M.l - 4, y1: py, x2: M.l, y2: py }));
      axes.append(svgEl('line', { x1: M.l, y1: py, x2: M.l + iw, y2: py, class: 'gridline' }));
      axes.append(svgEl('text', { x: M.l - 7, y: py + 4, 'text-anchor': 'end' }, opts.logY ? formatPow10(t) : tickLabel(t)));
    }
    if (opts.yLabel) axes.append(svgEl('text', { x: 12, y: top + ih / 2, 'text-anchor': 'middle', transform: `rotate(-90 12 ${top + ih / 2})`, class: 'axis-label' }, opts.yLabel));
  }
  const plot = svgEl('g', {});
  svg.append(axes, plot);
  return { svg, width, top, bottom: top + ih, x, y, plot };
}

function formatPow10(v: number): string {
  const e = Math.round(Math.log10(v));
  return e <= 3 ? String(10 ** e) : `1e${e}`;
}

/** Path of a step histogram (outline), optionally closed to the baseline for filling. */
function stepPath(h: Histogram, f: Frame, base: number, closed: boolean): string {
  const n = h.counts.length;
  const bw = (h.hi - h.lo) / n;
  let d = `M${f.x(h.lo).toFixed(1)},${f.y(base).toFixed(1)}`;
  for (let i = 0; i < n; i++) {
    const c = h.counts[i]!;
    const yv = f.y(c > 0 ? c : base).toFixed(1);
    d += `L${f.x(h.lo + i * bw).toFixed(1)},${yv}L${f.x(h.lo + (i + 1) * bw).toFixed(1)},${yv}`;
  }
  d += `L${f.x(h.hi).toFixed(1)},${f.y(base).toFixed(1)}`;
  return closed ? d + 'Z' : d;
}

function legend(f: Frame, items: { cls: string; label: string }[]): void {
  let x = f.width - M.r;
  const y = f.width < NARROW ? 34 : 16;
  const g = svgEl('g', { class: 'legend' });
  for (const it of [...items].reverse()) {
    const t = svgEl('text', { x, y, 'text-anchor': 'end' }, it.label);
    g.append(t);
    x -= it.label.length * 6.1 + 8;
    g.append(svgEl('rect', { x: x - 12, y: y - 8, width: 12, height: 9, class: it.cls }));
    x -= 22;
  }
  f.svg.append(g);
}

// Loops, not Math.max(...xs): spreading a large array (a group of 999,999 values) overflows the stack.
function maxOf(xs: ArrayLike<number>, init: number): number {
  let m = init;
  for (let i = 0; i < xs.length; i++) if (xs[i]! > m) m = xs[i]!;
  return m;
}
function minOf(xs: ArrayLike<number>, init: number): number {
  let m = init;
  for (let i = 0; i < xs.length; i++) if (xs[i]! < m) m = xs[i]!;
  return m;
}

/** All weights (log counts), with the chosen group's span and its HQQ quantization grid. */
export function weightsPlot(r: InspectResult, width = W): SVGSVGElement {
  const h = r.weights;
  const maxCount = maxOf(h.counts, 1);
  const sliced = r.rows < r.totalRows ? ` (first ${r.rows} of ${r.totalRows} rows)` : '';
  const f = frame(`Weights${sliced}`, h.lo, h.hi, 0.8, maxCount * 1.5, { logY: true, yLabel: 'count', xLabel: 'weight value', width });
  const q = r.quant?.group ? r.quant : undefined;
  if (q?.group) {
    const g = q.group;
    const lo = minOf(g.values, Infinity);
    const hi = maxOf(g.values, -Infinity);
    f.plot.append(svgEl('rect', { x: f.x(lo), y: f.top, width: Math.max(1, f.x(hi) - f.x(lo)), height: f.bottom - f.top, class: 'group-span' }));
  }
  f.plot.append(svgEl('path', { d: stepPath(h, f, 0.8, true), class: 'hist-weights' }));
  if (q?.group) {
    for (const v of q.group.hqq.levels) {
      if (v < h.lo || v > h.hi) continue;
      f.plot.append(svgEl('line', { x1: f.x(v), y1: f.top, x2: f.x(v), y2: f.bottom, class: 'level-hqq' }));
    }
    legend(f, [
      { cls: 'swatch-weights', label: 'all weights' },
      { cls: 'swatch-span', label: `group ${q.group.index}` },
      { cls: 'swatch-hqq', label: 'its HQQ levels' },
    ]);
  } else {
    legend(f, [{ cls: 'swatch-weights', label: 'all weights' }]);
  }
  return f.svg;
}

/**
 * One group close up: its values (middle lane) and where each lands on the RTN grid (top) and the
 * HQQ grid (bottom), with the restored values marked.
 */
export function groupPlot(g: GroupView, nbits: number, available = 1120): SVGSVGElement {
  let lo = Math.min(minOf(g.values, Infinity), minOf(g.hqq.restored, Infinity), minOf(g.rtn.restored, Infinity));
  let hi = Math.max(maxOf(g.values, -Infinity), maxOf(g.hqq.restored, -Infinity), maxOf(g.rtn.restored, -Infinity));
  const pad = (hi - lo) * 0.04 || 1e-4;
  lo -= pad;
  hi += pad;
  const width = Math.min(1120, available);
  const narrow = width < NARROW;
  const height = narrow ? 250 : 230;
  const why = g.reason === 'widest' ? ' (the widest range)' : g.reason === 'different' ? ' (most different: HQQ and RTN furthest apart)' : '';
  const short = g.reason === 'widest' ? ' · widest' : g.reason === 'different' ? ' · most different' : '';
  const title = narrow ? `Group ${g.index} of ${g.count}${short}` : `Group ${g.index} of ${g.count}${why}: its ${g.values.length} weights and where they land on the ${nbits}-bit grid`;
  const f = frame(title, lo, hi, 0, 1, { noY: true, height, width, left: 74, xLabel: 'weight value' });
  const shift = f.top - M.t;
  const lane = { rtn: 62 + shift, w: 118 + shift, hqq: 174 + shift };
  const laneLabel = (y: number, text: string, cls: string) => f.plot.append(svgEl('text', { x: 66, y: y + 4, 'text-anchor': 'end', class: `lane-label ${cls}` }, text));
  laneLabel(lane.rtn, 'RTN', 'rtn');
  laneLabel(lane.w, 'weights', '');
  laneLabel(lane.hqq, 'HQQ', 'hqq');
  for (const [key, y] of [['rtn', lane.rtn], ['hqq', lane.hqq]] as const) {
    const grid = g[key];
    for (const v of grid.levels) {
      if (v < lo || v > hi) continue;
      f.plot.append(svgEl('line', { x1: f.x(v), y1: y - 14, x2: f.x(v), y2: y + 14, class: `tick-${key}` }));
    }
    g.values.forEach((v, i) => {
      f.plot.append(svgEl('line', { x1: f.x(v), y1: lane.w, x2: f.x(grid.restored[i]!), y2: y, class: `link-${key}` }));
    });
  }
  for (const v of g.values) f.plot.append(svgEl('circle', { cx: f.x(v), cy: lane.w, r: 3, class: 'dot-weight' }));
  const note = `HQQ: scale ${formatSci(g.hqq.scale)}, zero ${g.hqq.zero.toFixed(2)}   ·   RTN: scale ${formatSci(g.rtn.scale)}, zero ${g.rtn.zero.toFixed(2)}`;
  f.svg.append(svgEl('text', { x: width - M.r, y: narrow ? 34 : 16, 'text-anchor': 'end', class: 'plot-note' }, narrow ? `HQQ scale ${formatSci(g.hqq.scale)} · RTN scale ${formatSci(g.rtn.scale)}` : note));
  return f.svg;
}

/** Distribution of W - dequant(quant(W)) for ours (HQQ, hqq-wasm) and the baseline (RTN, llama.cpp). */
export function errorPlot(r: InspectResult, width = W): SVGSVGElement {
  const q = r.quant!;
  const { hqq, rtn } = q.error;
  const maxCount = Math.max(maxOf(hqq.counts, 1), maxOf(rtn.counts, 1));
  const f = frame('Quantization error W − Ŵ', hqq.lo, hqq.hi, 0, maxCount * 1.08, { yLabel: 'count', xLabel: 'error', width });
  f.plot.append(svgEl('path', { d: stepPath(hqq, f, 0, true), class: 'hist-hqq' }));
  f.plot.append(svgEl('path', { d: stepPath(rtn, f, 0, false), class: 'hist-rtn' }));
  f.plot.append(svgEl('line', { x1: f.x(0), y1: f.top, x2: f.x(0), y2: f.bottom, class: 'zero-line' }));
  legend(f, [
    { cls: 'swatch-hqq', label: `${q.names.ours}  mean |e| ${formatSci(q.hqqStats.meanAbs)}` },
    { cls: 'swatch-rtn', label: `${q.names.base}  mean |e| ${formatSci(q.rtnStats.meanAbs)}` },
  ]);
  return f.svg;
}
