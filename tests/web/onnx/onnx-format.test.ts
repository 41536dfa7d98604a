// The ONNX output format through the orchestrator: what each tensor becomes and why, the rest of
// the model byte for byte, external data in and out, and bad input refused with no output.
import { beforeAll, describe, expect, it } from 'vitest';

import type { HQQ } from '../../../web/src/engine.js';
import { memorySink } from '../../../web/src/io/browser-sink.js';
import { bytesSource } from '../../../web/src/io/source.js';
import { quantizeModel } from '../../../web/src/model/quantize-model.js';
import { loadHQQ } from '../../../web/src/node.js';
import { createInlinePool } from '../../../web/src/pool/inline-pool.js';
import { rejectsWithHQQError } from '../helpers.js';
import { buildModel, i64, mlpModel, mlpWeights, randn, type ModelSpec } from './models.js';
import { dequantizedWeights, openOutput, quantizeInMemory, relErr } from './run-helpers.js';
import * as schema from '../../../web/src/io/onnx/schema.js';
import { openONNX } from '../../../web/src/io/onnx/reader.js';

let hqq: HQQ;
beforeAll(async () => {
  hqq = await loadHQQ();
});

const dry = (bytes: Uint8Array, onnx: Record<string, unknown> = {}, extra: ReturnType<typeof bytesSource>[] = []) =>
  quantizeModel({ sources: [bytesSource(bytes, 'm.onnx'), ...extra] }, undefined, { dryRun: true, onnx });

function oneMatMul(over: Partial<ModelSpec> = {}, w = { name: 'W', dims: [64, 32], values: randn(64 * 32, 3) }): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', dims: [1, 64] }], outputs: [{ name: 'y', dims: [1, 32] }],
    initializers: [w], nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }], ...over,
  }).bytes;
}

describe('ONNX plan: what every tensor becomes', () => {
  it('an .onnx input defaults to ONNX output; MatMul/Gemm weights are quantized, the rest copied with a reason', async () => {
    const r = await dry(mlpModel().bytes);
    expect(r.format).toBe('onnx');
    expect(r.config).toMatchObject({ format: 'onnx', bits: 4, block_size: 32, zero_points: 'uint8' });
    const by = Object.fromEntries(r.tensors.map((t) => [t.name, t]));
    expect(by.W1!.label).toBe('q4 b32');
    // W1 [72, 64]: 64 columns x 3 blocks x 16 bytes, scales 64 x 3 x 4, zero points 64 x 2 bytes.
    expect(by.W1!.bytesAfter).toBe(64 * 3 * 16 + 64 * 3 * 4 + 64 * 2);
    expect(by.small!.reason).toMatch(/fewer than 1024/);
    expect(by.b1!.action).toBe('copy');
    expect(by.b2!.reason).toBe('the bias of Gemm "fc2", read as it is by its MatMulNBits');
  });

  it('leaves alone, with the reason, a dynamic B (graph input), Gemm with alpha != 1, an int weight, a weight also read by Add', async () => {
    const W = { name: 'W', dims: [64, 32], values: randn(64 * 32, 1) };
    const G = { name: 'G', dims: [32, 64], values: randn(64 * 32, 2) };
    const I = { name: 'I', dims: [64, 32], raw: new Uint8Array(64 * 32 * 8), dataType: 7 };
    const A = { name: 'A', dims: [32, 32], values: randn(32 * 32, 4) };
    const bytes = buildModel({
      inputs: [{ name: 'x', dims: [1, 64] }, { name: 'W', dims: [64, 32] }], outputs: [{ name: 'y', dims: [1, 32] }, { name: 'g', dims: [1, 32] }, { name: 'a', dims: [32, 32] }, { name: 'i', dims: [1, 32] }],
      initializers: [W, G, I, A],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] },
        { op: 'Gemm', inputs: ['x', 'G'], outputs: ['g'], attrs: { transB: 1, alpha: 0.5 } },
        { op: 'MatMul', inputs: ['x', 'I'], outputs: ['i'] },
        { op: 'MatMul', inputs: ['y', 'A'], outputs: ['ya'] },
        { op: 'Add', inputs: ['A', 'A'], outputs: ['a'] },
      ],
    }).bytes;
    const r = await dry(bytes);
    const reason = Object.fromEntries(r.tensors.map((t) => [t.name, t.reason]));
    expect(reason.W).toMatch(/graph input/);
    expect(reason.G).toMatch(/alpha=0\.5/);
    expect(reason.I).toMatch(/I64 weight/);
    expect(reason.A).toMatch(/also read by Add/);
    expect(r.warnings.map((w) => w.code)).toContain('NOTHING_QUANTIZED');
  });

  it('a MatMul weight stored in float_data is left alone with a warning saying why', async () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', dims: [1, 64] }], outputs: [{ name: 'y', dims: [1, 32] }],
      initializers: [], nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }],
    }).bytes;
    // Splice in an initializer with float_data through the graph message (the builder writes raw_data).
    const { onnxTypes } = await import('../../../web/src/io/onnx/schema.js');
    const t = onnxTypes.TensorProto.encode(onnxTypes.TensorProto.fromObject({ name: 'W', dims: [64, 32], data_type: 1, float_data: Array.from(randn(2048, 9)) })).finish();
    const r = await dry(withInitializer(bytes, t));
    expect(r.warnings.map((w) => w.message).join(' ')).toMatch(/W \(stored in typed fields \(float_data\), not raw_data; re-save the model with raw data\)/);
  });

  it('refuses bad options with the way out', async () => {
    const b = oneMatMul();
    expect((await rejectsWithHQQError(dry(b, { bits: 3 }))).message).toMatch(/bits = 3.*use 4/);
    expect((await rejectsWithHQQError(dry(b, { blockSize: 48 }))).message).toMatch(/16, 32, 64, 128 or 256/);
    // onnxruntime refuses larger blocks ("Only block sizes 16, 32, 64, 128, and 256 are supported").
    expect((await rejectsWithHQQError(dry(b, { blockSize: 512 }))).message).toMatch(/block size = 512 is invalid; onnxruntime's MatMulNBits takes 16, 32, 64, 128 or 256/);
    expect((await rejectsWithHQQError(dry(b, { bits: 8, zeroPoints: 'float' }))).message).toMatch(/4-bit weights only.*--zero-points uint8/);
    expect((await rejectsWithHQQError(quantizeModel({ sources: [bytesSource(b, 'm.onnx')] }, undefined, { dryRun: true, nbits: 4 }))).message).toMatch(/do not apply to ONNX output/);
    expect((await rejectsWithHQQError(quantizeModel({ sources: [bytesSource(b, 'm.onnx')] }, undefined, { dryRun: true, format: 'gguf' }))).message).toMatch(/m\.onnx is an ONNX model; it is quantized to ONNX/);
  });
});

