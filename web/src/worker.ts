/**
 * The worker-pool script (`hqq-wasm/worker`), a module Web Worker: one wasm instance per worker,
 * built from the WebAssembly.Module the pool posts in its init message, then one tensor per task.
 *
 * `createWebPool` starts it by itself. The package ships it bundled into one self-contained file
 * (web/wasm/hqq-worker.js, no imports), so that it works wherever it is copied; pass
 * `createWebPool({ workerUrl })` only to serve it from somewhere else.
 */
import { createWorkerHandler } from './pool/task.js';
import { instantiate } from './wasm-loader.js';

const scope = globalThis as unknown as {
  postMessage(msg: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', cb: (e: MessageEvent) => void): void;
};
const handle = createWorkerHandler(
  instantiate,
  (msg, transfer) => scope.postMessage(msg, transfer ?? []),
  (name) => {
    // Test hook (QuantizeTask.crash = 'exit'): an uncaught error, which the pool sees as a crashed worker.
    setTimeout(() => {
      throw new Error(`test hook: worker dies on tensor ${name}`);
    }, 0);
  },
);
scope.addEventListener('message', (e) => handle(e.data));
