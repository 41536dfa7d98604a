/**
 * ONNX output layout (browser-safe): the rewritten model as streamed files for the orchestrator.
 * The .onnx file is a sequence of pieces: bytes known at plan time (every untouched field of the
 * input copied verbatim, new nodes and tensor headers encoded with protobufjs) and tensor data
 * entries of known length, written later by jobs and copies at their planned offsets. Lengths are
 * known up front, so every enclosing length prefix (graph, TensorProto) is exact before any
 * weight is computed. With external data, tensors of `threshold` bytes or more go to one data
 * file instead (offsets aligned), and the .onnx holds no weights at all.
 */
import { HQQError } from '../../errors.js';
import type { PlannedFile, TensorWrite } from '../../formats/types.js';
import type { FileLayout } from '../layout.js';
import type { ONNXModel, ONNXTensor } from './reader.js';
import { FIELD, onnxTypes } from './schema.js';
import { concatBytes, lenPrefix } from './wire.js';

export interface AddedTensor {
  name: string;
  dataType: number;
  dims: number[];
  entry: string;
  byteLength: number;
}

export interface GraphEdits {
  /** Graph fields (by start offset) dropped: quantized initializers, Constant nodes folded away. */
  drop: Set<number>;
  /** Graph node fields (by start offset) replaced by a new NodeProto payload. */
  replace: Map<number, Uint8Array>;
  /** Graph fields holding a tensor whose data is an output entry (kept tensors). */
  data: Map<number, { tensor: ONNXTensor; entry: string }>;
  /** New initializers, placed after the last initializer. */
  added: AddedTensor[];
  /** An opset import to add (com.microsoft for MatMulNBits). */
  addOpset?: { domain: string; version: number };
}

export interface ONNXOutputOptions {
  fileName: string;
  dataFileName: string;
  externalData: 'auto' | 'always' | 'never';
  /** Tensors this large or larger go to the data file in external mode (default 1024). */
  threshold?: number;
  /** The input used external data (auto mode keeps it external). */
  inputExternal: boolean;
}

export interface ONNXOutputPlan {
  files: PlannedFile[];
  constants: TensorWrite[];
  /** Which file holds each data entry. */
  entryFile: Map<string, number>;
  external: boolean;
}

type Piece = { bytes: Uint8Array } | { entry: string; length: number };

/** protobuf's hard limit on one message. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;
const BIG = 1 << 20;

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function sizeOf(pieces: readonly Piece[]): number {
  return pieces.reduce((a, p) => a + ('bytes' in p ? p.bytes.byteLength : p.length), 0);
}

/** A TensorProto header (everything but raw_data) for `t`, with or without an external location. */
function tensorHeader(base: Record<string, unknown>, ext?: { location: string; offset: number; length: number }): Uint8Array {
  const o: Record<string, unknown> = { ...base };
  delete o.raw_data;
  delete o.external_data;
  delete o.data_location;
  if (ext) {
    o.external_data = [{ key: 'location', value: ext.location }, { key: 'offset', value: String(ext.offset) }, { key: 'length', value: String(ext.length) }];
    o.data_location = 1;
  }
  return onnxTypes.TensorProto.encode(onnxTypes.TensorProto.fromObject(o)).finish();
}

class Builder {
  readonly pieces: Piece[] = [];
  readonly ext: { entry: string; begin: number; length: number }[] = [];
  #extEnd = 0;

  constructor(readonly external: boolean, readonly threshold: number, readonly dataFileName: string) {}

  lit(bytes: Uint8Array): void {
    if (bytes.byteLength > 0) this.pieces.push({ bytes });
  }

