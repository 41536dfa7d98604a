/**
 * Whole-model quantization end to end on tiny synthetic models in a temp dir.
 * The worker_threads pool runs the COMPILED worker (web/dist/pool/node-worker.js): build first with
 * `bash scripts/build.sh` (or `npx tsc -p tsconfig.json` after the wasm build). The tests fail with
 * that message when web/dist is missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndexJson, parseIndexJson } from '../../../web/src/io/index-json.js';
import { openFileSource } from '../../../web/src/io/node-file.js';
import { openSafetensors, parseSafetensorsHeader, type DType, type SafetensorsFile } from '../../../web/src/io/safetensors.js';
import { bytesSource } from '../../../web/src/io/source.js';
import { planSafetensors, type SafetensorsPlan } from '../../../web/src/io/writer.js';
import { HQQLINEAR_KEYS } from '../../../web/src/model/hqqlinear.js';
import { TEST_HOOKS, quantizeModel, type ModelSink, type ModelProgressEvent } from '../../../web/src/model/quantize-model.js';
import {
  generateTensorData, shardPlan, syntheticLlamaSpec, syntheticPreset, type SyntheticTensor,
} from '../../../web/src/model/synthetic.js';
import { OUTPUT_MARKER } from '../../../web/src/io/node-sink.js';
import { dequantizeModelFile, inspectModelFile, quantizeModelFiles } from '../../../web/src/node-model.js';
import { loadHQQ } from '../../../web/src/node.js';
import type { HQQ } from '../../../web/src/engine.js';
import { createInlinePool } from '../../../web/src/pool/inline-pool.js';
import { runQuantizeTask } from '../../../web/src/pool/task.js';
import type { QuantizeTask, WorkerPool } from '../../../web/src/pool/types.js';
import { rejectsWithHQQError } from '../helpers.js';

const WORKER = new URL('../../../web/dist/pool/node-worker.js', import.meta.url);
const REF = new URL('../../../../shared/testdata/hqq-ref/hqqlinear/normal_256x512_4bit_g64_axis1_fp16.safetensors', import.meta.url);

let dir: string;
let hqq: HQQ;

beforeAll(async () => {
  if (!existsSync(WORKER)) {
    throw new Error('web/dist is missing (web/dist/pool/node-worker.js): run `bash scripts/build.sh` first; the worker_threads pool runs the compiled worker');
  }
  dir = await mkdtemp(join(tmpdir(), 'hqq-model-'));
  hqq = await loadHQQ();
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Entry = { name: string; dtype: DType; shape: number[]; data: Uint8Array };

function synth(name: string, dtype: 'F16' | 'BF16' | 'F32', shape: number[], kind: SyntheticTensor['kind'] = 'linear', seed = 7): Entry {
  const numel = shape.reduce((a, b) => a * b, 1);
  const t: SyntheticTensor = { name, dtype, shape, kind, numel, byteLength: numel * (dtype === 'F32' ? 4 : 2) };
  return { name, dtype, shape, data: generateTensorData(t, seed) };
}

function fileBytes(entries: Entry[], metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const plan = planSafetensors(entries, metadata);
  const out = new Uint8Array(plan.totalSize);
  out.set(plan.headerBytes);
  for (const e of entries) out.set(e.data, plan.offsets.get(e.name)!.begin);
  return out;
}

async function writeModel(path: string, entries: Entry[]): Promise<void> {
  await writeFile(path, fileBytes(entries));
}

async function open(path: string): Promise<SafetensorsFile> {
  return openSafetensors(await openFileSource(path));
}

function f32(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.slice().buffer);
}


const POS_IDS = (() => {
  const b = new Uint8Array(16 * 8);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 16; i++) dv.setBigInt64(i * 8, BigInt(i * 1_000_000_007), true);
  return b;
})();

function smallModel(): Entry[] {
  return [
    synth('model.embed_tokens.weight', 'F16', [128, 64], 'embedding'),
    { name: 'position_ids', dtype: 'I64', shape: [1, 16], data: POS_IDS },
    synth('model.layers.0.mlp.up_proj.weight', 'F32', [256, 512]),
    synth('model.layers.0.mlp.up_proj.bias', 'F16', [256], 'linear', 9),
    synth('model.layers.0.input_layernorm.weight', 'F16', [64], 'norm'),
    synth('model.layers.0.self_attn.o_proj.weight', 'BF16', [64, 64]),
  ];
}

describe('quantizeModelFiles: single file', () => {
  it('writes the reference HQQLinear keys, copies everything else byte-identical, and dequantizes within the expected error', async () => {
    const entries = smallModel();
    const input = join(dir, 'small.safetensors');
    const output = join(dir, 'small-q.safetensors');
    await writeModel(input, entries);
    const events: ModelProgressEvent[] = [];
    const report = await quantizeModelFiles(input, output, { workers: 2, onProgress: (e) => events.push(e) });
    expect(report.outputPaths).toEqual([output]);
    expect(report.totals.quantized).toBe(2);

    const out = await open(output);
    const refBytes = new Uint8Array(readFileSync(REF));
    const ref = parseSafetensorsHeader(refBytes, refBytes.byteLength, 'ref');
    try {
      // Key names, dtypes, shapes: identical to the reference layer (prefix layer. -> <name>.).
      const p = 'model.layers.0.mlp.up_proj.';
      const ours = out.header.tensors.filter((t) => t.name.startsWith(p)).map((t) => `${t.name.slice(p.length)} ${t.dtype} [${t.shape}]`).sort();
      const theirs = ref.tensors.map((t) => `${t.name.slice('layer.'.length)} ${t.dtype} [${t.shape}]`).sort();
      expect(ours).toEqual(theirs);
      // Config tensors: same bytes as the reference.
      for (const k of HQQLINEAR_KEYS.filter((k) => !['W_q', 'scale', 'zero'].includes(k))) {
        const r = ref.tensors.find((t) => t.name === `layer.${k}`)!;
        expect([...(await out.readTensor(p + k))], k).toEqual([...refBytes.subarray(r.begin, r.end)]);
      }
      expect(out.tensor('model.layers.0.mlp.up_proj.weight')).toBeUndefined();
      // Copy-through: byte-identical.
      for (const name of ['position_ids', 'model.embed_tokens.weight', 'model.layers.0.mlp.up_proj.bias', 'model.layers.0.input_layernorm.weight']) {
        const e = entries.find((x) => x.name === name)!;
        const t = out.tensor(name)!;
        expect(t.dtype).toBe(e.dtype);
        expect(t.shape).toEqual(e.shape);
        expect(Buffer.from(await out.readTensor(name)).equals(Buffer.from(e.data)), name).toBe(true);
      }
      expect(out.header.metadata).toMatchObject({ format: 'pt', hqq_tool: 'hqq-wasm' });
      expect(JSON.parse(out.header.metadata.hqq_config!)).toMatchObject({ nbits: 4, group_size: 64 });
    } finally {
      await out.close();
    }

    // quantize -> dequantize: relative Frobenius error of 4-bit g64 on these weights
    const restored = join(dir, 'small-deq.safetensors');
    await dequantizeModelFile(output, restored, { dtype: 'float32' });
    const d = await open(restored);
    try {
      const w = f32(entries[2]!.data);
      const r = f32(await d.readTensor('model.layers.0.mlp.up_proj.weight'));
      let e2 = 0;
      let w2 = 0;
      for (let i = 0; i < w.length; i++) {
        e2 += (w[i]! - r[i]!) ** 2;
        w2 += w[i]! ** 2;
      }
      const rel = Math.sqrt(e2 / w2);
      expect(rel).toBeLessThan(0.15);
      expect(rel).toBeGreaterThan(0.02);
      const rep = report.tensors.find((t) => t.name === 'model.layers.0.mlp.up_proj.weight')!;
      // The file stores scale/zero in float16, so the restored error differs slightly from the in-wasm one.
      expect(Math.abs(rel - rep.relFrobenius!) / rep.relFrobenius!).toBeLessThan(0.05);
      expect(d.header.tensors.map((t) => t.name)).toEqual(entries.map((e) => e.name));
      expect(Buffer.from(await d.readTensor('position_ids')).equals(Buffer.from(POS_IDS))).toBe(true);
    } finally {
      await d.close();
    }

    // events: one done per tensor, bytes add up
    const done = events.filter((e) => e.type === 'tensor-done');
    expect(done.map((e) => e.index).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(done.every((e) => e.total === 6 && e.result)).toBe(true);
    const last = events[events.length - 1]!;
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(events.filter((e) => e.type === 'tensor-start')).toHaveLength(6);
    const q = done.find((e) => e.name === 'model.layers.0.mlp.up_proj.weight')!.result!;
    expect(q).toMatchObject({ action: 'quantize', nbits: 4, groupSize: 64, bytesBefore: 256 * 512 * 4 });
    expect(q.iterations).toBeGreaterThan(0);
    expect(q.meanAbs).toBeGreaterThan(0);
  });

  it('other configs round-trip: 3-bit axis 0 bf16, 1.58-bit f32, 8-bit; inspect reads them back', async () => {
    const entries = [
      synth('a.weight', 'F32', [128, 256]),
      synth('b.weight', 'F16', [64, 256]),
      synth('c.weight', 'BF16', [64, 128]),
    ];
    const input = join(dir, 'cfg.safetensors');
    const output = join(dir, 'cfg-q.safetensors');
    await writeModel(input, entries);
    const rep = await quantizeModelFiles(input, output, {
      workers: 2, axis: 0, computeDtype: 'bfloat16', tensorConfig: ['^a=3:64', '^b=1.58:64', '^c=8:128'], compareRtn: true,
    });
    const layers = (await inspectModelFile(output)).files[0]!.layers;
    expect(layers.map((l) => [l.prefix, l.nbits, l.groupSize, l.axis, l.packing, l.computeDtype])).toEqual([
      ['a.', 3, 64, 0, '3bit_32', 'torch.bfloat16'],
      ['b.', 1.58, 64, 0, '2bit_u8', 'torch.bfloat16'],
      ['c.', 8, 128, 0, '8bit_u8', 'torch.bfloat16'],
    ]);
    const out = await open(output);
    expect(out.tensor('a.W_q')).toMatchObject({ dtype: 'I32', shape: [7, 512] });
    expect(out.tensor('a.scale')).toMatchObject({ dtype: 'BF16', shape: [1, 512] });
    expect(out.tensor('b.nbits')).toMatchObject({ dtype: 'F32', shape: [] });
    await out.close();
    const limits: Record<string, number> = { 'a.weight': 0.3, 'b.weight': 0.8, 'c.weight': 0.02 };
    for (const t of rep.tensors) {
      expect(t.relFrobenius!, t.name).toBeLessThan(limits[t.name]!);
      expect(t.rtn, t.name).toBeDefined();
      expect(t.meanAbs!, t.name).toBeLessThanOrEqual(t.rtn!.meanAbs * 1.001);
    }
    expect(rep.rtn!.meanAbs).toBeGreaterThan(rep.meanAbs);
    const restored = join(dir, 'cfg-deq.safetensors');
    await dequantizeModelFile(output, restored);
    const d = await open(restored);
    expect(d.header.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual([
      ['a.weight', 'BF16', [128, 256]], ['b.weight', 'BF16', [64, 256]], ['c.weight', 'BF16', [64, 128]],
    ]);
    await d.close();
  });

  it('dry run plans without writing anything', async () => {
    const input = join(dir, 'small.safetensors');
    const output = join(dir, 'dry-out.safetensors');
    const rep = await quantizeModelFiles(input, output, { dryRun: true });
    expect(rep.dryRun).toBe(true);
    expect(existsSync(output)).toBe(false);
    expect(rep.totals.bitsPerWeight).toBeGreaterThan(4);
    expect(rep.totals.bitsPerWeight).toBeLessThan(5);
    expect(rep.tensors.find((t) => t.action === 'quantize')!.meanAbs).toBeUndefined();
  });

  it('refuses to overwrite the input', async () => {
    const input = join(dir, 'small.safetensors');
    const before = await readFile(input);
    const err = await rejectsWithHQQError(quantizeModelFiles(input, input, { workers: 1 }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/refusing to overwrite/);
    expect((await readFile(input)).equals(before)).toBe(true);
  });
});

/** float32 -> float16 bits, round to nearest even (independent of the wasm core). */
function f16RNE(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** float32 -> bfloat16 bits, round to nearest even (finite inputs). */
function bf16RNE(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const bf16ToF32 = (h: number) => new Float32Array(new Uint32Array([h << 16]).buffer)[0]!;

describe('quantizeModelFiles: the bias of a quantized layer is stored in the compute dtype', () => {
  it('F32 and BF16 biases become F16 (round to nearest even), the others stay byte-identical; reference key dtypes', async () => {
    const special = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, -65519, 2 ** -25, 3 * 2 ** -26, -0, 1e-8, -2.5e-5, 0.1, -7.123456];
    const b1 = new Float32Array(64);
    for (let i = 0; i < b1.length; i++) b1[i] = i < special.length ? special[i]! : Math.sin(i * 12.9898) * 0.37;
    const b2 = new Uint16Array(64);
    for (let i = 0; i < b2.length; i++) b2[i] = bf16RNE(Math.cos(i * 3.1) * (i + 1) * 0.01);
    const headBias = synth('lm_head.bias', 'F32', [64], 'linear', 4);
    const entries: Entry[] = [
      synth('l1.weight', 'F32', [64, 128]),
      { name: 'l1.bias', dtype: 'F32', shape: [64], data: new Uint8Array(b1.buffer) },
      synth('l2.weight', 'F16', [64, 64]),
      { name: 'l2.bias', dtype: 'BF16', shape: [64], data: new Uint8Array(b2.buffer) },
      synth('lm_head.weight', 'F32', [64, 64]),
      headBias,
    ];
    const input = join(dir, 'bias.safetensors');
    await writeModel(input, entries);

    const output = join(dir, 'bias-q.safetensors');
    const events: ModelProgressEvent[] = [];
    const rep = await quantizeModelFiles(input, output, { workers: 2, onProgress: (e) => events.push(e) });
    const out = await open(output);
    try {
      // The layer's keys and dtypes are the reference file's (bias F16 for compute dtype float16).
      const refBytes = new Uint8Array(readFileSync(REF));
      const ref = parseSafetensorsHeader(refBytes, refBytes.byteLength, 'ref');
      expect(ref.tensors.find((t) => t.name === 'layer.bias')!.dtype).toBe('F16');
      const keys = (p: string, ts: { name: string; dtype: string }[]) => ts.filter((t) => t.name.startsWith(p)).map((t) => `${t.name.slice(p.length)} ${t.dtype}`).sort();
      expect(keys('l1.', out.header.tensors)).toEqual(keys('layer.', ref.tensors));
      expect(out.tensor('l1.bias')).toMatchObject({ dtype: 'F16', shape: [64] });
      const got1 = new Uint16Array((await out.readTensor('l1.bias')).slice().buffer);
      expect([...got1]).toEqual([...b1].map(f16RNE));
      expect(got1[0]).toBe(0x3c00); // tie -> even
      expect(got1[1]).toBe(0x3c02); // tie -> even (up)
      expect(got1[2]).toBe(0x7bff); // 65519 rounds down to the largest float16, 65504 (65520 and up are refused: range-overflow.test.ts)
      expect(got1[3]).toBe(0xfbff);
      expect(out.tensor('l2.bias')).toMatchObject({ dtype: 'F16', shape: [64] });
      const got2 = new Uint16Array((await out.readTensor('l2.bias')).slice().buffer);
      expect([...got2]).toEqual([...b2].map((h) => f16RNE(bf16ToF32(h))));
      // lm_head is not quantized: its bias is copied byte for byte.
      expect(out.tensor('lm_head.bias')!.dtype).toBe('F32');
      expect(Buffer.from(await out.readTensor('lm_head.bias')).equals(Buffer.from(headBias.data))).toBe(true);
    } finally {
      await out.close();
    }
    const r1 = rep.tensors.find((t) => t.name === 'l1.bias')!;
    expect(r1).toMatchObject({ action: 'convert', outputDtype: 'F16', bytesBefore: 256, bytesAfter: 128 });
    const done = events.filter((e) => e.type === 'tensor-done').map((e) => e.name).sort();
    expect(done).toEqual(entries.map((e) => e.name).sort());
    expect(events.filter((e) => e.type === 'tensor-start')).toHaveLength(entries.length);
    expect(events[events.length - 1]!.bytesDone).toBe(events[events.length - 1]!.bytesTotal);

    // compute dtype bfloat16: the F32 bias becomes BF16, the BF16 one is kept byte for byte.
    const outBf = join(dir, 'bias-qbf.safetensors');
    await quantizeModelFiles(input, outBf, { workers: 1, computeDtype: 'bfloat16' });
    const o2 = await open(outBf);
    try {
      expect(o2.tensor('l1.bias')!.dtype).toBe('BF16');
      expect([...new Uint16Array((await o2.readTensor('l1.bias')).slice().buffer)]).toEqual([...b1].map(bf16RNE));
      expect(Buffer.from(await o2.readTensor('l2.bias')).equals(Buffer.from(b2.buffer))).toBe(true);
    } finally {
      await o2.close();
    }
    // F16 -> BF16 (decode, then encode) and to float32 via the inline pool.
    const f16Bias = new Uint16Array(64).map((_, i) => f16RNE(Math.sin(i) * 3));
    const small: Entry[] = [synth('x.weight', 'F16', [64, 64]), { name: 'x.bias', dtype: 'F16', shape: [64], data: new Uint8Array(f16Bias.buffer) }];
    for (const [computeDtype, want] of [['bfloat16', [...f16Bias].map((h) => bf16RNE(f16ToF32(h)))], ['float32', [...f16Bias].map(f16ToF32)]] as const) {
      let biasBytes: Uint8Array | undefined;
      const sink: ModelSink = {
        async createShard() {
          return { async writeTensor(name, data) { if (name === 'x.bias') biasBytes = data.slice(); }, async commit() {}, async abort() {} };
        },
      };
      await quantizeModel({ sources: [bytesSource(fileBytes(small), 's.safetensors')] }, sink, { workers: 1, computeDtype, createPool: () => createInlinePool(hqq) });
      const got = computeDtype === 'float32' ? [...new Float32Array(biasBytes!.buffer)] : [...new Uint16Array(biasBytes!.buffer)];
      expect(got, computeDtype).toEqual(want);
    }
  });
});

describe('quantizeModelFiles: sharded', () => {
  it('sharded input -> sharded output with the same shard names and a new index', async () => {
    const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F16'));
    const sp = shardPlan(spec, 1_500_000);
    expect(sp.shards.length).toBeGreaterThan(1);
    const inDir = join(dir, 'sharded-in');
    const outDir = join(dir, 'sharded-out');
    await mkdir(inDir);
    for (const s of sp.shards) {
      await writeModel(join(inDir, s.fileName), s.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: generateTensorData(t, 3) })));
    }
    const indexPath = join(inDir, 'model.safetensors.index.json');
    await writeFile(indexPath, buildIndexJson(sp.weightMap, sp.totalSize));
    const rep = await quantizeModelFiles(indexPath, outDir, { workers: 2 });
    const names = sp.shards.map((s) => s.fileName);
    expect((await readdir(outDir)).sort()).toEqual([...names, 'model.safetensors.index.json', OUTPUT_MARKER].sort());
    expect(rep.outputPaths).toEqual([...names.map((n) => join(outDir, n)), join(outDir, 'model.safetensors.index.json')]);
    const index = parseIndexJson(await readFile(join(outDir, 'model.safetensors.index.json'), 'utf8'), 'index');
    let total = 0;
    const seen = new Set<string>();
    for (const n of names) {
      const f = await open(join(outDir, n));
      total += f.header.fileSize - f.header.dataOffset;
      for (const t of f.header.tensors) {
        expect(index.weightMap.get(t.name), t.name).toBe(n);
        seen.add(t.name);
      }
      await f.close();
    }
    expect(seen.size).toBe(index.weightMap.size);
    expect(index.metadata.total_size).toBe(total);
    expect(index.metadata.hqq_tool).toBe('hqq-wasm');
    expect(index.weightMap.get('model.layers.1.mlp.down_proj.W_q')).toBe(sp.weightMap.get('model.layers.1.mlp.down_proj.weight'));
    expect(index.weightMap.has('model.layers.1.mlp.down_proj.weight')).toBe(false);
    expect(rep.totals.quantized).toBe(14);
    expect(rep.relFrobenius).toBeLessThan(0.15);
    // writing into the input folder would overwrite the shards
    const err = await rejectsWithHQQError(quantizeModelFiles(indexPath, inDir, { workers: 1 }));
    expect(err.message).toMatch(/overwrite the input/);
  });
});

