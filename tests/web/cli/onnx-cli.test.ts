/**
 * The CLI on ONNX models (child process, compiled CLI in web/dist: build first): quantize with
 * per-tensor lines and the ratio to RTN, --dry-run, --json, the flags kept apart from the other
 * formats, and inspect.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { requireBuiltCli, runCli as run } from './run-cli.js';

import { mlpModel } from '../onnx/models.js';

let dir: string;
let model: string;

beforeAll(async () => {
  requireBuiltCli();
  dir = await mkdtemp(join(tmpdir(), 'hqq-onnx-cli-'));
  model = join(dir, 'mlp.onnx');
  await writeFile(model, mlpModel().bytes);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('hqq-wasm quantize model.onnx', () => {
  it('--bits 4 --block-size 32: per-tensor lines with the ratio to RTN, a summary, the file', async () => {
    const out = join(dir, 'mlp_q4.onnx');
    const r = await run(['quantize', model, '-o', out, '--bits', '4', '--block-size', '32', '--workers', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/W1 \[72, 64\] F32 -> q4 b32 18\.00 KiB -> .* \|err\| \S+ 0\.\d\dx RTN/);
    expect(r.stdout).toMatch(/small \[8, 8\] F32 -> copy 256 B \(64 weights, fewer than 1024: too small to gain\)/);
    expect(r.stdout).toMatch(/quantized 5 of 11 tensors/);
    expect(r.stdout).toMatch(/ours\/RTN 0\.\d+/);
    expect(r.stdout).toContain(`wrote ${out}`);
    const i = await run(['inspect', out, '--keys']);
    expect(i.code).toBe(0);
    expect(i.stdout).toMatch(/opsets: ai\.onnx 17, com\.microsoft 1/);
    expect(i.stdout).toMatch(/MatMulNBits: 6 \(4-bit block 32: 6\)/);
    expect(i.stdout).toMatch(/W1_Q4\s+MatMulNBits\s+K 72 N 64 q4 b32/);
  });

  it('--dry-run --json writes nothing and reports the plan; float zero points with 8 bits are a usage error', async () => {
    const r = await run(['quantize', model, '--dry-run', '--json', '--zero-points', 'float']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.format).toBe('onnx');
    expect(j.config).toEqual({ format: 'onnx', bits: 4, block_size: 32, zero_points: 'float', optimize: true });
    expect(j.tensors.find((t: { name: string }) => t.name === 'W2t').action).toBe('quantize');
    expect((await readdir(dir)).sort()).toEqual(['mlp.onnx', 'mlp_q4.onnx']);
    const bad = await run(['quantize', model, '--dry-run', '--bits', '8', '--zero-points', 'float']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/4-bit weights only; use --zero-points uint8, or --bits 4/);
    const other = await run(['quantize', model, '--dry-run', '--nbits', '4', '--group-size', '64']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/--nbits, --group-size do not apply to ONNX output/);
  });

  it('an ONNX flag on a safetensors input is named, with the HQQ flag it stands for (it used to pick ONNX output and fail on the input)', async () => {
    const st = join(dir, 'w.safetensors');
    const header = new TextEncoder().encode(JSON.stringify({ 'model.layers.0.mlp.up_proj.weight': { dtype: 'F32', shape: [64, 64], data_offsets: [0, 64 * 64 * 4] } }));
    const bytes = new Uint8Array(8 + header.length + 64 * 64 * 4);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    await writeFile(st, bytes);
    const r = await run(['quantize', st, '-o', join(dir, 'w-q.safetensors'), '--bits', '8']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--bits is an ONNX flag, but the output is HQQ; HQQ output sets bits per weight with --nbits/);
    expect((await readdir(dir)).filter((n) => n.startsWith('w-q'))).toEqual([]);
    const two = await run(['quantize', st, '--dry-run', '--block-size', '32', '--zero-points', 'uint8']);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/--block-size, --zero-points are ONNX flags, but the output is HQQ/);
    await rm(st);
  });
});
