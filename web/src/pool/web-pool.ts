/**
 * Browser worker pool on module Web Workers. Default size: `navigator.hardwareConcurrency`.
 * Bundlers: the literal `new URL('./web-worker.js', import.meta.url)` lets Vite and others emit the
 * worker; pass `workerUrl` when serving it from elsewhere.
 */
import { HQQError } from '../errors.js';
import { createPortPool, type WorkerPort } from './pool.js';
import type { FromWorker, WorkerPool } from './types.js';

export interface WebPoolOptions {
  /** Number of workers (default `navigator.hardwareConcurrency`, at least 1). */
  size?: number;
  /** The compiled module to share: `(await loadHQQ()).module`. */
  module: WebAssembly.Module;
  workerUrl?: URL | string;
}

export function defaultWebWorkers(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n >= 1 ? Math.floor(n) : 1;
}

export function createWebPool(options: WebPoolOptions): WorkerPool {
  if (!(options?.module instanceof WebAssembly.Module)) {
    throw new HQQError('INVALID_ARGUMENT', 'createWebPool: pass the compiled module, e.g. createWebPool({ module: (await loadHQQ()).module })');
  }
  if (typeof Worker === 'undefined') throw new HQQError('UNSUPPORTED', 'createWebPool: Web Workers are not available here; use createInlinePool(hqq)');
  const size = options.size ?? defaultWebWorkers();
  return createPortPool(size, options.module, () => {
    const w = options.workerUrl !== undefined
      ? new Worker(options.workerUrl, { type: 'module' })
      : new Worker(new URL('./web-worker.js', import.meta.url), { type: 'module' });
    const port: WorkerPort = {
      post: (msg, transfer) => w.postMessage(msg, transfer ?? []),
      listen(h) {
        w.addEventListener('message', (e: MessageEvent<FromWorker>) => h.message(e.data));
        w.addEventListener('error', (e: ErrorEvent) => {
          e.preventDefault();
          h.error(new Error(e.message || 'worker error'));
        });
        w.addEventListener('messageerror', () => h.error(new Error('a message from the worker could not be deserialized')));
      },
      terminate: () => w.terminate(),
    };
    return port;
  }, 'Web');
}
