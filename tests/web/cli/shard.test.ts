/**
 * `quantize --shard I/N` + `merge`, as N machines would run them: N child processes of the compiled
 * CLI running at once into one folder, then `merge`; the result must be the single-machine output
 * byte for byte (every file, the completion record included). HQQ from a sharded Hugging Face
 * folder (4 safetensors files, one bias stored in another file than its weight) for N = 1, 2, 3;
 * GGUF for N = 1 (the plain file) and N = 2, 3 (the `--split N` set). Then the errors: --shard 0/2,
 * 3/2, merge with a part missing, with parts of two different runs, with a damaged file. With more
 * parts than input files, the HQQ output is cut into N files, as `--split N` cuts it.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ROOT, requireBuiltCli, runCli as run, type CliResult as Result } from './run-cli.js';
import { openGGUF } from '../../../web/src/io/gguf-reader.js';
import { openFileSource } from '../../../web/src/io/node-file.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { buildTinyLlama } from '../../runtimes/tiny-llama.js';
import { tinyFolder, tinyWeights, type TinyTensor } from '../model/hf-fixtures.js';

let dir: string;
let folder: string;
let gguf: string;

/** N parts at once (separate processes), each must succeed. */
async function runParts(n: number, args: (i: number) => string[]): Promise<Result[]> {
  const results = await Promise.all(Array.from({ length: n }, (_, k) => run(args(k + 1))));
  results.forEach((r, k) => expect(r.code, `part ${k + 1}/${n}: ${r.stderr}`).toBe(0));
  return results;
}

/** Every file of a folder (hidden ones too) -> its bytes. */
async function contents(d: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const n of (await readdir(d)).sort()) out.set(n, await readFile(join(d, n)));
  return out;
}

async function expectSameFolder(got: string, want: string): Promise<void> {
  const a = await contents(got);
  const b = await contents(want);
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [n, bytes] of b) expect(Buffer.compare(a.get(n)!, bytes), n).toBe(0);
}

function safetensorsBytes(weights: readonly TinyTensor[]): Uint8Array {
  const plan = planSafetensors(weights.map((w) => ({ name: w.name, dtype: 'F32', shape: w.shape })), { format: 'pt' });
  const out = new Uint8Array(plan.totalSize);
  out.set(plan.headerBytes);
  for (const w of weights) out.set(new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength), plan.offsets.get(w.name)!.begin);
  return out;
}

