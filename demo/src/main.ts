/**
 * The demo page. All numerics run in the package: the whole model goes through `quantizeModel`
 * (imported from 'hqq-wasm', as any app would) on a pool of Web Workers, one wasm instance each; the plots of
 * one tensor come from the plot worker (inspect-worker.ts), which calls `hqq.quantize` /
 * `hqq.dequantize`. This file is UI only.
 */
import {
  HQQError, blobSource, createWebPool, defaultWebWorkers, downloadBlob, fileSystemAccess, loadHQQ, memorySink, parseIndexJson, pickOutput, quantizeModel,
  type BrowserSink, type ComputeDtype, type HQQ, type ModelInput, type ModelProgressEvent, type Nbits, type OutputFile, type QuantizeModelOptions,
  type QuantizeModelReport, type TensorReport,
} from 'hqq-wasm';
import { el, formatBytes, formatCount, formatDuration, formatPercent, formatSci, formatShape } from './format';
import type { InspectConfig, InspectRequest, InspectResponse, InspectResult } from './inspect-protocol';
import { errorPlot, groupPlot, weightsPlot } from './plots';

// ------------------------------------------------------------------------------------------------
// Elements

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`demo: #${id} is missing from index.html`);
  return e as T;
}

const ui = {
  dropzone: $('dropzone'),
  fileInput: $<HTMLInputElement>('file-input'),
  sampleBtn: $<HTMLButtonElement>('sample-btn'),
  sampleHint: $('sample-hint'),
  inputSummary: $('input-summary'),
  form: $<HTMLFormElement>('options'),
  nbits: $<HTMLSelectElement>('opt-nbits'),
  group: $<HTMLInputElement>('opt-group'),
  axis: $<HTMLSelectElement>('opt-axis'),
  dtype: $<HTMLSelectElement>('opt-dtype'),
  workers: $<HTMLInputElement>('opt-workers'),
  optimize: $<HTMLInputElement>('opt-optimize'),
  include: $<HTMLInputElement>('opt-include'),
  exclude: $<HTMLInputElement>('opt-exclude'),
  outDirectory: $<HTMLInputElement>('out-directory'),
  outFile: $<HTMLInputElement>('out-file'),
  runBtn: $<HTMLButtonElement>('run-btn'),
  cancelBtn: $<HTMLButtonElement>('cancel-btn'),
  engineStatus: $('engine-status'),
  error: $('error'),
  errorTitle: $('error-title'),
  errorMessage: $('error-message'),
  errorClose: $<HTMLButtonElement>('error-close'),
  notice: $('notice'),
  progressCard: $('progress-card'),
  progress: $<HTMLProgressElement>('progress'),
  progressText: $('progress-text'),
  progressEta: $('progress-eta'),
  progressCurrent: $('progress-current'),
  resultsCard: $('results-card'),
  resultsTitle: $('results-h'),
  resultsSummary: $('results-summary'),
  downloads: $('downloads'),
  table: $<HTMLTableElement>('results'),
  plotsCard: $('plots-card'),
  plotsTitle: $('plots-h'),
  plotsStatus: $('plots-status'),
  plots: $('plots'),
  groupNav: $('group-nav'),
  groupIndex: $<HTMLInputElement>('group-index'),
  groupPrev: $<HTMLButtonElement>('group-prev'),
  groupNext: $<HTMLButtonElement>('group-next'),
  groupWidest: $<HTMLButtonElement>('group-widest'),
  kernelInfo: $('kernel-info'),
};

// ------------------------------------------------------------------------------------------------
// State

interface LoadedInput {
  label: string;
  /** .safetensors files by name. */
  shards: Map<string, File>;
  index?: { text: string; fileName: string; weightMap: Map<string, string> };
  ignored: string[];
}

interface RunState {
  controller: AbortController;
  sink: BrowserSink;
  started: number;
  inFlight: Set<string>;
  last?: ModelProgressEvent;
}

let hqq: HQQ | undefined;
let input: LoadedInput | undefined;
let running: RunState | undefined;
/** The last run's (or preview's) report, and the config its numbers belong to. */
let shown: { report: QuantizeModelReport; final: boolean; input: LoadedInput } | undefined;
let objectUrls: string[] = [];
const rows = new Map<string, HTMLTableRowElement>();
const ready = { engine: false, sample: false, inspector: false, pool: false };

// ------------------------------------------------------------------------------------------------
// Errors

