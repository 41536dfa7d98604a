/**
 * GGUF writer core (browser-safe): validates the metadata and tensor list, lays the file out and
 * builds the header bytes up front, so tensors can then be written in any order at precomputed
 * offsets by any sink (`ShardWriter`), one tensor at a time in memory.
 *
 * Layout (what gguf.cpp's writer produces, and what its loader requires): the header (magic,
 * version 3, counts, metadata in the given order, tensor infos in the given order) zero-padded to
 * the alignment; then each tensor's bytes in the given order, each followed by zero padding to the
 * alignment (the last one too). Every byte outside the header and the tensors is zero.
 */
import { HQQError } from '../errors.js';
import { requireGGMLType, type GGMLTypeName } from './gguf-types.js';
import {
  GGUF_SCALAR_SIZES,
  GGUF_VALUE_TYPE_IDS,
  GGUFStringList,
  hasLoneSurrogate,
  typedArrayFor,
  type GGUFArray,
  type GGUFMetadata,
  type GGUFValue,
  type GGUFValueType,
} from './gguf-metadata.js';
import { GGUF_DEFAULT_ALIGNMENT, GGUF_LIMITS, GGUF_MAX_DIMS, GGUF_MAX_TENSOR_NAME_BYTES, type GGUFTensorInfo } from './gguf-reader.js';

/** One tensor for `planGGUF`. */
export interface GGUFPlanTensor {
  /** The tensor's name (at most 63 UTF-8 bytes, unique in the file). */
  name: string;
  /** A type name ("Q4_K", "q4_K") or GGML id. */
  type: GGMLTypeName | string | number;
  /** Dims in GGUF order (ne[0] = row length), 1 to 4 of them, each >= 1. */
  ne: readonly number[];
  /** Optional: when given it must equal the tensor's size (a cross-check). */
  byteLength?: number;
}

/** What `planGGUF` lays out: metadata, tensors, alignment. */
export interface GGUFPlanInput {
  /** In the order to write; a Map or [key, value] pairs. Keys must be unique. */
  metadata?: ReadonlyMap<string, GGUFValue> | Iterable<readonly [string, GGUFValue]>;
  /** The tensors, in the order their infos and data are written. */
  tensors: readonly GGUFPlanTensor[];
  /**
   * Data alignment (a power of two). Default: the metadata's `general.alignment`, else 32. A
   * non-default alignment is recorded as `general.alignment` (u32), as readers need it.
   */
  alignment?: number;
}

/** The file layout: header bytes at offset 0, tensors at `offsets`, zeros elsewhere. */
export interface GGUFPlan {
  /** Magic through the last tensor info, zero-padded to the alignment. */
  headerBytes: Uint8Array;
  /** Absolute offset of the data section (= headerBytes.length). */
  dataOffset: number;
  /** Size of the whole file. */
  totalSize: number;
  /** Absolute file offsets of every tensor, [`begin`, `end`), in plan order. */
  offsets: Map<string, { begin: number; end: number }>;
  /** The same layout as reader-style entries, in plan order. */
  tensors: GGUFTensorInfo[];
  /** The metadata written (with `general.alignment` added when needed). */
  metadata: GGUFMetadata;
  /** The data alignment used (a power of two, 32 unless set). */
  alignment: number;
  /** The GGUF version written (always 3). */
  version: 3;
}

function arg(message: string): HQQError {
  return new HQQError('INVALID_ARGUMENT', message);
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const textEncoder = new TextEncoder();
const INT_RANGES: Readonly<Record<string, [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffff_ffff],
  i32: [-0x8000_0000, 0x7fff_ffff],
};

/** A growable little-endian byte buffer. */
class ByteWriter {
  #buf = new Uint8Array(4096);
  #view = new DataView(this.#buf.buffer);
  length = 0;

  #reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.#reserve(1);
    this.#buf[this.length++] = v;
  }
  u32(v: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: bigint | number): void {
    this.#reserve(8);
    this.#view.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.#reserve(b.byteLength);
    this.#buf.set(b, this.length);
    this.length += b.byteLength;
  }
  string(b: Uint8Array): void {
    this.u64(b.byteLength);
    this.bytes(b);
  }
  scalar(type: Exclude<GGUFValueType, 'array' | 'string'>, v: number | bigint | boolean): void {
    this.#reserve(8);
    const p = this.length;
    const d = this.#view;
    switch (type) {
      case 'u8': d.setUint8(p, v as number); break;
      case 'i8': d.setInt8(p, v as number); break;
      case 'u16': d.setUint16(p, v as number, true); break;
      case 'i16': d.setInt16(p, v as number, true); break;
      case 'u32': d.setUint32(p, v as number, true); break;
      case 'i32': d.setInt32(p, v as number, true); break;
      case 'f32': d.setFloat32(p, v as number, true); break;
      case 'f64': d.setFloat64(p, v as number, true); break;
      case 'u64': d.setBigUint64(p, v as bigint, true); break;
      case 'i64': d.setBigInt64(p, v as bigint, true); break;
      case 'bool': d.setUint8(p, v ? 1 : 0); break;
    }
    this.length += GGUF_SCALAR_SIZES[type];
  }
  /** The bytes written, padded with zeros to a multiple of `alignment`. */
  finish(alignment: number): Uint8Array {
    const n = Math.ceil(this.length / alignment) * alignment;
    const out = new Uint8Array(n);
    out.set(this.#buf.subarray(0, this.length));
    return out;
  }
}

