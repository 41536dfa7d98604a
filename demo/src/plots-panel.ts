/**
 * The plots of one tensor (card 5): asks the plot worker (inspect-worker.ts) for a row's
 * histograms, draws them, steps through groups (◀ ▶, widest, most different), announces the
 * selected row to screen readers and scrolls the plots into view.
 */
import type { GGUFTypeName, Nbits, QuantizeModelReport } from 'hqq-wasm';
import { ui } from './dom';
import { formatPercent, formatSci } from './format';
import type { GroupPick, InspectConfig, InspectRequest, InspectResponse, InspectResult } from './inspect-protocol';
import { fileOf } from './model-input';
import { NARROW, errorPlot, groupPlot, weightsPlot } from './plots';
import { app } from './state';
import { rows } from './table';

const inspector = new Worker(new URL('./inspect-worker.ts', import.meta.url), { type: 'module', name: 'hqq-demo-plots' });
let inspectSeq = 0;
let inspected: { result?: InspectResult; config?: InspectConfig; file: File; container: 'safetensors' | 'gguf' } | undefined;

export function initInspector(module: WebAssembly.Module, onReady: () => void): void {
  inspector.addEventListener('message', (ev: MessageEvent<InspectResponse>) => {
    if (ev.data.type === 'ready') onReady();
  });
  inspector.postMessage({ type: 'init', module } satisfies InspectRequest);
}

inspector.addEventListener('message', (ev: MessageEvent<InspectResponse>) => {
  const msg = ev.data;
  if (msg.type === 'ready' || msg.id !== inspectSeq) return; // a newer request superseded it
  if (msg.type === 'error') {
    ui.plotsStatus.textContent = `Could not plot this tensor: ${msg.message}`;
    ui.plots.replaceChildren();
    ui.plotsCard.dataset.state = 'error';
  } else if (msg.type === 'result' && inspected) {
    inspected.result = msg.result;
    renderPlots();
  } else if (msg.type === 'group' && inspected?.result?.quant) {
    inspected.result.quant.group = msg.group;
    renderPlots();
  }
});
inspector.addEventListener('error', (e) => {
  e.preventDefault();
  ui.plotsStatus.textContent = `The plot worker failed: ${e.message || 'unknown error'}`;
});

function roundZeroOf(report: QuantizeModelReport, nbits: number): boolean {
  const rz = 'round_zero' in report.config ? report.config.round_zero : undefined;
  return typeof rz === 'boolean' ? rz : nbits === 4;
}

function selectRow(name: string): void {
  for (const [n, tr] of rows) tr.setAttribute('aria-selected', String(n === name));
  ui.selectionLive.textContent = `Selected ${name}: plots below`;
}

export function openPlots(name: string): void {
  const shown = app.shown;
  if (!shown || !app.ready.inspector) return;
  const r = shown.report.tensors.find((t) => t.name === name);
  const file = fileOf(shown.input, name);
  if (!r || !file) return;
  selectRow(name);
  if (shown.input.kind === 'onnx') return showNoPlots(name);
  let config: InspectConfig | undefined;
  if (r.action === 'quantize' && r.type) config = { kind: 'gguf', type: r.type as GGUFTypeName };
  else if (r.action === 'quantize') config = { kind: 'hqq', nbits: r.nbits as Nbits, groupSize: r.groupSize!, axis: r.axis!, roundZero: roundZeroOf(shown.report, r.nbits!) };
  inspectSeq++;
  inspected = { config, file, container: shown.input.kind };
  ui.plotsCard.hidden = false;
  ui.plotsCard.dataset.state = 'computing';
  ui.plotsTitle.textContent = name;
  ui.groupNav.hidden = true;
  ui.plots.replaceChildren();
  ui.plotsStatus.textContent = config?.kind === 'hqq'
    ? `Quantizing this tensor with HQQ and with round-to-nearest (${config.nbits}-bit, group ${config.groupSize}, axis ${config.axis}) in a worker…`
    : config ? `Quantizing this tensor to ${config.type} with hqq-wasm and with llama.cpp's quantizer in a worker…` : 'Reading its values…';
  inspector.postMessage({
    type: 'inspect', id: inspectSeq, file, fileName: file.name, container: shown.input.kind, tensor: name, config,
    note: r.reason ? `Not quantized: ${r.reason}.` : undefined,
  } satisfies InspectRequest);
  // Scrolled to now, and again once drawn (the card is taller then, so the page can scroll further).
  scrollPending = true;
  scrollToPlots();
}

