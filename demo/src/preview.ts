/**
 * Opening a model and re-planning it: every change of input or option runs `quantizeModel` with
 * `dryRun: true` (headers only), which validates the files and options at once and gives the plan
 * the table shows, with the plan's warnings. Also the input summary: which files were found, what
 * each output format needs and whether it is there.
 */
import { HQQError, fileSystemAccess, quantizeModel, type ModelInput, type QuantizeModelReport } from 'hqq-wasm';
import type { PickedFiles } from './collect';
import { ui } from './dom';
import { el, formatBytes, formatCount } from './format';
import { loadPicked, modelInputFor, needsOf, onnxOutputFor, type LoadedInput, type Needs } from './model-input';
import { missingDataError } from './onnx-input';
import { clearError, clearNotice, showError } from './notices';
import { applyFormatAvailability, readOptions, type PageOptions } from './options';
import { hidePlots } from './plots-panel';
import { app } from './state';
import { hideResults, showReport } from './table';
import { renderWarnings } from './warnings';

/** The output file name of a single-file output, where the page chooses it. */
function outputName(inp: LoadedInput, opts: PageOptions): string | undefined {
  const first = [...inp.weights.keys()][0]!;
  if (opts.format === 'onnx') return inp.onnx ? onnxOutputFor(inp, opts.config.onnx?.bits ?? 4) : undefined;
  if (opts.format === 'gguf') {
    const preset = (opts.config.gguf?.preset ?? 'Q4_K_M');
    return inp.kind === 'gguf' ? `${first.replace(/\.gguf$/i, '').replace(/-(F16|F32|BF16|Q\d\w*)$/i, '')}-${preset}.gguf` : undefined; // a folder: the library names it after the model
  }
  if (opts.format === 'hqq-folder') return undefined; // the folder keeps model.safetensors
  return `${first.replace(/\.safetensors$/i, '')}-hqq${String(opts.config.nbits).replace('.', '_')}bit.safetensors`;
}

export function inputFor(inp: LoadedInput, opts: PageOptions): ModelInput {
  return modelInputFor(inp, opts.format, outputName(inp, opts));
}

async function plan(inp: LoadedInput): Promise<QuantizeModelReport> {
  const opts = readOptions();
  return quantizeModelDry(inputFor(inp, opts), opts);
}

async function quantizeModelDry(mi: ModelInput, opts: PageOptions): Promise<QuantizeModelReport> {
  return quantizeModel(mi, undefined, { ...opts.config, workers: opts.workers, dryRun: true });
}

/** Output over this size goes straight to disk by default where the browser can (until the user chooses). */
const STREAM_ABOVE_BYTES = 1e9;
let outputChosenByUser = false;
for (const radio of ui.form.querySelectorAll<HTMLInputElement>('input[name="output"]')) {
  radio.addEventListener('change', () => {
    outputChosenByUser = true;
  });
}

function suggestOutput(report: QuantizeModelReport): void {
  if (outputChosenByUser) return;
  const fsa = fileSystemAccess();
  const big = report.totals.fileBytes > STREAM_ABOVE_BYTES;
  // A big one-file output (a GGUF) streams into a file chosen with the save dialog; several files into a folder.
  const value = !big ? 'memory' : report.files.length === 1 && fsa.saveFile ? 'file' : fsa.directory ? 'directory' : 'memory';
  ui.form.querySelector<HTMLInputElement>(`input[name="output"][value="${value}"]`)!.checked = true;
}

/** Where the output can go: one file only for a one-file output. */
export function applyOutputAvailability(): void {
  const fsa = fileSystemAccess();
  const files = app.shown?.report.files.length ?? 1;
  ui.outDirectory.disabled = !fsa.directory;
  ui.outFile.disabled = !fsa.saveFile || files > 1;
  ui.outDirectory.parentElement!.title = fsa.directory ? 'Writes every output file into a folder you choose, as it is produced (File System Access API)' : 'This browser has no File System Access API';
  ui.outFile.parentElement!.title = !fsa.saveFile ? 'This browser has no File System Access API' : files > 1 ? `This output has ${files} files: choose a folder` : 'Streams the single output file to disk';
  const chosen = ui.form.querySelector<HTMLInputElement>('input[name="output"]:checked');
  if (chosen?.disabled) ui.form.querySelector<HTMLInputElement>('input[name="output"][value="memory"]')!.checked = true;
}

function roleOf(inp: LoadedInput, name: string): string {
  if (inp.onnx && inp.onnx.external.names.some((n) => n.split(/[\\/]/).pop() === name)) return 'external-data';
  if (inp.weights.has(name)) return 'weights';
  if (inp.index?.fileName === name) return 'index';
  if (name === 'config.json') return 'config';
  if (/^tokenizer|special_tokens_map|chat_template/.test(name)) return 'tokenizer';
  return 'other';
}

