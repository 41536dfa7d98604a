/**
 * Input buffer recycling in the quantize lane (issue 9, pipeline throughput): workers hand each
 * input buffer back with their result, and later reads of the same size go into it instead of
 * fresh memory. Checked: the recycler's own rules, that every pool hands inputs back, that reads
 * are offered recycled buffers, that no buffer is ever in two tasks at once, and that the output
 * bytes are those of a run without recycling. The copy lane reads every chunk into one buffer.
 * Output buffers: `quantize(..., { packed })` fills a caller's buffer of the right size, HQQ
 * workers put `wq` into a task's spare buffer, and the pipeline passes written results back as
 * spares. With a pool that shares memory (Node), every recycled buffer is a SharedArrayBuffer that
 * never moves between threads.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { HQQ } from '../../../web/src/engine.js';
import { bytesSource, type ByteSource } from '../../../web/src/io/source.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { BufferRecycler } from '../../../web/src/model/run/buffer-recycler.js';
import { quantizeModel, type ModelSink } from '../../../web/src/model/quantize-model.js';
import { generateTensorData, type SyntheticTensor } from '../../../web/src/model/synthetic.js';
import { loadHQQ } from '../../../web/src/node.js';
import { createInlinePool } from '../../../web/src/pool/inline-pool.js';
import { createNodePool } from '../../../web/src/pool/node-pool.js';
import { runTask } from '../../../web/src/pool/task.js';
import { checkTask, type WorkerPool, type WorkerTask } from '../../../web/src/pool/types.js';

let hqq: HQQ;
beforeAll(async () => {
  hqq = await loadHQQ();
});

describe('BufferRecycler', () => {
  it('matches exact sizes, drops detached buffers, and keeps at most its cap, oldest out first', () => {
    const r = new BufferRecycler(100);
    const a = new ArrayBuffer(40);
    const b = new ArrayBuffer(40);
    const c = new ArrayBuffer(20);
    r.give([a, b, c]);
    expect(r.freeBytes).toBe(100);
    expect(r.take(20)).toBe(c);
    expect(r.take(20)).toBeUndefined();
    expect(r.take(41)).toBeUndefined();
    const d = new ArrayBuffer(50);
    r.give([d]); // 40 + 40 + 50 > 100: the oldest (a) goes
    expect(r.freeBytes).toBe(90);
    expect(r.take(40)).toBe(b);
    expect(r.take(40)).toBeUndefined();
    expect(r.take(50)).toBe(d);
    const detached = new ArrayBuffer(8);
    structuredClone(detached, { transfer: [detached] });
    r.give([detached, new ArrayBuffer(101)]); // detached (0 bytes) and over the cap: not kept
    expect(r.freeBytes).toBe(0);
    const off = new BufferRecycler(0);
    off.give([new ArrayBuffer(4)]);
    expect(off.take(4)).toBeUndefined();
  });
});

describe('workers hand their inputs back', () => {
  it('runTask returns the task input and bias buffers, not its outputs', () => {
    const data = new Float32Array(64 * 32).map((_, i) => Math.sin(i)).buffer;
    const bias = new Float32Array(64).fill(0.5).buffer;
    const task: WorkerTask = {
      kind: 'hqq', name: 'l.weight', dtype: 'F32', shape: [64, 32], data, options: { nbits: 4, groupSize: 32 },
      computeDtype: 'float16', bias: { dtype: 'F32', to: 'F16', data: bias },
    };
    const r = runTask(hqq, task);
    expect(r.inputs).toEqual([data, bias]);
    for (const out of Object.values(r.buffers)) expect(r.inputs).not.toContain(out);
  });
});

describe('output buffers', () => {
  const weights = new Float32Array(64 * 32).map((_, i) => Math.sin(i * 0.7));
  const opts = { nbits: 4, groupSize: 32 } as const;

  it('quantize fills into.packed when it is exactly the packed length, else returns a fresh array and leaves it alone', () => {
    const plain = hqq.quantize(weights, [64, 32], opts);
    const into = new Uint8Array(plain.packed.length).fill(7);
    const q = hqq.quantize(weights, [64, 32], opts, { packed: into });
    expect(q.packed).toBe(into);
    expect(Buffer.from(into).equals(Buffer.from(plain.packed))).toBe(true);
    expect(Buffer.from(q.scale.buffer).equals(Buffer.from(plain.scale.buffer))).toBe(true);
    const wrong = new Uint8Array(plain.packed.length + 1).fill(7);
    const q2 = hqq.quantize(weights, [64, 32], opts, { packed: wrong });
    expect(q2.packed).not.toBe(wrong);
    expect(Buffer.from(q2.packed).equals(Buffer.from(plain.packed))).toBe(true);
    expect(wrong.every((b) => b === 7)).toBe(true);
  });

  it('quantize refuses an into.packed that is not a Uint8Array or is detached', () => {
    expect(() => hqq.quantize(weights, [64, 32], opts, { packed: new Float32Array(4) as unknown as Uint8Array })).toThrow(/into\.packed must be a Uint8Array/);
    const gone = new Uint8Array(16);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    expect(() => hqq.quantize(weights, [64, 32], opts, { packed: gone })).toThrow(/into\.packed is a view on a detached ArrayBuffer/);
  });

  it('an HQQ task puts wq into a spare of its size and hands back a spare it cannot use', () => {
    const wqBytes = hqq.quantize(weights, [64, 32], opts).packed.byteLength;
    const task = (spare: ArrayBuffer): WorkerTask => ({
      kind: 'hqq', name: 'l.weight', dtype: 'F32', shape: [64, 32], data: weights.slice().buffer, options: opts, computeDtype: 'float16', spare: [spare],
    });
    const fits = new ArrayBuffer(wqBytes);
    const r = runTask(hqq, task(fits));
    expect(r.buffers.wq).toBe(fits);
    expect(r.inputs).not.toContain(fits);
    const misfit = new ArrayBuffer(wqBytes * 2);
    const r2 = runTask(hqq, task(misfit));
    expect(r2.buffers.wq).not.toBe(misfit);
    expect(r2.inputs).toContain(misfit);
    expect(Buffer.from(r2.buffers.wq!).equals(Buffer.from(r.buffers.wq!))).toBe(true);
  });

  it('checkTask refuses malformed spares', () => {
    const data = new ArrayBuffer(8);
    const base = { kind: 'convert', name: 't', data, from: 'F32', to: 'F16', rows: 1, cols: 2 } as const;
    const b = new ArrayBuffer(4);
    expect(checkTask({ ...base, spare: [b] })).toBeUndefined();
    for (const spare of [[data], [b, b], [new ArrayBuffer(0)], [new Uint8Array(4)], 'x']) {
      expect(checkTask({ ...base, spare } as unknown as WorkerTask)?.message).toMatch(/`spare` must be an array of distinct, non-empty buffers \(an ArrayBuffer each\)/);
    }
  });
});

describe('shared memory (pools with sharesMemory)', () => {
  it('a shared recycler makes SharedArrayBuffers within its budget, never drops them, and caps its ArrayBuffers as before', () => {
    const r = new BufferRecycler(100, 100);
    const a = r.obtain(40);
    expect(a).toBeInstanceOf(SharedArrayBuffer);
    expect(a!.byteLength).toBe(40);
    expect(r.sharedBytes).toBe(40);
    expect(r.obtain(61)).toBeUndefined(); // 40 + 61 > the budget: the caller reads into fresh memory
    expect(r.obtain(0)).toBeUndefined();
    const b = new ArrayBuffer(40); // from a source that ignored the offer: recycled like before
    r.give([a!, b]);
    expect(r.freeBytes).toBe(40);
    expect(r.obtain(40)).toBe(a);
    expect(r.obtain(40)).toBe(b);
    const c = r.obtain(40);
    expect(c).toBeInstanceOf(SharedArrayBuffer);
    expect(r.sharedBytes).toBe(80);
    expect(r.obtain(30)).toBeUndefined();
    // ArrayBuffers over the cap push out the oldest ArrayBuffer, never a shared buffer.
    r.give([a!, c!, new ArrayBuffer(60), new ArrayBuffer(50)]);
    expect(r.freeBytes).toBe(50);
    expect(r.take(40)).toBe(a);
    expect(r.take(40)).toBe(c);
    expect(r.take(60)).toBeUndefined();
    // Shared buffers given back beyond the budget are not kept, whoever gives them.
    const full = new BufferRecycler(100, 100);
    full.give([new SharedArrayBuffer(60), new SharedArrayBuffer(60)]);
    expect(full.take(60)).toBeInstanceOf(SharedArrayBuffer);
    expect(full.take(60)).toBeUndefined();
    const plain = new BufferRecycler(100);
    expect(plain.obtain(40)).toBeUndefined();
    plain.give([b]);
    expect(plain.obtain(40)).toBe(b);
  });

  it('checkTask takes SharedArrayBuffers only for a pool that shares memory, and says why otherwise', () => {
    const data = new SharedArrayBuffer(8);
    const task: WorkerTask = { kind: 'convert', name: 't', data, from: 'F32', to: 'F16', rows: 1, cols: 2, spare: [new SharedArrayBuffer(4)] };
    expect(checkTask(task, true)).toBeUndefined();
    expect(checkTask(task)?.message).toMatch(/`data` must be an ArrayBuffer; this pool does not share memory with its workers, so pass an ArrayBuffer/);
    expect(checkTask({ ...task, data: new ArrayBuffer(8) })?.message).toMatch(/`spare` must be an array of distinct, non-empty buffers \(an ArrayBuffer each\)/);
    expect(checkTask({ ...task, spare: [data] }, true)?.message).toMatch(/distinct, non-empty buffers \(an ArrayBuffer or a SharedArrayBuffer each\) other than `data`/);
  });

  it('a Node pool runs a task on shared buffers in place: nothing is detached, wq lands in the spare, the inputs come back', async () => {
    const weights = new Float32Array(64 * 32).map((_, i) => Math.cos(i * 0.3));
    const opts = { nbits: 4, groupSize: 32 } as const;
    const expected = hqq.quantize(weights, [64, 32], opts);
    const data = new SharedArrayBuffer(weights.byteLength);
    new Float32Array(data).set(weights);
    const spare = new SharedArrayBuffer(expected.packed.byteLength);
    const pool = createNodePool({ size: 1, module: hqq.module });
    try {
      expect(pool.sharesMemory).toBe(true);
      const r = await pool.run({ kind: 'hqq', name: 'l.weight', dtype: 'F32', shape: [64, 32], data, options: opts, computeDtype: 'float32', spare: [spare] });
      expect(r.buffers.wq).toBeInstanceOf(SharedArrayBuffer);
      // The worker wrote wq into the caller's memory: the caller's own view of the spare holds it.
      expect(Buffer.from(new Uint8Array(spare)).equals(Buffer.from(expected.packed))).toBe(true);
      expect(Buffer.from(new Uint8Array(r.buffers.scale!)).equals(Buffer.from(expected.scale.buffer))).toBe(true);
      expect(r.inputs).toHaveLength(1);
      expect(r.inputs![0]).toBeInstanceOf(SharedArrayBuffer);
      new Float32Array(r.inputs![0]!)[0] = 12345; // the handed-back input is the caller's buffer again
      expect(new Float32Array(data)[0]).toBe(12345);
    } finally {
      await pool.terminate();
    }
  });

  it('a Node pool with its own worker script does not share memory unless told so', async () => {
    const { nodeWorkerUrl } = await import('../../../web/src/pool/node-pool.js');
    const custom = createNodePool({ size: 1, module: hqq.module, workerUrl: nodeWorkerUrl() });
    const told = createNodePool({ size: 1, module: hqq.module, workerUrl: nodeWorkerUrl(), sharesMemory: true });
    try {
      expect(custom.sharesMemory).toBe(false);
      expect(told.sharesMemory).toBe(true);
      const task: WorkerTask = { kind: 'convert', name: 't', data: new SharedArrayBuffer(8), from: 'F32', to: 'F16', rows: 1, cols: 2 };
      await expect(custom.run(task)).rejects.toThrow(/this pool does not share memory with its workers/);
      const r = await told.run(task);
      expect(r.buffers.data!.byteLength).toBe(4);
    } finally {
      await Promise.all([custom.terminate(), told.terminate()]);
    }
  });
});

function model(count: number): Uint8Array {
  const entries = Array.from({ length: count }, (_, i) => {
    const shape = i % 3 === 2 ? [32, 128] : [64, 128]; // two sizes, interleaved
    const numel = shape[0]! * shape[1]!;
    const t: SyntheticTensor = { name: `layers.${i}.proj.weight`, dtype: 'F16', shape, kind: 'linear', numel, byteLength: numel * 2 };
    return { name: t.name, dtype: 'F16' as const, shape, data: generateTensorData(t, 11 + i) };
  });
  const plan = planSafetensors(entries, { format: 'pt' });
  const out = new Uint8Array(plan.totalSize);
  out.set(plan.headerBytes);
  for (const e of entries) out.set(e.data, plan.offsets.get(e.name)!.begin);
  return out;
}

/** A source that reads into the caller's buffer when offered one (as the Node file source does), counting the offers. */
function recyclingSource(bytes: Uint8Array, offers: { into: number; fresh: number }): ByteSource {
  const inner = bytesSource(bytes, 'm.safetensors');
  return {
    size: inner.size, name: inner.name,
    async read(offset, length, into) {
      const got = await inner.read(offset, length);
      if (into === undefined) {
        offers.fresh++;
        return got;
      }
      offers.into++;
      into.set(got);
      return into;
    },
  };
}

