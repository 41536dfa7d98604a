/**
 * When a worker should force a garbage collection, and which kind (browser-safe; used by the Node
 * worker). Only after large tensors: a forced full GC costs a few milliseconds whatever was
 * allocated, so forcing one after every result made 5000 tensors of 8 x 64 take 43 s instead of 5.
 *
 * - A large input that stays in the worker (transferred in, not handed back: up to ~90 MB for a 7B
 *   FFN weight) gets a full GC, to return it before the next one arrives.
 * - When the input went back with the result (`WorkerResult.inputs`, the model pipeline's recycled
 *   buffers), what a large task leaves behind is short-lived: the core's scale/zero copies and
 *   other per-task arrays, a few MB. A minor GC (a scavenge, well under a millisecond here) frees
 *   them. Without it they pile up to V8's external-memory limit in each worker (~64 MB), because
 *   shared input buffers no longer trigger collections by arriving (measured on the CLI over a 1B
 *   model: peak RSS 433-444 MB without it, 382-383 MB with it, the same wall time).
 * - Small tensors are left to V8, which collects them as they add up.
 */
import type { FromWorker, WorkerResult } from './types.js';

/** Tensors from this size on (4M elements: 8 MB of F16 input, 16 MB of F32) are followed by a GC. */
export const GC_MIN_ELEMENTS = 4 * 1024 * 1024;

/** Elements a task worked on: its statistics count, else (conversions) its output halves at least. */
function elementsOf(result: Pick<WorkerResult, 'stats' | 'buffers'>): number {
  if (result.stats) return result.stats.count;
  let bytes = 0;
  for (const b of Object.values(result.buffers)) bytes += b.byteLength;
  return bytes / 2;
}

/** The GC to force after posting `result`: 'full', 'minor', or none (undefined). */
export function collectAfterResult(result: Pick<WorkerResult, 'stats' | 'buffers' | 'inputs'>): 'full' | 'minor' | undefined {
  if (elementsOf(result) < GC_MIN_ELEMENTS) return undefined;
  return (result.inputs?.length ?? 0) > 0 ? 'minor' : 'full';
}

/**
 * V8's --expose-gc function: gc() is a full (Mark-Compact) collection, gc({ type: 'minor' }) a
 * scavenge. (On Node 20 { type: 'major' } also scavenges: leave the argument out for a full one.)
 */
export type Collect = (options?: { type: 'minor' }) => void;

/**
 * Posts `msg` with `post`, then runs the GC its result calls for. The kind is decided before
 * posting: posting transfers the result buffers away (their byteLength reads 0 afterwards), which
 * made large conversions, sized by their buffers, look small.
 */
export function postThenCollect(msg: FromWorker, transfer: ArrayBuffer[] | undefined, post: (msg: FromWorker, transfer: ArrayBuffer[]) => void, collect: Collect | undefined): void {
  const kind = msg.type === 'result' ? collectAfterResult(msg.result) : undefined;
  post(msg, transfer ?? []);
  if (kind === 'full') collect?.();
  else if (kind === 'minor') collect?.({ type: 'minor' });
}
