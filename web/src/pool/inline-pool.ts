/**
 * A "pool" that runs tasks one at a time on the calling thread with one HQQ instance: a fallback
 * where workers are unavailable, and handy for debugging. Same interface as the worker pools.
 */
import type { HQQ } from '../engine.js';
import { HQQError } from '../errors.js';
import { runTask } from './task.js';
import { checkTask, type WorkerPool, type WorkerResult, type WorkerTask } from './types.js';

/** A pool of size 1 that runs each task on `hqq` on the calling thread, one after another. */
export function createInlinePool(hqq: HQQ): WorkerPool {
  let terminated = false;
  let chain: Promise<unknown> = Promise.resolve();
  return {
    size: 1,
    run(task: WorkerTask): Promise<WorkerResult> {
      const bad = checkTask(task);
      if (bad) return Promise.reject(bad);
      const p = chain.then(async () => {
        if (terminated) throw new HQQError('ABORTED', `tensor ${JSON.stringify(task.name)}: the pool was terminated`);
        await new Promise((r) => setTimeout(r, 0)); // let events (abort, progress) run between tensors
        if (terminated) throw new HQQError('ABORTED', `tensor ${JSON.stringify(task.name)}: the pool was terminated`);
        if (task.crash) throw new HQQError('WORKER_FAILED', `tensor ${JSON.stringify(task.name)}: test hook crash (${task.crash})`);
        try {
          return runTask(hqq, task);
        } catch (e) {
          if (e instanceof HQQError) throw new HQQError(e.code, `tensor ${JSON.stringify(task.name)}: ${e.message}`, { cause: e });
          throw new HQQError('WORKER_FAILED', `tensor ${JSON.stringify(task.name)}: ${(e as Error).message}`, { cause: e });
        }
      });
      chain = p.catch(() => {});
      return p;
    },
    async terminate(): Promise<void> {
      terminated = true;
    },
  };
}