describe('ONNX input errors: clear, and no output', () => {
  async function fails(sources: ReturnType<typeof bytesSource>[], pattern: RegExp, code = 'BAD_FILE') {
    const sink = memorySink();
    const e = await rejectsWithHQQError(quantizeModel({ sources }, sink, { workers: 1, createPool: () => createInlinePool(hqq) }));
    expect(e.message).toMatch(pattern);
    expect(e.code).toBe(code);
    expect(sink.files()).toEqual([]);
  }

  it('a truncated model', async () => {
    const b = mlpModel().bytes;
    await fails([bytesSource(b.subarray(0, b.byteLength - 700), 'cut.onnx')], /cut\.onnx: not a valid ONNX model .*truncated/);
    await fails([bytesSource(new TextEncoder().encode('{"not": "onnx"}'), 'j.onnx')], /j\.onnx: not a valid ONNX model|is it an ONNX model/);
  });

  it('external data missing, out of range, or pointing outside the folder', async () => {
    const { bytes, external } = mlpModel(undefined, { external: { file: 'mlp.onnx.data', threshold: 1024 } });
    await fails([bytesSource(bytes, 'mlp.onnx')], /external data file "mlp\.onnx\.data", which was not given/, 'IO_ERROR');
    await fails([bytesSource(bytes, 'mlp.onnx'), bytesSource(external!.subarray(0, 20000), 'mlp.onnx.data')], /needs bytes .* of mlp\.onnx\.data, which has only 20000 bytes/);
    const evil = buildModel({ ...specWithLocation('../secret.bin') }).bytes;
    await fails([bytesSource(evil, 'e.onnx')], /outside the model's folder/);
  });

  it('a tensor of an unknown data type, and raw data of the wrong size', async () => {
    await fails([bytesSource(oneMatMul({}, { name: 'W', dims: [64, 32], raw: new Uint8Array(64 * 32 * 4), dataType: 99 } as never), 'u.onnx')], /data_type 99, which is not an ONNX type/);
    await fails([bytesSource(oneMatMul({}, { name: 'W', dims: [64, 32], values: randn(100, 1) }), 's.onnx')], /holds 400 bytes of raw_data, expected 8192/);
  });
});

describe('ONNX structure the reader refuses (issue 13)', () => {
  async function fails(bytes: Uint8Array, pattern: RegExp) {
    const sink = memorySink();
    const e = await rejectsWithHQQError(quantizeModel({ sources: [bytesSource(bytes, 'm.onnx')] }, sink, { workers: 1, createPool: () => createInlinePool(hqq) }));
    expect(e.code).toBe('BAD_FILE');
    expect(e.message).toMatch(pattern);
    expect(sink.files()).toEqual([]);
  }
  const W = randn(64 * 32, 5);
  const io = { inputs: [{ name: 'x', dims: [1, 64] }], outputs: [{ name: 'y', dims: [1, 32] }] };

  it('a value defined twice: two initializers of one name, or a node output over an initializer', async () => {
    await fails(buildModel({ ...io, initializers: [{ name: 'W', dims: [64, 32], values: W }, { name: 'W', dims: [64, 32], values: randn(64 * 32, 6) }], nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }] }).bytes,
      /m\.onnx: "W" is defined twice \(initializer #1, then initializer #2\); the ONNX checker refuses this .* and onnxruntime warns and uses the last one/);
    await fails(buildModel({ ...io, initializers: [{ name: 'W', dims: [64, 32], values: W }], nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }, { op: 'Identity', name: 'id', inputs: ['x'], outputs: ['W'] }] }).bytes,
      /"W" is defined twice \(initializer #1, then an output of Identity node "id"\); .*onnxruntime refuses it too/);
  });

  // ModelProto { ir_version 8, opset_import { version 17 }, graph } written field by field.
  const msg = (build: (w: InstanceType<typeof schema.Writer>) => void): Uint8Array => {
    const w = schema.Writer.create();
    build(w);
    return w.finish();
  };
  const modelOf = (graph: Uint8Array) => msg((w) => {
    w.uint32((1 << 3) | 0).int64(8);
    w.uint32((8 << 3) | 2).bytes(msg((o) => o.uint32((2 << 3) | 0).int64(17)));
    w.uint32((7 << 3) | 2).bytes(graph);
  });

  it('a known field of the wrong wire type (skipped, an initializer would vanish; decoded, a node would be misread)', async () => {
    await fails(modelOf(msg((g) => g.uint32((5 << 3) | 0).uint32(1))), /not a valid ONNX model \(GraphProto field 5 is varint \(0\), where the ONNX schema has length-delimited \(2\) at byte \d+\)/);
    const node = msg((n) => {
      n.uint32((1 << 3) | 2).string('x');
      n.uint32((4 << 3) | 0).uint32(3);
    });
    await fails(modelOf(msg((g) => g.uint32((1 << 3) | 2).bytes(node))), /NodeProto field 4 is varint \(0\)/);
    const attr = msg((a) => {
      a.uint32((1 << 3) | 2).string('alpha');
      a.uint32((2 << 3) | 0).uint32(1); // f is a float (fixed32)
    });
    const withAttr = msg((n) => {
      n.uint32((4 << 3) | 2).string('Elu');
      n.uint32((5 << 3) | 2).bytes(attr);
    });
    await fails(modelOf(msg((g) => g.uint32((1 << 3) | 2).bytes(withAttr))), /AttributeProto field 2 is varint \(0\), where the ONNX schema has fixed32 \(5\)/);
    await fails(msg((w) => w.uint32((7 << 3) | 0).uint32(1)), /ModelProto field 7 is varint/);
    const tensor = msg((t) => {
      t.uint32((8 << 3) | 2).string('W');
      t.uint32((9 << 3) | 0).uint32(0); // raw_data as a varint: the data would be lost
    });
    await fails(modelOf(msg((g) => g.uint32((5 << 3) | 2).bytes(tensor))), /TensorProto field 9 is varint/);
  });

  it('unknown field numbers (newer ONNX versions) are kept whatever their wire type', async () => {
    const b = modelOf(msg((g) => {
      g.uint32((99 << 3) | 0).uint32(5);
      g.uint32((98 << 3) | 5).fixed32(7);
    }));
    const m = await openONNX(bytesSource(b, 'new.onnx'));
    expect(m.graphFields.map((f) => f.no)).toEqual([99, 98]);
  });
});

function specWithLocation(location: string): ModelSpec {
  return {
    inputs: [{ name: 'x', dims: [1, 64] }], outputs: [{ name: 'y', dims: [1, 32] }],
    initializers: [{ name: 'W', dims: [64, 32], values: randn(64 * 32, 3) }],
    nodes: [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }],
    external: { file: location, threshold: 16 },
  };
}