function needsLine(n: Needs): HTMLElement {
  const labels = { hqq: 'HQQ safetensors', 'hqq-folder': 'HQQ folder', gguf: 'GGUF', onnx: 'ONNX' } as const;
  const li = el('li', n.ok ? 'ok' : 'missing');
  li.dataset.format = n.format;
  li.append(el('strong', '', `${labels[n.format]}: `));
  n.needed.forEach((x, i) => {
    li.append(el('span', x.present ? 'have' : 'lack', `${x.present ? '✓' : '✗'} ${x.name}`), el('span', 'why', ` (${x.why})${i < n.needed.length - 1 ? ', ' : ''}`));
  });
  for (const x of n.optional) {
    const span = el('span', `optional ${x.present ? 'have' : 'absent'}`, `; ${x.present ? '✓' : 'optional, not found:'} ${x.name}`);
    span.dataset.optional = x.name;
    li.append(span, el('span', 'why', ` (${x.why})`));
  }
  return li;
}

/** The summary of what was opened; without a report when it cannot be planned (missing external data). */
function renderInputSummary(inp: LoadedInput, report: QuantizeModelReport | undefined): void {
  const s = ui.inputSummary;
  const line = el('div');
  line.append(el('strong', '', inp.label));
  if (report) {
    const t = report.totals;
    line.append(` · ${t.tensors} tensors, ${formatCount(t.parameters)} parameters, ${formatBytes(t.bytesBefore)} of weights · ${t.quantized} to quantize, ${t.copied} copied as they are`);
  }
  const ext = inp.onnx?.external;
  if (ext?.names.length) {
    const missing = ext.missing.length ? `; missing: ${ext.missing.join(', ')}` : '; all given';
    const d = el('div', `external${ext.missing.length ? ' lack' : ''}`, `External data the model names: ${ext.names.join(', ')}${missing}`);
    d.dataset.missing = ext.missing.join(',');
    line.append(d);
  }
  const chips = el('div', 'files');
  chips.setAttribute('aria-label', 'Files found');
  const all = [...inp.weights.values(), ...inp.folderFiles];
  if (inp.index) chips.append(Object.assign(el('span', 'chip index', inp.index.fileName), { title: 'the index of the shards' }));
  for (const name of inp.onnx?.external.missing ?? []) {
    const chip = el('span', 'chip missing', `${name} · missing`);
    chip.dataset.role = 'missing';
    chips.append(chip);
  }
  for (const f of all) {
    const role = roleOf(inp, f.name);
    const chip = el('span', `chip ${role}`, `${f.name} · ${formatBytes(f.size)}`);
    chip.dataset.role = role;
    chips.append(chip);
  }
  const needs = el('ul', 'needs');
  needs.setAttribute('aria-label', 'What each output format needs');
  for (const n of app.needs ?? []) needs.append(needsLine(n));
  s.replaceChildren(line, chips, needs);
  if (inp.skipped.length) s.append(el('div', 'ignored', `Not used: ${inp.skipped.map((x) => `${x.name} (${x.reason})`).join(', ')}`));
  s.hidden = false;
}

function showPlan(inp: LoadedInput, report: QuantizeModelReport): void {
  app.shown = { report, final: false, input: inp };
  renderInputSummary(inp, report);
  showReport(report, false);
  renderWarnings(report.warnings);
  applyOutputAvailability();
}

export async function openPicked(picked: PickedFiles, onChange: () => void): Promise<void> {
  if (app.running) return;
  clearError();
  clearNotice();
  try {
    if (picked.files.length === 0) throw new HQQError('INVALID_ARGUMENT', 'no files were selected (an empty folder?); choose the model folder or its files');
    const next = await loadPicked(picked);
    app.needs = needsOf(next);
    applyFormatAvailability(next, app.needs);
    if (next.onnx?.external.missing.length) {
      // Nothing can be planned without the data; the summary names what is there and what is not.
      const needs = app.needs;
      resetInput();
      app.needs = needs;
      renderInputSummary(next, undefined);
      ui.inputSummary.hidden = false;
      showError(missingDataError(next.onnx.model.name, next.onnx.external), 'Opening the model');
      onChange();
      return;
    }
    const report = await plan(next); // opens every header: the files are checked now
    app.input = next;
    suggestOutput(report);
    showPlan(next, report);
    hidePlots();
  } catch (e) {
    resetInput();
    applyFormatAvailability(undefined, undefined);
    ui.inputSummary.hidden = true;
    showError(e, 'Opening the model');
  }
  onChange();
}

/** No model open: no plan, no results, no warnings. */
function resetInput(): void {
  app.input = undefined;
  app.needs = undefined;
  app.shown = undefined;
  renderWarnings([]);
  hideResults();
}

export async function refreshPreview(): Promise<void> {
  if (app.running) return;
  try {
    const inp = app.input;
    const opts = readOptions();
    if (!inp) return;
    const report = await quantizeModelDry(inputFor(inp, opts), opts);
    if (app.input !== inp) return; // another model was opened (or failed to open) meanwhile
    if (ui.error.dataset.context === 'Options') clearError(); // a run's error stays until dismissed
    suggestOutput(report);
    showPlan(inp, report);
  } catch (e) {
    renderWarnings([]);
    showError(e, 'Options');
  }
}
