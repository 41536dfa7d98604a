/**
 * Values a 16-bit output type cannot hold (float16 above 65504) are errors naming the tensor and
 * the option that keeps it in range, on every path that converts to float16: a GGUF tensor stored
 * as F16, an HQQ layer's bias in the compute dtype, `dequantize --dtype float16` of HQQ and GGUF
 * files. Each of these used to write Inf and exit 0. (The built CLI, as users run it.)
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { requireBuiltCli, runCli as run } from './run-cli.js';
import { checkEncodedRange } from '../../../web/src/formats/convert.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { loadHQQ } from '../../../web/src/node.js';
import { buildTinyLlama } from '../../runtimes/tiny-llama.js';

let dir: string;

beforeAll(async () => {
  requireBuiltCli();
  dir = await mkdtemp(join(tmpdir(), 'hqq-range-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A safetensors file of F32 tensors. */
async function writeF32(path: string, tensors: { name: string; shape: number[]; values: Float32Array }[]): Promise<void> {
  const plan = planSafetensors(tensors.map((t) => ({ name: t.name, dtype: 'F32', shape: t.shape })), { format: 'pt' });
  const bytes = new Uint8Array(plan.totalSize);
  bytes.set(plan.headerBytes);
  for (const t of tensors) bytes.set(new Uint8Array(t.values.buffer), plan.offsets.get(t.name)!.begin);
  await writeFile(path, bytes);
}

