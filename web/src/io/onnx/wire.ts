/**
 * Protobuf wire-level access to a model file without loading it (browser-safe): the fields of a
 * message lying in a byte range of a `ByteSource`, with their positions, read through a small
 * window cache. The varints are decoded by protobufjs's Reader; this module only tracks where
 * each field starts and ends, so that large `raw_data` blobs are located and never read here.
 */
import { HQQError } from '../../errors.js';
import type { ByteSource } from '../source.js';
import { Reader, WIRE_TYPES, Writer, type WireMessage } from './schema.js';

/** One protobuf field of a message, located in the source (absolute byte positions). */
export interface WireField {
  /** Field number. */
  no: number;
  /** Wire type: 0 varint, 1 64-bit, 2 LEN, 5 32-bit. */
  wire: number;
  /** Where the tag starts. */
  start: number;
  /** Where the value (for LEN: the payload, after the length) starts. */
  dataStart: number;
  /** Where the field ends (exclusive). */
  end: number;
}

const WINDOW = 64 * 1024;

/** Cached positional reads; a window is re-read only when a read leaves it. */
export class WindowReader {
  /** The source read from. */
  readonly source: ByteSource;
  #begin = 0;
  #buf: Uint8Array = new Uint8Array(0);

  constructor(source: ByteSource) {
    this.source = source;
  }

  /** Up to `length` bytes at `pos` (fewer at the end of the source). */
  async peek(pos: number, length: number): Promise<Uint8Array> {
    const want = Math.min(length, this.source.size - pos);
    if (pos < this.#begin || pos + want > this.#begin + this.#buf.byteLength) {
      const n = Math.min(Math.max(WINDOW, want), this.source.size - pos);
      this.#buf = await this.source.read(pos, n);
      this.#begin = pos;
    }
    return this.#buf.subarray(pos - this.#begin, pos - this.#begin + want);
  }

  /** Exactly the bytes [begin, end). */
  async bytes(begin: number, end: number): Promise<Uint8Array> {
    if (end - begin > WINDOW) return this.source.read(begin, end - begin);
    return (await this.peek(begin, end - begin)).slice();
  }
}

function bad(source: ByteSource, what: string, pos: number): HQQError {
  return new HQQError('BAD_FILE', `${source.name}: not a valid ONNX model (${what} at byte ${pos}); the file may be truncated or not an .onnx file — export or download it again`);
}

/** Every field of the message in [begin, end) of `r.source`, in file order. */
export async function scanFields(r: WindowReader, begin: number, end: number): Promise<WireField[]> {
  const out: WireField[] = [];
  let pos = begin;
  while (pos < end) {
    const head = await r.peek(pos, Math.min(20, end - pos));
    const rd = new Reader(head);
    let tag: number;
    let dataStart: number;
    let fieldEnd: number;
    try {
      tag = rd.uint32();
      const wire = tag & 7;
      if (wire === 0) {
        dataStart = pos + rd.pos;
        rd.skipType(0);
        fieldEnd = pos + rd.pos;
      } else if (wire === 2) {
        const len = rd.uint32();
        dataStart = pos + rd.pos;
        fieldEnd = dataStart + len;
      } else if (wire === 1 || wire === 5) {
        dataStart = pos + rd.pos;
        fieldEnd = dataStart + (wire === 1 ? 8 : 4);
      } else {
        throw bad(r.source, `unsupported wire type ${wire}`, pos);
      }
    } catch (e) {
      if (e instanceof HQQError) throw e;
      throw bad(r.source, 'a field header runs past the end of its message', pos);
    }
    if (tag >>> 3 === 0) throw bad(r.source, 'field number 0', pos);
    if (fieldEnd > end) throw bad(r.source, `field ${tag >>> 3} ends at ${fieldEnd}, past the end of its message (${end})`, pos);
    out.push({ no: tag >>> 3, wire: tag & 7, start: pos, dataStart, end: fieldEnd });
    pos = fieldEnd;
  }
  return out;
}

const WIRE_NAMES = ['varint (0)', 'fixed64 (1)', 'length-delimited (2)', 'group start (3)', 'group end (4)', 'fixed32 (5)'];
const MESSAGE_NAMES: Record<WireMessage, string> = { model: 'ModelProto', graph: 'GraphProto', tensor: 'TensorProto', node: 'NodeProto', attribute: 'AttributeProto', valueInfo: 'ValueInfoProto' };

/** Refuses a known field of `message` whose wire type the ONNX schema does not allow (see WIRE_TYPES). */
export function checkWireType(source: ByteSource, message: WireMessage, no: number, wire: number, pos: number): void {
  const want = WIRE_TYPES[message][no];
  if (want && !want.wires.includes(wire)) {
    throw bad(source, `${MESSAGE_NAMES[message]} field ${no} is ${WIRE_NAMES[wire] ?? `wire type ${wire}`}, where the ONNX schema has ${want.wires.map((w) => WIRE_NAMES[w]).join(' or ')}`, pos);
  }
}

/** `checkWireType` over fields already scanned. */
export function checkWireTypes(source: ByteSource, message: WireMessage, fields: readonly WireField[]): void {
  for (const f of fields) checkWireType(source, message, f.no, f.wire, f.start);
}

/**
 * The wire check of a whole message held in memory (`bytes`, which start at byte `base` of the
 * model file), descending into the sub-messages WIRE_TYPES names (a node's attributes, their
 * tensors and subgraphs). Malformed framing is BAD_FILE too.
 */
export function checkMessageWire(source: ByteSource, message: WireMessage, bytes: Uint8Array, base: number, depth = 0): void {
  if (depth > 64) throw bad(source, 'messages nested more than 64 deep', base);
  const rd = new Reader(bytes);
  while (rd.pos < bytes.length) {
    const at = rd.pos;
    let tag: number;
    try {
      tag = rd.uint32();
      checkWireType(source, message, tag >>> 3, tag & 7, base + at);
      const child = WIRE_TYPES[message][tag >>> 3]?.message;
      if ((tag & 7) === 2 && child) {
        const len = rd.uint32();
        if (rd.pos + len > bytes.length) throw bad(source, `field ${tag >>> 3} runs past the end of its message`, base + at);
        checkMessageWire(source, child, bytes.subarray(rd.pos, rd.pos + len), base + rd.pos, depth + 1);
        rd.pos += len;
      } else rd.skipType(tag & 7);
    } catch (e) {
      if (e instanceof HQQError) throw e;
      throw bad(source, 'a field runs past the end of its message', base + at);
    }
    if (tag >>> 3 === 0) throw bad(source, 'field number 0', base + at);
  }
}

/** A varint field's value (small integers: ir_version, data_type...). */
export async function readVarint(r: WindowReader, f: WireField): Promise<number> {
  const rd = new Reader(await r.peek(f.start, f.end - f.start));
  rd.uint32();
  const v = rd.int64();
  return typeof v === 'number' ? v : Number(v.toString());
}

/** The tag and length prefix of a LEN field `no` holding `length` bytes. */
export function lenPrefix(no: number, length: number): Uint8Array {
  return Writer.create().uint32((no << 3) | 2).uint32(length).finish();
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
