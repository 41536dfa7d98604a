/**
 * The per-tensor table (plan preview and results), its totals and the summary tiles. Columns name
 * the format's baseline: round-to-nearest for HQQ (gain in %), llama.cpp's own quantizer for GGUF
 * and onnxruntime-style RTN on the same blocks for ONNX (mean |err| ratio, as the CLI prints it).
 */
import type { QuantizeModelReport, TensorReport } from 'hqq-wasm';
import { ui } from './dom';
import { el, formatBytes, formatCount, formatDuration, formatPercent, formatSci, formatShape, middleTruncate } from './format';

/**
 * Names longer than this are shortened in the middle (the full name is the cell's title); fewer on
 * phones, where the name column stays in view while the rest scrolls.
 */
export const NAME_CHARS = 44;
export const NAME_CHARS_NARROW = 32;
const nameChars = () => (matchMedia('(max-width: 640px)').matches ? NAME_CHARS_NARROW : NAME_CHARS);

export const rows = new Map<string, HTMLTableRowElement>();

function cell(text: string, cls?: string, title?: string): HTMLTableCellElement {
  const td = el('td', cls, text);
  if (title) td.title = title;
  return td;
}

interface Baseline {
  ours: string;
  base: string;
  /** The gain compares relative errors (HQQ), else mean |err| (GGUF, ONNX: as their CLI lines). */
  byRel?: boolean;
  gain(ours: number | undefined, base: number | undefined): { text: string; cls: string };
}

/** Our mean |err| over the baseline's, "0.96x" (below 1: ours is better). */
function ratioGain(o: number | undefined, b: number | undefined, suffix: string): { text: string; cls: string } {
  if (o === undefined || b === undefined || !(b > 0)) return { text: '–', cls: 'num' };
  const ratio = o / b;
  return { text: `${ratio.toFixed(2)}x${suffix}`, cls: `num gain${ratio > 1 ? ' neg' : ''}` };
}

function baselineOf(report: QuantizeModelReport): Baseline {
  if (report.format === 'gguf') return { ours: 'hqq-wasm', base: 'llama.cpp', gain: (o, b) => ratioGain(o, b, '') };
  if (report.format === 'onnx') return { ours: 'HQQ', base: 'RTN', gain: (o, b) => ratioGain(o, b, ' RTN') };
  return {
    ours: 'HQQ', base: 'RTN', byRel: true,
    gain(o, b) {
      if (o === undefined || b === undefined || !(b > 0)) return { text: '–', cls: 'num' };
      const g = (b - o) / b;
      return { text: `${g >= 0 ? '−' : '+'}${formatPercent(Math.abs(g))}`, cls: `num gain${g < 0 ? ' neg' : ''}` };
    },
  };
}

function actionCell(r: TensorReport): HTMLTableCellElement {
  const labels: Record<TensorReport['action'], string> = {
    quantize: r.type ?? (r.nbits === undefined ? r.label : `${r.nbits}-bit g${r.groupSize}`),
    copy: 'copy', convert: `→ ${r.label}`, drop: 'dropped',
  };
  const td = el('td', 'action');
  td.append(el('span', `badge ${r.action}`, labels[r.action]));
  // The reason is shown, not only on hover: why a tensor is copied is what users look for.
  if (r.reason) td.append(el('span', 'reason', r.reason));
  td.title = r.reason ?? (r.type ? `GGUF ${r.type}` : r.nbits === undefined ? `MatMulNBits ${r.label}` : `HQQ ${r.nbits}-bit, group size ${r.groupSize}, axis ${r.axis}`);
  return td;
}

function fillRow(tr: HTMLTableRowElement, r: TensorReport, final: boolean, b: Baseline): void {
  const quantized = r.action === 'quantize';
  const errs = quantized && r.meanAbs !== undefined;
  const pend = quantized && final ? '…' : '–';
  const base = r.baseline;
  const g = b.gain(b.byRel ? r.relFrobenius : r.meanAbs, b.byRel ? base?.relFrobenius : base?.meanAbs);
  tr.replaceChildren(
    cell(middleTruncate(r.name, nameChars()), 'name', r.name),
    cell(formatShape(r.shape), 'mono'),
    cell(r.dtype, 'mono'),
    actionCell(r),
    cell(`${formatBytes(r.bytesBefore)} → ${formatBytes(r.bytesAfter)}`, 'num'),
    cell(r.bitsPerWeight.toFixed(2), 'num'),
    cell(errs ? formatSci(r.meanAbs) : pend, 'num'),
    cell(errs ? formatPercent(r.relFrobenius, 2) : pend, 'num'),
    cell(errs && base ? formatSci(base.meanAbs) : pend, 'num'),
    cell(errs && base ? formatPercent(base.relFrobenius, 2) : pend, 'num'),
    cell(g.text, g.cls),
  );
  tr.className = quantized ? 'quantized' : 'copied';
  tr.dataset.action = r.action;
  tr.dataset.state = final ? 'done' : 'planned';
  if (errs) tr.dataset.rel = String(r.relFrobenius);
  if (errs && base) tr.dataset.baseRel = String(base.relFrobenius);
  if (!tr.hasAttribute('aria-selected')) tr.setAttribute('aria-selected', 'false');
  tr.tabIndex = 0;
}

let baseline: Baseline | undefined;

export function updateRow(r: TensorReport, final: boolean): void {
  const tr = rows.get(r.name);
  if (tr && baseline) fillRow(tr, r, final, baseline);
}

