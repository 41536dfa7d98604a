/**
 * Node worker pool on worker_threads. Every worker instantiates the one compiled
 * WebAssembly.Module it is sent (no recompilation); input buffers are transferred, not copied,
 * and SharedArrayBuffers are shared (`sharesMemory`). Default size: `os.availableParallelism()`.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HQQError } from '../errors.js';
import { createPortPool, type WorkerPort } from './pool.js';
import type { FromWorker, WorkerPool } from './types.js';

/** Options of `createNodePool`. */
export interface NodePoolOptions {
  /** Number of workers (default `os.availableParallelism()`). */
  size?: number;
  /** The compiled module to share, e.g. `(await loadHQQ()).module`. */
  module: WebAssembly.Module;
  /** Override the worker script (default: the compiled `node-worker.js` next to this file). */
  workerUrl?: URL | string;
  /**
   * Whether tasks may carry SharedArrayBuffers (`WorkerPool.sharesMemory`; the model pipeline then
   * keeps its recycled buffers in shared memory). Default: true with the package's own worker
   * script, false with a `workerUrl` (a script that transfers every result buffer would fail on
   * shared ones).
   */
  sharesMemory?: boolean;
}

/** The default pool size: `os.availableParallelism()` (at least 1). */
export function defaultNodeWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** Finds the compiled worker script; from the TypeScript sources (tests) it is the one in web/dist. */
export function nodeWorkerUrl(): URL {
  const here = new URL('./node-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const dist = new URL('../../dist/pool/node-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(dist))) return dist;
  throw new HQQError(
    'INTERNAL',
    `the worker script ${fileURLToPath(here)} is missing (and no built copy in ${fileURLToPath(dist)}); run npm run build (scripts/build.sh) to compile web/dist`,
  );
}

/**
 * Starts a pool of worker_threads, each instantiating `options.module` (no recompilation). Throws
 * `INVALID_ARGUMENT` without a compiled module or with a `size` that is not a positive integer.
 * When a worker dies, its task and every later one reject with `WORKER_FAILED`. Call `terminate()`
 * when done: the workers keep the process alive until then.
 */
export function createNodePool(options: NodePoolOptions): WorkerPool {
  if (!(options?.module instanceof WebAssembly.Module)) {
    throw new HQQError('INVALID_ARGUMENT', 'createNodePool: pass the compiled module, e.g. createNodePool({ module: (await loadHQQ()).module })');
  }
  const size = options.size ?? defaultNodeWorkers();
  const url = options.workerUrl ?? nodeWorkerUrl();
  return createPortPool(size, options.module, () => {
    const w = new Worker(url); // kept referenced: the pool's owner must terminate() it (quantizeModel always does)
    const port: WorkerPort = {
      post: (msg, transfer) => w.postMessage(msg, transfer ?? []),
      listen(h) {
        w.on('message', (m: FromWorker) => h.message(m));
        w.on('error', (e: Error) => h.error(e));
        w.on('exit', (code: number) => h.exit(code));
      },
      terminate: async () => {
        await w.terminate();
      },
    };
    return port;
  }, 'worker_threads', options.sharesMemory ?? options.workerUrl === undefined);
}