describe('failures leave no output', () => {
  async function tinyModel(): Promise<{ input: string; outDir: string; output: string }> {
    const input = join(dir, 'tiny.safetensors');
    if (!existsSync(input)) {
      const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F16'));
      await writeModel(input, spec.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: generateTensorData(t, 5) })));
    }
    const outDir = await mkdtemp(join(dir, 'out-'));
    return { input, outDir, output: join(outDir, 'tiny-q.safetensors') };
  }

  it('cancellation mid-run: ABORTED, no file and no temp file', async () => {
    const { input, outDir, output } = await tinyModel();
    const ctl = new AbortController();
    let doneQuantized = 0;
    const err = await rejectsWithHQQError(quantizeModelFiles(input, output, {
      workers: 1,
      signal: ctl.signal,
      onProgress: (e) => {
        if (e.type === 'tensor-done' && e.result?.action === 'quantize' && ++doneQuantized === 2) ctl.abort();
      },
    }));
    expect(err.code).toBe('ABORTED');
    expect(doneQuantized).toBe(2);
    expect(await readdir(outDir)).toEqual([]);
  });

  it('an already aborted signal does nothing', async () => {
    const { input, outDir, output } = await tinyModel();
    const err = await rejectsWithHQQError(quantizeModelFiles(input, output, { signal: AbortSignal.abort() }));
    expect(err.code).toBe('ABORTED');
    expect(await readdir(outDir)).toEqual([]);
  });

  for (const mode of ['throw', 'exit'] as const) {
    it(`a worker that ${mode === 'throw' ? 'throws' : 'dies'} fails the job with WORKER_FAILED naming the tensor, no file`, async () => {
      const { input, outDir, output } = await tinyModel();
      const name = 'model.layers.1.self_attn.k_proj.weight';
      const err = await rejectsWithHQQError(quantizeModelFiles(input, output, { workers: 2, [TEST_HOOKS]: { crashOn: name, crashMode: mode } }));
      expect(err.code).toBe('WORKER_FAILED');
      expect(err.message).toContain(name);
      expect(await readdir(outDir)).toEqual([]);
    });
  }

  it('a sharded job that fails leaves no shard and no index', async () => {
    const inDir = join(dir, 'sharded-in');
    const outDir = await mkdtemp(join(dir, 'out-'));
    const err = await rejectsWithHQQError(quantizeModelFiles(join(inDir, 'model.safetensors.index.json'), outDir, {
      workers: 2, [TEST_HOOKS]: { crashOn: 'model.layers.1.mlp.down_proj.weight', crashMode: 'exit' },
    }));
    expect(err.code).toBe('WORKER_FAILED');
    expect(await readdir(outDir)).toEqual([]);
  });
});