function checkScalar(where: string, v: GGUFValue): void {
  const value = (v as { value?: unknown }).value;
  switch (v.type) {
    case 'u8': case 'i8': case 'u16': case 'i16': case 'u32': case 'i32': {
      const [lo, hi] = INT_RANGES[v.type]!;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
        throw arg(`${where}: ${String(value)} is not a ${v.type} (an integer in [${lo}, ${hi}]); build values with ggufValue.${v.type}()`);
      }
      return;
    }
    case 'f32': case 'f64':
      if (typeof value !== 'number') throw arg(`${where}: a ${v.type} value must be a number, got a ${typeof value}`);
      return;
    case 'u64': case 'i64': {
      const ok = typeof value === 'bigint' && (v.type === 'u64' ? value >= 0n && value < 1n << 64n : value >= -(1n << 63n) && value < 1n << 63n);
      if (!ok) throw arg(`${where}: ${String(value)} is not a ${v.type}; ${v.type} values are bigints in range (use ggufValue.${v.type}())`);
      return;
    }
    case 'bool':
      if (typeof value !== 'boolean') throw arg(`${where}: a bool value must be true or false, got ${String(value)}`);
      return;
    case 'string':
      if (typeof value !== 'string') throw arg(`${where}: a string value must be a string, got a ${typeof value}`);
      if (hasLoneSurrogate(value)) throw arg(`${where}: the string holds a lone UTF-16 surrogate, which has no UTF-8 encoding`);
      return;
    default:
      throw arg(`${where}: ${JSON.stringify((v as { type?: unknown })?.type)} is not a GGUF value type; use one of ${Object.keys(GGUF_VALUE_TYPE_IDS).join(', ')}`);
  }
}

