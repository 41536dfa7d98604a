/**
 * worker_threads entry: one wasm instance per worker, made from the WebAssembly.Module the pool
 * sends in its init message (compiled once in the main thread).
 *
 * Memory: after a large result (see gc-policy.ts) the worker runs a full or a minor GC when it can
 * get hold of `gc` (enabled through v8.setFlagsFromString, best effort). Otherwise the transferred
 * input buffer of the last tensor (up to ~90 MB for a 7B FFN weight) can linger until V8 next
 * collects; measured on a 7B model the full GC lowers the process peak by ~90 MB at no measurable
 * cost. If the trick is unavailable, nothing changes but the timing of collection.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { instantiate } from '../wasm-loader.js';
import { postThenCollect, type Collect } from './gc-policy.js';
import { createWorkerHandler } from './task.js';

if (!parentPort) throw new Error('node-worker.js must be started as a worker_threads Worker');
const port = parentPort;

let collect: Collect | undefined;
try {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  if (typeof gc === 'function') collect = gc as Collect;
} catch {
  collect = undefined;
}

const handle = createWorkerHandler(
  instantiate,
  (msg, transfer) => postThenCollect(msg, transfer, (m, t) => port.postMessage(m, t), collect),
  () => process.exit(3), // test hook: die like a crashed worker (ends this thread only)
);
port.on('message', handle);
