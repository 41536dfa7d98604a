/**
 * ONNX model reader (browser-safe): the structure of a `ModelProto` from a `ByteSource` without
 * loading its weights. The top-level fields and the graph's fields are walked at wire level
 * (wire.ts); nodes, value infos and the non-data fields of every initializer are decoded with
 * protobufjs (schema.ts); every tensor's `raw_data` (inline) or external data range is located
 * and read later, one tensor at a time. Memory: the graph without its weights.
 *
 * External data (`data_location = EXTERNAL`, `location`/`offset`/`length`) is resolved by the
 * caller's `openExternal(location)` (Node: files next to the model; browsers: the dropped files).
 */
import { HQQError } from '../../errors.js';
import type { ByteSource } from '../source.js';
import { FIELD, ONNX_DTYPES, onnxTypes } from './schema.js';
import { checkMessageWire, checkWireTypes, concatBytes, readVarint, scanFields, WindowReader, type WireField } from './wire.js';

/**
 * Where a tensor's bytes are, by `kind`. 'inline': `raw_data` inside the model file, `source` (the
 * model), from absolute byte `begin`, `length` bytes. 'external': in the external data file
 * `location` (the path the model names, relative to its folder), `source` that file, from byte
 * `begin` (the entry's offset), `length` bytes (the tensor's byteLength). 'typed': float_data,
 * int64_data...: small typed fields, kept in the graph bytes as they are (no byte range).
 */
export type TensorData =
  | { kind: 'inline'; source: ByteSource; begin: number; length: number }
  | { kind: 'external'; location: string; source: ByteSource; begin: number; length: number }
  | { kind: 'typed' };

/** A TensorProto located in the model (an initializer or a Constant node's value): its data is not read. */
export interface ONNXTensor {
  /** The tensor's name (a Constant's tensor without one takes the node's first output name). */
  name: string;
  /** TensorProto.DataType code (1 FLOAT, 10 FLOAT16, 16 BFLOAT16, 7 INT64...). */
  dataType: number;
  /** Container dtype name (F32, F16, BF16, I64...). */
  dtype: string;
  /** The shape, outermost first (row-major); [] for a scalar. */
  dims: number[];
  /** Number of elements: the product of `dims` (1 for a scalar). */
  numel: number;
  /** Bytes of the data: numel times the element size, rounded up for 4-bit types (0 for STRING). */
  byteLength: number;
  /** Where the bytes are (inline, external, or in typed fields). */
  data: TensorData;
  /** The decoded TensorProto without raw_data (external_data, doc_string, metadata_props...). */
  proto: Record<string, unknown>;
  /** The field holding it (an initializer in the graph, or a Constant node's field). */
  field: WireField;
}

/** A NodeProto of the main graph, decoded (for a large Constant node: without its tensor's raw_data). */
export interface ONNXNode {
  /** The graph's `node` field it was read from (its byte positions in the model file). */
  field: WireField;
  /** Names of the values it reads, in order ('' marks an omitted optional input). */
  input: string[];
  /** Names of the values it writes, in order. */
  output: string[];
  /** The node's name ('' when it has none). */
  name: string;
  /** The operator, e.g. 'MatMul', 'Gemm', 'Constant'. */
  opType: string;
  /** The operator's domain: '' (or 'ai.onnx') for the default one, 'com.microsoft' for onnxruntime's contrib ops. */
  domain: string;
  /** The AttributeProtos as protobufjs objects (int64 as numbers); a large Constant's tensor attribute is left out. */
  attribute: Record<string, unknown>[];
  /** A Constant node's tensor (large ones are located, not read). */
  constant?: ONNXTensor;
}

