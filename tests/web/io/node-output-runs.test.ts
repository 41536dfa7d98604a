/**
 * Whole runs through the Node output sink (quantizeModel / quantizeModelFiles on the calling
 * thread, inline pool): an abort around the switch (finding 2), no output folder before a valid plan
 * and none after a failure (finding 13), `-o newdir/` (finding 11).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HQQ } from '../../../web/src/engine.js';
import { buildIndexJson } from '../../../web/src/io/index-json.js';
import { openFileSource } from '../../../web/src/io/node-file.js';
import { nodeOutputSink, OUTPUT_MARKER } from '../../../web/src/io/node-sink.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { quantizeModel, type QuantizeModelOptions } from '../../../web/src/model/quantize-model.js';
import { generateTensorData, shardPlan, syntheticLlamaSpec, syntheticPreset, type SyntheticTensor } from '../../../web/src/model/synthetic.js';
import { quantizeModelFiles } from '../../../web/src/node-model.js';
import { loadHQQ } from '../../../web/src/node.js';
import { createInlinePool } from '../../../web/src/pool/inline-pool.js';
import { rejectsWithHQQError } from '../helpers.js';

let dir: string;
let hqq: HQQ;
let inDir: string;
let shards: string[];
let indexText: string;
const INDEX = 'model.safetensors.index.json';

function fileBytes(tensors: SyntheticTensor[]): Uint8Array {
  const plan = planSafetensors(tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })), { format: 'pt' });
  const out = new Uint8Array(plan.totalSize);
  out.set(plan.headerBytes);
  for (const t of tensors) out.set(generateTensorData(t, 5), plan.offsets.get(t.name)!.begin);
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-output-runs-'));
  hqq = await loadHQQ();
  const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F16', { hiddenSize: 128, intermediateSize: 256, vocabSize: 256 }));
  const sp = shardPlan(spec, 200_000);
  shards = sp.shards.map((s) => s.fileName);
  inDir = join(dir, 'in');
  await mkdir(inDir);
  for (const s of sp.shards) await writeFile(join(inDir, s.fileName), fileBytes(s.tensors));
  indexText = buildIndexJson(sp.weightMap, sp.totalSize);
  await writeFile(join(inDir, INDEX), indexText);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function snapshot(folder: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of (await readdir(folder)).sort()) out.set(f, (await readFile(join(folder, f))).toString('base64'));
  return out;
}

/** quantizeModel of the sharded input into folder `out` through nodeOutputSink, aborting at point `abortAt`. */
async function run(out: string, options: QuantizeModelOptions, abortAt?: string) {
  const sources = await Promise.all(shards.map((f) => openFileSource(join(inDir, f))));
  const ctl = new AbortController();
  const sink = nodeOutputSink({ kind: 'folder', path: out }, {
    signal: ctl.signal,
    onPoint: (p) => { if (p === abortAt) ctl.abort(new Error(`received SIGINT at ${p}`)); },
  });
  try {
    const report = await quantizeModel({ sources, index: { text: indexText, fileName: INDEX } }, sink, {
      workers: 1, createPool: () => createInlinePool(hqq), signal: ctl.signal, ...options,
    });
    return { report, sink };
  } finally {
    await sink.dispose();
    await Promise.all(sources.map((s) => s.close()));
  }
}

describe('an abort around the switch (finding 2)', () => {
  it('before the switch: ABORTED and the old output; after it: a successful report and the new output', async () => {
    const out = join(dir, 'abort-out');
    const refNew = join(dir, 'abort-ref');
    await run(out, { nbits: 8 });
    await run(refNew, { nbits: 4 });
    const oldBytes = await snapshot(out);
    const newBytes = await snapshot(refNew);
    expect(oldBytes.get(shards[0]!)).not.toBe(newBytes.get(shards[0]!));
    for (const point of ['prepare', `commit:${shards[1]}`, `file:${INDEX}`, 'finish:ready']) {
      const err = await rejectsWithHQQError(run(out, { nbits: 4 }, point));
      expect(err.code, point).toBe('ABORTED');
      expect(err.message, point).toContain(`received SIGINT at ${point}`);
      expect(await snapshot(out), point).toEqual(oldBytes);
      expect(await readdir(dir), point).not.toContainEqual(expect.stringMatching(/\.hqq-/));
    }
    for (const point of ['switch:old-moved', 'switch:done']) {
      const { report, sink } = await run(out, { nbits: 4 }, point);
      expect(report.totals.quantized, point).toBeGreaterThan(0);
      expect(sink.published).toBe(true);
      expect(sink.notices.join('\n'), point).toMatch(/received SIGINT at .* after the new output was in place/);
      expect(await snapshot(out), point).toEqual(newBytes);
      await run(out, { nbits: 8 }); // back to the old one for the next point
    }
    expect(await readdir(dir)).not.toContainEqual(expect.stringMatching(/\.hqq-/));
  });
});

describe('no output folder until the plan is valid, none after a failure (finding 13); -o newdir/ (finding 11)', () => {
  const pool = () => createInlinePool(hqq);

  it('a single file with -o newdir/ goes into a new folder of that name', async () => {
    const root = await mkdtemp(join(dir, 'slash-'));
    const rep = await quantizeModelFiles(join(inDir, shards[0]!), join(root, 'newdir') + '/', { workers: 1, createPool: pool });
    expect(rep.output).toEqual({ kind: 'folder', path: join(root, 'newdir') });
    expect(rep.outputPaths).toEqual([join(root, 'newdir', shards[0]!)]);
    expect((await readdir(join(root, 'newdir'))).sort()).toEqual([OUTPUT_MARKER, shards[0]!].sort());
    expect(await readdir(root)).toEqual(['newdir']);
  });

  it('a malformed input, a failing worker or an abort leave no folder and no temporary', async () => {
    const root = await mkdtemp(join(dir, 'fail-'));
    const bad = join(root, 'bad.safetensors');
    await writeFile(bad, new Uint8Array(20));
    const failures: [string, () => Promise<unknown>][] = [
      ['malformed input', () => quantizeModelFiles(bad, join(root, 'out1') + '/', { workers: 1, createPool: pool })],
      ['worker failure', () => quantizeModelFiles(join(inDir, INDEX), join(root, 'a', 'b', 'out2'), {
        workers: 1, createPool: pool, testHooks: { crashOn: 'model.layers.1.mlp.down_proj.weight' },
      })],
      ['abort', () => quantizeModelFiles(join(inDir, shards[0]!), join(root, 'out3') + '/', { workers: 1, createPool: pool, signal: AbortSignal.abort() })],
    ];
    for (const [what, go] of failures) {
      await rejectsWithHQQError(go());
      expect(await readdir(root), what).toEqual(['bad.safetensors']);
    }
  });

  it('a run into a folder the user filled fails before planning anything is written', async () => {
    const root = await mkdtemp(join(dir, 'user-'));
    await writeFile(join(root, 'mine.txt'), 'x');
    const err = await rejectsWithHQQError(quantizeModelFiles(join(inDir, INDEX), root, { workers: 1, createPool: pool }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/is a folder that hqq-wasm did not make/);
    expect(await readdir(root)).toEqual(['mine.txt']);
    // A dry run does not look at the output.
    const dry = await quantizeModelFiles(join(inDir, INDEX), root, { dryRun: true });
    expect(dry.outputPaths).toEqual([]);
  });
});
