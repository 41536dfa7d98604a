/**
 * A run: the sink (Blobs, a picked folder or file), `quantizeModel` on a pool of Web Workers, the
 * progress card (a labelled <progress>, an aria-live line), Cancel, and the downloads afterwards.
 */
import {
  HQQError, createWebPool, downloadBlob, memorySink, pickOutput, quantizeModel,
  type BrowserSink, type ModelProgressEvent, type OutputFile, type QuantizeModelReport,
} from 'hqq-wasm';
import { ui } from './dom';
import { el, formatBytes, formatDuration } from './format';
import type { LoadedInput } from './model-input';
import { clearError, clearNotice, showError, showNotice } from './notices';
import { readOptions, type PageOptions } from './options';
import { app, type RunState } from './state';
import { markRunning, rows, showReport, updateRow } from './table';
import { inputFor } from './preview';

let objectUrls: string[] = [];

async function makeSink(output: PageOptions['output'], suggestedName: string): Promise<BrowserSink> {
  if (output === 'memory') return memorySink();
  return pickOutput(output, suggestedName);
}

export async function run(onChange: () => void, refreshPreview: () => Promise<void>): Promise<void> {
  if (app.running || !app.input || !app.hqq) return;
  const inp: LoadedInput = app.input;
  let opts: PageOptions;
  try {
    opts = readOptions();
  } catch (e) {
    return showError(e, 'Options');
  }
  const mi = inputFor(inp, opts);
  let sink: BrowserSink;
  try {
    // The first await: keeps the click's user activation for the picker.
    sink = await makeSink(opts.output, app.shown?.report.files[0] ?? mi.outputFileName ?? 'model.safetensors');
  } catch (e) {
    if (e instanceof HQQError && e.code === 'ABORTED') return; // the picker was closed
    return showError(e, 'Choosing where to save');
  }
  clearError();
  clearNotice();
  revokeDownloads();
  const controller = new AbortController();
  const state: RunState = { controller, sink, started: performance.now(), inFlight: new Set() };
  app.running = state;
  onChange();
  ui.cancelBtn.disabled = false;
  ui.progressCard.hidden = false;
  ui.progress.value = 0;
  ui.progressText.textContent = 'Starting the workers…';
  ui.progressEta.textContent = '';
  ui.progressCurrent.textContent = '';
  document.documentElement.dataset.run = 'running';
  const module = app.hqq.module;
  try {
    const report = await quantizeModel(mi, sink, {
      ...opts.config,
      workers: opts.workers,
      compareRtn: true,
      signal: controller.signal,
      createPool: (size) => createWebPool({ size, module }),
      onProgress: (ev) => onProgress(state, ev),
    });
    app.running = undefined;
    ui.progressCard.hidden = true;
    app.shown = { report, final: true, input: inp };
    showReport(report, true);
    renderDownloads(sink, report);
    ui.progressText.textContent = `Done: ${report.totals.tensors} tensors in ${formatDuration(report.seconds)}`;
    document.documentElement.dataset.run = 'done';
  } catch (e) {
    app.running = undefined;
    await sink.abortAll().catch(() => {});
    ui.progressCard.hidden = true;
    if (e instanceof HQQError && e.code === 'ABORTED' && controller.signal.aborted) {
      document.documentElement.dataset.run = 'cancelled';
      showNotice('Cancelled. The workers were stopped and no output was kept.');
    } else {
      document.documentElement.dataset.run = 'failed';
      showError(e, 'Quantization failed');
    }
    void refreshPreview();
  } finally {
    app.running = undefined;
    ui.cancelBtn.disabled = false;
    onChange();
  }
}

ui.cancelBtn.addEventListener('click', () => {
  if (!app.running) return;
  ui.cancelBtn.disabled = true;
  ui.progressText.textContent = 'Cancelling: stopping the workers…';
  app.running.controller.abort(new Error('cancelled by the user'));
});

let progressFrame = 0;
let lastAnnounced = -1;

function onProgress(state: RunState, ev: ModelProgressEvent): void {
  if (app.running !== state) return;
  if (ev.type === 'tensor-start') {
    state.inFlight.add(ev.name);
    markRunning(ev.name);
  }
  if (ev.type === 'tensor-done') {
    state.inFlight.delete(ev.name);
    if (ev.result) updateRow(ev.result, true);
  }
  state.last = ev;
  if (!progressFrame) progressFrame = requestAnimationFrame(() => renderProgress(state));
}

function renderProgress(state: RunState): void {
  progressFrame = 0;
  const last = state.last;
  if (!last || app.running !== state) return;
  const frac = last.bytesTotal > 0 ? last.bytesDone / last.bytesTotal : 0;
  ui.progress.value = frac;
  ui.progress.setAttribute('aria-valuetext', `${Math.round(frac * 100)}%`);
  const done = [...rows.values()].filter((r) => r.dataset.state === 'done').length;
  const elapsed = (performance.now() - state.started) / 1000;
  // The live line changes in steps of 10%: a screen reader hears the progress, not every frame.
  const step = Math.floor(frac * 10);
  if (step !== lastAnnounced || ui.progressText.textContent?.startsWith('Starting')) {
    lastAnnounced = step;
    ui.progressText.textContent = `${Math.round(frac * 100)}% · ${done} of ${last.total} tensors · ${formatBytes(last.bytesDone)} of ${formatBytes(last.bytesTotal)}`;
  }
  ui.progressEta.textContent = Number.isFinite(last.etaSeconds) ? `about ${formatDuration(last.etaSeconds)} left · ${formatDuration(elapsed)} elapsed` : 'estimating time left…';
  const cur = [...state.inFlight];
  ui.progressCurrent.textContent = cur.length ? `now: ${cur[0]}${cur.length > 1 ? ` (+${cur.length - 1} more)` : ''}` : '';
}

export function revokeDownloads(): void {
  for (const u of objectUrls) URL.revokeObjectURL(u);
  objectUrls = [];
  ui.downloads.replaceChildren();
}

function describeOutput(report: QuantizeModelReport): string {
  if (report.format === 'gguf') return 'GGUF';
  if (report.format === 'onnx') return report.files.length > 1 ? 'ONNX with its external data file' : 'ONNX';
  if (report.files.includes('config.json')) return 'HQQ folder for transformers / vLLM';
  return report.index ? 'sharded, with index' : 'one file';
}

function renderDownloads(sink: BrowserSink, report: QuantizeModelReport): void {
  revokeDownloads();
  const files = sink.files();
  if (sink.kind !== 'memory') {
    ui.downloads.append(el('span', '', `Saved ${files.length} file${files.length === 1 ? '' : 's'} to the ${sink.location}: ${files.map((f) => f.fileName).join(', ')}`));
    return;
  }
  const withBlobs = files.filter((f): f is OutputFile & { blob: Blob } => f.blob !== undefined);
  ui.downloads.append(el('span', '', `Output (${describeOutput(report)}):`));
  for (const f of withBlobs) {
    const url = URL.createObjectURL(f.blob);
    objectUrls.push(url);
    const a = el('a', 'download', `⬇ ${f.fileName} · ${formatBytes(f.size)}`);
    a.href = url;
    a.download = f.fileName;
    a.dataset.file = f.fileName;
    ui.downloads.append(a);
  }
  if (withBlobs.length > 1) {
    const all = el('button', 'secondary small', 'Download all');
    all.type = 'button';
    all.addEventListener('click', () => {
      withBlobs.forEach((f, i) => setTimeout(() => downloadBlob(f.blob, f.fileName), i * 400));
    });
    ui.downloads.append(all);
  }
}
