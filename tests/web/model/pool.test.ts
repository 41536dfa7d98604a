/** The shared pool logic (createPortPool) over fake workers: dispatch, transfer, failure semantics. */
import { describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import { createPortPool, type WorkerPort } from '../../../web/src/pool/pool.js';
import type { FromWorker, QuantizeTask, QuantizeTaskResult, ToWorker } from '../../../web/src/pool/types.js';
import { rejectsWithHQQError } from '../helpers.js';

const MODULE = new WebAssembly.Module(new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));

class FakeWorker implements WorkerPort {
  h!: { message(m: FromWorker): void; error(e: Error): void; exit(code: number): void };
  got: ToWorker[] = [];
  transfers: ArrayBuffer[][] = [];
  terminated = false;
  constructor(private behave: (w: FakeWorker, m: ToWorker) => void) {}
  post(msg: ToWorker, transfer?: ArrayBuffer[]) {
    this.got.push(msg);
    this.transfers.push(transfer ?? []);
    queueMicrotask(() => this.behave(this, msg));
  }
  listen(h: FakeWorker['h']) {
    this.h = h;
  }
  terminate() {
    this.terminated = true;
  }
}

function task(name: string): QuantizeTask {
  return { kind: 'hqq', name, dtype: 'F32', shape: [1, 8], data: new ArrayBuffer(32), options: {}, computeDtype: 'float16' };
}

function result(name: string): QuantizeTaskResult {
  return {
    name, buffers: { wq: new ArrayBuffer(4), scale: new ArrayBuffer(2), zero: new ArrayBuffer(2) },
    iterations: 1, stats: { count: 8, sumAbs: 0, sumSq: 0, maxAbs: 0, sumWSq: 0 }, ms: 1,
  };
}