describe('ONNX output', () => {
  it('keeps opsets, metadata, producer and untouched nodes, and adds the com.microsoft opset once', async () => {
    const { files } = await quantizeInMemory(hqq, 'mlp.onnx', mlpModel().bytes, {});
    const m = await openOutput(files, 'mlp.onnx');
    const text = new TextDecoder('latin1').decode(files.get('mlp.onnx')!);
    expect(text).toContain('hqq-wasm-tests'); // producer
    expect(text).toContain('kept as is'); // metadata_props
    expect(m.opsets).toEqual([{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }]);
    expect(m.nodes.map((n) => n.opType)).toEqual(['MatMulNBits', 'Add', 'Relu', 'MatMulNBits', 'MatMulNBits', 'Tanh', 'MatMulNBits', 'MatMulNBits', 'MatMulNBits', 'Slice', 'MatMul']);
    const fc2 = m.nodes.find((n) => n.name === 'fc2')!;
    expect(fc2.input).toEqual(['h1r', 'W2t_Q4', 'W2t_scales', 'W2t_zp', '', 'b2']);
  });

  it('external data in, external data out (<out>.onnx_data), same weights as the inline run', async () => {
    const { bytes, external } = mlpModel(undefined, { external: { file: 'mlp.onnx.data', threshold: 1024 } });
    const ext = await quantizeInMemory(hqq, 'mlp.onnx', bytes, {}, [bytesSource(external!, 'mlp.onnx.data')]);
    expect([...ext.files.keys()].sort()).toEqual(['mlp.onnx', 'mlp.onnx_data']);
    const om0 = await openOutput(ext.files, 'mlp.onnx');
    for (const t of om0.initializers) if (t.data.kind === 'inline') expect(t.byteLength, t.name).toBeLessThan(1024); // only small tensors stay in the graph
    expect(ext.files.get('mlp.onnx')!.byteLength).toBeLessThan(8192);
    const inl = await quantizeInMemory(hqq, 'mlp.onnx', mlpModel().bytes, {});
    expect([...inl.files.keys()]).toEqual(['mlp.onnx']);
    const [a, b] = [await dequantizedWeights(await openOutput(ext.files, 'mlp.onnx')), await dequantizedWeights(await openOutput(inl.files, 'mlp.onnx'))];
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [k, v] of a) expect(v.values).toEqual(b.get(k)!.values);
    const om = await openOutput(ext.files, 'mlp.onnx');
    const b1 = om.initializers.find((t) => t.name === 'b1')!; // 256 bytes: under the threshold, inline
    expect(b1.data.kind).toBe('inline');
    const w = om.initializers.find((t) => t.name === 'W1_Q4')!;
    expect(w.data).toMatchObject({ kind: 'external', location: 'mlp.onnx_data' });
  });

  it("externalData: 'always' moves weights of an inline model out; the report's errors match the written weights", async () => {
    const { files, report } = await quantizeInMemory(hqq, 'mlp.onnx', mlpModel().bytes, { externalData: 'always', zeroPoints: 'float' });
    expect([...files.keys()].sort()).toEqual(['mlp.onnx', 'mlp.onnx_data']);
    const deq = await dequantizedWeights(await openOutput(files, 'mlp.onnx'));
    const w = mlpWeights();
    const e = relErr(deq.get('W1')!.values, w.get('W1')!.values);
    expect(Math.abs(e - report.tensors.find((t) => t.name === 'W1')!.relFrobenius!)).toBeLessThan(1e-5);
  });

  it('int64 initializers are copied byte for byte', async () => {
    const { files } = await quantizeInMemory(hqq, 'mlp.onnx', mlpModel().bytes, {});
    const m = await openOutput(files, 'mlp.onnx');
    const t = m.initializers.find((x) => x.name === 'ends')!;
    if (t.data.kind !== 'inline') throw new Error('ends should be inline');
    expect(await t.data.source.read(t.data.begin, 8)).toEqual(i64('ends', [8]).raw);
  });
});