/** An opened ONNX model (`openONNX`): its structure, with every tensor's data located but not read. */
export interface ONNXModel {
  /** The .onnx file. */
  source: ByteSource;
  /** Cached reads of `source` (for the wire-level walks). */
  reader: WindowReader;
  /** The ModelProto's top-level fields, in file order. */
  modelFields: WireField[];
  /** The ModelProto's `graph` field. */
  graph: WireField;
  /** The GraphProto's fields, in file order. */
  graphFields: WireField[];
  /** The ModelProto's ir_version. */
  irVersion: number;
  /** The opset_import entries: `domain` ('' is ai.onnx) and its opset `version`. */
  opsets: { domain: string; version: number }[];
  /** The graph's initializers, in file order. */
  initializers: ONNXTensor[];
  /** The main graph's nodes, in file order (subgraph nodes stay inside their attributes). */
  nodes: ONNXNode[];
  /** Element types known for value names (graph inputs, outputs, value_info). */
  elemTypes: Map<string, number>;
  /** Names of the graph's inputs (older models also list initializers here). */
  graphInputs: Set<string>;
  /** Names of the graph's outputs. */
  graphOutputs: Set<string>;
  /** Names read inside subgraphs (If/Loop bodies): such tensors are not ours to rewrite. */
  subgraphReads: Set<string>;
  /** External data files used. */
  externalFiles: string[];
  /** The verbatim bytes of [begin, end) of the model file, outside tensor data (held in memory). */
  bytes(begin: number, end: number): Uint8Array;
}

/** Options of `openONNX`. */
export interface OpenONNXOptions {
  /** The source holding external data `location` (relative to the model's folder). */
  openExternal?: (location: string) => Promise<ByteSource | undefined>;
}

/** Nodes this large are walked instead of decoded (a Constant holding a weight). */
const DECODE_LIMIT = 1 << 20;

function bad(source: ByteSource, message: string): HQQError {
  return new HQQError('BAD_FILE', `${source.name}: ${message}`);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(String(v));
}

function tensorSize(source: ByteSource, name: string, dataType: number, dims: number[]): { dtype: string; numel: number; byteLength: number } {
  const dt = ONNX_DTYPES[dataType];
  if (!dt) throw bad(source, `tensor ${JSON.stringify(name)} has data_type ${dataType}, which is not an ONNX type; the model is damaged`);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(source, `tensor ${JSON.stringify(name)} has dims [${dims.join(', ')}]; dims must be non-negative integers`);
  const numel = dims.reduce((a, d) => a * d, 1);
  return { dtype: dt.name, numel, byteLength: Math.ceil(numel * dt.bytes) };
}

/** A TensorProto in field `f`: decoded without raw_data, with its data located. */
async function readTensor(m: { source: ByteSource; reader: WindowReader }, f: WireField, where: string, opts: OpenONNXOptions, external: Set<string>): Promise<ONNXTensor> {
  const fields = await scanFields(m.reader, f.dataStart, f.end);
  checkWireTypes(m.source, 'tensor', fields);
  const raw = fields.find((x) => x.no === FIELD.tensor.rawData && x.wire === 2);
  const rest = await Promise.all(fields.filter((x) => x !== raw).map((x) => m.reader.bytes(x.start, x.end)));
  const proto = onnxTypes.TensorProto.toObject(onnxTypes.TensorProto.decode(concatBytes(rest)), { longs: Number, defaults: false, bytes: Array }) as Record<string, unknown>;
  const name = String(proto.name ?? '');
  const dims = ((proto.dims as unknown[]) ?? []).map(num);
  const dataType = num(proto.data_type ?? 0);
  const { dtype, numel, byteLength } = tensorSize(m.source, name || where, dataType, dims);
  let data: TensorData;
  if (num(proto.data_location ?? 0) === 1) {
    const ext = await locateExternal(m.source, name, proto, byteLength, opts);
    external.add(ext.location);
    data = ext;
  } else if (raw) {
    if (raw.end - raw.dataStart !== byteLength) throw bad(m.source, `tensor ${JSON.stringify(name)} (${dtype} [${dims.join(', ')}]) holds ${raw.end - raw.dataStart} bytes of raw_data, expected ${byteLength}; the model is damaged`);
    data = { kind: 'inline', source: m.source, begin: raw.dataStart, length: byteLength };
  } else data = { kind: 'typed' };
  return { name, dataType, dtype, dims, numel, byteLength, data, proto, field: f };
}