describe('createPortPool', () => {
  it('sends the module once per worker, runs one task per worker, transfers the input', async () => {
    const workers: FakeWorker[] = [];
    let busy = 0;
    let peak = 0;
    const pool = createPortPool(2, MODULE, () => {
      const w = new FakeWorker((w, m) => {
        if (m.type === 'init') w.h.message({ type: 'ready' });
        else {
          busy++;
          peak = Math.max(peak, busy);
          setTimeout(() => {
            busy--;
            w.h.message({ type: 'result', id: m.id, result: result(m.task.name) });
          }, 5);
        }
      });
      workers.push(w);
      return w;
    }, 'fake');
    const names = ['a', 'b', 'c', 'd', 'e'];
    const tasks = names.map(task);
    const out = await Promise.all(tasks.map((t) => pool.run(t)));
    expect(out.map((r) => r.name)).toEqual(names);
    expect(peak).toBe(2);
    for (const w of workers) {
      expect(w.got.filter((m) => m.type === 'init')).toHaveLength(1);
      expect((w.got[0] as { module: WebAssembly.Module }).module).toBe(MODULE);
    }
    const sent = workers.flatMap((w) => w.transfers.filter((t) => t.length > 0));
    expect(sent).toHaveLength(5);
    expect(new Set(sent.map((t) => t[0]))).toEqual(new Set(tasks.map((t) => t.data)));
    await pool.terminate();
    expect(workers.every((w) => w.terminated)).toBe(true);
    expect((await rejectsWithHQQError(pool.run(task('late')))).code).toBe('ABORTED');
  });

  it('a worker that dies fails its task with WORKER_FAILED naming the tensor, and the queued ones too', async () => {
    const pool = createPortPool(1, MODULE, () => new FakeWorker((w, m) => {
      if (m.type === 'init') w.h.message({ type: 'ready' });
      else if (m.task.name === 'boom') setTimeout(() => w.h.exit(3), 1);
      else setTimeout(() => w.h.message({ type: 'result', id: m.id, result: result(m.task.name) }), 1);
    }), 'fake');
    const ok = pool.run(task('fine'));
    const boom = pool.run(task('boom'));
    const queued = pool.run(task('after'));
    await expect(ok).resolves.toMatchObject({ name: 'fine' });
    const e = await rejectsWithHQQError(boom);
    expect(e.code).toBe('WORKER_FAILED');
    expect(e.message).toContain('"boom"');
    expect(e.message).toMatch(/exit code 3/);
    expect((await rejectsWithHQQError(queued)).code).toBe('WORKER_FAILED');
    expect((await rejectsWithHQQError(pool.run(task('x')))).message).toMatch(/pool has failed/);
    await pool.terminate();
  });

  it('worker errors: plain exceptions are WORKER_FAILED, engine HQQErrors keep their code; init failure fails the pool', async () => {
    const pool = createPortPool(1, MODULE, () => new FakeWorker((w, m) => {
      if (m.type === 'init') w.h.message({ type: 'ready' });
      else if (m.task.name === 'nan') w.h.message({ type: 'error', id: m.id, error: { name: 'HQQError', code: 'INVALID_VALUE', message: 'weights hold NaN' } });
      else w.h.message({ type: 'error', id: m.id, error: { name: 'Error', message: 'kaput' } });
    }), 'fake');
    const a = await rejectsWithHQQError(pool.run(task('nan')));
    expect([a.code, a.message]).toEqual(['INVALID_VALUE', 'tensor "nan": weights hold NaN']);
    const b = await rejectsWithHQQError(pool.run(task('other')));
    expect(b.code).toBe('WORKER_FAILED');
    expect(b.message).toMatch(/"other".*threw: kaput/);
    await pool.terminate();

    const bad = createPortPool(1, MODULE, () => new FakeWorker((w, m) => {
      if (m.type === 'init') w.h.message({ type: 'init-error', message: 'no memory' });
    }), 'fake');
    const c = await rejectsWithHQQError(bad.run(task('t')));
    expect(c.code).toBe('WORKER_FAILED');
    expect(c.message).toMatch(/no memory/);
    await bad.terminate();
  });

  it('terminate() rejects running and queued tasks with ABORTED', async () => {
    const pool = createPortPool(1, MODULE, () => new FakeWorker((w, m) => {
      if (m.type === 'init') w.h.message({ type: 'ready' });
    }), 'fake');
    const a = pool.run(task('a'));
    const b = pool.run(task('b'));
    await new Promise((r) => setTimeout(r, 5));
    await pool.terminate();
    expect((await rejectsWithHQQError(a)).code).toBe('ABORTED');
    expect((await rejectsWithHQQError(b)).code).toBe('ABORTED');
    expect(() => createPortPool(0, MODULE, () => new FakeWorker(() => {}), 'fake')).toThrow(/workers = 0/);
  });

  it('a malformed task (no kind, as in 0.1.0; no name; data not an ArrayBuffer) is refused before any worker sees it', async () => {
    const workers: FakeWorker[] = [];
    const pool = createPortPool(1, MODULE, () => {
      const w = new FakeWorker((w2, m) => {
        if (m.type === 'init') w2.h.message({ type: 'ready' });
      });
      workers.push(w);
      return w;
    }, 'fake');
    const { kind: _kind, ...noKind } = task('old');
    const e1 = await rejectsWithHQQError(pool.run(noKind as unknown as QuantizeTask));
    expect(e1.code).toBe('INVALID_ARGUMENT');
    expect(e1.message).toMatch(/tensor "old": the task's kind is undefined; set `kind` to one of 'hqq', 'gguf', 'convert', 'nbits'/);
    const e2 = await rejectsWithHQQError(pool.run({ ...task('x'), name: 3 } as unknown as QuantizeTask));
    expect(e2.message).toMatch(/needs a string `name`/);
    const e3 = await rejectsWithHQQError(pool.run({ ...task('y'), data: new Float32Array(8) } as unknown as QuantizeTask));
    expect(e3.message).toMatch(/tensor "y": the task's `data` must be an ArrayBuffer.*Float32Array/);
    expect(workers[0].got.filter((m) => m.type === 'task')).toHaveLength(0);
    await pool.terminate();
  });
});

describe('worker GC policy (issue 9: a full GC after every result made 5000 tiny tensors take 43 s)', () => {
  it('forces a GC only after large tensors: full when the input stayed in the worker, minor when it went back', async () => {
    const { collectAfterResult, GC_MIN_ELEMENTS } = await import('../../../web/src/pool/gc-policy.js');
    const stats = (count: number) => ({ stats: { count, sumAbs: 0, sumSq: 0, maxAbs: 0, sumWSq: 0 }, buffers: {} });
    expect(collectAfterResult(stats(8 * 64))).toBeUndefined();
    expect(collectAfterResult(stats(4096 * 4096))).toBe('full'); // a 4096 x 4096 weight
    expect(collectAfterResult(stats(GC_MIN_ELEMENTS - 1))).toBeUndefined();
    expect(collectAfterResult(stats(GC_MIN_ELEMENTS))).toBe('full');
    // A conversion reports no statistics: its output size decides (F16 output of 4M elements).
    expect(collectAfterResult({ buffers: { data: new ArrayBuffer(2 * GC_MIN_ELEMENTS) } })).toBe('full');
    expect(collectAfterResult({ buffers: { data: new ArrayBuffer(1024) } })).toBeUndefined();
    // The input went back with the result (WorkerResult.inputs): only the task's short-lived arrays are left.
    expect(collectAfterResult({ ...stats(4096 * 4096), inputs: [new ArrayBuffer(8)] })).toBe('minor');
    expect(collectAfterResult({ ...stats(8 * 64), inputs: [new ArrayBuffer(8)] })).toBeUndefined();
  });

  it('decides before posting: a large conversion still gets its GC although posting detached its output', async () => {
    const { postThenCollect, GC_MIN_ELEMENTS } = await import('../../../web/src/pool/gc-policy.js');
    const calls: string[] = [];
    const collect = (o?: { type: 'minor' }) => calls.push(o?.type ?? 'full');
    const post = (m: unknown, transfer: ArrayBuffer[]) => {
      structuredClone(m, { transfer }); // what postMessage does to the transferred buffers
      calls.push('post');
    };
    const data = new ArrayBuffer(2 * GC_MIN_ELEMENTS);
    postThenCollect({ type: 'result', id: 1, result: { name: 'c', buffers: { data }, ms: 0 } }, [data], post, collect);
    expect(data.byteLength).toBe(0);
    expect(calls).toEqual(['post', 'full']);
    calls.length = 0;
    const out = new ArrayBuffer(2 * GC_MIN_ELEMENTS);
    const input = new ArrayBuffer(8);
    postThenCollect({ type: 'result', id: 2, result: { name: 'c', buffers: { data: out }, inputs: [input], ms: 0 } }, [out, input], post, collect);
    expect(calls).toEqual(['post', 'minor']);
    calls.length = 0;
    postThenCollect({ type: 'ready' }, undefined, post, collect);
    expect(calls).toEqual(['post']);
  });
});