/** Writes one array payload (item type, count, items), validating it on the way. */
function writeArray(w: ByteWriter, where: string, a: GGUFArray, depth: number): void {
  if (depth > GGUF_LIMITS.maxArrayDepth) throw arg(`${where}: arrays nested ${depth} deep, over the ${GGUF_LIMITS.maxArrayDepth} levels readers accept`);
  const items = (a as { items?: unknown }).items as { length: number } | undefined;
  const itemType = a.itemType;
  if (!Object.prototype.hasOwnProperty.call(GGUF_VALUE_TYPE_IDS, itemType)) {
    throw arg(`${where}: item type ${JSON.stringify(itemType)} is not a GGUF value type; use one of ${Object.keys(GGUF_VALUE_TYPE_IDS).join(', ')}`);
  }
  if (items === undefined || items === null || typeof items.length !== 'number') throw arg(`${where}: an array value needs items`);
  if (items.length > GGUF_LIMITS.maxArrayLength) throw arg(`${where}: ${items.length} elements, over the ${GGUF_LIMITS.maxArrayLength} readers accept`);
  w.u32(GGUF_VALUE_TYPE_IDS[itemType]);
  w.u64(items.length);
  switch (a.itemType) {
    case 'string':
      if (!(a.items instanceof GGUFStringList)) throw arg(`${where}: string array items must be a GGUFStringList (use ggufValue.strings())`);
      w.bytes(a.items.encoded);
      return;
    case 'bool':
      if (!Array.isArray(a.items)) throw arg(`${where}: bool array items must be an array of booleans`);
      a.items.forEach((b, i) => {
        if (typeof b !== 'boolean') throw arg(`${where}[${i}]: ${String(b)} is not a boolean`);
        w.u8(b ? 1 : 0);
      });
      return;
    case 'array':
      if (!Array.isArray(a.items)) throw arg(`${where}: the items of an array of arrays must be an array of GGUF array values`);
      a.items.forEach((sub, i) => {
        if (!sub || sub.type !== 'array') throw arg(`${where}[${i}]: not a GGUF array value (use ggufValue.arrays())`);
        writeArray(w, `${where}[${i}]`, sub, depth + 1);
      });
      return;
    default: {
      const Ctor = typedArrayFor(a.itemType);
      if (!(a.items instanceof Ctor)) throw arg(`${where}: ${a.itemType} array items must be a ${Ctor.name} (use ggufValue.numbers())`);
      const t = a.items as ArrayBufferView;
      if (LITTLE_ENDIAN_HOST) {
        w.bytes(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      } else {
        for (const v of a.items as ArrayLike<number | bigint> & Iterable<number | bigint>) w.scalar(a.itemType, v);
      }
    }
  }
}

function writeValue(w: ByteWriter, key: string, v: GGUFValue): void {
  const where = `planGGUF: metadata key ${JSON.stringify(key)}`;
  if (!v || typeof v !== 'object') throw arg(`${where}: the value must be a GGUF value object such as ggufValue.u32(1)`);
  if (v.type === 'array') {
    w.u32(GGUF_VALUE_TYPE_IDS.array);
    writeArray(w, where, v, 1);
    return;
  }
  checkScalar(where, v);
  w.u32(GGUF_VALUE_TYPE_IDS[v.type]);
  if (v.type === 'string') {
    const b = textEncoder.encode(v.value);
    if (b.byteLength > GGUF_LIMITS.maxStringBytes) throw arg(`${where}: the string is ${b.byteLength} bytes, over the ${GGUF_LIMITS.maxStringBytes} readers accept`);
    w.string(b);
  } else w.scalar(v.type, v.value);
}

function checkAlignment(a: unknown, what: string): number {
  if (typeof a !== 'number' || !Number.isInteger(a) || a < 1 || a > 0x8000_0000 || (a & (a - 1)) !== 0) {
    throw arg(`planGGUF: ${what} is ${String(a)}; the alignment must be a power of two between 1 and 2^31`);
  }
  return a;
}

/** The metadata to write and the alignment, reconciling `input.alignment` with `general.alignment`. */
function resolveMetadata(input: GGUFPlanInput): { metadata: GGUFMetadata; alignment: number } {
  const metadata: GGUFMetadata = new Map();
  const source = input.metadata ?? [];
  if (typeof (source as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw arg('planGGUF: metadata must be a Map of key -> GGUF value, or [key, value] pairs');
  }
  for (const pair of source as Iterable<readonly [string, GGUFValue]>) {
    const [k, v] = pair;
    if (typeof k !== 'string' || k.length === 0) throw arg(`planGGUF: metadata key ${JSON.stringify(k)} must be a non-empty string`);
    if (hasLoneSurrogate(k)) throw arg(`planGGUF: metadata key ${JSON.stringify(k)} holds a lone UTF-16 surrogate`);
    if (metadata.has(k)) throw arg(`planGGUF: metadata key ${JSON.stringify(k)} appears twice; keys must be unique`);
    metadata.set(k, v);
  }
  const stored = metadata.get('general.alignment');
  let fromMeta: number | undefined;
  if (stored !== undefined) {
    if (stored.type !== 'u32') throw arg(`planGGUF: metadata key "general.alignment" is a ${stored.type}, but GGUF readers require a u32`);
    fromMeta = checkAlignment(stored.value, 'metadata "general.alignment"');
  }
  let alignment = fromMeta ?? GGUF_DEFAULT_ALIGNMENT;
  if (input.alignment !== undefined) {
    alignment = checkAlignment(input.alignment, 'alignment');
    if (fromMeta !== undefined && fromMeta !== alignment) {
      throw arg(`planGGUF: alignment ${alignment} contradicts the metadata's "general.alignment" (${fromMeta}); set one of them, or set both to the same value`);
    }
    if (fromMeta === undefined && alignment !== GGUF_DEFAULT_ALIGNMENT) metadata.set('general.alignment', { type: 'u32', value: alignment });
  }
  return { metadata, alignment };
}

interface CheckedTensor {
  name: string;
  nameBytes: Uint8Array;
  type: ReturnType<typeof requireGGMLType>;
  ne: number[];
  bytes: number;
}

function checkTensor(e: GGUFPlanTensor, seen: Set<string>): CheckedTensor {
  const name = e?.name;
  if (typeof name !== 'string' || name.length === 0) throw arg(`planGGUF: tensor name ${JSON.stringify(name)} must be a non-empty string`);
  const t = `planGGUF: tensor ${JSON.stringify(name)}`;
  if (hasLoneSurrogate(name) || name.includes('\0')) throw arg(`${t}: the name holds a NUL or a lone UTF-16 surrogate, which GGML cannot store`);
  const nameBytes = textEncoder.encode(name);
  if (nameBytes.byteLength > GGUF_MAX_TENSOR_NAME_BYTES) {
    throw arg(`${t}: the name is ${nameBytes.byteLength} bytes of UTF-8; GGML allows at most ${GGUF_MAX_TENSOR_NAME_BYTES} (GGML_MAX_NAME = 64 with the NUL). Shorten it`);
  }
  if (seen.has(name)) throw arg(`${t}: appears twice; tensor names must be unique in a file`);
  seen.add(name);
  const type = requireGGMLType(e.type as string | number, `${t}: type`);
  const ne = e.ne as unknown;
  if (!Array.isArray(ne) || ne.length < 1 || ne.length > GGUF_MAX_DIMS) {
    throw arg(`${t}: ne must be an array of 1 to ${GGUF_MAX_DIMS} dims (GGUF order, ne[0] = row length)`);
  }
  let numel = 1n;
  ne.forEach((d: unknown, j: number) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1) throw arg(`${t}: ne[${j}] is ${String(d)}; dims must be integers >= 1`);
    numel *= BigInt(d);
  });
  if (numel > BigInt(Number.MAX_SAFE_INTEGER)) throw arg(`${t}: ne [${ne.join(', ')}] holds ${numel} elements, over 2^53 - 1`);
  if (ne[0] % type.blockSize !== 0) {
    throw arg(`${t}: type ${type.name} stores blocks of ${type.blockSize} weights, but a row (ne[0]) has ${ne[0]}, not a multiple of ${type.blockSize}; choose another type for this tensor`);
  }
  const bytesBig = (numel / BigInt(type.blockSize)) * BigInt(type.typeSize);
  if (bytesBig > BigInt(Number.MAX_SAFE_INTEGER)) throw arg(`${t}: ${type.name} [${ne.join(', ')}] is ${bytesBig} bytes, over 2^53 - 1`);
  const bytes = Number(bytesBig);
  if (e.byteLength !== undefined && e.byteLength !== bytes) {
    throw arg(`${t}: byteLength ${e.byteLength} does not match ${type.name} [${ne.join(', ')}], which needs ${bytes} bytes`);
  }
  return { name, nameBytes, type, ne: ne.slice() as number[], bytes };
}

