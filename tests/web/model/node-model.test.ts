/**
 * Node file helpers around the orchestrator (node-model.ts): file handles, output folders, reading
 * quantized files back. Runs on the calling thread (inline pool): no web/dist needed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import type { HQQ } from '../../../web/src/engine.js';
import { buildIndexJson } from '../../../web/src/io/index-json.js';
import { openFileSource } from '../../../web/src/io/node-file.js';
import { parseSafetensorsHeader, type DType } from '../../../web/src/io/safetensors.js';
import { OUTPUT_MARKER } from '../../../web/src/io/node-sink.js';
import type { ModelSink } from '../../../web/src/io/sink.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { quantizeModel, type QuantizeModelOptions } from '../../../web/src/model/quantize-model.js';
import { generateTensorData, shardPlan, syntheticLlamaSpec, syntheticPreset } from '../../../web/src/model/synthetic.js';
import { dequantizeModelFile, inspectModelFile, nodeFileSink } from '../../../web/src/node-model.js';
import { loadHQQ } from '../../../web/src/node.js';
import { createInlinePool } from '../../../web/src/pool/inline-pool.js';
import { rejectsWithHQQError } from '../helpers.js';

const REF = new URL('../../../../shared/testdata/hqq-ref/hqqlinear/normal_256x512_4bit_g64_axis1_fp16.safetensors', import.meta.url);

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-node-model-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});


function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('file handles', () => {
  it('inspect and dequantize of a malformed file throw BAD_FILE and close the file every time', async () => {
    const p = join(dir, 'malformed.safetensors');
    const json = '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]'; // unterminated JSON
    const bytes = Buffer.alloc(8 + json.length + 8);
    bytes.writeBigUInt64LE(BigInt(json.length), 0);
    bytes.write(json, 8, 'latin1');
    await writeFile(p, bytes);
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      const err = await rejectsWithHQQError(inspectModelFile(p));
      expect(err.code).toBe('BAD_FILE');
      expect(err.message).toContain('malformed.safetensors');
    }
    for (let i = 0; i < 5; i++) {
      expect((await rejectsWithHQQError(dequantizeModelFile(p, join(dir, 'never.safetensors')))).code).toBe('BAD_FILE');
    }
    expect(openFds()).toBe(before);
    expect(readdirSync(dir)).toEqual(['malformed.safetensors']);
  });
});

type Entry = { name: string; dtype: DType; shape: number[]; data: Uint8Array };

/** The reference HQQLinear layer (prefix `layer.`) as editable entries. */
function refEntries(): Entry[] {
  const bytes = new Uint8Array(readFileSync(REF));
  const h = parseSafetensorsHeader(bytes, bytes.byteLength, 'ref.safetensors');
  return h.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: bytes.slice(t.begin, t.end) }));
}

function fileBytes(entries: Entry[]): Uint8Array {
  const plan = planSafetensors(entries, { format: 'pt' });
  const out = new Uint8Array(plan.totalSize);
  out.set(plan.headerBytes);
  for (const e of entries) out.set(e.data, plan.offsets.get(e.name)!.begin);
  return out;
}

const i32 = (v: number): Entry['data'] => new Uint8Array(new Int32Array([v]).buffer);
const i64x2 = (a: number, b: number): Entry['data'] => new Uint8Array(new BigInt64Array([BigInt(a), BigInt(b)]).buffer);
const ascii = (s: string): Entry['data'] => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

