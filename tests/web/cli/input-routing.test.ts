/**
 * Which reader a CLI input goes to, and the errors at the edges: a damaged .gguf is reported as a
 * bad GGUF file (not as a bad safetensors header), dequantize refuses an ONNX model by name, a
 * model folder stands for its weights in inspect and dequantize, a sharded run refuses an output
 * path that is a file, and a file system that reports no space (procfs) is not "full".
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { requireBuiltCli, runCli as run } from './run-cli.js';
import { planSafetensors } from '../../../web/src/io/writer.js';

let dir: string;
let model: string;

/** A safetensors file of two random F32 64x64 weights. */
async function writeModel(path: string): Promise<void> {
  const names = ['a.weight', 'b.weight'];
  const plan = planSafetensors(names.map((name) => ({ name, dtype: 'F32', shape: [64, 64] })), { format: 'pt' });
  const bytes = new Uint8Array(plan.totalSize);
  bytes.set(plan.headerBytes);
  let seed = 7;
  for (const n of names) {
    const v = new Float32Array(64 * 64).map(() => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5);
    bytes.set(new Uint8Array(v.buffer), plan.offsets.get(n)!.begin);
  }
  await writeFile(path, bytes);
}

beforeAll(async () => {
  requireBuiltCli();
  dir = await mkdtemp(join(tmpdir(), 'hqq-cli-routing-'));
  model = join(dir, 'm.safetensors');
  await writeModel(model);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('CLI input routing', () => {
  it('a .gguf whose magic is damaged is a bad GGUF file in quantize, inspect and dequantize', async () => {
    const bad = join(dir, 'bad.gguf');
    await writeFile(bad, Buffer.concat([Buffer.from('GGUX'), Buffer.alloc(100)]));
    for (const args of [['quantize', bad, '-o', join(dir, 'o.gguf')], ['inspect', bad], ['dequantize', bad, '-o', join(dir, 'd.safetensors')]]) {
      const r = await run(args);
      expect(r.code, args[0]).toBe(1);
      expect(r.stderr, args[0]).toMatch(/\[BAD_FILE\].*does not begin with the GGUF magic "GGUF" \(found "GGUX"/);
      expect(r.stderr, args[0]).not.toMatch(/safetensors/);
    }
  });

  it('dequantize names an ONNX model as one', async () => {
    const onnx = join(dir, 'x.onnx');
    await writeFile(onnx, Buffer.alloc(16));
    const r = await run(['dequantize', onnx, '-o', join(dir, 'd.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/x\.onnx is an ONNX model/);
    expect(r.stderr).not.toMatch(/header length/);
  });

  it('a model folder stands for its weights; an ambiguous or empty folder is a usage error', async () => {
    const folder = join(dir, 'folder');
    await mkdir(folder);
    await writeModel(join(folder, 'model.safetensors'));
    await writeFile(join(folder, 'config.json'), '{}');
    const i = await run(['inspect', folder]);
    expect(i.code).toBe(0);
    expect(i.stdout).toMatch(/folder[\\/]model\.safetensors .* 2 tensors/);
    const d = await run(['dequantize', folder, '-o', join(dir, 'plain.safetensors')]);
    expect(d.stderr).toMatch(/NOTHING_TO_DEQUANTIZE/);
    expect(d.code).toBe(0);

    // Sub-folders are no weight files, even when named like one (a --shard run's output folder).
    await mkdir(join(folder, 'parts.safetensors'));
    await mkdir(join(folder, 'x.gguf'));
    const sub = await run(['inspect', folder]);
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stdout).toMatch(/folder[\\/]model\.safetensors /);
    await writeModel(join(folder, 'other.safetensors'));
    const two = await run(['inspect', folder]);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/holds 2 such weight files \(model\.safetensors, other\.safetensors\); inspect one of them by its path/);
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const none = await run(['dequantize', empty, '-o', join(dir, 'e.safetensors')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/is a folder with no model weights/);
  });

  it('a sharded run refuses an output path that is a file', async () => {
    const existing = join(dir, 'existing');
    await writeFile(existing, 'x');
    const r = await run(['quantize', model, '--nbits', '4', '--shard', '1/2', '-o', existing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/existing is a file, but this run writes several files side by side into a folder .*pass a folder path/);
    expect(r.stderr).not.toMatch(/ENOTDIR/);
  });

  it('a file system that reports no blocks (procfs) is not called full', async () => {
    const r = await run(['quantize', model, '--nbits', '4', '-o', '/proc/hqq-wasm-test.safetensors']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[IO_ERROR\]/);
    expect(r.stderr).not.toMatch(/not enough free space/);
  });
});

describe('CLI output paths of one-file writers', () => {
  it('dequantize -o newdir/ writes newdir/<input>.safetensors (it wrote a file named newdir); an existing folder receives it', async () => {
    const q = join(dir, 'q4.safetensors');
    expect((await run(['quantize', model, '--nbits', '4', '-o', q])).code).toBe(0);
    const r = await run(['dequantize', q, '-o', join(dir, 'newdir') + '/']);
    expect(r.code, r.stderr).toBe(0);
    expect((await stat(join(dir, 'newdir'))).isDirectory()).toBe(true);
    expect(await readdir(join(dir, 'newdir'))).toEqual(['q4.safetensors']);
    const again = await run(['dequantize', q, '-o', join(dir, 'newdir')]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/wrote .*newdir[\\/]q4\.safetensors/);
    // Into the input's own folder under the input's name: the input would be overwritten.
    const own = await run(['dequantize', q, '-o', dir]);
    expect(own.code).toBe(1);
    expect(own.stderr).toMatch(/the output is the input file/);
    const fileSlash = await run(['dequantize', q, '-o', model + '/']);
    expect(fileSlash.code).toBe(1);
    expect(fileSlash.stderr).toMatch(/ends in "\/" \(a folder\), but it is a file/);
  });

  it('an output folder that cannot be created (procfs) fails at once; recursive mkdir spun forever there', async () => {
    const q = join(dir, 'q4p.safetensors');
    expect((await run(['quantize', model, '--nbits', '4', '-o', q])).code).toBe(0);
    for (const args of [['dequantize', q, '-o', '/proc/hqq-wasm-newdir/'], ['quantize', model, '--nbits', '4', '--shard', '1/2', '-o', '/proc/hqq-wasm-newdir/a/']]) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/\[IO_ERROR\].*hqq-wasm-newdir/);
    }
  }, 30_000);

  it('merge of a named file refuses the parts of another output in its folder (it merged them)', async () => {
    const sub = join(dir, 'merge-case');
    await mkdir(sub);
    const one = join(sub, 'one.safetensors');
    const p = await run(['quantize', model, '--nbits', '4', '--shard', '1/1', '-o', one]);
    expect(p.code, p.stderr).toBe(0);
    await writeFile(join(sub, 'other.safetensors'), 'x');
    const wrong = await run(['merge', join(sub, 'other.safetensors')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/other\.safetensors is not an output of the parts in .*their records describe one\.safetensors; pass that output/);
    expect((await readdir(sub)).filter((n) => n.startsWith('.hqq-wasm-part-'))).toHaveLength(1); // the record is kept
    const right = await run(['merge', one]);
    expect(right.code, right.stderr).toBe(0);
  });
});