describe('quantizeModel (browser-safe core)', () => {
  it('works from bytes into a memory sink, keeps at most maxInFlight tensors, and matches the file output byte for byte', async () => {
    const entries = smallModel().concat([synth('model.layers.1.mlp.up_proj.weight', 'F16', [128, 128]), synth('model.layers.2.mlp.up_proj.weight', 'F16', [128, 128])]);
    const bytes = fileBytes(entries);
    const files = new Map<string, Uint8Array>();
    const sink: ModelSink = {
      async createShard(fileName: string, plan: SafetensorsPlan) {
        const buf = new Uint8Array(plan.totalSize);
        buf.set(plan.headerBytes);
        return {
          async writeTensor(name, data, offset) {
            buf.set(data, plan.offsets.get(name)!.begin + offset);
          },
          async commit() {
            files.set(fileName, buf);
          },
          async abort() {},
        };
      },
    };
    let outstanding = 0;
    let peak = 0;
    const counting = (inner: WorkerPool): WorkerPool => ({
      size: inner.size,
      async run(task) {
        outstanding++;
        peak = Math.max(peak, outstanding);
        try {
          await new Promise((r) => setTimeout(r, 5));
          return await inner.run(task);
        } finally {
          outstanding--;
        }
      },
      terminate: () => inner.terminate(),
    });
    const rep = await quantizeModel({ sources: [bytesSource(bytes, 'm.safetensors')], outputFileName: 'm-q.safetensors' }, sink, {
      workers: 2, maxInFlight: 2, copyChunkBytes: 1000, createPool: () => counting(createInlinePool(hqq)),
    });
    expect(rep.totals.quantized).toBe(4);
    expect(peak).toBeLessThanOrEqual(2);
    expect(peak).toBeGreaterThan(0);
    // The same model through files and worker_threads gives the same bytes.
    const input = join(dir, 'mem.safetensors');
    await writeFile(input, bytes);
    await quantizeModelFiles(input, join(dir, 'm-q.safetensors'), { workers: 2 });
    const viaFile = await readFile(join(dir, 'm-q.safetensors'));
    expect(Buffer.from(files.get('m-q.safetensors')!).equals(viaFile)).toBe(true);
  });

  it('solver options reach every task, but never override the per-tensor config; bad ones fail before any output', async () => {
    const entries = [synth('a.weight', 'F16', [64, 128]), synth('b.weight', 'F16', [64, 128])];
    const bytes = fileBytes(entries);
    const tasks: QuantizeTask[] = [];
    const created: string[] = [];
    const sink: ModelSink = {
      async createShard(fileName) {
        created.push(fileName);
        return { async writeTensor() {}, async commit() {}, async abort() {} };
      },
    };
    const inline = createInlinePool(hqq);
    const capture = (): WorkerPool => ({ size: 1, run: (t) => (tasks.push({ ...t, data: new ArrayBuffer(0) }), inline.run(t)), terminate: () => inline.terminate() });
    await quantizeModel({ sources: [bytesSource(bytes, 's.safetensors')] }, sink, {
      workers: 1, tensorConfig: ['^b=8:32'], solver: { iters: 3, lpNorm: 0.5, earlyStop: 'per-group-best' }, createPool: capture,
    });
    expect(tasks.map((t) => [t.name, t.options.nbits, t.options.groupSize, t.options.iters, t.options.lpNorm, t.options.earlyStop])).toEqual([
      ['a.weight', 4, 64, 3, 0.5, 'per-group-best'],
      ['b.weight', 8, 32, 3, 0.5, 'per-group-best'],
    ]);
    created.length = 0;
    for (const solver of [{ iters: -5, foo: 1 }, { nbits: 2 }, { kappa: 0.5 }] as never[]) {
      for (const dryRun of [true, false]) {
        const err = await rejectsWithHQQError(quantizeModel({ sources: [bytesSource(bytes, 's.safetensors')] }, sink, { dryRun, workers: 1, solver, createPool: capture }));
        expect(err.code).toBe('INVALID_ARGUMENT');
        expect(err.message).toMatch(/solver/);
      }
    }
    expect(created).toEqual([]);
  });

  it('the model-level relative Frobenius error counts ||W|| of a tensor quantized exactly', async () => {
    // exact.weight: 8-bit, every group holds 0 and 255 and integers between: scale 1, zero 0, error 0.
    const exact = new Float32Array(64 * 128);
    for (let i = 0; i < exact.length; i++) exact[i] = i % 64 === 0 ? 0 : i % 64 === 1 ? 255 : (i * 37) % 256;
    const noisy = synth('noisy.weight', 'F32', [64, 128]);
    const entries: Entry[] = [{ name: 'exact.weight', dtype: 'F32', shape: [64, 128], data: new Uint8Array(exact.buffer) }, noisy];
    const sink: ModelSink = { async createShard() { return { async writeTensor() {}, async commit() {}, async abort() {} }; } };
    const rep = await quantizeModel({ sources: [bytesSource(fileBytes(entries), 'e.safetensors')] }, sink, {
      workers: 1, tensorConfig: ['^exact=8:64'], compareRtn: true, createPool: () => createInlinePool(hqq),
    });
    const byName = new Map(rep.tensors.map((t) => [t.name, t]));
    expect(byName.get('exact.weight')!.relFrobenius).toBe(0);
    expect(byName.get('exact.weight')!.rtn!.relFrobenius).toBe(0);
    const norm2 = (a: Float32Array) => a.reduce((acc, v) => acc + v * v, 0);
    const w2Exact = norm2(exact);
    const w2Noisy = norm2(f32(noisy.data));
    const n = byName.get('noisy.weight')!;
    // ||E_noisy||^2 = (rel * ||W_noisy||)^2; the exact tensor adds 0 error but all of its ||W||^2.
    const expected = Math.sqrt((n.relFrobenius! ** 2 * w2Noisy) / (w2Noisy + w2Exact));
    expect(rep.relFrobenius).toBeGreaterThan(0);
    expect(Math.abs(rep.relFrobenius - expected) / expected).toBeLessThan(1e-5);
    const expectedRtn = Math.sqrt((n.rtn!.relFrobenius ** 2 * w2Noisy) / (w2Noisy + w2Exact));
    expect(Math.abs(rep.rtn!.relFrobenius - expectedRtn) / expectedRtn).toBeLessThan(1e-5);
    // Every task reports ||W||_F^2, for 16-bit inputs too.
    for (const dtype of ['F16', 'BF16'] as const) {
      const e = synth('t.weight', dtype, [64, 64]);
      const r = runQuantizeTask(hqq, { kind: 'hqq', name: e.name, dtype, shape: e.shape, data: e.data.slice().buffer, options: {}, computeDtype: 'float16' });
      const w = hqq.decode16(new Uint16Array(e.data.slice().buffer), dtype === 'F16' ? 'f16' : 'bf16');
      expect(Math.abs(r.stats!.sumWSq - norm2(w)) / norm2(w), dtype).toBeLessThan(1e-6);
    }
  });

  it('validates its input', async () => {
    expect((await rejectsWithHQQError(quantizeModel({ sources: [] }, undefined, { dryRun: true }))).message).toMatch(/at least one ByteSource/);
    const one = bytesSource(fileBytes(smallModel()), 'x.safetensors');
    expect((await rejectsWithHQQError(quantizeModel({ sources: [one] }, undefined, {}))).message).toMatch(/output sink/);
    expect((await rejectsWithHQQError(quantizeModel({ sources: [one] }, { createShard: async () => { throw new Error('x'); } }, {}))).message).toMatch(/createPool/);
    expect((await rejectsWithHQQError(quantizeModel({ sources: [one] }, undefined, { dryRun: true, workers: 0 }))).message).toMatch(/workers = 0/);
    // maxInFlight: 0 used to hang forever, NaN / negative disabled backpressure.
    for (const bad of [0, -1, Number.NaN, 1.5, Infinity, '2' as unknown as number]) {
      const err = await rejectsWithHQQError(quantizeModel({ sources: [one] }, undefined, { dryRun: true, maxInFlight: bad }));
      expect(err.code, String(bad)).toBe('INVALID_ARGUMENT');
      expect(err.message, String(bad)).toMatch(/^maxInFlight = .* is invalid; use a positive integer/);
    }
  });
});

describe('the worker pool is stopped whatever fails before the lanes start', () => {
  it('terminates the pool when the sink cannot prepare or create a shard, and rethrows that error', async () => {
    const bytes = fileBytes(smallModel());
    for (const failAt of ['prepare', 'createShard'] as const) {
      let terminated = 0;
      const sink: ModelSink = {
        async prepare() {
          if (failAt === 'prepare') throw new Error('disk gone (prepare)');
        },
        async createShard() {
          throw new Error('disk gone (createShard)');
        },
      };
      const run = quantizeModel({ sources: [bytesSource(bytes, 'm.safetensors')] }, sink, {
        workers: 1,
        createPool: () => {
          const p = createInlinePool(hqq);
          return { size: 1, run: (t) => p.run(t), terminate: () => (terminated++, p.terminate()) };
        },
      });
      await expect(run).rejects.toThrow(`disk gone (${failAt})`);
      expect(terminated).toBeGreaterThanOrEqual(1);
    }
  });
});
