/** The built-in sample: fetched while the page loads, so that using it later needs no request. */
import { ui } from './dom';
import { formatBytes, formatCount } from './format';
import { app } from './state';

interface SampleManifest {
  description: string;
  parameters: number;
  files: { name: string; size: number }[];
}

export let sampleFiles: File[] | undefined;

export async function prefetchSample(onChange: () => void): Promise<void> {
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
  } catch (e) {
    ui.sampleHint.textContent = `The built-in sample is not available (${(e as Error).message}); run npm run build:demo.`;
    ui.sampleBtn.hidden = true; // the page is usable without it
  }
  app.ready.sample = true;
  onChange();
}
