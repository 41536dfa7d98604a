// Test ONNX models built with protobufjs (the package's own message types, plus the ModelProto
// wrapper written with protobufjs's Writer): an MLP and a small attention block with MatMul,
// Gemm (transB 0 and 1, with bias), a weight shared by two MatMuls, a Constant-node weight, K not
// a multiple of the block size, and tensors that must stay as they are (an embedding for Gather,
// biases). Weights are deterministic pseudo-random normals.
import { onnxTypes, Writer } from '../../../web/src/io/onnx/schema.js';

export type Arr = Float32Array;

export function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next()) * scale;
  return out;
}

export interface TensorSpec {
  name: string;
  dims: number[];
  /** float32 values, or raw bytes with data_type. */
  values?: Float32Array;
  raw?: Uint8Array;
  dataType?: number;
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: Record<string, number | number[] | { tensor: TensorSpec }>;
}

export interface ModelSpec {
  nodes: NodeSpec[];
  initializers: TensorSpec[];
  inputs: { name: string; dims: (number | string)[]; elemType?: number }[];
  outputs: { name: string; dims: (number | string)[]; elemType?: number }[];
  opset?: number;
  /** external: store initializers with at least this many bytes in `external.file` (returned alongside). */
  external?: { file: string; threshold: number };
  metadata?: Record<string, string>;
}

function tensorObj(t: TensorSpec, ext?: { file: string; offset: number }): Record<string, unknown> {
  const raw = t.raw ?? new Uint8Array(t.values!.buffer, t.values!.byteOffset, t.values!.byteLength);
  const o: Record<string, unknown> = { name: t.name, dims: t.dims, data_type: t.dataType ?? 1 };
  if (ext) {
    o.data_location = 1;
    o.external_data = [{ key: 'location', value: ext.file }, { key: 'offset', value: String(ext.offset) }, { key: 'length', value: String(raw.byteLength) }];
  } else o.raw_data = raw;
  return o;
}

function attrObj(name: string, v: NonNullable<NodeSpec['attrs']>[string]): Record<string, unknown> {
  if (Array.isArray(v)) return { name, type: 7, ints: v };
  if (typeof v === 'object') return { name, type: 4, t: tensorObj(v.tensor) };
  return Number.isInteger(v) && !['alpha', 'beta'].includes(name) ? { name, type: 2, i: v } : { name, type: 1, f: v };
}