export function markRunning(name: string): void {
  const tr = rows.get(name);
  if (tr && tr.dataset.state !== 'done') tr.dataset.state = 'running';
}

function setHeaders(b: Baseline, format: string): void {
  ui.colOursAbs.textContent = `Mean |err| ${b.ours}`;
  ui.colOursRel.textContent = `Rel. err ${b.ours}`;
  ui.colBaseAbs.textContent = `Mean |err| ${b.base}`;
  ui.colBaseRel.textContent = `Rel. err ${b.base}`;
  ui.colGain.textContent = `${b.ours} vs ${b.base}`;
  ui.colGain.title = format === 'gguf'
    ? 'Mean |error| of hqq-wasm over that of llama.cpp\'s own quantizer of the same type (below 1: hqq-wasm is better)'
    : format === 'onnx' ? 'Mean |error| of HQQ over that of onnxruntime-style round-to-nearest on the same blocks (below 1: HQQ is better)'
      : 'How much lower (−) or higher (+) HQQ\'s relative error is than round-to-nearest\'s';
  ui.resultsHint.textContent = format === 'gguf'
    ? 'Click a quantized row to see its weights and the error distribution. llama.cpp is llama-quantize\'s own quantizer of the same type (no importance matrix); “0.95x” means 5% lower mean |error| than it.'
    : format === 'onnx' ? 'RTN is onnxruntime\'s quantizer (round-to-nearest per block, uint8 zero point) on the same blocks; “0.96x RTN” means 4% lower mean |error| than it. Plots are drawn for safetensors and GGUF tensors only.'
      : 'Click a quantized row to see its weights, the quantization grid of one group, and the error distribution. RTN is plain round-to-nearest with the same bits and groups; “HQQ vs RTN” is how much lower (−) HQQ’s relative error is.';
}

export function showReport(report: QuantizeModelReport, final: boolean): void {
  const b = baselineOf(report);
  baseline = b;
  setHeaders(b, report.format);
  const body = ui.table.tBodies[0]!;
  rows.clear();
  body.replaceChildren();
  for (const r of report.tensors) {
    const tr = document.createElement('tr');
    tr.dataset.name = r.name;
    fillRow(tr, r, final, b);
    rows.set(r.name, tr);
    body.append(tr);
  }
  const t = report.totals;
  const base = report.baseline;
  const g = b.gain(final ? (b.byRel ? report.relFrobenius : report.meanAbs) : undefined, b.byRel ? base?.relFrobenius : base?.meanAbs);
  const tr = document.createElement('tr');
  tr.append(
    cell(`Total: ${t.tensors} tensors (${t.quantized} quantized)`, 'name'),
    cell(`${formatCount(t.parameters)} params`, 'mono'),
    cell(''),
    cell(''),
    cell(`${formatBytes(t.bytesBefore)} → ${formatBytes(t.bytesAfter)}`, 'num'),
    cell(t.bitsPerWeight ? t.bitsPerWeight.toFixed(2) : '–', 'num', 'over the quantized tensors (every stored tensor of theirs / weights)'),
    cell(final && t.quantized ? formatSci(report.meanAbs) : '–', 'num'),
    cell(final && t.quantized ? formatPercent(report.relFrobenius, 2) : '–', 'num'),
    cell(final && base ? formatSci(base.meanAbs) : '–', 'num'),
    cell(final && base ? formatPercent(base.relFrobenius, 2) : '–', 'num'),
    cell(g.text, g.cls),
  );
  ui.table.tFoot!.replaceChildren(tr);
  ui.resultsTitle.replaceChildren(el('span', 'step', '4'), final ? ' Results' : ' Plan (nothing is computed yet)');
  renderSummary(report, final, b);
  if (!final) ui.downloads.replaceChildren();
  ui.resultsCard.hidden = false;
  ui.resultsCard.dataset.final = String(final);
  ui.resultsCard.dataset.format = report.format;
}

function stat(k: string, v: string, cls = ''): HTMLElement {
  const d = el('div', 'stat');
  d.append(el('div', 'k', k), el('div', `v ${cls}`, v));
  return d;
}

function renderSummary(report: QuantizeModelReport, final: boolean, b: Baseline): void {
  const t = report.totals;
  const items: HTMLElement[] = [
    stat('Model size', `${formatBytes(t.bytesBefore)} → ${formatBytes(t.bytesAfter)}`),
    stat('Quantized weights', `${formatBytes(t.quantizedBytesBefore)} → ${formatBytes(t.quantizedBytesAfter)}`),
    stat('Bits per weight', t.bitsPerWeight ? t.bitsPerWeight.toFixed(2) : '–'),
  ];
  if (final && t.quantized > 0) {
    items.push(stat(`Relative error ${b.ours}`, formatPercent(report.relFrobenius, 2)));
    if (report.baseline) {
      items.push(stat(`Relative error ${b.base}`, formatPercent(report.baseline.relFrobenius, 2)));
      const g = b.byRel ? b.gain(report.relFrobenius, report.baseline.relFrobenius) : b.gain(report.meanAbs, report.baseline.meanAbs);
      items.push(stat(`${b.ours} error vs ${b.base}`, g.text, g.cls.includes('neg') ? '' : 'good'));
    }
    items.push(stat('Time', `${formatDuration(report.seconds)} · ${report.workers} worker${report.workers === 1 ? '' : 's'}`));
  }
  ui.resultsSummary.replaceChildren(...items);
}

export function hideResults(): void {
  ui.resultsCard.hidden = true;
  ui.plotsCard.hidden = true;
}