async function locateExternal(source: ByteSource, name: string, proto: Record<string, unknown>, byteLength: number, opts: OpenONNXOptions): Promise<TensorData & { kind: 'external' }> {
  const kv = new Map(((proto.external_data as { key?: string; value?: string }[]) ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  const what = `tensor ${JSON.stringify(name)}`;
  if (!location) throw bad(source, `${what} is stored as external data but names no location; the model is damaged`);
  if (/^([\\/]|[a-zA-Z]:)/.test(location) || location.split(/[\\/]/).includes('..')) {
    throw new HQQError('BAD_FILE', `${source.name}: ${what} has external data location ${JSON.stringify(location)}, outside the model's folder; ONNX locations are relative paths inside it`);
  }
  const ext = await opts.openExternal?.(location);
  if (!ext) throw new HQQError('IO_ERROR', `${source.name}: ${what} is stored in the external data file ${JSON.stringify(location)}, which was not given; put it next to the model (browsers: drop it together with the .onnx)`);
  const offset = kv.has('offset') ? Number(kv.get('offset')) : 0;
  const length = kv.has('length') ? Number(kv.get('length')) : byteLength;
  if (!Number.isSafeInteger(offset) || offset < 0 || length !== byteLength) {
    throw bad(source, `${what}: external data offset ${kv.get('offset')} / length ${kv.get('length')} do not describe its ${byteLength} bytes; the model is damaged`);
  }
  if (offset + length > ext.size) {
    throw new HQQError('BAD_FILE', `${source.name}: ${what} needs bytes ${offset}..${offset + length} of ${location}, which has only ${ext.size} bytes; the external data file is truncated or belongs to another model`);
  }
  return { kind: 'external', location, source: ext, begin: offset, length };
}

function decodeNode(bytes: Uint8Array): Record<string, unknown> {
  return onnxTypes.NodeProto.toObject(onnxTypes.NodeProto.decode(bytes), { longs: Number, defaults: false, arrays: true }) as Record<string, unknown>;
}

/** A node; a large Constant's tensor is walked and located instead of read. */
async function readNode(m: { source: ByteSource; reader: WindowReader }, f: WireField, opts: OpenONNXOptions, external: Set<string>): Promise<ONNXNode> {
  let obj: Record<string, unknown>;
  let constant: ONNXTensor | undefined;
  if (f.end - f.dataStart <= DECODE_LIMIT) {
    const bytes = await m.reader.bytes(f.dataStart, f.end);
    checkMessageWire(m.source, 'node', bytes, f.dataStart);
    obj = decodeNode(bytes);
  } else {
    const fields = await scanFields(m.reader, f.dataStart, f.end);
    checkWireTypes(m.source, 'node', fields);
    const small = fields.filter((x) => x.no !== FIELD.node.attribute || x.end - x.dataStart <= DECODE_LIMIT);
    const smallBytes = await Promise.all(small.map((x) => m.reader.bytes(x.start, x.end)));
    small.forEach((x, i) => {
      if (x.no === FIELD.node.attribute) checkMessageWire(m.source, 'attribute', smallBytes[i]!.subarray(x.dataStart - x.start), x.dataStart);
    });
    obj = decodeNode(concatBytes(smallBytes));
    for (const a of fields.filter((x) => !small.includes(x))) {
      const af = await scanFields(m.reader, a.dataStart, a.end);
      checkWireTypes(m.source, 'attribute', af);
      const t = af.find((x) => x.no === FIELD.attribute.t && x.wire === 2);
      if (obj.op_type !== 'Constant' || !t) throw bad(m.source, `node ${JSON.stringify(obj.name ?? '')} (${String(obj.op_type)}) has an attribute of ${a.end - a.dataStart} bytes; only Constant nodes may hold large tensors here`);
      constant = await readTensor(m, t, `Constant ${String(obj.name ?? '')}`, opts, external);
    }
  }
  const out = ((obj.output as string[]) ?? []);
  const attribute = (obj.attribute as Record<string, unknown>[]) ?? [];
  if (!constant && obj.op_type === 'Constant' && (obj.domain ?? '') === '') {
    const v = attribute.find((a) => a.name === 'value' && a.t);
    // Small constants were decoded whole; their data stays in the node's verbatim bytes.
    if (v) constant = await readTensorFromAttr(m, f, opts, external);
  }
  if (constant && !constant.name) constant.name = out[0] ?? '';
  return {
    field: f, input: (obj.input as string[]) ?? [], output: out, name: String(obj.name ?? ''), opType: String(obj.op_type ?? ''),
    domain: String(obj.domain ?? ''), attribute, constant,
  };
}

/** The `value` tensor of a small Constant node, located like an initializer. */
async function readTensorFromAttr(m: { source: ByteSource; reader: WindowReader }, f: WireField, opts: OpenONNXOptions, external: Set<string>): Promise<ONNXTensor | undefined> {
  for (const a of (await scanFields(m.reader, f.dataStart, f.end)).filter((x) => x.no === FIELD.node.attribute)) {
    const af = await scanFields(m.reader, a.dataStart, a.end);
    const nameF = af.find((x) => x.no === FIELD.attribute.name);
    const name = nameF ? new TextDecoder().decode(await m.reader.bytes(nameF.dataStart, nameF.end)) : '';
    const t = af.find((x) => x.no === FIELD.attribute.t && x.wire === 2);
    if (name === 'value' && t) return readTensor(m, t, 'Constant', opts, external);
  }
  return undefined;
}

/** Names read by nodes inside subgraph attributes (recursively). */
function subgraphReads(attrs: Record<string, unknown>[], into: Set<string>): void {
  for (const a of attrs) {
    const graphs = [a.g, ...((a.graphs as unknown[]) ?? [])].filter(Boolean) as { node?: { input?: string[]; attribute?: Record<string, unknown>[] }[] }[];
    for (const g of graphs) {
      for (const n of g.node ?? []) {
        for (const i of n.input ?? []) into.add(i);
        subgraphReads(n.attribute ?? [], into);
      }
    }
  }
}

/** Opens an ONNX model: headers and graph structure only (see the module comment). */
export async function openONNX(source: ByteSource, opts: OpenONNXOptions = {}): Promise<ONNXModel> {
  const reader = new WindowReader(source);
  const m = { source, reader };
  if (source.size === 0) throw bad(source, 'the file is empty; it is not an ONNX model');
  const modelFields = await scanFields(reader, 0, source.size);
  checkWireTypes(source, 'model', modelFields);
  const graphs = modelFields.filter((f) => f.no === FIELD.model.graph && f.wire === 2);
  if (graphs.length !== 1) throw bad(source, `${graphs.length === 0 ? 'no graph' : 'several graph fields'} in the ModelProto; is it an ONNX model?`);
  const irF = modelFields.find((f) => f.no === FIELD.model.irVersion && f.wire === 0);
  const opsets: ONNXModel['opsets'] = [];
  for (const f of modelFields.filter((x) => x.no === FIELD.model.opsetImport && x.wire === 2)) {
    const o = onnxTypes.OperatorSetIdProto.toObject(onnxTypes.OperatorSetIdProto.decode(await reader.bytes(f.dataStart, f.end)), { longs: Number }) as { domain?: string; version?: number };
    opsets.push({ domain: o.domain ?? '', version: num(o.version ?? 0) });
  }
  if (!irF || opsets.length === 0) throw bad(source, 'the ModelProto has no ir_version or no opset_import; is it an ONNX model?');
  const graph = graphs[0]!;
  const graphFields = await scanFields(reader, graph.dataStart, graph.end);
  checkWireTypes(source, 'graph', graphFields);
  const external = new Set<string>();
  const model: ONNXModel = {
    source, reader, modelFields, graph, graphFields, irVersion: await readVarint(reader, irF), opsets,
    initializers: [], nodes: [], elemTypes: new Map(), graphInputs: new Set(), graphOutputs: new Set(), subgraphReads: new Set(),
    externalFiles: [], bytes: () => new Uint8Array(0),
  };
  for (const f of graphFields) {
    if (f.wire !== 2) continue;
    if (f.no === FIELD.graph.initializer) model.initializers.push(await readTensor(m, f, 'initializer', opts, external));
    else if (f.no === FIELD.graph.node) {
      const n = await readNode(m, f, opts, external);
      subgraphReads(n.attribute, model.subgraphReads);
      model.nodes.push(n);
    } else if (f.no === FIELD.graph.input || f.no === FIELD.graph.output || f.no === FIELD.graph.valueInfo) {
      const vb = await reader.bytes(f.dataStart, f.end);
      checkMessageWire(source, 'valueInfo', vb, f.dataStart);
      const v = onnxTypes.ValueInfoProto.toObject(onnxTypes.ValueInfoProto.decode(vb)) as { name?: string; type?: { tensor_type?: { elem_type?: number } } };
      const name = v.name ?? '';
      const et = v.type?.tensor_type?.elem_type;
      if (et) model.elemTypes.set(name, et);
      if (f.no === FIELD.graph.input) model.graphInputs.add(name);
      if (f.no === FIELD.graph.output) model.graphOutputs.add(name);
    }
  }
  checkSingleDefinitions(model);
  model.externalFiles = [...external];
  model.bytes = await skeleton(model);
  return model;
}

/**
 * Each value is defined once (the ONNX checker's SSA rule): two initializers of one name, or a
 * node output that an initializer or another node also defines, make the model ambiguous. Of
 * duplicate initializers (Constant nodes included) onnxruntime keeps the last with a warning, so
 * the rewrite could quantize the one that is not used; other redefinitions onnxruntime refuses.
 */
function checkSingleDefinitions(model: ONNXModel): void {
  const defined = new Map<string, { what: string; constant: boolean }>();
  const define = (name: string, what: string, constant: boolean) => {
    if (name === '') return; // an omitted optional output
    const before = defined.get(name);
    if (before !== undefined) {
      // onnxruntime folds Constant nodes into initializers and, of duplicate initializers, warns
      // and keeps the last; any other node output over a defined name it refuses.
      const ort = before.constant && constant ? 'onnxruntime warns and uses the last one' : 'onnxruntime refuses it too';
      throw bad(model.source, `${JSON.stringify(name)} is defined twice (${before.what}, then ${what}); the ONNX checker refuses this (each value is defined once) and ${ort}, so which weight the model uses is not clear. Remove the duplicate (re-export the model) and quantize again`);
    }
    defined.set(name, { what, constant });
  };
  model.initializers.forEach((t, i) => define(t.name, `initializer #${i + 1}`, true));
  for (const n of model.nodes) {
    const constant = n.opType === 'Constant' && (n.domain === '' || n.domain === 'ai.onnx');
    for (const o of n.output) define(o, `an output of ${n.opType} node ${JSON.stringify(n.name)}`, constant);
  }
}

/**
 * Every byte of the model file outside inline tensor data, read once: the writer copies untouched
 * fields from it synchronously. Returns a reader of [begin, end) ranges that lie outside the data.
 */
async function skeleton(model: ONNXModel): Promise<(begin: number, end: number) => Uint8Array> {
  const holes: { begin: number; end: number }[] = [];
  for (const t of [...model.initializers, ...model.nodes.map((n) => n.constant).filter((t): t is ONNXTensor => t !== undefined)]) {
    if (t.data.kind === 'inline' && t.data.length > 0) holes.push({ begin: t.data.begin, end: t.data.begin + t.data.length });
  }
  holes.sort((a, b) => a.begin - b.begin);
  const segs: { begin: number; bytes: Uint8Array }[] = [];
  let pos = 0;
  for (const h of [...holes, { begin: model.source.size, end: model.source.size }]) {
    if (h.begin > pos) segs.push({ begin: pos, bytes: await model.reader.bytes(pos, h.begin) });
    pos = Math.max(pos, h.end);
  }
  return (begin, end) => {
    if (end <= begin) return new Uint8Array(0);
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid]!.begin <= begin) lo = mid;
      else hi = mid - 1;
    }
    const s = segs[lo];
    if (!s || begin < s.begin || end > s.begin + s.bytes.byteLength) throw new HQQError('INTERNAL', `${model.source.name}: bytes ${begin}..${end} overlap tensor data`);
    return s.bytes.subarray(begin - s.begin, end - s.begin);
  };
}
