/**
 * The CLI on GGUF files (child processes of the compiled CLI, as users run it): quantize with a
 * llama-quantize preset and its flags, --dry-run and --json, inspect, dequantize to safetensors,
 * and the usage errors that keep the two formats' flags apart.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { requireBuiltCli, runCli as run } from './run-cli.js';
import { openGGUF } from '../../../web/src/io/gguf-reader.js';
import { openFileSource } from '../../../web/src/io/node-file.js';
import { openSafetensors } from '../../../web/src/io/safetensors.js';
import { loadHQQ } from '../../../web/src/node.js';
import { buildTinyLlama } from '../../runtimes/tiny-llama.js';

let dir: string;
let input: string;

beforeAll(async () => {
  requireBuiltCli();
  dir = await mkdtemp(join(tmpdir(), 'hqq-gguf-cli-'));
  input = join(dir, 'tiny-f32.gguf');
  await writeFile(input, buildTinyLlama().bytes);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('hqq-wasm quantize model.gguf', () => {
  it('--type Q4_K_M: per-tensor lines with type, size, error and the ratio to llama.cpp; a summary; a GGUF llama.cpp reads', async () => {
    const out = join(dir, 'tiny-Q4_K_M.gguf');
    const r = await run(['quantize', input, '-o', out, '--type', 'Q4_K_M']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.find((l) => l.includes('blk.0.attn_q.weight'))).toMatch(/-> Q4_K .* 4\.50 bpw \|err\| [\d.e-]+ 0\.\d\dx llama\.cpp$/);
    expect(lines.find((l) => /\] output\.weight /.test(l))).toMatch(/-> Q6_K/);
    expect(lines.every((l) => l.length <= 119)).toBe(true);
    expect(r.stdout).toMatch(/error: mean\|err\| .* \(llama\.cpp: .*ours\/llama\.cpp 0\.\d+, 0\.\d+\)/);
    const f = await openGGUF(await openFileSource(out));
    try {
      expect(f.header.metadata.get('general.file_type')).toEqual({ type: 'u32', value: 15 });
    } finally {
      await f.close();
    }
  });

  it('--dry-run --json plans without writing; --tensor-type and --pure change the types', async () => {
    const r = await run(['quantize', input, '--dry-run', '--json', '--type', 'Q4_0', '--pure', '--tensor-type', 'attn_v=q8_0']);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.format).toBe('gguf');
    const type = Object.fromEntries(rep.tensors.map((t: { name: string; label: string }) => [t.name, t.label]));
    expect(type['blk.0.attn_v.weight']).toBe('Q8_0');
    expect(type['blk.0.ffn_down.weight']).toBe('Q4_0');
    expect(type['output.weight']).toBe('Q4_0');
    expect((await readdir(dir)).filter((n) => n.includes('Q4_0'))).toEqual([]);
  });

  it('keeps the formats apart: HQQ flags with a GGUF output, GGUF flags with an HQQ output, bad presets', async () => {
    const a = await run(['quantize', input, '-o', join(dir, 'x.gguf'), '--nbits', '4']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--nbits is an HQQ flag; GGUF output takes --type/);
    const b = await run(['quantize', input, '-o', join(dir, 'x.gguf'), '--type', 'Q9_K']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/"Q9_K" is not a GGUF preset/);
    const c = await run(['quantize', join(dir, 'nope.safetensors'), '-o', join(dir, 'y.safetensors'), '--format', 'hqq', '--type', 'Q4_0']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--type is a GGUF flag, but the output is HQQ/);
    // ONNX flags on a GGUF input are named as ONNX flags (they used to be called HQQ flags).
    const d = await run(['quantize', input, '-o', join(dir, 'x.gguf'), '--bits', '4']);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/--bits is an ONNX flag, but the output is GGUF; GGUF output sets bits per weight with --type/);
    expect((await readdir(dir)).filter((n) => n.startsWith('x.'))).toEqual([]);
  });

  it('a --tensor-type pattern that matches no tensor warns; with --strict it fails before writing', async () => {
    const out = join(dir, 'tt-unused.gguf');
    const w = await run(['quantize', input, '--dry-run', '--json', '--type', 'Q8_0', '--tensor-type', 'no_such_tensor=q4_0']);
    expect(w.code, w.stderr).toBe(0);
    expect(JSON.parse(w.stdout).warnings).toEqual([{ code: 'PATTERN_UNUSED', message: expect.stringMatching(/--tensor-type "no_such_tensor=q4_0": \/no_such_tensor\/ matches no tensor name/i) }]);
    const s = await run(['quantize', input, '-o', out, '--type', 'Q8_0', '--tensor-type', 'no_such_tensor=q4_0', '--tensor-type', 'attn_v=q4_0', '--strict']);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/warning \[PATTERN_UNUSED\]: --tensor-type "no_such_tensor=q4_0"/i);
    expect(s.stderr).not.toMatch(/attn_v=q4_0/i);
    expect((await readdir(dir)).filter((n) => n.startsWith('tt-unused'))).toEqual([]);
  });
});

describe('an output name that says another format', () => {
  it('a GGUF input with -o x.safetensors is a usage error before anything is written', async () => {
    for (const name of ['x.safetensors', 'x.SafeTensors']) {
      const r = await run(['quantize', input, '-o', join(dir, name), '--type', 'Q4_0']);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(new RegExp(`names an? \\.${name.split('.')[1]!.toLowerCase()} file, but the output is GGUF: name the output \\.gguf`));
    }
    expect((await run(['quantize', input, '-o', join(dir, 'x.safetensors')])).stderr).toMatch(/to get float safetensors of its tensors: hqq-wasm dequantize/);
    expect((await readdir(dir)).filter((n) => n.startsWith('x.') || n.includes('.x.'))).toEqual([]);
  });

  it('with --format the choice stands, with a warning (--strict: exit 1, nothing written)', async () => {
    const out = join(dir, 'chosen.safetensors');
    const r = await run(['quantize', input, '-o', out, '--type', 'Q8_0', '--format', 'gguf']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning \[OUTPUT_EXTENSION\]: -o .*chosen\.safetensors names a \.safetensors file, but the output is GGUF \(--format gguf\)/);
    const f = await openGGUF(await openFileSource(out));
    await f.close();
    const strict = await run(['quantize', input, '-o', join(dir, 'strict.safetensors'), '--type', 'Q8_0', '--format', 'gguf', '--strict']);
    expect(strict.code).toBe(1);
    expect((await readdir(dir)).filter((n) => n.includes('strict'))).toEqual([]);
  });
});

describe('hqq-wasm inspect / dequantize on GGUF', () => {
  it('inspect summarizes metadata, tokenizer, types and bits per weight; --keys lists tensors; --json is complete', async () => {
    const out = join(dir, 'inspect-q8.gguf');
    expect((await run(['quantize', input, '-o', out, '--type', 'Q8_0'])).code).toBe(0);
    const t = await run(['inspect', out]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/GGUF v3 {2}21 tensors .* 8\.\d\d bits per weight/);
    expect(t.stdout).toMatch(/types: Q8_0 16 /);
    expect(t.stdout).toMatch(/tokenizer: llama, 512 tokens, bos 1, eos 2/);
    expect(t.stdout).not.toMatch(/blk\.0\.attn_q\.weight/);
    expect((await run(['inspect', out, '--keys'])).stdout).toMatch(/blk\.0\.attn_q\.weight +Q8_0/);
    const j = JSON.parse((await run(['inspect', out, '--json'])).stdout);
    expect(j.tensors.length).toBe(21);
    expect(j.tokenizer.tokens).toBe(512);
  });

  it('dequantize decodes every tensor into safetensors exactly as the engine (and llama.cpp) decodes it', async () => {
    const q = join(dir, 'deq-q4_1.gguf');
    expect((await run(['quantize', q.replace('deq-q4_1', 'src'), '-o', q])).code).not.toBe(0); // no such input
    expect((await run(['quantize', input, '-o', q, '--type', 'Q4_1'])).code).toBe(0);
    const out = join(dir, 'restored.safetensors');
    const r = await run(['dequantize', q, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/decoded 16 of 21 tensors/);
    const hqq = await loadHQQ();
    const g = await openGGUF(await openFileSource(q));
    const s = await openSafetensors(await openFileSource(out));
    try {
      const t = g.tensor('blk.1.ffn_up.weight')!;
      const want = hqq.dequantizeGGUF((await g.readTensor(t)).slice(), [t.numel / t.ne[0]!, t.ne[0]!], 'Q4_1');
      const info = s.tensor('blk.1.ffn_up.weight')!;
      expect(info.dtype).toBe('F32');
      expect(info.shape).toEqual(t.shape);
      expect(new Float32Array((await s.readTensor(info)).slice().buffer)).toEqual(want);
    } finally {
      await g.close();
      await s.close();
    }
  });
});
