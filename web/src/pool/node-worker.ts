/**
 * worker_threads entry: one wasm instance per worker, made from the WebAssembly.Module the pool
 * sends in its init message (compiled once in the main thread).
 */
import { parentPort } from 'node:worker_threads';
import { instantiate } from '../wasm-loader.js';
import { createWorkerHandler } from './task.js';

if (!parentPort) throw new Error('node-worker.js must be started as a worker_threads Worker');
const port = parentPort;
const handle = createWorkerHandler(
  instantiate,
  (msg, transfer) => port.postMessage(msg, transfer ?? []),
  () => process.exit(3), // test hook: die like a crashed worker (ends this thread only)
);
port.on('message', handle);
