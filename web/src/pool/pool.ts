/**
 * Pool logic shared by the Node and browser pools (browser-safe): a queue of tasks, one task per
 * worker at a time, transfer (or, where the pool shares memory, sharing) of the input buffers, and
 * failure handling. A worker that dies, throws or reports an error rejects its task
 * (WORKER_FAILED naming the tensor; structured engine errors keep their code), and after a death
 * the pool refuses further work.
 */
import { shown } from '../arguments.js';
import { HQQError, type HQQErrorCode } from '../errors.js';
import { checkTask, taskTransfer, type FromWorker, type ToWorker, type WorkerPool, type WorkerResult, type WorkerTask } from './types.js';

/** The little a pool needs from a worker, whatever its kind. */
export interface WorkerPort {
  post(msg: ToWorker, transfer?: ArrayBuffer[]): void;
  /** Subscribes to messages, crashes (uncaught errors) and exits. */
  listen(handlers: { message(m: FromWorker): void; error(e: Error): void; exit(code: number): void }): void;
  terminate(): Promise<void> | void;
}

const KNOWN_CODES = new Set<HQQErrorCode>(['INVALID_ARGUMENT', 'INVALID_VALUE', 'UNSUPPORTED', 'OUT_OF_MEMORY']);

interface Slot {
  port: WorkerPort;
  busy?: { id: number; name: string; resolve(r: WorkerResult): void; reject(e: Error): void };
  ready: boolean;
  dead: boolean;
}

/**
 * Builds a pool of `size` workers made by `spawn`; each gets `module` in an init message. With
 * `sharesMemory` tasks may carry SharedArrayBuffers (the workers' platform must accept them in
 * messages: worker_threads do; Web Workers only on cross-origin isolated pages).
 */
export function createPortPool(size: number, module: WebAssembly.Module, spawn: (index: number) => WorkerPort, kind: string, sharesMemory = false): WorkerPool {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new HQQError('INVALID_ARGUMENT', `workers = ${shown(size)} is invalid; use a positive integer (default: the number of cores)`);
  }
  const slots: Slot[] = [];
  const queue: { task: WorkerTask; resolve(r: WorkerResult): void; reject(e: Error): void }[] = [];
  let nextId = 1;
  let failed: HQQError | undefined;
  let terminated = false;

  const failAll = (err: HQQError) => {
    for (const q of queue.splice(0)) q.reject(err);
    for (const s of slots) {
      const b = s.busy;
      s.busy = undefined;
      b?.reject(err);
    }
  };

  const dispatch = () => {
    for (const s of slots) {
      if (queue.length === 0) return;
      if (s.busy || s.dead || !s.ready) continue;
      const q = queue.shift()!;
      const id = nextId++;
      s.busy = { id, name: q.task.name, resolve: q.resolve, reject: q.reject };
      try {
        s.port.post({ type: 'task', id, task: q.task }, taskTransfer(q.task));
      } catch (e) {
        s.busy = undefined;
        q.reject(new HQQError('WORKER_FAILED', `tensor ${JSON.stringify(q.task.name)}: could not send it to a ${kind} worker (${(e as Error).message})`, { cause: e }));
      }
    }
  };

  const death = (s: Slot, why: string) => {
    if (s.dead || terminated) return;
    s.dead = true;
    const name = s.busy?.name;
    const err = new HQQError(
      'WORKER_FAILED',
      name !== undefined
        ? `tensor ${JSON.stringify(name)}: the ${kind} worker quantizing it died (${why}); the job was stopped`
        : `a ${kind} worker died while idle (${why}); the job was stopped`,
    );
    failed ??= err;
    const b = s.busy;
    s.busy = undefined;
    b?.reject(err);
    failAll(new HQQError('WORKER_FAILED', `the worker pool stopped after a worker died: ${err.message}`));
  };

  for (let i = 0; i < size; i++) {
    const slot: Slot = { port: spawn(i), ready: false, dead: false };
    slots.push(slot);
    slot.port.listen({
      message(m) {
        if (m.type === 'ready') {
          slot.ready = true;
          dispatch();
        } else if (m.type === 'init-error') {
          death(slot, `could not start the wasm module: ${m.message}`);
        } else if (m.type === 'result' || m.type === 'error') {
          const b = slot.busy;
          if (!b || b.id !== m.id) return;
          slot.busy = undefined;
          if (m.type === 'result') b.resolve(m.result);
          else {
            const code = m.error.name === 'HQQError' && KNOWN_CODES.has(m.error.code as HQQErrorCode) ? (m.error.code as HQQErrorCode) : 'WORKER_FAILED';
            b.reject(new HQQError(code, `tensor ${JSON.stringify(b.name)}: ${code === 'WORKER_FAILED' ? `the ${kind} worker threw: ` : ''}${m.error.message}`));
          }
          dispatch();
        }
      },
      error(e) {
        death(slot, `uncaught error: ${e.message}`);
      },
      exit(code) {
        death(slot, `exit code ${code}`);
      },
    });
    slot.port.post({ type: 'init', module });
  }

  return {
    size,
    sharesMemory,
    run(task: WorkerTask): Promise<WorkerResult> {
      if (terminated) return Promise.reject(new HQQError('ABORTED', `tensor ${JSON.stringify(task.name)}: the worker pool was terminated`));
      if (failed) return Promise.reject(new HQQError('WORKER_FAILED', `tensor ${JSON.stringify(task.name)}: the worker pool has failed: ${failed.message}`));
      const bad = checkTask(task, sharesMemory);
      if (bad) return Promise.reject(bad);
      return new Promise((resolve, reject) => {
        queue.push({ task, resolve, reject });
        dispatch();
      });
    },
    async terminate(): Promise<void> {
      if (terminated) return;
      terminated = true;
      failAll(new HQQError('ABORTED', 'the worker pool was terminated'));
      await Promise.allSettled(slots.map((s) => s.port.terminate()));
    },
  };
}
