/**
 * What a worker does with one task (browser-safe, shared by every pool kind): view the input
 * bytes in their dtype, quantize with the wasm core, encode scale/zero to the compute dtype with
 * the core's encoder, and return transferable buffers.
 */
import type { HQQ, QuantizeOptions } from '../engine.js';
import { HQQError } from '../errors.js';
import type { FromWorker, QuantizeTask, QuantizeTaskResult } from './types.js';

function encode(hqq: HQQ, values: Float32Array, computeDtype: QuantizeTask['computeDtype']): ArrayBuffer {
  if (computeDtype === 'float32') return values.buffer as ArrayBuffer; // the engine returns owned copies
  const u16 = hqq.encode16(values, computeDtype === 'float16' ? 'f16' : 'bf16');
  return u16.buffer as ArrayBuffer;
}

/** A bias in another float dtype (F32/F16/BF16), converted by the wasm core (round to nearest even). */
function convertBias(hqq: HQQ, bias: NonNullable<QuantizeTask['bias']>): ArrayBuffer {
  if (bias.dtype === bias.to || bias.data.byteLength === 0) return bias.data.slice(0);
  const values = bias.dtype === 'F32' ? new Float32Array(bias.data) : hqq.decode16(new Uint16Array(bias.data), bias.dtype === 'F16' ? 'f16' : 'bf16');
  if (bias.to === 'F32') return values.buffer === bias.data ? bias.data.slice(0) : (values.buffer as ArrayBuffer);
  return hqq.encode16(values, bias.to === 'F16' ? 'f16' : 'bf16').buffer as ArrayBuffer;
}

/** Runs one quantization task on `hqq`. */
export function runQuantizeTask(hqq: HQQ, task: QuantizeTask): QuantizeTaskResult {
  const t0 = performance.now();
  if (task.crash === 'throw') throw new Error(`test hook: worker asked to throw on tensor ${task.name}`);
  const data = task.dtype === 'F32' ? new Float32Array(task.data) : new Uint16Array(task.data);
  const opts: QuantizeOptions = { ...task.options, ...(task.dtype === 'F32' ? {} : { dtype: task.dtype === 'F16' ? 'f16' : 'bf16' }) };
  const q = hqq.quantize(data, task.shape, opts);
  let rtn: QuantizeTaskResult['rtn'];
  if (task.compareRtn) rtn = hqq.quantize(data, task.shape, { ...opts, optimize: false }).stats;
  return {
    name: task.name,
    wq: q.packed.buffer as ArrayBuffer,
    scale: encode(hqq, q.scale, task.computeDtype),
    zero: encode(hqq, q.zero, task.computeDtype),
    bias: task.bias ? convertBias(hqq, task.bias) : undefined,
    packing: q.packing,
    packedShape: q.packedShape,
    groupedShape: q.groupedShape,
    iterations: q.iterations,
    stats: q.stats,
    weightNormSq: q.stats.weightFrobenius ** 2, // computed by the core with the error sums
    rtn,
    ms: performance.now() - t0,
  };
}

/** Transferables of a result. */
export function resultTransfer(r: QuantizeTaskResult): ArrayBuffer[] {
  const out = [r.wq];
  if (r.scale !== r.wq) out.push(r.scale);
  if (r.zero !== r.wq && r.zero !== r.scale) out.push(r.zero);
  if (r.bias && !out.includes(r.bias)) out.push(r.bias);
  return out;
}

/** The worker-side message handler shared by the Node and Web worker entries. */
export function createWorkerHandler(
  instantiate: (module: WebAssembly.Module) => Promise<HQQ>,
  post: (msg: FromWorker, transfer?: ArrayBuffer[]) => void,
  die: (taskName: string) => void,
): (msg: unknown) => void {
  let hqq: Promise<HQQ> | undefined;
  return (raw: unknown) => {
    const msg = raw as { type: string; module?: WebAssembly.Module; id?: number; task?: QuantizeTask };
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
        const result = runQuantizeTask(h, task);
        post({ type: 'result', id, result }, resultTransfer(result));
      })
      .catch((e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        post({ type: 'error', id, error: { name: err.name, code: (err as HQQError).code, message: err.message } });
      });
  };
}
