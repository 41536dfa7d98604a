/**
 * Browser worker pool on module Web Workers. Default size: `navigator.hardwareConcurrency`.
 *
 * The worker script is the package's self-contained `hqq-wasm/worker` (web/wasm/hqq-worker.js),
 * named by a literal `new URL(..., import.meta.url)` in web/wasm/assets.mjs that bundlers follow.
 * When a worker cannot start, the pool finds out why (HTTP status, MIME type, CSP) and says so
 * with the worker's URL and the fix.
 */
import { poolWorkerUrl } from '../../wasm/assets.mjs';
import { fileNameOf, missingAssetFix } from '../bundling.js';
import { HQQError } from '../errors.js';
import { createPortPool, type WorkerPort } from './pool.js';
import type { FromWorker, WorkerPool } from './types.js';

/** Options of `createWebPool`. */
export interface WebPoolOptions {
  /** Number of workers (default `navigator.hardwareConcurrency`, at least 1). */
  size?: number;
  /** The compiled module to share: `(await loadHQQ()).module`. */
  module: WebAssembly.Module;
  /**
   * The worker script (`hqq-wasm/worker`, a copy of node_modules/hqq-wasm/web/wasm/hqq-worker.js),
   * when it is served from somewhere else than where the package finds it by itself. A string is
   * resolved against the page's URL.
   */
  workerUrl?: URL | string;
}

/** The default pool size: `navigator.hardwareConcurrency` (at least 1). */
export function defaultWebWorkers(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n >= 1 ? Math.floor(n) : 1;
}

function resolveWorkerUrl(workerUrl: URL | string | undefined): { url: URL; shipped: boolean } {
  if (workerUrl === undefined) return { url: poolWorkerUrl(), shipped: true };
  if (workerUrl instanceof URL) return { url: workerUrl, shipped: false };
  if (typeof workerUrl !== 'string') {
    throw new HQQError('INVALID_ARGUMENT', `createWebPool option workerUrl must be a URL or a string, got ${typeof workerUrl}`);
  }
  try {
    return { url: new URL(workerUrl, typeof location !== 'undefined' ? location.href : undefined), shipped: false };
  } catch {
    throw new HQQError('INVALID_ARGUMENT', `createWebPool option workerUrl ${JSON.stringify(workerUrl)} is not a valid URL`);
  }
}

const JAVASCRIPT_MIME = /^(text|application)\/(javascript|ecmascript|x-javascript)\b/i;

/**
 * Why the worker at `url` did not start, found by fetching the script: HTTP status, MIME type, or
 * (the script loads fine) a Content-Security-Policy.
 */
async function explainStartFailure(url: URL, shipped: boolean, event: Event): Promise<string> {
  const thrown = (event as ErrorEvent).message;
  if (thrown) return `the worker script ${url.href} failed while starting: ${thrown}`;
  const fix = shipped ? missingAssetFix(url, 'createWebPool({ workerUrl })') : 'check the URL given as createWebPool({ workerUrl })';
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-store' });
  } catch (e) {
    return `could not load the worker script ${url.href} (${(e as Error).message}); ${fix}`;
  }
  if (!response.ok) return `could not load the worker script ${url.href}: HTTP ${response.status}; ${fix}`;
  const type = response.headers.get('content-type') ?? '';
  if (!JAVASCRIPT_MIME.test(type)) {
    const html = /html/i.test(type) ? ' (an HTML page: a missing file answered by a fallback page?)' : '';
    return `the worker script ${url.href} is served as ${type ? JSON.stringify(type) : 'no content type'}${html}, and module workers need a JavaScript MIME type: ` +
      `serve ${fileNameOf(url)} as text/javascript${shipped ? `; if the file is missing, ${fix}` : ''}`;
  }
  return `the worker script ${url.href} is served but the browser refused to start it: a Content-Security-Policy that leaves it out ` +
    `(allow its origin in worker-src, or script-src without worker-src), or a URL of another origin (serve the worker from the page's origin)`;
}

function startWorker(url: URL): Worker {
  try {
    return new Worker(url, { type: 'module', name: 'hqq-wasm' });
  } catch (e) {
    throw new HQQError('UNSUPPORTED', `createWebPool: the browser refused to start a worker from ${url.href} (${(e as Error).message}); ` +
      'a worker must come from the page\'s origin and be allowed by the Content-Security-Policy (worker-src or script-src)', { cause: e });
  }
}

/** The pool's view of one Web Worker; start failures are explained before they are reported. */
function webWorkerPort(url: URL, shipped: boolean): WorkerPort {
  const w = startWorker(url);
  let started = false; // a first message came: the script runs
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer ?? []),
    listen(h) {
      w.addEventListener('message', (e: MessageEvent<FromWorker>) => {
        started = true;
        h.message(e.data);
      });
      w.addEventListener('error', (e: Event) => {
        e.preventDefault();
        if (started) h.error(new Error((e as ErrorEvent).message || 'worker error'));
        else void explainStartFailure(url, shipped, e).then((why) => h.error(new Error(why)));
      });
      w.addEventListener('messageerror', () => h.error(new Error('a message from the worker could not be deserialized')));
    },
    terminate: () => w.terminate(),
  };
}

/**
 * A pool of `size` module Web Workers sharing one compiled module. Tasks run one per worker at a
 * time; see `WorkerPool` for failures (WORKER_FAILED names the tensor, or the worker's URL and the
 * fix when a worker cannot start).
 */
export function createWebPool(options: WebPoolOptions): WorkerPool {
  if (!(options?.module instanceof WebAssembly.Module)) {
    throw new HQQError('INVALID_ARGUMENT', 'createWebPool: pass the compiled module, e.g. createWebPool({ module: (await loadHQQ()).module })');
  }
  if (typeof Worker === 'undefined') throw new HQQError('UNSUPPORTED', 'createWebPool: Web Workers are not available here; use createInlinePool(hqq) (or createNodePool in Node)');
  const { url, shipped } = resolveWorkerUrl(options.workerUrl);
  const size = options.size ?? defaultWebWorkers();
  return createPortPool(size, options.module, () => webWorkerPort(url, shipped), 'Web');
}