function memorySink(files: Map<string, Uint8Array>): ModelSink {
  return {
    async createShard(fileName, layout) {
      const out = new Uint8Array(layout.totalSize);
      out.set(layout.headerBytes);
      return {
        async writeTensor(entry, bytes, offset = 0) {
          out.set(bytes, layout.offsets.get(entry)!.begin + offset);
        },
        async commit() {
          files.set(fileName, out);
        },
        async abort() {},
      };
    },
  };
}

describe('the quantize lane reads into recycled buffers', () => {
  it('offers handed-back buffers to later reads, never shares one between tasks in flight, and writes the same bytes', async () => {
    const bytes = model(12);
    const inFlight = new Set<ArrayBuffer>();
    const seen = new Set<ArrayBuffer>();
    let shared = 0;
    let spares = 0;
    const tracking = (inner: WorkerPool): WorkerPool => ({
      size: 2,
      async run(task) {
        if (task.spare) spares++;
        for (const b of [task.data, ...(task.spare ?? [])]) if (inFlight.has(b)) shared++;
        const held = [task.data, ...(task.spare ?? [])];
        for (const b of held) inFlight.add(b);
        seen.add(task.data);
        try {
          await new Promise((r) => setTimeout(r, 2)); // let the lane read ahead meanwhile
          return await inner.run(task);
        } finally {
          for (const b of held) inFlight.delete(b);
        }
      },
      terminate: () => inner.terminate(),
    });
    const offers = { into: 0, fresh: 0 };
    const recycled = new Map<string, Uint8Array>();
    const rep = await quantizeModel({ sources: [recyclingSource(bytes, offers)] }, memorySink(recycled), {
      workers: 2, maxInFlight: 3, createPool: () => tracking(createInlinePool(hqq)),
    });
    expect(rep.totals.quantized).toBe(12);
    expect(shared).toBe(0);
    expect(offers.into).toBeGreaterThanOrEqual(6); // 12 jobs of two sizes, at most 3 in flight
    expect(seen.size).toBeLessThan(12);
    expect(spares).toBeGreaterThanOrEqual(6); // written results of each size passed back as spares
    // A source that ignores the offered buffers (a Blob) gives the same file.
    const plain = new Map<string, Uint8Array>();
    await quantizeModel({ sources: [bytesSource(bytes, 'm.safetensors')] }, memorySink(plain), { workers: 1, createPool: () => createInlinePool(hqq) });
    expect(Buffer.from(recycled.get('m.safetensors')!).equals(Buffer.from(plain.get('m.safetensors')!))).toBe(true);
  });

  it("copies a source's own SharedArrayBuffers rather than sending them (the caller's memory, or a pool that does not share)", async () => {
    const bytes = model(6);
    const inner = bytesSource(bytes, 'm.safetensors');
    const returned: SharedArrayBuffer[] = [];
    const source: ByteSource = {
      size: inner.size, name: inner.name,
      async read(offset, length) {
        const own = new SharedArrayBuffer(length); // ignores the offer, returns shared memory of its own
        const view = new Uint8Array(own);
        view.set(await inner.read(offset, length));
        returned.push(own);
        return view;
      },
    };
    const sent: string[] = [];
    const out = new Map<string, Uint8Array>();
    const rep = await quantizeModel({ sources: [source] }, memorySink(out), {
      workers: 1,
      createPool: () => {
        const p = createInlinePool(hqq);
        return { size: 1, run: (t) => (sent.push(Object.prototype.toString.call(t.data)), p.run(t)), terminate: () => p.terminate() };
      },
    });
    expect(rep.totals.quantized).toBe(6);
    expect(returned.length).toBeGreaterThanOrEqual(6);
    expect(new Set(sent)).toEqual(new Set(['[object ArrayBuffer]']));
    const plain = new Map<string, Uint8Array>();
    await quantizeModel({ sources: [bytesSource(bytes, 'm.safetensors')] }, memorySink(plain), { workers: 1, createPool: () => createInlinePool(hqq) });
    expect(Buffer.from(out.get('m.safetensors')!).equals(Buffer.from(plain.get('m.safetensors')!))).toBe(true);
  });

  it('with a Node pool every task buffer of the lane is shared and recycled, and the file is the same', async () => {
    const bytes = model(12);
    const kinds = new Set<string>();
    const sharing = (inner: WorkerPool): WorkerPool => ({
      size: inner.size,
      sharesMemory: inner.sharesMemory,
      run(task) {
        for (const b of [task.data, ...(task.spare ?? [])]) kinds.add(Object.prototype.toString.call(b));
        return inner.run(task);
      },
      terminate: () => inner.terminate(),
    });
    // A new SharedArrayBuffer is all zeros; a recycled one still holds an earlier tensor's bytes.
    const offered = { fresh: 0, recycled: 0 };
    const inner = bytesSource(bytes, 'm.safetensors');
    const source: ByteSource = {
      size: inner.size, name: inner.name,
      async read(offset, length, into) {
        const got = await inner.read(offset, length);
        if (into === undefined) return got;
        expect(into.buffer).toBeInstanceOf(SharedArrayBuffer);
        if (into.every((b) => b === 0)) offered.fresh++;
        else offered.recycled++;
        into.set(got);
        return into;
      },
    };
    const out = new Map<string, Uint8Array>();
    const rep = await quantizeModel({ sources: [source] }, memorySink(out), {
      workers: 2, maxInFlight: 3, createPool: (n) => sharing(createNodePool({ size: n, module: hqq.module })),
    });
    expect(rep.totals.quantized).toBe(12);
    expect([...kinds]).toEqual(['[object SharedArrayBuffer]']);
    expect(offered.fresh + offered.recycled).toBe(12);
    expect(offered.recycled).toBeGreaterThanOrEqual(6); // 12 jobs of two sizes, at most 3 in flight
    const plain = new Map<string, Uint8Array>();
    await quantizeModel({ sources: [bytesSource(bytes, 'm.safetensors')] }, memorySink(plain), { workers: 1, createPool: () => createInlinePool(hqq) });
    expect(Buffer.from(out.get('m.safetensors')!).equals(Buffer.from(plain.get('m.safetensors')!))).toBe(true);
  });
});