const ERROR_TITLES: Partial<Record<string, string>> = {
  BAD_FILE: 'This file cannot be read as a model',
  INVALID_ARGUMENT: 'These inputs or options do not work together',
  INVALID_VALUE: 'The weights contain values that cannot be quantized',
  UNSUPPORTED: 'Not supported here',
  OUT_OF_MEMORY: 'Out of memory',
  IO_ERROR: 'Reading or writing a file failed',
  WORKER_FAILED: 'A worker failed',
  INTERNAL: 'Internal error (a bug: please report it)',
};

function showError(e: unknown, context?: string): void {
  const code = e instanceof HQQError ? e.code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  ui.errorTitle.textContent = (context ? `${context}: ` : '') + (ERROR_TITLES[code ?? ''] ?? 'Something went wrong');
  ui.errorMessage.textContent = message;
  ui.error.dataset.code = code ?? 'ERROR';
  ui.error.dataset.context = context ?? '';
  ui.error.hidden = false;
}

function clearError(): void {
  ui.error.hidden = true;
  ui.errorMessage.textContent = '';
}

ui.errorClose.addEventListener('click', clearError);

// ------------------------------------------------------------------------------------------------
// Readiness (the tests wait for data-state="ready": everything the page needs is loaded)

function updateReady(): void {
  const all = ready.engine && ready.sample && ready.inspector && ready.pool;
  document.documentElement.dataset.state = all ? 'ready' : 'loading';
  updateButtons();
}

function updateButtons(): void {
  ui.runBtn.disabled = !ready.engine || !input || running !== undefined;
  ui.sampleBtn.disabled = !ready.sample || running !== undefined;
  ui.fileInput.disabled = running !== undefined;
  ui.dropzone.classList.toggle('disabled', running !== undefined);
  ui.cancelBtn.hidden = running === undefined;
  for (const e of ui.form.elements) (e as HTMLInputElement).disabled = running !== undefined;
  if (!running) applyOutputAvailability();
}

function applyOutputAvailability(): void {
  const fsa = fileSystemAccess();
  ui.outDirectory.disabled = !fsa.directory;
  ui.outFile.disabled = !fsa.saveFile || (input?.index !== undefined);
  ui.outDirectory.parentElement!.title = fsa.directory ? 'Writes every output file into a folder you choose, as it is produced (File System Access API)' : 'This browser has no File System Access API';
  ui.outFile.parentElement!.title = !fsa.saveFile ? 'This browser has no File System Access API' : input?.index ? 'A sharded model gives several files: choose a folder' : 'Streams the single output file to disk';
  const chosen = ui.form.querySelector<HTMLInputElement>('input[name="output"]:checked');
  if (chosen?.disabled) ui.form.querySelector<HTMLInputElement>('input[name="output"][value="memory"]')!.checked = true;
}

// ------------------------------------------------------------------------------------------------
// Engine and plot worker

const inspector = new Worker(new URL('./inspect-worker.ts', import.meta.url), { type: 'module', name: 'hqq-demo-plots' });
let inspectSeq = 0;
let inspected: { result: InspectResult; config?: InspectConfig; file: File } | undefined;

inspector.addEventListener('message', (ev: MessageEvent<InspectResponse>) => {
  const msg = ev.data;
  if (msg.type === 'ready') {
    ready.inspector = true;
    updateReady();
    return;
  }
  if (msg.id !== inspectSeq) return; // a newer request superseded it
  if (msg.type === 'error') {
    ui.plotsStatus.textContent = `Could not plot this tensor: ${msg.message}`;
    ui.plots.replaceChildren();
    ui.plotsCard.dataset.state = 'error';
  } else if (msg.type === 'result') {
    inspected = { ...inspected!, result: msg.result };
    renderPlots();
  } else if (msg.type === 'group' && inspected?.result.quant) {
    inspected.result.quant.group = msg.group;
    renderPlots();
  }
});
inspector.addEventListener('error', (e) => {
  e.preventDefault();
  ui.plotsStatus.textContent = `The plot worker failed: ${e.message || 'unknown error'}`;
});

async function startEngine(): Promise<void> {
  try {
    hqq = await loadHQQ();
    inspector.postMessage({ type: 'init', module: hqq.module } satisfies InspectRequest);
    ready.engine = true;
    void warmUpPoolWorker(hqq.module);
    const cores = defaultWebWorkers();
    ui.workers.value = String(Math.max(1, Math.min(4, cores)));
    ui.engineStatus.textContent = `Ready · ${hqq.kernel === 'scalar' ? 'scalar' : 'SIMD'} WebAssembly · ${cores} core${cores === 1 ? '' : 's'}`;
    ui.kernelInfo.textContent = `kernel: ${hqq.kernel}`;
  } catch (e) {
    ui.engineStatus.textContent = 'The quantizer could not be loaded.';
    showError(e, 'Loading the WebAssembly module');
  }
  updateReady();
}

