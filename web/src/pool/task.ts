/**
 * What a worker does with one task (browser-safe, shared by every pool kind): dispatch on the
 * task's kind to the format's worker routine, and post transferable results.
 */
import type { HQQ } from '../engine.js';
import { HQQError } from '../errors.js';
import { runConvertTask } from '../formats/convert.js';
import { runGGUFTask } from '../formats/gguf/worker.js';
import { runHQQTask } from '../formats/hqq/worker.js';
import { runNBitsTask } from '../formats/onnx/worker.js';
import { resultTransfer, reusableInputs, type FromWorker, type WorkerResult, type WorkerTask } from './types.js';

function runKind(hqq: HQQ, task: WorkerTask): WorkerResult {
  switch (task.kind) {
    case 'hqq':
      return runHQQTask(hqq, task);
    case 'gguf':
      return runGGUFTask(hqq, task);
    case 'convert':
      return runConvertTask(hqq, task);
    case 'nbits':
      return runNBitsTask(hqq, task);
    default:
      throw new HQQError('INTERNAL', `unknown worker task kind ${JSON.stringify((task as { kind?: unknown }).kind)}`);
  }
}

/** Runs one task on `hqq`; the result hands the task's input buffers back (`inputs`) for reuse. */
export function runTask(hqq: HQQ, task: WorkerTask): WorkerResult {
  if (task.crash === 'throw') throw new Error(`test hook: worker asked to throw on tensor ${task.name}`);
  const result = runKind(hqq, task);
  result.inputs = reusableInputs(task, result);
  return result;
}

/** Former name (0.1.0). */
export const runQuantizeTask = runTask;
export { resultTransfer };

/** The worker-side message handler shared by the Node and Web worker entries. */
export function createWorkerHandler(
  instantiate: (module: WebAssembly.Module) => Promise<HQQ>,
  post: (msg: FromWorker, transfer?: ArrayBuffer[]) => void,
  die: (taskName: string) => void,
): (msg: unknown) => void {
  let hqq: Promise<HQQ> | undefined;
  return (raw: unknown) => {
    const msg = raw as { type: string; module?: WebAssembly.Module; id?: number; task?: WorkerTask };
    if (msg.type === 'init') {
      hqq = instantiate(msg.module!);
      hqq.then(
        () => post({ type: 'ready' }),
        (e: unknown) => post({ type: 'init-error', message: e instanceof Error ? e.message : String(e) }),
      );
      return;
    }
    if (msg.type !== 'task') return;
    const id = msg.id!;
    const task = msg.task!;
    if (task.crash === 'exit') {
      die(task.name);
      return;
    }
    const ready = hqq ?? Promise.reject(new HQQError('INTERNAL', 'the worker got a task before its init message'));
    ready
      .then((h) => {
        const result = runTask(h, task);
        post({ type: 'result', id, result }, resultTransfer(result));
      })
      .catch((e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        post({ type: 'error', id, error: { name: err.name, code: (err as HQQError).code, message: err.message } });
      });
  };
}