describe('Constant nodes over 1 MiB (walked, not decoded)', () => {
  it('a large Constant weight becomes MatMulNBits (the node is removed); a large Constant read by Add is kept byte for byte', async () => {
    const K = 640;
    const N = 512; // 1.25 MiB of float32: above the reader's decode limit
    const W = { name: 'Wbig', dims: [K, N], values: randn(K * N, 41, 0.05) };
    const C = { name: 'Cbig', dims: [1, N * 2 + 7], values: randn(N * 2 + 7, 42) };
    const C2 = { name: 'Cbig2', dims: [600, 600], values: randn(360000, 43) };
    const bytes = buildModel({
      inputs: [{ name: 'x', dims: [1, K] }], outputs: [{ name: 'y', dims: [1, N] }, { name: 'z', dims: [600, 600] }],
      initializers: [],
      nodes: [
        { op: 'Constant', inputs: [], outputs: ['Wbig'], attrs: { value: { tensor: W } } },
        { op: 'Constant', inputs: [], outputs: ['Cbig2'], attrs: { value: { tensor: C2 } } },
        { op: 'Constant', inputs: [], outputs: ['Cbig'], attrs: { value: { tensor: C } } },
        { op: 'MatMul', inputs: ['x', 'Wbig'], outputs: ['y'] },
        { op: 'Add', inputs: ['Cbig2', 'Cbig2'], outputs: ['z'] },
      ],
    }).bytes;
    const { files, report } = await quantizeInMemory(hqq, 'c.onnx', bytes, {});
    expect(report.tensors.find((t) => t.name === 'Wbig')!.action).toBe('quantize');
    expect(report.tensors.find((t) => t.name === 'Cbig2')!.reason).toMatch(/not the B of a MatMul/);
    const m = await openOutput(files, 'c.onnx');
    expect(m.nodes.map((n) => n.opType)).toEqual(['Constant', 'Constant', 'MatMulNBits', 'Add']);
    const kept = m.nodes[0]!.constant!;
    if (kept.data.kind !== 'inline') throw new Error('Cbig2 should stay inline');
    expect(new Float32Array((await kept.data.source.read(kept.data.begin, kept.data.length)).slice().buffer)).toEqual(C2.values);
    const d = (await dequantizedWeights(m)).get('Wbig')!;
    expect(relErr(d.values, W.values)).toBeCloseTo(report.tensors.find((t) => t.name === 'Wbig')!.relFrobenius!, 5);
  });
});