/** Computes the header bytes and the offset of every tensor of a GGUF v3 file. */
export function planGGUF(input: GGUFPlanInput): GGUFPlan {
  if (!input || typeof input !== 'object') throw arg('planGGUF: pass { metadata, tensors, alignment? }');
  if (!Array.isArray(input.tensors)) throw arg('planGGUF: tensors must be an array of { name, type, ne }');
  const { metadata, alignment } = resolveMetadata(input);
  const seen = new Set<string>();
  const tensors = input.tensors.map((e) => checkTensor(e, seen));

  const w = new ByteWriter();
  w.bytes(textEncoder.encode('GGUF'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [k, v] of metadata) {
    const kb = textEncoder.encode(k);
    if (kb.byteLength > GGUF_LIMITS.maxKeyBytes) throw arg(`planGGUF: metadata key ${JSON.stringify(k.slice(0, 40))}... is ${kb.byteLength} bytes, over the ${GGUF_LIMITS.maxKeyBytes} GGUF allows`);
    w.string(kb);
    writeValue(w, k, v);
  }
  const align = alignment;
  let rel = 0;
  const rels: number[] = [];
  for (const t of tensors) {
    w.string(t.nameBytes);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(t.type.id);
    w.u64(rel);
    rels.push(rel);
    rel += Math.ceil(t.bytes / align) * align;
    if (rel > Number.MAX_SAFE_INTEGER) throw arg(`planGGUF: tensor ${JSON.stringify(t.name)}: the file would exceed 2^53 - 1 bytes`);
  }
  if (w.length > GGUF_LIMITS.maxHeaderBytes) {
    throw arg(`planGGUF: the header would be ${w.length} bytes, over the ${GGUF_LIMITS.maxHeaderBytes} readers accept; shorten the metadata`);
  }
  const headerBytes = w.finish(align);
  const dataOffset = headerBytes.byteLength;
  const offsets = new Map<string, { begin: number; end: number }>();
  const infos: GGUFTensorInfo[] = tensors.map((t, i) => {
    const begin = dataOffset + rels[i]!;
    const end = begin + t.bytes;
    offsets.set(t.name, { begin, end });
    return {
      name: t.name,
      type: t.type.name,
      typeId: t.type.id,
      ne: t.ne,
      shape: t.ne.slice().reverse(),
      offset: rels[i]!,
      begin,
      end,
      byteLength: t.bytes,
      numel: t.ne.reduce((a, b) => a * b, 1),
    };
  });
  return { headerBytes, dataOffset, totalSize: dataOffset + rel, offsets, tensors: infos, metadata, alignment, version: 3 };
}