/**
 * Starts one pool worker while the page loads and quantizes a tiny tensor on it, then stops it: the
 * worker's code is then in the browser's cache, so the workers of later runs (started anew for every
 * run, and stopped by Cancel) load without any network request.
 */
async function warmUpPoolWorker(module: WebAssembly.Module): Promise<void> {
  const pool = createWebPool({ size: 1, module });
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the quantization worker did not start within 30 s')), 30_000);
    });
    const task = pool.run({
      kind: 'hqq', name: 'warm-up', dtype: 'F32', shape: [2, 64], data: new Float32Array(128).fill(0.5).buffer, options: { nbits: 4, groupSize: 64 }, computeDtype: 'float32',
    });
    await Promise.race([task, timeout]).finally(() => clearTimeout(timer));
  } catch (e) {
    showError(e, 'Starting a quantization worker');
  } finally {
    await pool.terminate();
    ready.pool = true;
    updateReady();
  }
}

// ------------------------------------------------------------------------------------------------
// The built-in sample (fetched while the page loads, so that using it needs no network later)

interface SampleManifest {
  description: string;
  parameters: number;
  files: { name: string; size: number }[];
}
let sampleFiles: File[] | undefined;

async function prefetchSample(): Promise<void> {
  try {
    const base = new URL('./sample/', document.baseURI);
    const res = await fetch(new URL('sample.json', base));
    if (!res.ok) throw new Error(`sample.json: HTTP ${res.status}`);
    const manifest = (await res.json()) as SampleManifest;
    sampleFiles = await Promise.all(manifest.files.map(async (f) => {
      const r = await fetch(new URL(f.name, base));
      if (!r.ok) throw new Error(`${f.name}: HTTP ${r.status}`);
      const blob = await r.blob();
      if (blob.size !== f.size) throw new Error(`${f.name}: got ${blob.size} bytes, expected ${f.size}`);
      return new File([blob], f.name, { type: f.name.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
    }));
    const total = manifest.files.reduce((a, f) => a + f.size, 0);
    ui.sampleHint.textContent = `${manifest.description} · ${formatCount(manifest.parameters)} parameters · ${manifest.files.length} files · ${formatBytes(total)}`;
    ready.sample = true;
  } catch (e) {
    ui.sampleHint.textContent = `The built-in sample is not available (${(e as Error).message}); run npm run build:demo.`;
    ready.sample = true; // the page is usable without it
    ui.sampleBtn.hidden = true;
  }
  updateReady();
}

ui.sampleBtn.addEventListener('click', () => {
  if (sampleFiles) void loadInput(sampleFiles, 'built-in sample');
});

// ------------------------------------------------------------------------------------------------
// Input files

ui.fileInput.addEventListener('change', () => {
  const files = [...(ui.fileInput.files ?? [])];
  ui.fileInput.value = ''; // choosing the same files again still fires change
  if (files.length) void loadInput(files, files.length === 1 ? files[0]!.name : `${files.length} files`);
});

for (const type of ['dragenter', 'dragover'] as const) {
  ui.dropzone.addEventListener(type, (e) => {
    e.preventDefault();
    if (!running) ui.dropzone.classList.add('over');
  });
}
for (const type of ['dragleave', 'drop'] as const) {
  ui.dropzone.addEventListener(type, () => ui.dropzone.classList.remove('over'));
}
ui.dropzone.addEventListener('drop', (e) => {
  e.preventDefault();
  if (running) return;
  const files = [...(e.dataTransfer?.files ?? [])];
  if (files.length) void loadInput(files, files.length === 1 ? files[0]!.name : `${files.length} files`);
});
// Dropping a file outside the zone must not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

function describeInputProblem(files: File[]): string | undefined {
  if (files.length === 0) return 'no files were selected';
  return undefined;
}

async function loadInput(files: File[], label: string): Promise<void> {
  if (running) return;
  clearError();
  clearNotice();
  const problem = describeInputProblem(files);
  if (problem) return showError(new HQQError('INVALID_ARGUMENT', problem), 'Opening the model');
  const shards = new Map<string, File>();
  const ignored: string[] = [];
  const indexFiles: File[] = [];
  for (const f of files) {
    if (/\.safetensors$/i.test(f.name)) {
      if (shards.has(f.name)) return showError(new HQQError('INVALID_ARGUMENT', `${f.name} was selected twice`), 'Opening the model');
      shards.set(f.name, f);
    } else if (/index\.json$/i.test(f.name)) indexFiles.push(f);
    else ignored.push(f.name);
  }
  try {
    if (shards.size === 0) {
      throw new HQQError('BAD_FILE', `none of the selected files is a .safetensors file (${files.map((f) => f.name).join(', ')}); choose the model's .safetensors file, or every shard plus model.safetensors.index.json`);
    }
    if (indexFiles.length > 1) throw new HQQError('INVALID_ARGUMENT', `${indexFiles.length} index files were selected (${indexFiles.map((f) => f.name).join(', ')}); select the shards of one model with its one index`);
    if (shards.size > 1 && indexFiles.length === 0) {
      throw new HQQError('INVALID_ARGUMENT', `${shards.size} .safetensors files but no model.safetensors.index.json; a sharded model needs its index: select it together with the shards`);
    }
    let index: LoadedInput['index'];
    if (indexFiles.length === 1) {
      const f = indexFiles[0]!;
      const text = await f.text();
      const parsed = parseIndexJson(text, f.name);
      index = { text, fileName: f.name, weightMap: parsed.weightMap };
    }
    const next: LoadedInput = { label, shards, index, ignored };
    // Opening every header and planning with the current options validates the files now.
    const report = await preview(next);
    input = next;
    suggestOutput(report);
    renderInputSummary(next, report);
    showReport(report, false, next);
    ui.plotsCard.hidden = true;
  } catch (e) {
    input = undefined;
    ui.inputSummary.hidden = true;
    hideResults();
    showError(e, 'Opening the model');
  }
  updateButtons();
}

/** Output over this size goes straight to disk by default where the browser can (not the user's choice yet). */
const STREAM_ABOVE_BYTES = 1e9;
let outputChosenByUser = false;
for (const radio of ui.form.querySelectorAll<HTMLInputElement>('input[name="output"]')) {
  radio.addEventListener('change', () => {
    outputChosenByUser = true;
  });
}

function suggestOutput(report: QuantizeModelReport): void {
  if (outputChosenByUser) return;
  const big = report.totals.fileBytes > STREAM_ABOVE_BYTES && fileSystemAccess().directory;
  const value = big ? 'directory' : 'memory';
  ui.form.querySelector<HTMLInputElement>(`input[name="output"][value="${value}"]`)!.checked = true;
}

function modelInput(inp: LoadedInput, nbits: Nbits): ModelInput {
  const sources = [...inp.shards.values()].map((f) => blobSource(f, f.name));
  if (inp.index) return { sources, index: { text: inp.index.text, fileName: inp.index.fileName } };
  const stem = sources[0]!.name.replace(/\.safetensors$/i, '');
  return { sources, outputFileName: `${stem}-hqq${String(nbits).replace('.', '_')}bit.safetensors` };
}

async function preview(inp: LoadedInput): Promise<QuantizeModelReport> {
  const opts = readOptions();
  return quantizeModel(modelInput(inp, opts.config.nbits!), undefined, { ...opts.config, dryRun: true });
}

function renderInputSummary(inp: LoadedInput, report: QuantizeModelReport): void {
  const t = report.totals;
  const s = ui.inputSummary;
  s.replaceChildren();
  const line = el('div');
  line.append(el('strong', '', inp.label), ` · ${t.tensors} tensors, ${formatCount(t.parameters)} parameters, ${formatBytes(t.bytesBefore)} of weights · ${t.quantized} to quantize, ${t.copied} copied as they are`);
  const chips = el('div', 'files');
  for (const f of inp.shards.values()) chips.append(el('span', 'chip', `${f.name} · ${formatBytes(f.size)}`));
  if (inp.index) chips.append(el('span', 'chip index', inp.index.fileName));
  s.append(line, chips);
  if (inp.ignored.length) s.append(el('div', 'ignored', `Ignored (not model weights): ${inp.ignored.join(', ')}`));
  s.hidden = false;
}

// ------------------------------------------------------------------------------------------------
// Options

interface PageOptions {
  config: QuantizeModelOptions;
  workers: number;
  output: 'memory' | 'directory' | 'file';
}

function readOptions(): PageOptions {
  const nbits = Number(ui.nbits.value) as Nbits;
  const groupText = ui.group.value.trim();
  const groupSize = Number(groupText);
  if (!/^\d+$/.test(groupText) || !Number.isSafeInteger(groupSize) || groupSize < 1) {
    throw new HQQError('INVALID_ARGUMENT', `group size "${ui.group.value}" must be a positive whole number such as 64 or 128`);
  }
  const workersText = ui.workers.value.trim();
  const workers = Number(workersText);
  if (!/^\d+$/.test(workersText) || workers < 1 || workers > 64) {
    throw new HQQError('INVALID_ARGUMENT', `workers "${ui.workers.value}" must be a whole number from 1 to 64`);
  }
  const regex = (text: string, what: string): RegExp | undefined => {
    if (text.trim() === '') return undefined;
    try {
      return new RegExp(text);
    } catch (e) {
      throw new HQQError('INVALID_ARGUMENT', `${what} "${text}" is not a valid regular expression: ${(e as Error).message}`);
    }
  };
  const output = (ui.form.querySelector<HTMLInputElement>('input[name="output"]:checked')?.value ?? 'memory') as PageOptions['output'];
  return {
    config: {
      nbits,
      groupSize,
      axis: ui.axis.value === '0' ? 0 : 1,
      optimize: ui.optimize.checked,
      computeDtype: ui.dtype.value as ComputeDtype,
      include: regex(ui.include.value, 'include'),
      exclude: regex(ui.exclude.value, 'exclude'),
    },
    workers,
    output,
  };
}

let previewTimer: ReturnType<typeof setTimeout> | undefined;
ui.form.addEventListener('input', () => {
  clearTimeout(previewTimer);
  previewTimer = setTimeout(refreshPreview, 250);
});
ui.form.addEventListener('submit', (e) => e.preventDefault());

async function refreshPreview(): Promise<void> {
  if (running) return;
  try {
    const opts = readOptions();
    ui.group.setCustomValidity('');
    const inp = input;
    if (!inp) return;
    const report = await quantizeModel(modelInput(inp, opts.config.nbits!), undefined, { ...opts.config, dryRun: true });
    if (input !== inp) return; // another model was opened (or failed to open) meanwhile
    if (ui.error.dataset.context === 'Options') clearError(); // a run's error stays until dismissed
    renderInputSummary(inp, report);
    showReport(report, false, inp);
  } catch (e) {
    showError(e, 'Options');
  }
}

// ------------------------------------------------------------------------------------------------
// Running

ui.runBtn.addEventListener('click', () => void run());
ui.cancelBtn.addEventListener('click', () => {
  if (!running) return;
  ui.cancelBtn.disabled = true;
  ui.progressText.textContent = 'Cancelling: stopping the workers…';
  running.controller.abort(new Error('cancelled by the user'));
});

async function makeSink(output: PageOptions['output'], suggestedName: string): Promise<BrowserSink> {
  if (output === 'memory') return memorySink();
  return pickOutput(output, suggestedName);
}

async function run(): Promise<void> {
  if (running || !input || !hqq) return;
  const inp = input;
  let opts: PageOptions;
  try {
    opts = readOptions();
  } catch (e) {
    return showError(e, 'Options');
  }
  const mi = modelInput(inp, opts.config.nbits!);
  let sink: BrowserSink;
  try {
    sink = await makeSink(opts.output, mi.outputFileName ?? 'model.safetensors'); // first await: keeps the click's user activation
  } catch (e) {
    if (e instanceof HQQError && e.code === 'ABORTED') return; // the picker was closed
    return showError(e, 'Choosing where to save');
  }
  clearError();
  clearNotice();
  revokeDownloads();
  const controller = new AbortController();
  running = { controller, sink, started: performance.now(), inFlight: new Set() };
  const state = running;
  updateButtons();
  ui.cancelBtn.disabled = false;
  ui.progressCard.hidden = false;
  ui.progress.value = 0;
  ui.progressText.textContent = 'Starting the workers…';
  ui.progressEta.textContent = '';
  ui.progressCurrent.textContent = '';
  document.documentElement.dataset.run = 'running';
  const module = hqq.module;
  try {
    const report = await quantizeModel(mi, sink, {
      ...opts.config,
      workers: opts.workers,
      compareRtn: true,
      signal: controller.signal,
      createPool: (size) => createWebPool({ size, module }),
      onProgress: (ev) => onProgress(state, ev),
    });
    running = undefined;
    ui.progressCard.hidden = true;
    showReport(report, true, inp);
    renderDownloads(sink, report);
    document.documentElement.dataset.run = 'done';
  } catch (e) {
    running = undefined;
    await sink.abortAll().catch(() => {});
    ui.progressCard.hidden = true;
    if (e instanceof HQQError && e.code === 'ABORTED' && controller.signal.aborted) {
      document.documentElement.dataset.run = 'cancelled';
      showNotice('Cancelled. The workers were stopped and no output was kept.');
      void refreshPreview();
    } else {
      document.documentElement.dataset.run = 'failed';
      showError(e, 'Quantization failed');
      void refreshPreview();
    }
  } finally {
    running = undefined;
    ui.cancelBtn.disabled = false;
    updateButtons();
  }
}

function showNotice(text: string): void {
  ui.notice.textContent = text;
  ui.notice.hidden = false;
}

function clearNotice(): void {
  ui.notice.hidden = true;
}

let progressFrame = 0;
function onProgress(state: RunState, ev: ModelProgressEvent): void {
  if (running !== state) return;
  if (ev.type === 'tensor-start') state.inFlight.add(ev.name);
  if (ev.type === 'tensor-done') {
    state.inFlight.delete(ev.name);
    if (ev.result) updateRow(ev.result, true);
  }
  state.last = ev;
  if (ev.type === 'tensor-start') markRunning(ev.name);
  if (!progressFrame) progressFrame = requestAnimationFrame(() => {
    progressFrame = 0;
    const last = state.last;
    if (!last || running !== state) return;
    const frac = last.bytesTotal > 0 ? last.bytesDone / last.bytesTotal : 0;
    ui.progress.value = frac;
    const done = [...rows.values()].filter((r) => r.dataset.state === 'done').length;
    const elapsed = (performance.now() - state.started) / 1000;
    ui.progressText.textContent = `${done} of ${last.total} tensors · ${formatBytes(last.bytesDone)} of ${formatBytes(last.bytesTotal)} · ${formatDuration(elapsed)} elapsed`;
    ui.progressEta.textContent = Number.isFinite(last.etaSeconds) ? `about ${formatDuration(last.etaSeconds)} left` : 'estimating time left…';
    const cur = [...state.inFlight];
    ui.progressCurrent.textContent = cur.length ? `now: ${cur[0]}${cur.length > 1 ? ` (+${cur.length - 1} more)` : ''}` : '';
  });
}

// ------------------------------------------------------------------------------------------------
// Results

function hideResults(): void {
  ui.resultsCard.hidden = true;
  ui.plotsCard.hidden = true;
  shown = undefined;
}

function cell(text: string, cls?: string, title?: string): HTMLTableCellElement {
  const td = el('td', cls, text);
  if (title) td.title = title;
  return td;
}

function gain(hqqRel: number | undefined, rtnRel: number | undefined): { text: string; cls: string } {
  if (hqqRel === undefined || rtnRel === undefined || !(rtnRel > 0)) return { text: '–', cls: 'num' };
  const g = (rtnRel - hqqRel) / rtnRel;
  return { text: `${g >= 0 ? '−' : '+'}${formatPercent(Math.abs(g))}`, cls: `num gain${g < 0 ? ' neg' : ''}` };
}

function fillRow(tr: HTMLTableRowElement, r: TensorReport, final: boolean): void {
  const quantized = r.action === 'quantize';
  const badge = el('span', `badge ${r.action}`, quantized ? `${r.nbits}-bit g${r.groupSize}` : 'copy');
  const action = el('td');
  action.append(badge);
  action.title = r.reason ?? `HQQ ${r.nbits}-bit, group size ${r.groupSize}, axis ${r.axis}`;
  const errs = quantized && r.meanAbs !== undefined;
  const pend = quantized && final ? '…' : '–';
  const g = gain(r.relFrobenius, r.rtn?.relFrobenius);
  tr.replaceChildren(
    cell(r.name, 'name', r.name),
    cell(formatShape(r.shape), 'mono'),
    cell(r.dtype, 'mono'),
    action,
    cell(`${formatBytes(r.bytesBefore)} → ${formatBytes(r.bytesAfter)}`, 'num'),
    cell(r.bitsPerWeight.toFixed(2), 'num'),
    cell(errs ? formatSci(r.meanAbs) : pend, 'num'),
    cell(errs ? formatPercent(r.relFrobenius, 2) : pend, 'num'),
    cell(errs && r.rtn ? formatSci(r.rtn.meanAbs) : pend, 'num'),
    cell(errs && r.rtn ? formatPercent(r.rtn.relFrobenius, 2) : pend, 'num'),
    cell(g.text, g.cls),
  );
  tr.className = quantized ? 'quantized' : 'copied';
  tr.dataset.action = r.action;
  tr.dataset.state = final ? 'done' : 'planned';
  if (errs) tr.dataset.rel = String(r.relFrobenius);
  tr.tabIndex = 0;
}

function updateRow(r: TensorReport, final: boolean): void {
  const tr = rows.get(r.name);
  if (tr) fillRow(tr, r, final);
}

function markRunning(name: string): void {
  const tr = rows.get(name);
  if (tr && tr.dataset.state !== 'done') tr.dataset.state = 'running';
}

function showReport(report: QuantizeModelReport, final: boolean, inp: LoadedInput): void {
  shown = { report, final, input: inp };
  const body = ui.table.tBodies[0]!;
  rows.clear();
  body.replaceChildren();
  for (const r of report.tensors) {
    const tr = document.createElement('tr');
    tr.dataset.name = r.name;
    fillRow(tr, r, final || false);
    if (!final) tr.dataset.state = 'planned';
    rows.set(r.name, tr);
    body.append(tr);
  }
  const t = report.totals;
  const foot = ui.table.tFoot!;
  const g = gain(final ? report.relFrobenius : undefined, report.rtn?.relFrobenius);
  const tr = document.createElement('tr');
  tr.append(
    cell(`Total: ${t.tensors} tensors (${t.quantized} quantized)`, 'name'),
    cell(`${formatCount(t.parameters)} params`, 'mono'),
    cell(''),
    cell(''),
    cell(`${formatBytes(t.bytesBefore)} → ${formatBytes(t.bytesAfter)}`, 'num'),
    cell(t.bitsPerWeight ? t.bitsPerWeight.toFixed(2) : '–', 'num', 'over the quantized tensors (W_q, scale, zero and the config tensors)'),
    cell(final && t.quantized ? formatSci(report.meanAbs) : '–', 'num'),
    cell(final && t.quantized ? formatPercent(report.relFrobenius, 2) : '–', 'num'),
    cell(final && report.rtn ? formatSci(report.rtn.meanAbs) : '–', 'num'),
    cell(final && report.rtn ? formatPercent(report.rtn.relFrobenius, 2) : '–', 'num'),
    cell(g.text, g.cls),
  );
  foot.replaceChildren(tr);
  ui.resultsTitle.replaceChildren(el('span', 'step', '3'), final ? 'Results' : 'Plan (nothing is computed yet)');
  renderSummary(report, final);
  if (!final) ui.downloads.replaceChildren();
  ui.resultsCard.hidden = false;
  ui.resultsCard.dataset.final = String(final);
}

function stat(k: string, v: string, cls = ''): HTMLElement {
  const d = el('div', 'stat');
  d.append(el('div', 'k', k), el('div', `v ${cls}`, v));
  return d;
}

function renderSummary(report: QuantizeModelReport, final: boolean): void {
  const t = report.totals;
  const items: HTMLElement[] = [
    stat('Model size', `${formatBytes(t.bytesBefore)} → ${formatBytes(t.bytesAfter)}`),
    stat('Quantized weights', `${formatBytes(t.quantizedBytesBefore)} → ${formatBytes(t.quantizedBytesAfter)}`),
    stat('Bits per weight', t.bitsPerWeight ? t.bitsPerWeight.toFixed(2) : '–'),
  ];
  if (final && t.quantized > 0) {
    items.push(stat('Relative error HQQ', formatPercent(report.relFrobenius, 2)));
    if (report.rtn) {
      items.push(stat('Relative error RTN', formatPercent(report.rtn.relFrobenius, 2)));
      const g = gain(report.relFrobenius, report.rtn.relFrobenius);
      items.push(stat('HQQ error vs RTN', g.text, g.cls.includes('neg') ? '' : 'good'));
    }
    items.push(stat('Time', `${formatDuration(report.seconds)} · ${report.workers} worker${report.workers === 1 ? '' : 's'}`));
  }
  ui.resultsSummary.replaceChildren(...items);
}

function revokeDownloads(): void {
  for (const u of objectUrls) URL.revokeObjectURL(u);
  objectUrls = [];
  ui.downloads.replaceChildren();
}

function renderDownloads(sink: BrowserSink, report: QuantizeModelReport): void {
  revokeDownloads();
  const files = sink.files();
  if (sink.kind !== 'memory') {
    ui.downloads.append(el('span', '', `Saved ${files.length} file${files.length === 1 ? '' : 's'} to the ${sink.location}: ${files.map((f) => f.fileName).join(', ')}`));
    return;
  }
  const withBlobs = files.filter((f): f is OutputFile & { blob: Blob } => f.blob !== undefined);
  ui.downloads.append(el('span', '', `Output (${report.index ? 'sharded, with index' : 'one file'}):`));
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

// ------------------------------------------------------------------------------------------------
// Plots of one tensor

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

function shardOf(inp: LoadedInput, tensor: string): File | undefined {
  if (inp.index) {
    const shard = inp.index.weightMap.get(tensor);
    return shard === undefined ? undefined : inp.shards.get(shard);
  }
  return inp.shards.values().next().value;
}

function openPlots(name: string): void {
  if (!shown || !ready.inspector) return;
  const r = shown.report.tensors.find((t) => t.name === name);
  const file = shardOf(shown.input, name);
  if (!r || !file) return;
  for (const [n, tr] of rows) tr.setAttribute('aria-selected', String(n === name));
  const config: InspectConfig | undefined = r.action === 'quantize'
    ? { nbits: r.nbits as Nbits, groupSize: r.groupSize!, axis: r.axis!, roundZero: roundZeroOf(shown.report, r.nbits!) }
    : undefined;
  inspectSeq++;
  inspected = { result: undefined as unknown as InspectResult, config, file };
  ui.plotsCard.hidden = false;
  ui.plotsCard.dataset.state = 'computing';
  ui.plotsTitle.textContent = name;
  ui.groupNav.hidden = true;
  ui.plots.replaceChildren();
  ui.plotsStatus.textContent = config
    ? `Quantizing this tensor with HQQ and with round-to-nearest (${r.nbits}-bit, group ${r.groupSize}, axis ${r.axis}) in a worker…`
    : 'Reading its values…';
  inspector.postMessage({ type: 'inspect', id: inspectSeq, file, fileName: file.name, tensor: name, config, note: r.reason ? `Not quantized: ${r.reason}.` : undefined } satisfies InspectRequest);
  ui.plotsCard.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

function roundZeroOf(report: QuantizeModelReport, nbits: number): boolean {
  const rz = 'round_zero' in report.config ? report.config.round_zero : undefined;
  return typeof rz === 'boolean' ? rz : nbits === 4;
}

function renderPlots(): void {
  const r = inspected?.result;
  if (!r) return;
  const box = (svg: SVGSVGElement, cls = '') => {
    const d = el('div', `plot-box ${cls}`);
    d.append(svg);
    return d;
  };
  const parts: HTMLElement[] = [box(weightsPlot(r), 'weights')];
  const q = r.quant;
  if (q) {
    parts.push(box(errorPlot(r), 'errors'));
    parts.push(box(groupPlot(q.group, inspected!.config!.nbits), 'wide-plot group'));
    ui.groupNav.hidden = false;
    ui.groupIndex.max = String(q.group.count - 1);
    ui.groupIndex.value = String(q.group.index);
    const slice = r.rows < r.totalRows ? ` Plots use the first ${r.rows} of ${r.totalRows} rows.` : '';
    ui.plotsStatus.textContent = `HQQ: ${q.iterations} solver iterations, mean |error| ${formatSci(q.hqqStats.meanAbs)}, relative ${formatPercent(q.hqqStats.relFrobenius, 2)} · round-to-nearest: mean |error| ${formatSci(q.rtnStats.meanAbs)}, relative ${formatPercent(q.rtnStats.relFrobenius, 2)}.${slice}`;
  } else {
    ui.groupNav.hidden = true;
    ui.plotsStatus.textContent = r.note ?? '';
  }
  ui.plots.replaceChildren(...parts);
  ui.plotsCard.dataset.state = 'ready';
}

function requestGroup(group: number | undefined): void {
  const q = inspected?.result?.quant;
  if (!q) return;
  inspectSeq++;
  if (group === undefined) {
    // 'widest' is computed by a fresh inspect of the same tensor (cheap for the sizes plotted).
    const name = inspected!.result.tensor;
    inspector.postMessage({ type: 'inspect', id: inspectSeq, file: inspected!.file, fileName: inspected!.file.name, tensor: name, config: inspected!.config } satisfies InspectRequest);
    return;
  }
  const g = Math.min(Math.max(0, group), q.group.count - 1);
  inspector.postMessage({ type: 'group', id: inspectSeq, group: g } satisfies InspectRequest);
}

ui.groupPrev.addEventListener('click', () => requestGroup((inspected?.result.quant?.group.index ?? 0) - 1));
ui.groupNext.addEventListener('click', () => requestGroup((inspected?.result.quant?.group.index ?? 0) + 1));
ui.groupWidest.addEventListener('click', () => requestGroup(undefined));
ui.groupIndex.addEventListener('change', () => {
  const v = Number(ui.groupIndex.value);
  if (Number.isInteger(v)) requestGroup(v);
});

// ------------------------------------------------------------------------------------------------

document.documentElement.dataset.state = 'loading';
applyOutputAvailability();
void startEngine();
void prefetchSample();
