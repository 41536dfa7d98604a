/**
 * Web Worker entry (module worker): one wasm instance per worker from the WebAssembly.Module the
 * pool posts in its init message.
 */
import { instantiate } from '../wasm-loader.js';
import { createWorkerHandler } from './task.js';

const scope = globalThis as unknown as {
  postMessage(msg: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', cb: (e: MessageEvent) => void): void;
};
const handle = createWorkerHandler(
  instantiate,
  (msg, transfer) => scope.postMessage(msg, transfer ?? []),
  (name) => {
    // Test hook: an uncaught error, which the pool sees as a crashed worker.
    setTimeout(() => {
      throw new Error(`test hook: worker dies on tensor ${name}`);
    }, 0);
  },
);
scope.addEventListener('message', (e) => handle(e.data));