describe('the copy lane reads every chunk into one buffer', () => {
  it('offers the same buffer to each chunk read and writes the input bytes unchanged', async () => {
    const embed = new Uint8Array(300 * 64 * 2).map((_, i) => (i * 7 + 3) & 255);
    const norm = new Uint8Array(64 * 2).map((_, i) => (i * 5 + 1) & 255);
    const plan = planSafetensors([
      { name: 'model.embed_tokens.weight', dtype: 'F16', shape: [300, 64], data: embed },
      { name: 'model.norm.weight', dtype: 'F16', shape: [64], data: norm },
    ], { format: 'pt' });
    const bytes = new Uint8Array(plan.totalSize);
    bytes.set(plan.headerBytes);
    bytes.set(embed, plan.offsets.get('model.embed_tokens.weight')!.begin);
    bytes.set(norm, plan.offsets.get('model.norm.weight')!.begin);
    const inner = bytesSource(bytes, 'm.safetensors');
    const offered = new Set<ArrayBufferLike>();
    let reads = 0;
    let fresh = 0;
    const source: ByteSource = {
      size: inner.size, name: inner.name,
      async read(offset, length, into) {
        const got = await inner.read(offset, length);
        if (length < 4096 && offset < plan.headerBytes.byteLength) return got; // the header
        reads++;
        if (into === undefined || into.byteLength !== length) {
          fresh++;
          return got;
        }
        offered.add(into.buffer);
        into.set(got);
        return into;
      },
    };
    const out = new Map<string, Uint8Array>();
    const rep = await quantizeModel({ sources: [source] }, memorySink(out), { copyChunkBytes: 4096 });
    expect(rep.totals.copied).toBe(2);
    expect(reads).toBe(Math.ceil(embed.byteLength / 4096) + 1);
    expect(fresh).toBe(0);
    expect(offered.size).toBe(1);
    const file = out.get('m.safetensors')!;
    const headerLength = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength))) as Record<string, { data_offsets: [number, number] }>;
    const at = (name: string, n: number) => {
      const [begin, end] = header[name]!.data_offsets;
      expect(end - begin).toBe(n);
      return file.subarray(8 + headerLength + begin, 8 + headerLength + end);
    };
    expect(Buffer.from(at('model.embed_tokens.weight', embed.byteLength)).equals(Buffer.from(embed))).toBe(true);
    expect(Buffer.from(at('model.norm.weight', norm.byteLength)).equals(Buffer.from(norm))).toBe(true);
  });
});
