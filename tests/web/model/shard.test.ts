/**
 * The shard filter of the plan (model/shard.ts) and the gguf-split plan (formats/gguf/split.ts),
 * in-process, from headers only: the parts' files partition the run's files, every tensor is in one
 * part, the cut is balanced and stable, and bad `shard` options are refused with the way out.
 */
import { describe, expect, it } from 'vitest';
import { balancedRuns, parseSplitFileName, splitFileName, splitPrefix } from '../../../web/src/formats/gguf/split.js';
import { bytesSource } from '../../../web/src/io/source.js';
import { assignFiles, checkShard, parsePartRecordName, type PartRecord } from '../../../web/src/model/shard.js';
import { planModelInput } from '../../../web/src/model/quantize-model.js';
import { buildTinyLlama } from '../../runtimes/tiny-llama.js';

const tiny = buildTinyLlama();
const input = () => ({ sources: [bytesSource(tiny.bytes, 'tiny.gguf')], outputFileName: 'tiny.gguf' });

async function part(index: number, count: number) {
  const p = await planModelInput(input(), { gguf: { preset: 'Q4_K_M' } }, { index, count });
  await p.close();
  return p.plan;
}

describe('balancedRuns / assignFiles', () => {
  it('cuts into N non-empty contiguous runs close to equal sums; deterministic', () => {
    const sizes = [5, 1, 1, 1, 1, 1, 5, 1, 1, 1, 1, 1];
    const s = balancedRuns(sizes, 3);
    expect(s[0]).toBe(0);
    expect(s[3]).toBe(sizes.length);
    const sums = [0, 1, 2].map((k) => sizes.slice(s[k], s[k + 1]).reduce((a, b) => a + b, 0));
    expect(sums).toEqual([7, 8, 5]); // max 8: the best any contiguous cut does here
    // Each cut is the boundary nearest its target, so no run is off the mean by more than the largest item.
    let seed = 3;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 50; trial++) {
      const xs = Array.from({ length: 5 + Math.floor(next() * 40) }, () => 1 + Math.floor(next() * 100));
      const n = 1 + Math.floor(next() * 5);
      const r = balancedRuns(xs, n);
      const total = xs.reduce((a, b) => a + b, 0);
      for (let k = 0; k < n; k++) {
        expect(r[k + 1]!).toBeGreaterThan(r[k]!);
        expect(Math.abs(xs.slice(r[k], r[k + 1]).reduce((a, b) => a + b, 0) - total / n)).toBeLessThanOrEqual(Math.max(...xs));
      }
    }
    expect(balancedRuns(sizes, 3)).toEqual(s);
    // A run per item when N equals the count, even with one huge item.
    expect(balancedRuns([100, 1, 1], 3)).toEqual([0, 1, 2, 3]);
  });

  it('files: i -> i with N files, else largest first to the lightest part', () => {
    expect(assignFiles([3, 9, 1], 3)).toEqual([0, 1, 2]);
    expect(assignFiles([4, 4, 2, 2, 1], 2)).toEqual([0, 1, 0, 1, 0]);
    const parts = assignFiles([10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2);
    expect(parts[0]).toBe(0);
    expect(parts.slice(1).every((p) => p === 1)).toBe(true);
  });
});

describe('names', () => {
  it('gguf-split names as llama.cpp makes them; part record names', () => {
    expect(splitFileName('out', 0, 3)).toBe('out-00001-of-00003.gguf');
    expect(splitPrefix('out.gguf')).toBe('out');
    expect(splitPrefix('out-00002-of-00003.gguf')).toBe('out');
    expect(parseSplitFileName('a-b-00002-of-00010.gguf')).toEqual({ prefix: 'a-b', no: 1, count: 10 });
    expect(parsePartRecordName('.hqq-wasm-part-00002-of-00003.json')).toEqual({ tag: '', index: 2, count: 3 });
    expect(parsePartRecordName('.out.hqq-wasm-part-00001-of-00002.json')).toEqual({ tag: 'out.', index: 1, count: 2 });
  });
});

describe('a sharded GGUF plan', () => {
  it('N parts: disjoint split files covering the run, every tensor in exactly one part, one fingerprint', async () => {
    for (const n of [1, 2, 3, 5]) {
      const plans = await Promise.all(Array.from({ length: n }, (_, k) => part(k + 1, n)));
      const files = plans.flatMap((p) => p.files.map((f) => f.fileName));
      expect(files).toEqual(n === 1 ? ['tiny.gguf'] : Array.from({ length: n }, (_, k) => splitFileName('tiny', k, n)));
      const tensors = plans.flatMap((p) => p.part!.tensors);
      expect(tensors.sort((a, b) => a - b)).toEqual([...tiny.weights.keys()].map((_, i) => i));
      expect(new Set(plans.map((p) => p.part!.fingerprint)).size).toBe(1);
      // The record of part 1 lists every file of the run and the part that writes it.
      const rec = JSON.parse(plans[0]!.smallFiles.at(-1)!.data as string) as PartRecord;
      expect(rec.files.map((f) => [f.name, f.part])).toEqual(files.map((f, k) => [f, k + 1]));
      // Balanced: no split more than twice the mean (the tiny model's embedding is 1 of 21 tensors).
      const sizes = plans.map((p) => p.files[0]!.layout.totalSize);
      const mean = sizes.reduce((a, b) => a + b, 0) / n;
      expect(Math.max(...sizes)).toBeLessThan(2 * mean + 1);
    }
    // Other options, another fingerprint.
    const q8 = await planModelInput(input(), { gguf: { preset: 'Q8_0' } }, { index: 1, count: 2 });
    await q8.close();
    expect(q8.plan.part!.fingerprint).not.toBe((await part(1, 2)).part!.fingerprint);
  });

  it('refuses bad parts and more parts than tensors, naming the fix', async () => {
    expect(() => checkShard({ index: 0, count: 2 })).toThrow(/parts are numbered 1 to 2 \(a 0-based batch index such as JOB_COMPLETION_INDEX needs \+ 1\)/);
    expect(() => checkShard({ index: 3, count: 2 })).toThrow(/shard.index = 3 is invalid for 2 parts/);
    expect(() => checkShard({ index: 1, count: 0 })).toThrow(/shard.count = 0 is invalid/);
    expect(() => checkShard({ index: 1.5, count: 2 })).toThrow(/shard.index = 1.5/);
    await expect(planModelInput(input(), { gguf: { preset: 'Q4_K_M' } }, { index: 1, count: 22 })).rejects.toThrow(/the GGUF has 21 tensors, too few for 22 split files/);
    await expect(planModelInput(input(), { gguf: { preset: 'Q4_K_M' }, split: 3 }, { index: 1, count: 2 })).rejects.toThrow(/split = 3 contradicts shard.count = 2/);
  });
});
