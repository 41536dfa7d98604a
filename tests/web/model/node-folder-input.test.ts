/**
 * A model folder read from disk (quantizeModelFiles): the Hugging Face cache's layout of symlinks,
 * sub-folders named in a notice, a num_hidden_layers the weights cannot back (refused at once,
 * without listing a trillion missing names), and errors about a shard index that name the
 * input's index, not the output's.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildIndexJson } from '../../../web/src/io/index-json.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { quantizeModelFiles } from '../../../web/src/node-model.js';
import { rejectsWithHQQError } from '../helpers.js';
import { tinyFolder, tinyWeights, type TinyTensor } from './hf-fixtures.js';

let dir: string;
const ARCH = 'LlamaForCausalLM';

async function writeWeights(path: string, weights: readonly TinyTensor[]): Promise<void> {
  const plan = planSafetensors(weights.map((w) => ({ name: w.name, dtype: 'F32' as const, shape: w.shape })), { format: 'pt' });
  const bytes = new Uint8Array(plan.totalSize);
  bytes.set(plan.headerBytes);
  for (const w of weights) bytes.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), plan.offsets.get(w.name)!.begin);
  await writeFile(path, bytes);
}

/** A tiny Llama folder at `folder` (config edited by `config`); returns its weights. */
async function writeFolder(folder: string, config: (c: Record<string, unknown>) => string = (c) => JSON.stringify(c)): Promise<TinyTensor[]> {
  await mkdir(folder, { recursive: true });
  const { files, vocab } = tinyFolder(ARCH, 'llama3');
  for (const f of files) {
    const name = f.name.split('/').pop()!;
    if (f.text !== undefined) await writeFile(join(folder, name), name === 'config.json' ? config(JSON.parse(f.text)) : f.text);
  }
  const weights = tinyWeights(ARCH, vocab);
  await writeWeights(join(folder, 'model.safetensors'), weights);
  return weights;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-folder-input-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('model folders on disk', () => {
  it("the Hugging Face cache's snapshot folder of symlinks is read like the files (it held 'no files')", async () => {
    const blobs = join(dir, 'cache', 'blobs');
    await writeFolder(blobs);
    const snap = join(dir, 'cache', 'snapshots', 'abc123');
    await mkdir(snap, { recursive: true });
    for (const n of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']) await symlink(join('..', '..', 'blobs', n), join(snap, n));
    const r = await quantizeModelFiles(snap, join(dir, 'snap-out.gguf'), { dryRun: true, format: 'gguf', gguf: { preset: 'Q8_0' } } as never);
    expect(r.totals.quantized).toBeGreaterThan(0);
  });

  it('a sub-folder is named in a notice (an HQQ folder output does not copy it)', async () => {
    const folder = join(dir, 'with-sub');
    await writeFolder(folder);
    await mkdir(join(folder, 'original'));
    await writeFile(join(folder, 'original', 'params.json'), '{}');
    const notices: string[] = [];
    await quantizeModelFiles(folder, join(dir, 'with-sub-out') + '/', { dryRun: true, onNotice: (m) => notices.push(m) });
    expect(notices.join('\n')).toMatch(/with-sub[\\/]original[\\/] is not read \(sub-folders are not part of the model's files/);
  });

  it('num_hidden_layers far beyond the weights is refused at once, naming both counts', async () => {
    const folder = join(dir, 'huge-layers');
    await writeFolder(folder, (c) => JSON.stringify({ ...c, num_hidden_layers: 1e12 }));
    const t0 = performance.now();
    const e = await rejectsWithHQQError(quantizeModelFiles(folder, join(dir, 'huge.gguf'), { dryRun: true, format: 'gguf' } as never));
    expect(performance.now() - t0).toBeLessThan(20_000); // it ran out of memory after ~100 s
    expect(e.code).toBe('BAD_FILE');
    expect(e.message).toMatch(/at least \d+ tensor\(s\) that LlamaForCausalLM needs are missing \(config\.json has num_hidden_layers = 1000000000000, the weights hold layers 0\.\.1\)/);
  });

  it("errors about a shard index name the input's index, not the output's name", async () => {
    const folder = join(dir, 'sharded');
    const weights = await writeFolder(folder);
    await rm(join(folder, 'model.safetensors'));
    const half = Math.ceil(weights.length / 2);
    const parts = [weights.slice(0, half), weights.slice(half)];
    const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    for (let i = 0; i < 2; i++) await writeWeights(join(folder, names[i]!), parts[i]!);
    const wm = new Map(weights.map((w, i) => [w.name, names[i < half ? 0 : 1]!]));
    wm.set('model.layers.9.extra.weight', names[0]!); // listed, but no shard holds it
    await writeFile(join(folder, 'model.safetensors.index.json'), buildIndexJson(wm, 0, {}));
    for (const out of [join(dir, 'sh-out.gguf'), join(dir, 'sh-out', 'new.safetensors.index.json')]) {
      const e = await rejectsWithHQQError(quantizeModelFiles(folder, out, { dryRun: true }));
      expect(e.code, out).toBe('BAD_FILE');
      expect(e.message, out).toMatch(/^model\.safetensors\.index\.json: tensor "model\.layers\.9\.extra\.weight" is mapped to model-00001-of-00002\.safetensors but that shard does not hold it/);
    }
  });
});