function valueInfo(v: ModelSpec['inputs'][number]): Record<string, unknown> {
  return {
    name: v.name,
    type: { tensor_type: { elem_type: v.elemType ?? 1, shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

/** The model's bytes (and its external data file when asked). */
export function buildModel(spec: ModelSpec): { bytes: Uint8Array; external?: Uint8Array } {
  const extParts: Uint8Array[] = [];
  let extSize = 0;
  const initializer = spec.initializers.map((t) => {
    const raw = t.raw ?? new Uint8Array(t.values!.buffer, t.values!.byteOffset, t.values!.byteLength);
    if (spec.external && raw.byteLength >= spec.external.threshold) {
      const pad = (64 - (extSize % 64)) % 64;
      extParts.push(new Uint8Array(pad));
      extSize += pad;
      const o = tensorObj(t, { file: spec.external.file, offset: extSize });
      extParts.push(raw.slice());
      extSize += raw.byteLength;
      return o;
    }
    return tensorObj(t);
  });
  const graph = onnxTypes.GraphProto.encode(onnxTypes.GraphProto.fromObject({
    node: spec.nodes.map((n) => ({
      input: n.inputs, output: n.outputs, name: n.name ?? n.outputs[0], op_type: n.op, domain: n.domain,
      attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attrObj(k, v)),
    })),
    name: 'test-graph', initializer, input: spec.inputs.map(valueInfo), output: spec.outputs.map(valueInfo),
  })).finish();
  const w = Writer.create();
  w.uint32((1 << 3) | 0).int64(8); // ir_version 8
  w.uint32((2 << 3) | 2).string('hqq-wasm-tests');
  const op = onnxTypes.OperatorSetIdProto.encode(onnxTypes.OperatorSetIdProto.fromObject({ domain: '', version: spec.opset ?? 17 })).finish();
  w.uint32((8 << 3) | 2).bytes(op);
  w.uint32((7 << 3) | 2).bytes(graph);
  for (const [k, v] of Object.entries(spec.metadata ?? {})) {
    w.uint32((14 << 3) | 2).bytes(onnxTypes.StringStringEntryProto.encode({ key: k, value: v }).finish());
  }
  const bytes = new Uint8Array(w.finish()); // a plain array (protobufjs gives a Node Buffer, whose slice() is a view)
  if (!spec.external) return { bytes };
  const ext = new Uint8Array(extSize);
  let o = 0;
  for (const p of extParts) {
    ext.set(p, o);
    o += p.byteLength;
  }
  return { bytes, external: ext };
}

export function i64(name: string, values: number[]): TensorSpec {
  return { name, dims: [values.length], raw: new Uint8Array(new BigInt64Array(values.map(BigInt)).buffer), dataType: 7 };
}

/** Weights of the MLP, by name; dims of B as stored. */
export function mlpWeights(): Map<string, { dims: number[]; values: Float32Array }> {
  const w = new Map<string, { dims: number[]; values: Float32Array }>();
  const add = (name: string, dims: number[], seed: number, scale: number) => w.set(name, { dims, values: randn(dims.reduce((a, b) => a * b, 1), seed, scale) });
  add('W1', [72, 64], 1, 0.12); // K = 72: two full blocks of 32 and a partial one
  add('b1', [64], 2, 0.1);
  add('W2t', [48, 64], 3, 0.12); // Gemm transB=1: [N, K]
  add('b2', [48], 4, 0.1);
  add('Wshared', [48, 48], 5, 0.15); // read by two MatMuls
  add('W4', [48, 40], 6, 0.15); // Gemm transB=0, no bias
  add('Wc', [40, 32], 7, 0.15); // a Constant node
  add('small', [8, 8], 8, 0.3); // too small to quantize
  return w;
}

/** An MLP over x [batch, 72] with every kind of weight; `override` replaces weight values (the dequantized twin). */
export function mlpModel(override?: Map<string, Float32Array>, opts: { external?: ModelSpec['external']; fp16?: boolean } = {}): { bytes: Uint8Array; external?: Uint8Array } {
  const w = mlpWeights();
  const t = (name: string): TensorSpec => ({ name, dims: w.get(name)!.dims, values: override?.get(name) ?? w.get(name)!.values });
  const c = t('Wc');
  return buildModel({
    inputs: [{ name: 'x', dims: ['batch', 72] }],
    outputs: [{ name: 'y', dims: ['batch', 32] }, { name: 'z', dims: ['batch', 8] }],
    initializers: [t('W1'), t('b1'), t('W2t'), t('b2'), t('Wshared'), t('W4'), t('small'), i64('starts', [0]), i64('ends', [8]), i64('axes', [1])],
    nodes: [
      { op: 'Constant', inputs: [], outputs: ['Wc'], name: 'const_wc', attrs: { value: { tensor: c } } },
      { op: 'MatMul', inputs: ['x', 'W1'], outputs: ['h1'], name: 'fc1' },
      { op: 'Add', inputs: ['h1', 'b1'], outputs: ['h1b'] },
      { op: 'Relu', inputs: ['h1b'], outputs: ['h1r'] },
      { op: 'Gemm', inputs: ['h1r', 'W2t', 'b2'], outputs: ['h2'], name: 'fc2', attrs: { transB: 1 } },
      { op: 'MatMul', inputs: ['h2', 'Wshared'], outputs: ['h3'], name: 'shared_a' },
      { op: 'Tanh', inputs: ['h3'], outputs: ['h3t'] },
      { op: 'MatMul', inputs: ['h3t', 'Wshared'], outputs: ['h4'], name: 'shared_b' },
      { op: 'Gemm', inputs: ['h4', 'W4'], outputs: ['h5'], name: 'fc4' },
      { op: 'MatMul', inputs: ['h5', 'Wc'], outputs: ['y'], name: 'fc_const' },
      { op: 'Slice', inputs: ['y', 'starts', 'ends', 'axes'], outputs: ['ys'], name: 'slice' },
      { op: 'MatMul', inputs: ['ys', 'small'], outputs: ['z'], name: 'fc_small' },
    ],
    ...(opts.external ? { external: opts.external } : {}),
    metadata: { source: 'hqq-wasm test', note: 'kept as is' },
  });
}

/** Weights of the attention block. */
export function attentionWeights(): Map<string, { dims: number[]; values: Float32Array }> {
  const w = new Map<string, { dims: number[]; values: Float32Array }>();
  const add = (name: string, dims: number[], seed: number, scale: number) => w.set(name, { dims, values: randn(dims.reduce((a, b) => a * b, 1), seed, scale) });
  add('emb', [50, 64], 11, 0.5); // read by Gather: stays as it is
  add('Wq', [64, 64], 12, 0.12);
  add('Wk', [64, 64], 13, 0.12);
  add('Wv', [64, 64], 14, 0.12);
  add('Wo', [64, 64], 15, 0.12);
  add('Wup', [64, 100], 16, 0.12);
  add('Wdown', [100, 64], 17, 0.1); // K = 100: three blocks of 32 and 4 weights
  add('lm_head', [64, 50], 18, 0.12);
  return w;
}

/** A transformer block over token ids [1, T]: embedding, one attention head, MLP, LM head. */
export function attentionModel(override?: Map<string, Float32Array>): { bytes: Uint8Array } {
  const w = attentionWeights();
  const t = (name: string): TensorSpec => ({ name, dims: w.get(name)!.dims, values: override?.get(name) ?? w.get(name)!.values });
  return buildModel({
    inputs: [{ name: 'ids', dims: [1, 'T'], elemType: 7 }],
    outputs: [{ name: 'logits', dims: [1, 'T', 50] }],
    initializers: [t('emb'), t('Wq'), t('Wk'), t('Wv'), t('Wo'), t('Wup'), t('Wdown'), t('lm_head'), { name: 'scale', dims: [], values: new Float32Array([0.125]) }],
    nodes: [
      { op: 'Gather', inputs: ['emb', 'ids'], outputs: ['x'] },
      { op: 'MatMul', inputs: ['x', 'Wq'], outputs: ['q'] },
      { op: 'MatMul', inputs: ['x', 'Wk'], outputs: ['k'] },
      { op: 'MatMul', inputs: ['x', 'Wv'], outputs: ['v'] },
      { op: 'Transpose', inputs: ['k'], outputs: ['kt'], attrs: { perm: [0, 2, 1] } },
      { op: 'MatMul', inputs: ['q', 'kt'], outputs: ['s'] }, // dynamic B: not a weight
      { op: 'Mul', inputs: ['s', 'scale'], outputs: ['ss'] },
      { op: 'Softmax', inputs: ['ss'], outputs: ['p'], attrs: { axis: -1 } },
      { op: 'MatMul', inputs: ['p', 'v'], outputs: ['a'] },
      { op: 'MatMul', inputs: ['a', 'Wo'], outputs: ['o'] },
      { op: 'Add', inputs: ['x', 'o'], outputs: ['h'] },
      { op: 'MatMul', inputs: ['h', 'Wup'], outputs: ['u'] },
      { op: 'Relu', inputs: ['u'], outputs: ['ur'] },
      { op: 'MatMul', inputs: ['ur', 'Wdown'], outputs: ['d'] },
      { op: 'Add', inputs: ['h', 'd'], outputs: ['h2'] },
      { op: 'MatMul', inputs: ['h2', 'lm_head'], outputs: ['logits'] },
    ],
  });
}