describe('the reader locates weights without reading them', () => {
  it('opening and planning a model reads its graph, not its tensors', async () => {
    const W = { name: 'W', dims: [1024, 768], values: randn(1024 * 768, 51, 0.05) }; // 3 MiB
    const bytes = oneMatMul({ inputs: [{ name: 'x', dims: [1, 1024] }], outputs: [{ name: 'y', dims: [1, 768] }] }, W);
    let read = 0;
    const inner = bytesSource(bytes, 'big.onnx');
    const counting = { ...inner, name: 'big.onnx', size: inner.size, read: async (o: number, n: number) => { read += n; return inner.read(o, n); } };
    const r = await quantizeModel({ sources: [counting] }, undefined, { dryRun: true });
    expect(r.tensors[0]!.action).toBe('quantize');
    expect(bytes.byteLength).toBeGreaterThan(3 * 1024 * 1024);
    expect(read).toBeLessThan(256 * 1024); // 64 KiB windows around the fields, never the 3 MiB of raw_data
  });
});

/** `model` with one more initializer (TensorProto bytes) appended to its graph. */
function withInitializer(model: Uint8Array, tensor: Uint8Array): Uint8Array {
  // ModelProto: ... graph (field 7) ...; the builder writes the graph last but metadata; find it by re-encoding.
  const { Reader, Writer } = schema;
  const r = new Reader(model);
  const w = Writer.create();
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 7 && (tag & 7) === 2) {
      const g = r.bytes();
      const ext = Writer.create().uint32((5 << 3) | 2).bytes(tensor).finish();
      const merged = new Uint8Array(g.length + ext.length);
      merged.set(g);
      merged.set(ext, g.length);
      w.uint32(tag).bytes(merged);
    } else if ((tag & 7) === 2) w.uint32(tag).bytes(r.bytes());
    else if ((tag & 7) === 0) w.uint32(tag).int64(r.int64());
    else throw new Error('unexpected wire type in the test model');
  }
  return new Uint8Array(w.finish());
}
