// Small harness for the demo's end-to-end tests: a static server that counts the requests it
// receives, headless Chromium (system /usr/bin/chromium through playwright-core), and a sequential
// test runner that prints one line per test and a closing "N passed, M failed".
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serve } from '../../demo/serve.mjs';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/** Serves `root`; `hits` lists every request the server received as { t, method, url }. */
export async function startServer(root) {
  const { server, url, csp } = await serve({ root, port: 0 });
  const hits = [];
  server.on('request', (req) => hits.push({ t: Date.now(), method: req.method, url: req.url }));
  return { url, csp, hits, close: () => new Promise((r) => server.close(r)) };
}

export async function launch() {
  const profile = await mkdtemp(join(tmpdir(), 'hqq-demo-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true }).catch(() => {});
    },
  };
}

export function createRunner() {
  const tests = [];
  return {
    test(name, fn) {
      tests.push({ name, fn });
    },
    /** `only(name, index)`: which tests to run (default all). */
    async run({ stopOnFailure = false, only = () => true } = {}) {
      let passed = 0;
      let failed = 0;
      for (const t of tests.filter((x, i) => only(x.name, i))) {
        const t0 = Date.now();
        try {
          await t.fn();
          passed++;
          console.log(`  ok   ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        } catch (e) {
          failed++;
          console.log(`  FAIL ${t.name}\n       ${String(e?.stack ?? e).split('\n').slice(0, 6).join('\n       ')}`);
          if (stopOnFailure) break;
        }
      }
      return { passed, failed };
    },
  };
}

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

export function assertEqual(actual, expected, message) {
  if (actual !== expected) throw new Error(`${message}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/**
 * Drops a folder on the page's drop zone as Chromium hands one over: a FileSystemDirectoryHandle
 * (made in the origin-private file system) behind `getAsFileSystemHandle`. `files` maps paths
 * inside the folder (one level of subfolder allowed, e.g. `onnx/model.onnx`) to base64 contents.
 */
export async function dropFolder(page, folderName, files) {
  await page.evaluate(async ({ folderName, files }) => {
    const root = await navigator.storage.getDirectory();
    const dir = await root.getDirectoryHandle(folderName, { create: true });
    for (const [path, b64] of Object.entries(files)) {
      const parts = path.split('/');
      const d = parts.length > 1 ? await dir.getDirectoryHandle(parts[0], { create: true }) : dir;
      const w = await (await d.getFileHandle(parts.at(-1), { create: true })).createWritable();
      await w.write(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
      await w.close();
    }
    const ev = new Event('drop', { bubbles: true, cancelable: true });
    const item = { kind: 'file', getAsFileSystemHandle: async () => dir, getAsFile: () => null, webkitGetAsEntry: () => null };
    Object.defineProperty(ev, 'dataTransfer', { value: { items: [item], files: [] } });
    document.querySelector('#dropzone').dispatchEvent(ev);
  }, { folderName, files });
}
