// Early writeback (io/node-writeback.ts): an output file is flushed to disk in the background as it
// is written, so the fsync before publishing has little left to do; a failed background flush
// fails the file even when the final fsync succeeds (the kernel reports a writeback error once).
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSafetensorsFileWriter } from '../../../web/src/io/node-writer.js';
import { EarlyWriteback, WRITEBACK_EVERY } from '../../../web/src/io/node-writeback.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { rejectsWithHQQError } from '../helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-writeback-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

/** The prototype of Node's FileHandle, whose datasync the writer calls. */
async function fileHandlePrototype(): Promise<object> {
  const p = join(dir, 'probe');
  await writeFile(p, '');
  const fh = await open(p, 'r');
  const proto = Object.getPrototypeOf(fh) as object;
  await fh.close();
  return proto;
}

/** A file of three U8 tensors of `chunk` bytes each, every byte set to its tensor's number. */
function threeTensors(chunk: number) {
  const plan = planSafetensors(['a', 'b', 'c'].map((name) => ({ name, dtype: 'U8' as const, shape: [chunk] })));
  const data = [1, 2, 3].map((v) => new Uint8Array(chunk).fill(v));
  return { plan, data, names: ['a', 'b', 'c'] };
}

describe('EarlyWriteback', () => {
  it('starts one datasync per WRITEBACK_EVERY bytes written, never two at once', async () => {
    let running = 0;
    let most = 0;
    let calls = 0;
    let release: (() => void) | undefined;
    const fh = {
      datasync: () => {
        calls++;
        running++;
        most = Math.max(most, running);
        return new Promise<void>((r) => {
          release = () => {
            running--;
            r();
          };
        });
      },
    };
    const wb = new EarlyWriteback(fh as never);
    wb.wrote(WRITEBACK_EVERY - 1);
    expect(calls).toBe(0);
    wb.wrote(1);
    expect(calls).toBe(1);
    wb.wrote(3 * WRITEBACK_EVERY); // one is still running: no second one
    expect(calls).toBe(1);
    release!();
    await wb.settle();
    wb.wrote(WRITEBACK_EVERY);
    expect(calls).toBe(2);
    release!();
    await wb.settle();
    expect(most).toBe(1);
  });

  it('settle() throws the error of a failed background datasync, also after later ones succeed', async () => {
    let n = 0;
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const wb = new EarlyWriteback({ datasync: () => (n++ === 0 ? Promise.reject(eio) : Promise.resolve()) } as never);
    wb.wrote(WRITEBACK_EVERY);
    await expect(wb.settle()).rejects.toBe(eio);
    wb.wrote(WRITEBACK_EVERY);
    await expect(wb.settle()).rejects.toBe(eio);
    expect(n).toBe(2);
  });
});

describe('the output file writer with early writeback', () => {
  it('flushes a large file in the background while it is written, and the file is exact', async () => {
    const proto = await fileHandlePrototype();
    const spy = vi.spyOn(proto as { datasync: () => Promise<void> }, 'datasync');
    const chunk = WRITEBACK_EVERY / 2 + 4096;
    const { plan, data, names } = threeTensors(chunk);
    const target = join(dir, 'out.safetensors');
    const w = await createSafetensorsFileWriter(target, plan);
    for (let i = 0; i < 3; i++) await w.writeTensor(names[i]!, data[i]!);
    await w.commit();
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(1);
    const bytes = await readFile(target);
    expect(bytes.byteLength).toBe(plan.totalSize);
    for (let i = 0; i < 3; i++) {
      const o = plan.offsets.get(names[i]!)!;
      expect(bytes.subarray(o.begin, o.end).every((b) => b === i + 1)).toBe(true);
    }
  });

  it('a failed background datasync fails the commit with an IO_ERROR naming the file; the target and temp are gone', async () => {
    const proto = await fileHandlePrototype();
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    vi.spyOn(proto as { datasync: () => Promise<void> }, 'datasync').mockRejectedValueOnce(eio);
    const { plan, data, names } = threeTensors(WRITEBACK_EVERY / 2 + 4096);
    const target = join(dir, 'out.safetensors');
    const w = await createSafetensorsFileWriter(target, plan);
    for (let i = 0; i < 3; i++) await w.writeTensor(names[i]!, data[i]!);
    const err = await rejectsWithHQQError(w.commit());
    expect(err.code).toBe('IO_ERROR');
    expect(err.message).toContain('out.safetensors');
    expect(err.message).toContain('EIO');
    expect(err.message).toContain('discarded');
    expect(existsSync(target)).toBe(false);
    expect((await readdir(dir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});
