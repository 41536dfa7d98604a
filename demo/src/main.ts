/**
 * The demo page. All numerics run in the package: the whole model goes through `quantizeModel`
 * (imported from 'hqq-wasm', as any app would) on a pool of Web Workers, one wasm instance each;
 * the plots of one tensor come from the plot worker (inspect-worker.ts). This file wires the
 * page's parts together:
 *   collect.ts / model-input.ts  what the user opened (files, a folder, a drop) and what it holds
 *   preview.ts                   the plan of every change (dry run), the input summary
 *   options.ts / warnings.ts     the form, the plan's warnings
 *   run.ts                       a run, its progress and downloads
 *   table.ts / plots-panel.ts    the per-tensor table, the plots of one row
 *   engine.ts / sample.ts        loading the quantizer and the built-in sample
 */
import { fromFileList, takeDrop, type PickedFiles } from './collect';
import { ui } from './dom';
import { startEngine } from './engine';
import { FORMAT_RADIOS, showFormatSettings } from './options';
import { applyOutputAvailability, openPicked, refreshPreview } from './preview';
import { run } from './run';
import { prefetchSample, sampleFiles } from './sample';
import { app } from './state';

// Readiness: the tests wait for data-state="ready" (everything the page needs is loaded).
function updateReady(): void {
  const r = app.ready;
  document.documentElement.dataset.state = r.engine && r.sample && r.inspector && r.pool ? 'ready' : 'loading';
  updateButtons();
}

function updateButtons(): void {
  const busy = app.running !== undefined;
  ui.runBtn.disabled = !app.ready.engine || !app.input || busy;
  ui.sampleBtn.disabled = !app.ready.sample || busy;
  ui.fileInput.disabled = busy;
  ui.folderInput.disabled = busy;
  ui.folderBtn.disabled = busy;
  ui.dropzone.classList.toggle('disabled', busy);
  ui.cancelBtn.hidden = !busy;
  for (const e of ui.form.elements) (e as HTMLInputElement).disabled = busy;
  if (!busy) {
    applyOutputAvailability();
    // Re-applies the formats the input cannot give (the loop above enabled every field).
    for (const n of app.needs ?? []) FORMAT_RADIOS[n.format]().disabled = !n.ok;
  }
}

const open = (picked: PickedFiles) => void openPicked(picked, updateButtons);

ui.sampleBtn.addEventListener('click', () => {
  if (sampleFiles) open({ files: sampleFiles, folderName: 'sample', subfolders: [], label: 'built-in sample' });
});

ui.fileInput.addEventListener('change', () => {
  const picked = fromFileList(ui.fileInput.files ?? []);
  ui.fileInput.value = ''; // choosing the same files again still fires change
  if (picked.files.length || picked.subfolders.length) open(picked);
});
ui.folderBtn.addEventListener('click', () => ui.folderInput.click());
ui.folderInput.addEventListener('change', () => {
  const picked = fromFileList(ui.folderInput.files ?? []);
  ui.folderInput.value = '';
  open(picked);
});

for (const type of ['dragenter', 'dragover'] as const) {
  ui.dropzone.addEventListener(type, (e) => {
    e.preventDefault();
    if (!app.running) ui.dropzone.classList.add('over');
  });
}
for (const type of ['dragleave', 'drop'] as const) {
  ui.dropzone.addEventListener(type, () => ui.dropzone.classList.remove('over'));
}
ui.dropzone.addEventListener('drop', (e) => {
  e.preventDefault();
  if (app.running || !e.dataTransfer) return;
  const read = takeDrop(e.dataTransfer); // now: the DataTransfer is emptied after this handler
  void read().then(open, (err) => open({ files: [], subfolders: [], label: `the drop (${(err as Error).message})` }));
});
// Dropping a file outside the zone must not navigate away from the page.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

let previewTimer: ReturnType<typeof setTimeout> | undefined;
ui.form.addEventListener('input', (e) => {
  if ((e.target as HTMLInputElement).name === 'format') showFormatSettings(app.input);
  clearTimeout(previewTimer);
  previewTimer = setTimeout(() => void refreshPreview(), 250);
});
ui.form.addEventListener('submit', (e) => e.preventDefault());
ui.runBtn.addEventListener('click', () => void run(updateButtons, refreshPreview));

document.documentElement.dataset.state = 'loading';
applyOutputAvailability();
showFormatSettings(undefined);
void startEngine(updateReady);
void prefetchSample(updateReady);