function normal(n: number, std: number, seed: number): Float32Array {
  let x = seed >>> 0;
  const u = () => ((x = (x * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: n }, () => std * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

/** Files in `dir` whose names start with `prefix` (outputs and temporaries alike). */
async function leftovers(prefix: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith(prefix) || n.startsWith(`.${prefix}`));
}

describe('float16 range overflow is an error, never Inf in an output', () => {
  it('checkEncodedRange: finite values that became Inf are counted and named; Inf and NaN in the input are not overflows', async () => {
    const hqq = await loadHQQ();
    const values = Float32Array.from([1, 70000, -Infinity, NaN, -1e6, 65504]);
    const f16 = hqq.encode16(values, 'f16');
    expect(() => checkEncodedRange(values, f16, 'f16', { what: 'tensor "w"', wayOut: 'keep it in F32' })).toThrow(
      /tensor "w": 2 of 6 finite value\(s\) overflow float16 \(largest finite value 65504\) and would be stored as Inf \(the first: 70000 at element 1\); keep it in F32/,
    );
    const inRange = Float32Array.from([1, -Infinity, NaN, 65504, -65519]); // -65519 rounds to -65504
    expect(() => checkEncodedRange(inRange, hqq.encode16(inRange, 'f16'), 'f16')).not.toThrow();
    const bf = Float32Array.from([1e38, 3.4e38]);
    expect(() => checkEncodedRange(bf, hqq.encode16(bf, 'bf16'), 'bf16')).toThrow(/1 of 2 finite value\(s\) overflow bfloat16/);
  });

  it('GGUF: a tensor stored as F16 with values above 65504 fails naming it and the --tensor-type that keeps it in F32', async () => {
    const model = buildTinyLlama();
    const name = 'blk.0.ffn_up.weight';
    const w = model.weights.get(name)!;
    const at = Buffer.from(model.bytes).indexOf(Buffer.from(w.buffer, w.byteOffset, 64));
    expect(at).toBeGreaterThan(0);
    const bytes = model.bytes.slice();
    new Float32Array(bytes.buffer, at, w.length).set(w.map((v) => v * 1e7)); // std ~2e5
    const input = join(dir, 'huge.gguf');
    await writeFile(input, bytes);
    const out = join(dir, 'huge-q8.gguf');
    const r = await run(['quantize', input, '-o', out, '--type', 'Q8_0', '--tensor-type', 'ffn_up=f16']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/\[INVALID_VALUE\].*tensor "blk\.0\.ffn_up\.weight" \(stored as F16\): \d+ of \d+ finite value\(s\) overflow float16/);
    expect(r.stderr).toContain(`--tensor-type '^blk\\.0\\.ffn_up\\.weight$=f32'`);
    expect(await leftovers('huge-q8')).toEqual([]);
    // The way out the message names works, ahead of the broader override.
    const ok = await run(['quantize', input, '-o', out, '--type', 'Q8_0', '--tensor-type', '^blk\\.0\\.ffn_up\\.weight$=f32', '--tensor-type', 'ffn_up=f16']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  });

  it('HQQ: a bias the float16 compute dtype cannot hold fails naming the layer; bfloat16 writes it', async () => {
    const input = join(dir, 'bias.safetensors');
    await writeF32(input, [
      { name: 'model.layers.0.mlp.up_proj.weight', shape: [128, 128], values: normal(128 * 128, 0.02, 3) },
      { name: 'model.layers.0.mlp.up_proj.bias', shape: [128], values: new Float32Array(128).fill(1e5) },
    ]);
    const out = join(dir, 'bias-q.safetensors');
    const r = await run(['quantize', input, '-o', out, '--compute-dtype', 'float16']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the bias of "model\.layers\.0\.mlp\.up_proj\.weight" \(stored in the compute dtype, F16\): 128 of 128 finite value\(s\) overflow float16/);
    expect(r.stderr).toMatch(/use compute dtype bfloat16 or float32 \(--compute-dtype\)/);
    expect(await leftovers('bias-q')).toEqual([]);
    const ok = await run(['quantize', input, '-o', out, '--compute-dtype', 'bfloat16']);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('dequantize --dtype float16 of weights beyond float16 fails naming the tensor (HQQ and GGUF inputs); bfloat16 writes them', async () => {
    const input = join(dir, 'big.safetensors');
    await writeF32(input, [{ name: 'model.layers.0.mlp.up_proj.weight', shape: [128, 128], values: normal(128 * 128, 3e5, 5) }]);
    const hqqFile = join(dir, 'big-q.safetensors');
    expect((await run(['quantize', input, '-o', hqqFile, '--compute-dtype', 'float32'])).code).toBe(0);
    const ggufFile = join(dir, 'huge-q8.gguf'); // written by the GGUF case above, F32 for the huge tensor
    for (const [file, tensor] of [[hqqFile, 'model.layers.0.mlp.up_proj.weight'], [ggufFile, 'blk.0.ffn_up.weight']] as const) {
      const out = join(dir, 'deq-f16.safetensors');
      const r = await run(['dequantize', file, '-o', out, '--dtype', 'float16']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(`tensor "${tensor}" (dequantized to float16)`);
      expect(r.stderr).toMatch(/overflow float16 .*; dequantize to bfloat16 or float32 instead \(--dtype\)/);
      expect(await leftovers('deq-f16')).toEqual([]);
      const ok = await run(['dequantize', file, '-o', join(dir, 'deq-bf16.safetensors'), '--dtype', 'bfloat16']);
      expect(ok.code, ok.stderr).toBe(0);
    }
  });

  it('dequantize of a NaN scale names the file and the layer', async () => {
    const input = join(dir, 'small.safetensors');
    await writeF32(input, [{ name: 'model.layers.0.mlp.up_proj.weight', shape: [64, 64], values: normal(64 * 64, 0.02, 9) }]);
    const q = join(dir, 'small-q.safetensors');
    expect((await run(['quantize', input, '-o', q, '--compute-dtype', 'float32'])).code).toBe(0);
    // Put a NaN into the first stored scale (F32): find the scale tensor's offset from the header.
    const { readFile } = await import('node:fs/promises');
    const bytes = new Uint8Array(await readFile(q));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { data_offsets: [number, number] }>;
    const scale = header['model.layers.0.mlp.up_proj.scale']!;
    new DataView(bytes.buffer).setFloat32(8 + n + scale.data_offsets[0], NaN, true);
    const bad = join(dir, 'small-nan.safetensors');
    await writeFile(bad, bytes);
    const r = await run(['dequantize', bad, '-o', join(dir, 'small-deq.safetensors')]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/small-nan\.safetensors: layer "model\.layers\.0\.mlp\.up_proj": scale holds 1 non-finite value/);
  });
});