  /** A tensor field (`fieldNo` in its message) whose header is `proto` and data the entry. */
  tensor(fieldNo: number, proto: Record<string, unknown>, entry: string, length: number): void {
    if (this.external && length >= this.threshold) {
      const begin = alignUp(this.#extEnd, length >= BIG ? 4096 : 64);
      this.ext.push({ entry, begin, length });
      this.#extEnd = begin + length;
      const h = tensorHeader(proto, { location: this.dataFileName, offset: begin, length });
      this.lit(concatBytes([lenPrefix(fieldNo, h.byteLength), h]));
      return;
    }
    const h = tensorHeader(proto);
    const raw = lenPrefix(FIELD.tensor.rawData, length);
    this.lit(concatBytes([lenPrefix(fieldNo, h.byteLength + raw.byteLength + length), h, raw]));
    this.pieces.push({ entry, length });
  }

}

function buildGraph(model: ONNXModel, e: GraphEdits, b: Builder): void {
  const inits = model.graphFields.filter((f) => f.no === FIELD.graph.initializer);
  const addAfter = inits.length ? inits[inits.length - 1]!.start : -1;
  const addNew = () => {
    for (const a of e.added) b.tensor(FIELD.graph.initializer, { name: a.name, dims: a.dims, data_type: a.dataType }, a.entry, a.byteLength);
  };
  for (const f of model.graphFields) {
    if (e.drop.has(f.start)) {
      if (f.start === addAfter) addNew();
      continue;
    }
    const rep = e.replace.get(f.start);
    const d = e.data.get(f.start);
    if (rep) b.lit(concatBytes([lenPrefix(FIELD.graph.node, rep.byteLength), rep]));
    else if (d && f.no === FIELD.graph.initializer && (d.tensor.data.kind === 'external' || (b.external && d.tensor.byteLength >= b.threshold))) {
      b.tensor(FIELD.graph.initializer, d.tensor.proto, d.entry, d.tensor.byteLength);
    } else if (d && d.tensor.data.kind === 'inline') {
      // Unchanged bytes around unchanged data: every enclosing length stays valid.
      b.lit(model.bytes(f.start, d.tensor.data.begin));
      b.pieces.push({ entry: d.entry, length: d.tensor.byteLength });
      b.lit(model.bytes(d.tensor.data.begin + d.tensor.byteLength, f.end));
    } else if (d) {
      throw new HQQError('UNSUPPORTED', `${model.source.name}: Constant node output ${JSON.stringify(d.tensor.name)} keeps its data in an external file; move it to an initializer first`);
    } else b.lit(model.bytes(f.start, f.end));
    if (f.start === addAfter) addNew();
  }
  if (addAfter < 0) addNew();
}

function build(model: ONNXModel, e: GraphEdits, o: ONNXOutputOptions, external: boolean): Builder {
  const g = new Builder(external, o.threshold ?? 1024, o.dataFileName);
  buildGraph(model, e, g);
  const top = new Builder(external, o.threshold ?? 1024, o.dataFileName);
  const opsets = model.modelFields.filter((f) => f.no === FIELD.model.opsetImport);
  for (const f of model.modelFields) {
    if (f === model.graph) {
      top.lit(lenPrefix(FIELD.model.graph, sizeOf(g.pieces)));
      top.pieces.push(...g.pieces);
    } else top.lit(model.bytes(f.start, f.end));
    if (e.addOpset && f === opsets[opsets.length - 1]) {
      const op = onnxTypes.OperatorSetIdProto.encode(onnxTypes.OperatorSetIdProto.fromObject(e.addOpset)).finish();
      top.lit(concatBytes([lenPrefix(FIELD.model.opsetImport, op.byteLength), op]));
    }
  }
  top.ext.push(...g.ext);
  return top;
}

/** Pieces as a FileLayout: the first bytes are the header, later byte runs are constant entries. */
function layoutOf(pieces: readonly Piece[], constants: TensorWrite[], file: number, entryFile: Map<string, number>): FileLayout {
  const merged: Piece[] = [];
  for (const p of pieces) {
    const last = merged[merged.length - 1];
    if (last && 'bytes' in last && 'bytes' in p) merged[merged.length - 1] = { bytes: concatBytes([last.bytes, p.bytes]) };
    else merged.push(p);
  }
  let header: Uint8Array = new Uint8Array(0);
  if (merged[0] && 'bytes' in merged[0]) header = (merged.shift() as { bytes: Uint8Array }).bytes;
  const offsets = new Map<string, { begin: number; end: number }>();
  const tensors: { name: string; byteLength: number }[] = [];
  let pos = header.byteLength;
  merged.forEach((p, i) => {
    const name = 'bytes' in p ? `\u0000onnx-bytes-${i}` : p.entry;
    const length = 'bytes' in p ? p.bytes.byteLength : p.length;
    offsets.set(name, { begin: pos, end: pos + length });
    tensors.push({ name, byteLength: length });
    if ('bytes' in p) constants.push({ file, entry: name, offset: 0, bytes: p.bytes });
    else entryFile.set(name, file);
    pos += length;
  });
  return { headerBytes: header, totalSize: pos, offsets, tensors };
}

/** Plans the output files of the rewritten model (see the module comment). */
export function planONNXOutput(model: ONNXModel, edits: GraphEdits, o: ONNXOutputOptions): ONNXOutputPlan {
  let external = o.externalData === 'always' || (o.externalData === 'auto' && o.inputExternal);
  let b = build(model, edits, o, external);
  if (!external && sizeOf(b.pieces) > PROTOBUF_LIMIT) {
    if (o.externalData === 'never') {
      throw new HQQError('UNSUPPORTED', `${o.fileName} would be ${sizeOf(b.pieces)} bytes, over protobuf's 2 GB limit for one model file; allow external data (externalData: 'auto', CLI: drop --external-data never)`);
    }
    external = true;
    b = build(model, edits, o, true);
  }
  if (sizeOf(b.pieces) > PROTOBUF_LIMIT) throw new HQQError('UNSUPPORTED', `${o.fileName}: the graph itself (without weights) is over protobuf's 2 GB limit`);
  const constants: TensorWrite[] = [];
  const entryFile = new Map<string, number>();
  const files: PlannedFile[] = [{ fileName: o.fileName, layout: layoutOf(b.pieces, constants, 0, entryFile) }];
  if (external && b.ext.length > 0) {
    const offsets = new Map<string, { begin: number; end: number }>();
    for (const x of b.ext) {
      offsets.set(x.entry, { begin: x.begin, end: x.begin + x.length });
      entryFile.set(x.entry, 1);
    }
    const last = b.ext[b.ext.length - 1]!;
    files.push({
      fileName: o.dataFileName,
      layout: { headerBytes: new Uint8Array(0), totalSize: last.begin + last.length, offsets, tensors: b.ext.map((x) => ({ name: x.entry, byteLength: x.length })) },
    });
  }
  return { files, constants, entryFile, external };
}