/** ONNX rows: the plot worker reads safetensors and GGUF tensors only; the table has the numbers. */
function showNoPlots(name: string): void {
  inspectSeq++;
  inspected = undefined;
  ui.plotsCard.hidden = false;
  ui.plotsCard.dataset.state = 'none';
  ui.plotsTitle.textContent = name;
  ui.groupNav.hidden = true;
  ui.plots.replaceChildren();
  ui.plotsStatus.textContent = 'Plots are drawn for safetensors and GGUF tensors; for ONNX models the table above has every tensor\'s numbers.';
}

let scrollPending = false;
function scrollToPlots(): void {
  // 'start': the plots are what the click asked for ('nearest' left them below the fold on phones).
  ui.plotsCard.scrollIntoView({ behavior: 'instant' as ScrollBehavior, block: 'start' });
}

/** Width to draw at: the box's own width on narrow screens (text at its CSS size), else the default. */
function plotWidth(): number | undefined {
  const w = ui.plots.clientWidth - 14; // plot-box padding and border
  return w > 0 && w < NARROW ? Math.max(280, Math.floor(w)) : undefined;
}

function renderPlots(): void {
  const r = inspected?.result;
  if (!r) return;
  const width = plotWidth();
  const box = (svg: SVGSVGElement, cls = '') => {
    const d = document.createElement('div');
    d.className = `plot-box ${cls}`;
    d.append(svg);
    return d;
  };
  const parts: HTMLElement[] = [box(weightsPlot(r, width), 'weights')];
  const q = r.quant;
  ui.groupNav.hidden = !q?.group;
  if (q) {
    parts.push(box(errorPlot(r, width), 'errors'));
    if (q.group && inspected?.config?.kind === 'hqq') {
      parts.push(box(groupPlot(q.group, inspected.config.nbits, width), 'wide-plot group'));
      ui.groupIndex.max = String(q.group.count - 1);
      ui.groupIndex.value = String(q.group.index);
      ui.plotsCard.dataset.group = q.group.reason;
    }
    const slice = r.rows < r.totalRows ? ` Plots use the first ${r.rows} of ${r.totalRows} rows.` : '';
    const iters = q.names.ours === 'HQQ' ? `${q.iterations} solver iterations, ` : '';
    ui.plotsStatus.textContent = `${q.names.ours}: ${iters}mean |error| ${formatSci(q.hqqStats.meanAbs)}, relative ${formatPercent(q.hqqStats.relFrobenius, 2)} · ${q.names.base}: mean |error| ${formatSci(q.rtnStats.meanAbs)}, relative ${formatPercent(q.rtnStats.relFrobenius, 2)}.${slice}`;
  } else {
    ui.plotsStatus.textContent = r.note ?? '';
  }
  ui.plots.replaceChildren(...parts);
  ui.plotsCard.dataset.state = 'ready';
  if (scrollPending) {
    scrollPending = false;
    scrollToPlots();
  }
}

function requestGroup(group: number | undefined, pick?: GroupPick): void {
  const q = inspected?.result?.quant;
  if (!q?.group) return;
  inspectSeq++;
  const g = group === undefined ? undefined : Math.min(Math.max(0, group), q.group.count - 1);
  inspector.postMessage({ type: 'group', id: inspectSeq, group: g, pick } satisfies InspectRequest);
}

const current = () => inspected?.result?.quant?.group?.index ?? 0;
ui.groupPrev.addEventListener('click', () => requestGroup(current() - 1));
ui.groupNext.addEventListener('click', () => requestGroup(current() + 1));
ui.groupWidest.addEventListener('click', () => requestGroup(undefined, 'widest'));
ui.groupDifferent.addEventListener('click', () => requestGroup(undefined, 'different'));
ui.groupIndex.addEventListener('change', () => {
  const v = Number(ui.groupIndex.value);
  if (Number.isInteger(v)) requestGroup(v);
});

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(renderPlots, 150);
});

export function hidePlots(): void {
  ui.plotsCard.hidden = true;
  inspected = undefined;
}

// Rows: click, or Enter / Space on a focused row.
ui.table.tBodies[0]!.addEventListener('click', (e) => {
  const tr = (e.target as HTMLElement).closest('tr');
  if (tr?.dataset.name) openPlots(tr.dataset.name);
});
ui.table.tBodies[0]!.addEventListener('keydown', (e) => {
  const tr = (e.target as HTMLElement).closest('tr');
  if (tr?.dataset.name && (e.key === 'Enter' || e.key === ' ')) {
    e.preventDefault();
    openPlots(tr.dataset.name);
  }
});
