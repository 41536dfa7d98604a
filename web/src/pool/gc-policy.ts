/**
 * When a worker should force a full garbage collection (browser-safe; used by the Node worker).
 * Only after large tensors: a forced full GC costs a few milliseconds whatever was allocated, so
 * forcing one after every result made 5000 tensors of 8 x 64 take 43 s instead of 5, while the
 * point of it (returning the transferred input buffer of a big tensor, up to ~90 MB for a 7B FFN
 * weight, before the next one arrives) only matters for big tensors. Small inputs are left to V8,
 * which collects them as they add up. Since workers hand each input back with its result
 * (`WorkerResult.inputs`, reused by the model pipeline), the big buffer leaves the worker anyway,
 * and no GC is forced then.
 */
import type { WorkerResult } from './types.js';

/** Tensors from this size on (4M elements: 8 MB of F16 input, 16 MB of F32) are followed by a full GC. */
export const GC_MIN_ELEMENTS = 4 * 1024 * 1024;

/** Elements a task worked on: its statistics count, else (conversions) its output halves at least. */
function elementsOf(result: Pick<WorkerResult, 'stats' | 'buffers'>): number {
  if (result.stats) return result.stats.count;
  let bytes = 0;
  for (const b of Object.values(result.buffers)) bytes += b.byteLength;
  return bytes / 2;
}

export function collectAfterResult(result: Pick<WorkerResult, 'stats' | 'buffers' | 'inputs'>): boolean {
  // A handed-back input left the worker with the result: there is nothing large to return early.
  if ((result.inputs?.length ?? 0) > 0) return false;
  return elementsOf(result) >= GC_MIN_ELEMENTS;
}