describe('reading quantized layers back (inspect, dequantize)', () => {
  it('the reference layer reads back with its config', async () => {
    const p = join(dir, 'ref-ok.safetensors');
    await writeFile(p, fileBytes(refEntries()));
    const [layer] = (await inspectModelFile(p)).files[0]!.layers;
    expect(layer).toMatchObject({ prefix: 'layer.', nbits: 4, groupSize: 64, axis: 1, shape: [256, 512], packing: '4bit_u8', computeDtype: 'torch.float16' });
  });

  const cases: [string, (e: Map<string, Entry>) => void, RegExp][] = [
    ['group_size 0', (e) => { e.get('layer.group_size')!.data = i32(0); }, /tensor "layer\.group_size": group_size is 0; it must be a positive integer/],
    ['group_size -64', (e) => { e.get('layer.group_size')!.data = i32(-64); }, /tensor "layer\.group_size": group_size is -64; it must be a positive integer/],
    ['group_size 48', (e) => { e.get('layer.group_size')!.data = i32(48); }, /tensor "layer\.group_size": group_size 48 .* does not fit the weight shape \[256, 512\]: group size 48 does not divide/],
    ['shape [0, 512]', (e) => { e.get('layer.shape')!.data = i64x2(0, 512); }, /tensor "layer\.shape": the weight shape \[0, 512\] must hold two positive dimensions/],
    ['shape [-256, 512]', (e) => { e.get('layer.shape')!.data = i64x2(-256, 512); }, /tensor "layer\.shape": the weight shape \[-256, 512\] must hold two positive/],
    ['shape [512, 512] (W_q too small)', (e) => { e.get('layer.shape')!.data = i64x2(512, 512); }, /tensor "layer\.W_q": U8 \[1024, 64\] does not match the layer config: .* pack as U8 \[2048, 64\]/],
    ['axis 2', (e) => { e.get('layer.axis')!.data = i32(2); }, /tensor "layer\.axis": axis is 2; it must be 0 or 1/],
    ['nbits 7', (e) => { e.get('layer.nbits')!.data = i32(7); }, /tensor "layer\.nbits": nbits is 7, not a supported bit width/],
    ['packing of another width', (e) => { const t = e.get('layer.packing')!; t.data = ascii('8bit_u8'); t.shape = [7]; }, /tensor "layer\.packing": packing "8bit_u8" does not match nbits 4/],
    ['a 1 MiB packing string', (e) => { const t = e.get('layer.packing')!; t.data = new Uint8Array(1 << 20).fill(65); t.shape = [1 << 20]; }, /tensor "layer\.packing": U8 \[1048576\] is 1048576 bytes, more than a config string can hold \(at most 64\)/],
    ['a 200 kB compute_dtype string', (e) => { const t = e.get('layer.compute_dtype')!; t.data = new Uint8Array(200_000).fill(65); t.shape = [200_000]; }, /tensor "layer\.compute_dtype": .* more than a config string can hold/],
    ['a non-ASCII packing', (e) => { const t = e.get('layer.packing')!; t.data = new Uint8Array([0x34, 0xff]); t.shape = [2]; }, /tensor "layer\.packing": byte 1 is 0xff, not printable ASCII/],
    ['scale with too few groups', (e) => { const t = e.get('layer.scale')!; t.data = t.data.slice(0, 2 * 1024); t.shape = [1024, 1]; }, /tensor "layer\.scale": F16 \[1024, 1\] holds 1024 values but the layer has 2048 groups/],
  ];
  for (const [what, edit, message] of cases) {
    it(`${what}: BAD_FILE naming the tensor and the rule, from inspect and dequantize`, async () => {
      const entries = refEntries();
      edit(new Map(entries.map((e) => [e.name, e])));
      const p = join(dir, 'bad-layer.safetensors');
      await writeFile(p, fileBytes(entries));
      for (const run of [() => inspectModelFile(p), () => dequantizeModelFile(p, join(dir, 'bad-layer-deq.safetensors'))]) {
        const err = await rejectsWithHQQError(run());
        expect(err.code).toBe('BAD_FILE');
        expect(err.message).toMatch(/^bad-layer\.safetensors: /);
        expect(err.message).toMatch(message);
      }
      expect(readdirSync(dir)).not.toContain('bad-layer-deq.safetensors');
    });
  }
});