/** A Hugging Face folder in 4 safetensors files; layer 0's q_proj.bias sits in file 2, its weight in file 1. */
async function shardedFolder(path: string): Promise<void> {
  await mkdir(path);
  const { files, vocab } = tinyFolder('Qwen2ForCausalLM', 'llama2', { tie_word_embeddings: false });
  for (const f of files) if (f.text !== undefined) await writeFile(join(path, f.name.split('/').pop()!), f.text);
  const weights = tinyWeights('Qwen2ForCausalLM', vocab, { tied: false });
  const shardOf = (name: string) => {
    if (name === 'model.layers.0.self_attn.q_proj.bias') return 1;
    if (name.startsWith('model.embed_tokens') || name.startsWith('model.layers.0.')) return 0;
    if (name.startsWith('model.layers.')) return 1;
    return name.startsWith('lm_head') ? 3 : 2;
  };
  const names = [0, 1, 2, 3].map((i) => `model-0000${i + 1}-of-00004.safetensors`);
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < 4; i++) {
    const mine = weights.filter((w) => shardOf(w.name) === i);
    for (const w of mine) weightMap[w.name] = names[i]!;
    await writeFile(join(path, names[i]!), safetensorsBytes(mine));
  }
  const total = weights.reduce((a, w) => a + w.data.byteLength, 0);
  await writeFile(join(path, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
}

beforeAll(async () => {
  requireBuiltCli();
  dir = await mkdtemp(join(tmpdir(), 'hqq-shard-'));
  folder = join(dir, 'tiny-qwen2');
  await shardedFolder(folder);
  gguf = join(dir, 'tiny-f32.gguf');
  await writeFile(gguf, buildTinyLlama().bytes);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const HQQ_OPTS = ['--nbits', '4', '--group-size', '32', '--workers', '1'];

describe('quantize --shard I/N, then merge: the single run, byte for byte', () => {
  it('HQQ folder from a 4-file model, N = 1, 2, 3 (concurrent processes into one folder)', async () => {
    const single = join(dir, 'hqq-single');
    const s = await run(['quantize', folder, '-o', `${single}/`, ...HQQ_OPTS]);
    expect(s.code, s.stderr).toBe(0);
    for (const n of [1, 2, 3]) {
      const out = join(dir, `hqq-parts-${n}`);
      const parts = await runParts(n, (i) => ['quantize', folder, '-o', out, '--shard', `${i}/${n}`, ...HQQ_OPTS, '--json']);
      const reports = parts.map((p) => JSON.parse(p.stdout));
      // Every tensor is computed by some part; a weight whose bias lives in another part's file is computed by both.
      const names = new Set(reports.flatMap((r) => r.tensors.map((t: { name: string }) => t.name)));
      expect(names.size).toBe(JSON.parse((await run(['quantize', folder, '--dry-run', '--json', ...HQQ_OPTS])).stdout).tensors.length);
      expect(reports.every((r) => r.part.count === n && r.part.fingerprint === reports[0].part.fingerprint)).toBe(true);
      // Before the merge: the parts' files, no index and no config.json yet.
      const before = await readdir(out);
      expect(before).not.toContain('model.safetensors.index.json');
      expect(before.filter((f) => f.includes('hqq-wasm-part-')).length).toBe(n);
      const m = await run(['merge', out]);
      expect(m.code, m.stderr).toBe(0);
      expect(m.stdout).toMatch(new RegExp(`merged ${n} parts? in .*: 4 files, all from one run`));
      await expectSameFolder(out, single);
    }
  }, 600_000);

  it('GGUF: N = 1 is the plain file; N = 2, 3 are the --split N set, which merge checks', async () => {
    const single = join(dir, 'gguf-single');
    await mkdir(single);
    expect((await run(['quantize', gguf, '-o', join(single, 'tiny.gguf'), '--type', 'Q4_K_M', '--workers', '1'])).code).toBe(0);
    const one = join(dir, 'gguf-parts-1');
    await runParts(1, (i) => ['quantize', gguf, '-o', join(one, 'tiny.gguf'), '--shard', `${i}/1`, '--type', 'Q4_K_M', '--workers', '1']);
    expect((await run(['merge', join(one, 'tiny.gguf')])).code).toBe(0);
    await expectSameFolder(one, single);
    for (const n of [2, 3]) {
      const split = join(dir, `gguf-split-${n}`);
      const s = await run(['quantize', gguf, '-o', join(split, 'tiny.gguf'), '--split', String(n), '--type', 'Q4_K_M', '--workers', '1']);
      expect(s.code, s.stderr).toBe(0);
      const files = (await readdir(split)).sort();
      expect(files).toEqual(Array.from({ length: n }, (_, k) => `tiny-0000${k + 1}-of-0000${n}.gguf`));
      const out = join(dir, `gguf-parts-${n}`);
      await runParts(n, (i) => ['quantize', gguf, '-o', join(out, 'tiny.gguf'), '--shard', `${i}/${n}`, '--type', 'Q4_K_M', '--workers', '1']);
      const m = await run(['merge', join(out, 'tiny.gguf')]);
      expect(m.code, m.stderr).toBe(0);
      expect(m.stdout).toMatch(new RegExp(`merged ${n} parts in .*: ${n} GGUF split files, 21 tensors`));
      await expectSameFolder(out, split);
      // What llama.cpp reads: all metadata in split 0, only the split keys in the others, every tensor once.
      let tensors = 0;
      for (let k = 0; k < n; k++) {
        const f = await openGGUF(await openFileSource(join(out, files[k]!)));
        try {
          const keys = [...f.header.metadata.keys()];
          expect(f.header.metadata.get('split.no')).toEqual({ type: 'u16', value: k });
          expect(f.header.metadata.get('split.count')).toEqual({ type: 'u16', value: n });
          expect(f.header.metadata.get('split.tensors.count')).toEqual({ type: 'i32', value: 21 });
          if (k === 0) expect(keys).toContain('general.architecture');
          else expect(keys).toEqual(['split.no', 'split.count', 'split.tensors.count']);
          expect(f.header.tensors.length).toBeGreaterThan(0);
          tensors += f.header.tensors.length;
        } finally {
          await f.close();
        }
      }
      expect(tensors).toBe(21);
    }
  }, 600_000);
});

describe('sharding errors: clear, and nothing written', () => {
  it('--shard 0/2, 3/2, 1/0, x: usage errors (exit 2)', async () => {
    for (const [v, msg] of [['0/2', /part 0 is not one of the 2 parts 1\.\.2 \(parts are numbered from 1: .*JOB_COMPLETION_INDEX needs \+ 1/], ['3/2', /part 3 is not one of the 2 parts 1\.\.2/], ['1/0', /the number of parts must be at least 1/], ['x', /--shard must be I\/N, got "x"/]] as const) {
      const out = join(dir, `bad-${v.replace('/', '-')}`);
      const r = await run(['quantize', folder, '-o', out, '--shard', v, ...HQQ_OPTS]);
      expect(r.code, v).toBe(2);
      expect(r.stderr, v).toMatch(msg);
      expect(existsSync(out)).toBe(false);
    }
    const r = await run(['quantize', gguf, '-o', join(dir, 'x.gguf'), '--shard', '1/2', '--split', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--split 3 contradicts --shard 1\/2/);
  });

  it('HQQ with more parts than the input has files: N files model-0000I-of-0000N, as --split N writes them', async () => {
    const split = join(dir, 'hqq-split-5');
    const s = await run(['quantize', folder, '-o', split, '--split', '5', ...HQQ_OPTS]);
    expect(s.code, s.stderr).toBe(0);
    const names = (await readdir(split)).filter((n) => n.endsWith('.safetensors')).sort();
    expect(names).toEqual(Array.from({ length: 5 }, (_, k) => `model-0000${k + 1}-of-00005.safetensors`));
    const index = JSON.parse(await readFile(join(split, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(names));
    const out = join(dir, 'hqq-parts-5');
    await runParts(5, (i) => ['quantize', folder, '-o', out, '--shard', `${i}/5`, ...HQQ_OPTS]);
    const m = await run(['merge', out]);
    expect(m.code, m.stderr).toBe(0);
    await expectSameFolder(out, split);
  }, 300_000);

  it('merge with a part missing names it and the command that runs it; nothing is written', async () => {
    const out = join(dir, 'missing');
    expect((await run(['quantize', folder, '-o', out, '--shard', '1/3', ...HQQ_OPTS])).code).toBe(0);
    expect((await run(['quantize', folder, '-o', out, '--shard', '3/3', ...HQQ_OPTS])).code).toBe(0);
    const m = await run(['merge', out]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/part 2 of 3 is missing \(no part record: not finished, or failed\); run it again: hqq-wasm quantize .*tiny-qwen2 -o .*missing --shard 2\/3 --nbits 4 --group-size 32 --workers 1, then merge again/);
    expect(await readdir(out)).not.toContain('model.safetensors.index.json');
    expect(await readdir(out)).not.toContain('.hqq-wasm-output.json');
    // Running the missing part completes it.
    expect((await run(['quantize', folder, '-o', out, '--shard', '2/3', ...HQQ_OPTS])).code).toBe(0);
    expect((await run(['merge', out])).code).toBe(0);
    await expectSameFolder(out, join(dir, 'hqq-single'));
    const again = await run(['merge', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/nothing to merge, the output there is complete \(merged already, or written by one run\)/);
  }, 300_000);

  it('merge refuses parts of different runs (other options: the plan fingerprints differ), for HQQ and GGUF', async () => {
    const out = join(dir, 'mixed');
    expect((await run(['quantize', folder, '-o', out, '--shard', '1/2', ...HQQ_OPTS])).code).toBe(0);
    expect((await run(['quantize', folder, '-o', out, '--shard', '2/2', '--nbits', '2', '--group-size', '32', '--workers', '1'])).code).toBe(0);
    const m = await run(['merge', out]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/part 2 of 2 comes from a different run than part 1 \(their plan fingerprints differ: another input, other options or another hqq-wasm version\)/);
    expect(await readdir(out)).not.toContain('model.safetensors.index.json');

    const g = join(dir, 'mixed-gguf');
    expect((await run(['quantize', gguf, '-o', join(g, 'tiny.gguf'), '--shard', '1/2', '--type', 'Q4_K_M'])).code).toBe(0);
    expect((await run(['quantize', gguf, '-o', join(g, 'tiny.gguf'), '--shard', '2/2', '--type', 'Q8_0'])).code).toBe(0);
    const mg = await run(['merge', join(g, 'tiny.gguf')]);
    expect(mg.code).toBe(1);
    expect(mg.stderr).toMatch(/part 2 of 2 comes from a different run than part 1/);
  }, 300_000);

  it('merge of a folder without parts, and a part file damaged after the run', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const m = await run(['merge', empty]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/no part records .* found: no part of a sharded run has finished here/);
    const out = join(dir, 'damaged');
    await runParts(2, (i) => ['quantize', gguf, '-o', join(out, 'tiny.gguf'), '--shard', `${i}/2`, '--type', 'Q4_K_M', '--workers', '1']);
    const second = join(out, 'tiny-00002-of-00002.gguf');
    await writeFile(second, (await readFile(second)).subarray(0, 1000));
    const d = await run(['merge', join(out, 'tiny.gguf')]);
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/tiny-00002-of-00002\.gguf \(part 2 of 2\) is 1000 bytes, but the run planned \d+: .*run it again: hqq-wasm quantize .* --shard 2\/2/);
  }, 300_000);
});

describe('docs/sharding.md', () => {
  it('shows the Kubernetes manifest of docs/examples/ as it is', async () => {
    const doc = await readFile(join(ROOT, 'docs/sharding.md'), 'utf8');
    const yaml = await readFile(join(ROOT, 'docs/examples/k8s-indexed-job.yaml'), 'utf8');
    const blocks = [...doc.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    expect(blocks).toContain(yaml);
    expect(yaml).toMatch(/--shard \$\(\(JOB_COMPLETION_INDEX \+ 1\)\)\/8/);
  });
});