describe('dequantize of a sharded model', () => {
  it('an index is refused with the shard to run it on; another .json gets the general advice', async () => {
    const idx = join(dir, 'm.safetensors.index.json');
    await writeFile(idx, JSON.stringify({ metadata: {}, weight_map: { a: 'm-00001-of-00002.safetensors', b: 'm-00002-of-00002.safetensors' } }));
    const err = await rejectsWithHQQError(dequantizeModelFile(idx, join(dir, 'never.safetensors')));
    expect(err.code).toBe('UNSUPPORTED');
    expect(err.message).toMatch(/dequantize works on one file; it is the index of 2 shards: run dequantize on each, e\.g\. hqq-wasm dequantize .*m-00001-of-00002\.safetensors -o <out>\//);
    const cfg = join(dir, 'config.json');
    await writeFile(cfg, '{}');
    expect((await rejectsWithHQQError(dequantizeModelFile(cfg, join(dir, 'never.safetensors')))).message).toMatch(/works on one file; pass a \.safetensors file \(or a \.gguf\)/);
    await rm(idx);
    await rm(cfg);
  });
});

describe('a layer with both HQQ keys and a plain weight', () => {
  it('dequantize refuses it as a bad file (its restored weight would collide), naming the layer', async () => {
    const entries = refEntries();
    entries.push({ name: 'layer.weight', dtype: 'F32', shape: [2], data: new Uint8Array(8) });
    const p = join(dir, 'mixed.safetensors');
    await writeFile(p, fileBytes(entries));
    const err = await rejectsWithHQQError(dequantizeModelFile(p, join(dir, 'mixed-deq.safetensors')));
    expect(err.code).toBe('BAD_FILE');
    expect(err.message).toMatch(/^.*mixed\.safetensors: layer "layer" holds both HQQ keys \(layer\.W_q\) and a plain layer\.weight/);
    expect(readdirSync(dir)).not.toContain('mixed-deq.safetensors');
  });
});

describe('re-running into an existing output folder', () => {
  let hqq: HQQ;
  let inDir: string;
  let indexText: string;
  let shards: string[];
  beforeAll(async () => {
    hqq = await loadHQQ();
    const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F16'));
    const sp = shardPlan(spec, 1_500_000);
    shards = sp.shards.map((s) => s.fileName);
    expect(shards.length).toBeGreaterThan(2);
    inDir = join(dir, 'rerun-in');
    await mkdir(inDir);
    for (const s of sp.shards) {
      await writeFile(join(inDir, s.fileName), fileBytes(s.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: generateTensorData(t, 11) }))));
    }
    indexText = buildIndexJson(sp.weightMap, sp.totalSize);
    await writeFile(join(inDir, 'model.safetensors.index.json'), indexText);
  });

  /** quantizeModel from the input shards into `outDir` through `wrap(nodeFileSink)`. */
  async function run(outDir: string, options: QuantizeModelOptions, wrap: (s: ModelSink) => ModelSink = (s) => s) {
    const sources = await Promise.all(shards.map((f) => openFileSource(join(inDir, f))));
    try {
      const sink = nodeFileSink((f) => join(outDir, f), [...shards.map((f) => join(inDir, f)), join(inDir, 'model.safetensors.index.json')]);
      return await quantizeModel({ sources, index: { text: indexText, fileName: 'model.safetensors.index.json' } }, wrap(sink), {
        workers: 1, createPool: () => createInlinePool(hqq), ...options,
      });
    } finally {
      await Promise.all(sources.map((s) => s.close()));
    }
  }

  async function snapshot(folder: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const f of (await readdir(folder)).sort()) out.set(f, (await readFile(join(folder, f))).toString('base64'));
    return out;
  }

  const injected = () => new HQQError('IO_ERROR', 'injected failure');
  const failures: [string, (s: ModelSink) => ModelSink][] = [
    ['the second shard commit', (s) => {
      let commits = 0;
      return {
        ...s,
        async createShard(f, p) {
          const w = await s.createShard(f, p);
          return { ...w, async commit() { if (++commits === 2) throw injected(); await w.commit(); } };
        },
      };
    }],
    ['the index write', (s) => ({ ...s, async writeFile() { throw injected(); } })],
    ['an abort after the index was written', (s) => ({ ...s, async finish() { throw new HQQError('ABORTED', 'cancelled at the last moment'); } })],
  ];

  it('a run that fails after some shards were committed leaves the previous output exactly as it was', async () => {
    const outDir = join(dir, 'rerun-out');
    await mkdir(outDir);
    await run(outDir, { nbits: 4 });
    const before = await snapshot(outDir);
    expect([...before.keys()].sort()).toEqual([...shards, 'model.safetensors.index.json', OUTPUT_MARKER].sort());
    for (const [what, wrap] of failures) {
      const err = await rejectsWithHQQError(run(outDir, { nbits: 8 }, wrap));
      expect(err.message, what).toMatch(/injected failure|cancelled at the last moment/);
      expect(await snapshot(outDir), what).toEqual(before); // same names (no temp file), same bytes
    }
    // A run that succeeds replaces every shard and the index.
    const rep = await run(outDir, { nbits: 8 });
    expect(rep.totals.quantized).toBeGreaterThan(0);
    const after = await snapshot(outDir);
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [f, b] of after) if (f !== OUTPUT_MARKER) expect(b === before.get(f), f).toBe(false); // the marker lists the same files
  });
});
