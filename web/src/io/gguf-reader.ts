/**
 * GGUF header parsing and validation. The parser is pure (works on bytes); `openGGUF` reads the
 * header incrementally through a `ByteSource` (chunks from the start of the file, growing until
 * the header fits; tensor data is never read until asked) so memory is bounded by the header.
 * No `node:` imports, so the same code runs in Node and browsers.
 *
 * File layout (little-endian; facts from ggml/src/gguf.cpp, ggml/include/gguf.h and the GGUF spec):
 *   "GGUF" | u32 version | u64 n_tensors | u64 n_kv | n_kv x (key, value) | n_tensors x tensor info
 *   | zero padding to `general.alignment` | tensor data.
 * A string is u64 byte length + UTF-8 bytes. A value is u32 value type + payload; an array payload
 * is u32 item type + u64 count + items (items of an array of arrays are again type + count + items).
 * A tensor info is name (string) | u32 n_dims | n_dims x u64 ne | u32 ggml type | u64 offset
 * (relative to the data section).
 *
 * Rules enforced (each violation is a `BAD_FILE` naming the key or tensor and the rule):
 *  - magic "GGUF"; version 2 or 3 (v1 used 32-bit counts and is obsolete; a version whose low 16
 *    bits are 0 is a big-endian file, not supported);
 *  - counts and lengths within {@link GGUF_LIMITS} and within the bytes left in the file (checked
 *    before anything is allocated);
 *  - keys: non-empty, valid UTF-8, unique, at most 65535 bytes; value types 0..12; bools 0 or 1;
 *    strings valid UTF-8; arrays nested at most `maxArrayDepth` deep;
 *  - `general.alignment`, when present, is a u32, non-zero power of two (default 32);
 *  - tensor names: non-empty, valid UTF-8 without NUL, unique, at most 63 bytes (GGML_MAX_NAME is
 *    64 with the terminating NUL: gguf.cpp refuses 64 bytes); 1..4 dims, each > 0; elements below
 *    2^63 (int64, as gguf.cpp) and bytes below 2^53 (what JS addresses); a known type id; ne[0] a
 *    multiple of the type's block size; bytes = rows x row size of the type;
 *  - tensor data: offsets multiples of the alignment, inside the file, not overlapping.
 *
 * Stricter than gguf.cpp on purpose (it accepts these): bool bytes other than 0/1, invalid UTF-8,
 * keys over 65535 bytes (the spec's limit), n_dims 0 and zero-sized dims, empty tensor names and
 * names holding NUL (which GGML silently truncates). More lenient: gguf.cpp also requires tensor
 * data to be packed in tensor-info order; `header.contiguous` reports whether a file is (every file
 * llama.cpp or gguf-py writes is, and so is every file `planGGUF` lays out).
 */
import { checkByteSource, optionsArgument, shown } from '../arguments.js';
import { HQQError } from '../errors.js';
import type { ByteSource } from './source.js';
import { describeUnknownTypeId, ggmlTypeById, type GGMLTypeName } from './gguf-types.js';
import {
  GGUF_SCALAR_SIZES,
  GGUFStringList,
  ggufValueTypeById,
  invalidUtf8At,
  typedArrayFor,
  type GGUFArray,
  type GGUFMetadata,
  type GGUFValue,
  type GGUFValueType,
} from './gguf-metadata.js';

/** Caps on what a GGUF header may hold. Generous for real models (260k-token vocabularies, 300k merges, a tokenizer.json of tens of MB as one string). */
export interface GGUFLimits {
  /** Bytes from the magic to the end of the last tensor info. */
  maxHeaderBytes: number;
  /** Longest metadata key, in UTF-8 bytes (default 65535). */
  maxKeyBytes: number;
  /** Longest string value or string array item, in UTF-8 bytes (default 128 MiB). */
  maxStringBytes: number;
  /** Most items in one metadata array (default 64 Mi). */
  maxArrayLength: number;
  /** 1 = arrays of scalars only; 2 = arrays of arrays of scalars; ... */
  maxArrayDepth: number;
  /** Most metadata keys in one header (default 65536). */
  maxMetadataCount: number;
  /** Most tensors in one header (default 2^20). */
  maxTensorCount: number;
}

/** The default caps of `parseGGUFHeader` / `openGGUF`; a header over one is rejected as corrupt (`options.limits` overrides them). */
export const GGUF_LIMITS: Readonly<GGUFLimits> = Object.freeze({
  maxHeaderBytes: 512 * 1024 * 1024,
  maxKeyBytes: 65535,
  maxStringBytes: 128 * 1024 * 1024,
  maxArrayLength: 64 * 1024 * 1024,
  maxArrayDepth: 8,
  maxMetadataCount: 65536,
  maxTensorCount: 1 << 20,
});

export const GGUF_MAGIC = 'GGUF';
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** Longest tensor name gguf.cpp accepts, in bytes (GGML_MAX_NAME - 1). */
export const GGUF_MAX_TENSOR_NAME_BYTES = 63;
export const GGUF_MAX_DIMS = 4;
/** The versions this reader accepts (the writer writes 3). */
export const GGUF_READ_VERSIONS: readonly number[] = Object.freeze([2, 3]);

/** One tensor of a GGUF file, as its tensor info describes it, with absolute offsets. */
export interface GGUFTensorInfo {
  /** The tensor's name (at most 63 UTF-8 bytes, as gguf.cpp requires). */
  name: string;
  /** The ggml type's name (`F32`, `Q4_K`, ...). */
  type: GGMLTypeName;
  /** The ggml type's numeric id as stored in the file (`ggml_type`). */
  typeId: number;
  /** Dims in GGUF order: ne[0] is the row length (the fastest-varying dim). */
  ne: number[];
  /** PyTorch order: `ne` reversed, e.g. [rows, cols] for a matrix. */
  shape: number[];
  /** Offset relative to the data section, as stored in the tensor info. */
  offset: number;
  /** Absolute file offset of the first byte. */
  begin: number;
  /** Absolute file offset one past the last byte. */
  end: number;
  /** Bytes of tensor data (`end - begin`). */
  byteLength: number;
  /** Number of elements (the product of `ne`). */
  numel: number;
}

/** A parsed, validated GGUF header: metadata, tensor infos and where the data section starts. */
export interface GGUFHeader {
  /** The name given to the parser, for messages. */
  fileName: string;
  /** The whole file's size in bytes (tensor data is checked to lie inside it). */
  fileSize: number;
  /** The GGUF version, 2 or 3. */
  version: number;
  /** `general.alignment` (a power of two), 32 when absent: tensor data offsets are multiples of it. */
  alignment: number;
  /** The metadata key-value pairs, in file order. */
  metadata: GGUFMetadata;
  /** In tensor-info order. */
  tensors: GGUFTensorInfo[];
  /** Bytes from the magic to the end of the last tensor info (before the alignment padding). */
  headerLength: number;
  /** Absolute offset of the data section: headerLength rounded up to the alignment (headerLength itself when there are no tensors, as gguf.cpp). */
  dataOffset: number;
  /**
   * The tensor data is packed in tensor-info order, each tensor at the aligned end of the previous
   * one, the first at data offset 0: the layout llama.cpp's loader requires (it refuses others).
   */
  contiguous: boolean;
}

const textDecoder = new TextDecoder('utf-8');
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const INT64_LIMIT = 1n << 63n;
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function bad(message: string): HQQError {
  return new HQQError('BAD_FILE', message);
}

/** Thrown inside the parser when the bytes given end before the header does (never escapes). */
class NeedMoreBytes {
  constructor(readonly required: number) {}
}

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

/** Sequential little-endian reads over the bytes read so far, with the file's bounds in mind. */
class Cursor {
  pos = 0;
  readonly #view: DataView;
  /** Reads up to here need no checks: the bytes are in the buffer and under the header cap. */
  readonly #fast: number;
  constructor(
    readonly buf: Uint8Array,
    readonly fileSize: number,
    readonly fileName: string,
    readonly maxHeaderBytes: number,
  ) {
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#fast = Math.min(buf.length, maxHeaderBytes);
  }

  /** Bytes left in the file after the cursor. */
  get remaining(): number {
    return this.fileSize - this.pos;
  }

  /** True when `n` more bytes are already in the buffer (the fast path; no checks needed). */
  has(n: number): boolean {
    return this.pos + n <= this.#fast;
  }

  /** Makes sure `n` bytes of `what` can be read at the cursor. */
  need(n: number, what: string): void {
    const end = this.pos + n;
    if (end > this.fileSize) {
      throw bad(
        `${this.fileName}: the file ends at byte ${this.fileSize}, inside ${what} (bytes ${this.pos}-${end - 1}); the file is truncated (incomplete download?) or not a GGUF file`,
      );
    }
    if (end > this.maxHeaderBytes) {
      throw bad(
        `${this.fileName}: ${what} ends at byte ${end}, past the ${this.maxHeaderBytes}-byte limit on a GGUF header (metadata and tensor infos); the file is corrupt, or raise limits.maxHeaderBytes`,
      );
    }
    if (end > this.buf.length) throw new NeedMoreBytes(end);
  }

  u32(what: string): number {
    if (!this.has(4)) this.need(4, what);
    const v = this.#view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    if (!this.has(8)) this.need(8, what);
    const v = this.#view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  get view(): DataView {
    return this.#view;
  }
}

interface Ctx {
  c: Cursor;
  fileName: string;
  limits: GGUFLimits;
}

/** "metadata key "k"" or "metadata key "k" element [3][1]" */
function where(key: string, path: readonly number[]): string {
  return `metadata key ${JSON.stringify(key)}${path.length ? ` element ${path.map((i) => `[${i}]`).join('')}` : ''}`;
}

/** Reads a u64 length, checks it against `max` and the bytes left, then checks the UTF-8 bytes. Returns [start, end) in the buffer. */
function readStringBytes(x: Ctx, what: string, max: number, maxName: string): [number, number] {
  const len = x.c.u64(`the length of ${what}`);
  if (len > BigInt(max)) {
    throw bad(`${x.fileName}: ${what} is ${len} bytes long, over the limit of ${max} (${maxName}); the file is corrupt`);
  }
  return takeUtf8(x, Number(len), what);
}

/** Takes the next `n` bytes, which must be valid UTF-8 and inside the file. */
function takeUtf8(x: Ctx, n: number, what: string): [number, number] {
  const { c } = x;
  if (n > c.remaining) {
    throw bad(`${x.fileName}: ${what} is ${n} bytes long, but only ${c.remaining} bytes are left in the file; the file is truncated or corrupt`);
  }
  if (!c.has(n)) c.need(n, what);
  const start = c.pos;
  const at = invalidUtf8At(c.buf, start, start + n);
  if (at >= 0) {
    throw bad(`${x.fileName}: ${what} is not valid UTF-8 (byte ${hex(c.buf[at]!)} at offset ${at} of the file); the file is corrupt or was written by a buggy tool`);
  }
  c.pos += n;
  return [start, start + n];
}

function readString(x: Ctx, what: string): string {
  const [a, b] = readStringBytes(x, what, x.limits.maxStringBytes, 'limits.maxStringBytes');
  return textDecoder.decode(x.c.buf.subarray(a, b));
}

function valueType(x: Ctx, key: string, path: readonly number[], id: number, role: string): GGUFValueType {
  const t = ggufValueTypeById(id);
  if (t === undefined) {
    throw bad(`${x.fileName}: ${where(key, path)}: ${role} id ${id} is not a GGUF value type (0-12: u8, i8, u16, i16, u32, i32, f32, bool, string, array, u64, i64, f64); the file is corrupt`);
  }
  return t;
}

function readScalar(x: Ctx, key: string, path: readonly number[], type: Exclude<GGUFValueType, 'array'>): GGUFValue {
  const { c } = x;
  const what = `the value of ${where(key, path)}`;
  if (type === 'string') return { type, value: readString(x, what) };
  const size = GGUF_SCALAR_SIZES[type];
  if (!c.has(size)) c.need(size, what);
  const v = c.view;
  const p = c.pos;
  c.pos += size;
  switch (type) {
    case 'u8': return { type, value: v.getUint8(p) };
    case 'i8': return { type, value: v.getInt8(p) };
    case 'u16': return { type, value: v.getUint16(p, true) };
    case 'i16': return { type, value: v.getInt16(p, true) };
    case 'u32': return { type, value: v.getUint32(p, true) };
    case 'i32': return { type, value: v.getInt32(p, true) };
    case 'f32': return { type, value: v.getFloat32(p, true) };
    case 'f64': return { type, value: v.getFloat64(p, true) };
    case 'u64': return { type, value: v.getBigUint64(p, true) };
    case 'i64': return { type, value: v.getBigInt64(p, true) };
    case 'bool': {
      const b = v.getUint8(p);
      if (b > 1) throw bad(`${x.fileName}: ${where(key, path)}: a bool is stored as byte 0 or 1, but this one is ${b}; the file is corrupt`);
      return { type, value: b === 1 };
    }
  }
}

/** Smallest encoding of one element of `type`, to reject absurd counts before allocating. */
function minElementBytes(type: GGUFValueType): number {
  if (type === 'string') return 8;
  if (type === 'array') return 12;
  return GGUF_SCALAR_SIZES[type];
}

function readArray(x: Ctx, key: string, path: number[], depth: number): GGUFArray {
  const { c, limits } = x;
  const here = where(key, path);
  if (depth > limits.maxArrayDepth) {
    throw bad(`${x.fileName}: ${here}: arrays are nested ${depth} deep, over the limit of ${limits.maxArrayDepth} (limits.maxArrayDepth); the file is corrupt`);
  }
  const itemType = valueType(x, key, path, c.u32(`the item type of ${here}`), 'the array item type');
  const count = c.u64(`the length of ${here}`);
  if (count > BigInt(limits.maxArrayLength)) {
    throw bad(`${x.fileName}: ${here}: the array has ${count} elements, over the limit of ${limits.maxArrayLength} (limits.maxArrayLength); the file is corrupt`);
  }
  const n = Number(count);
  const minBytes = n * minElementBytes(itemType);
  if (minBytes > c.remaining) {
    throw bad(`${x.fileName}: ${here}: ${n} elements of type ${itemType} need at least ${minBytes} bytes, but only ${c.remaining} are left in the file; the file is truncated or corrupt`);
  }
  switch (itemType) {
    case 'string':
      return { type: 'array', itemType, items: readStringArray(x, key, path, n) };
    case 'array': {
      const items: GGUFArray[] = [];
      for (let i = 0; i < n; i++) {
        path.push(i);
        items.push(readArray(x, key, path, depth + 1));
        path.pop();
      }
      return { type: 'array', itemType, items };
    }
    case 'bool': {
      if (!c.has(n)) c.need(n, `the elements of ${here}`);
      const items = new Array<boolean>(n);
      for (let i = 0; i < n; i++) {
        const b = c.buf[c.pos + i]!;
        if (b > 1) throw bad(`${x.fileName}: ${where(key, [...path, i])}: a bool is stored as byte 0 or 1, but this one is ${b}; the file is corrupt`);
        items[i] = b === 1;
      }
      c.pos += n;
      return { type: 'array', itemType, items };
    }
    default:
      return readNumericArray(x, here, itemType, n);
  }
}

function readNumericArray(x: Ctx, here: string, itemType: Exclude<GGUFValueType, 'array' | 'string' | 'bool'>, n: number): GGUFArray {
  const { c } = x;
  const size = GGUF_SCALAR_SIZES[itemType];
  const bytes = n * size;
  if (!c.has(bytes)) c.need(bytes, `the elements of ${here}`);
  const Ctor = typedArrayFor(itemType) as unknown as { new (b: ArrayBuffer): ArrayBufferView; new (n: number): ArrayBufferView };
  let items: ArrayBufferView;
  if (LITTLE_ENDIAN_HOST) {
    items = new Ctor(c.buf.slice(c.pos, c.pos + bytes).buffer); // a copy: aligned, and frees the header buffer
  } else {
    items = new Ctor(n);
    const dst = new DataView(items.buffer);
    for (let i = 0; i < bytes; i += size) for (let k = 0; k < size; k++) dst.setUint8(i + k, c.buf[c.pos + i + size - 1 - k]!);
  }
  c.pos += bytes;
  return { type: 'array', itemType, items } as GGUFArray;
}

function readStringArray(x: Ctx, key: string, path: readonly number[], n: number): GGUFStringList {
  const { c, limits } = x;
  const start = c.pos;
  const starts = new Float64Array(n + 1);
  const view = c.view;
  for (let i = 0; i < n; i++) {
    if (!c.has(8)) c.need(8, `the length of ${where(key, [...path, i])}`);
    starts[i] = c.pos - start;
    // The hot loop of token lists: the u64 length as two u32 halves, no BigInt unless it is huge.
    const lo = view.getUint32(c.pos, true);
    const hi = view.getUint32(c.pos + 4, true);
    c.pos += 8;
    const m = hi === 0 ? lo : Number.POSITIVE_INFINITY;
    if (m > limits.maxStringBytes || m > c.remaining) {
      const len = (BigInt(hi) << 32n) | BigInt(lo);
      const why = m > limits.maxStringBytes ? `over the limit of ${limits.maxStringBytes} (limits.maxStringBytes)` : `but only ${c.remaining} bytes are left in the file`;
      throw bad(`${x.fileName}: ${where(key, [...path, i])}: the string is ${len} bytes long, ${why}; the file is truncated or corrupt`);
    }
    if (!c.has(m)) c.need(m, where(key, [...path, i]));
    const b = invalidUtf8At(c.buf, c.pos, c.pos + m);
    if (b >= 0) {
      throw bad(`${x.fileName}: ${where(key, [...path, i])}: the string is not valid UTF-8 (byte ${hex(c.buf[b]!)} at offset ${b} of the file); the file is corrupt or was written by a buggy tool`);
    }
    c.pos += m;
  }
  starts[n] = c.pos - start;
  return GGUFStringList.fromEncoded(c.buf.slice(start, c.pos), starts);
}

function readMetadata(x: Ctx, count: number): GGUFMetadata {
  const { c, limits } = x;
  const metadata: GGUFMetadata = new Map();
  for (let i = 0; i < count; i++) {
    const [a, b] = readStringBytes(x, `the name of metadata key #${i}`, limits.maxKeyBytes, 'limits.maxKeyBytes');
    if (a === b) throw bad(`${x.fileName}: metadata key #${i} has an empty name; every key needs one. The file is corrupt`);
    const key = textDecoder.decode(c.buf.subarray(a, b));
    if (metadata.has(key)) throw bad(`${x.fileName}: metadata key ${JSON.stringify(key)} appears twice (again as key #${i}); keys must be unique. The file is corrupt`);
    const type = valueType(x, key, [], c.u32(`the value type of metadata key ${JSON.stringify(key)}`), 'the value type');
    metadata.set(key, type === 'array' ? readArray(x, key, [], 1) : readScalar(x, key, [], type));
  }
  return metadata;
}

function readAlignment(x: Ctx, metadata: GGUFMetadata): number {
  const v = metadata.get('general.alignment');
  if (v === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (v.type !== 'u32') {
    throw bad(`${x.fileName}: metadata key "general.alignment" is ${v.type === 'array' ? `an array of ${v.itemType}` : `a ${v.type}`}, but it must be a u32 (as gguf.cpp requires); the file was written by a buggy tool`);
  }
  const a = v.value;
  if (a === 0 || (a & (a - 1)) !== 0) {
    throw bad(`${x.fileName}: metadata key "general.alignment" is ${a}, but the alignment must be a non-zero power of two; the file is corrupt`);
  }
  return a;
}

interface RawTensor {
  info: GGUFTensorInfo;
  rel: bigint;
  bytes: number;
}

function readTensorInfo(x: Ctx, i: number, seen: Set<string>): RawTensor {
  const { c } = x;
  const len = c.u64(`the name length of tensor #${i}`);
  if (len === 0n) throw bad(`${x.fileName}: tensor #${i} has an empty name; the file is corrupt`);
  if (len > BigInt(GGUF_MAX_TENSOR_NAME_BYTES)) {
    const avail = Math.min(64, c.buf.length - c.pos, Number(len < 64n ? len : 64n));
    const prefix = avail > 0 ? ` (it begins ${JSON.stringify(textDecoder.decode(c.buf.subarray(c.pos, c.pos + avail)))})` : '';
    throw bad(`${x.fileName}: tensor #${i}: the name is ${len} bytes long${prefix}; GGML allows at most ${GGUF_MAX_TENSOR_NAME_BYTES} bytes (GGML_MAX_NAME = 64 with the NUL). The file is corrupt or not loadable by llama.cpp`);
  }
  const [a, b] = takeUtf8(x, Number(len), `the name of tensor #${i}`);
  const name = textDecoder.decode(c.buf.subarray(a, b));
  const t = `${x.fileName}: tensor ${JSON.stringify(name)}`;
  if (c.buf.subarray(a, b).includes(0)) throw bad(`${t}: the name holds a NUL byte, which GGML cannot represent; the file is corrupt`);
  if (seen.has(name)) throw bad(`${t}: appears twice (again as tensor #${i}); tensor names must be unique. The file is corrupt`);
  seen.add(name);

  const nDims = c.u32(`the dimension count of tensor ${JSON.stringify(name)}`);
  if (nDims < 1 || nDims > GGUF_MAX_DIMS) {
    throw bad(`${t}: has ${nDims} dimensions, but a GGML tensor has 1 to ${GGUF_MAX_DIMS}; the file is corrupt`);
  }
  const ne: number[] = [];
  let numel = 1n;
  for (let j = 0; j < nDims; j++) {
    const d = c.u64(`dimension ${j} of tensor ${JSON.stringify(name)}`);
    if (d === 0n) throw bad(`${t}: dimension ne[${j}] is 0; every dimension must be at least 1. The file is corrupt`);
    if (d >= INT64_LIMIT) throw bad(`${t}: dimension ne[${j}] is ${d}, negative as the int64 GGML stores; the file is corrupt`);
    numel *= d;
    if (numel >= INT64_LIMIT) {
      throw bad(`${t}: dims [${[...ne, d].join(', ')}${j + 1 < nDims ? ', ...' : ''}] hold ${numel} or more elements, which overflows int64 (2^63 - 1); the file is corrupt`);
    }
    ne.push(Number(d)); // exact when numel is safe, checked below
  }
  const typeId = c.u32(`the type of tensor ${JSON.stringify(name)}`);
  const type = ggmlTypeById(typeId);
  if (!type) throw bad(`${t}: ${describeUnknownTypeId(typeId)}; the file is corrupt or needs a newer reader`);
  const rel = c.u64(`the data offset of tensor ${JSON.stringify(name)}`);

  if (BigInt(ne[0]!) % BigInt(type.blockSize) !== 0n) {
    throw bad(`${t}: type ${type.name} stores blocks of ${type.blockSize} weights, but a row (ne[0]) has ${ne[0]} weights, not a multiple of ${type.blockSize}; the file is corrupt`);
  }
  const bytesBig = (numel / BigInt(type.blockSize)) * BigInt(type.typeSize);
  if (bytesBig > SAFE) {
    throw bad(`${t}: ${type.name} [${ne.join(', ')}] is ${bytesBig} bytes, over the 2^53 - 1 bytes this reader can address; the file is corrupt`);
  }
  const info: GGUFTensorInfo = {
    name,
    type: type.name,
    typeId,
    ne,
    shape: ne.slice().reverse(),
    offset: 0,
    begin: 0,
    end: 0,
    byteLength: Number(bytesBig),
    numel: Number(numel),
  };
  return { info, rel, bytes: info.byteLength };
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Places the tensors in the file: alignment, bounds, overlaps; returns whether the layout is packed. */
function placeTensors(x: Ctx, raw: RawTensor[], dataOffset: number, alignment: number): boolean {
  const fileSize = x.c.fileSize;
  const align = BigInt(alignment);
  let contiguous = true;
  let packedEnd = 0n;
  for (const r of raw) {
    const t = `${x.fileName}: tensor ${JSON.stringify(r.info.name)}`;
    if (r.rel % align !== 0n) {
      throw bad(`${t}: its data offset ${r.rel} is not a multiple of the file's alignment (${alignment}); the file is corrupt`);
    }
    const begin = BigInt(dataOffset) + r.rel;
    const end = begin + BigInt(r.bytes);
    if (end > BigInt(fileSize)) {
      throw bad(`${t}: its ${r.bytes} bytes at file offset ${begin} end at ${end}, past the end of the ${fileSize}-byte file; the file is truncated (incomplete download?) or corrupt`);
    }
    if (r.rel !== packedEnd) contiguous = false;
    packedEnd += (BigInt(r.bytes) + align - 1n) / align * align;
    r.info.offset = Number(r.rel);
    r.info.begin = Number(begin);
    r.info.end = Number(end);
  }
  const sorted = raw.map((r) => r.info).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) {
      throw bad(`${x.fileName}: tensor ${JSON.stringify(cur.name)}: its bytes [${cur.begin}, ${cur.end}) overlap tensor ${JSON.stringify(prev.name)} [${prev.begin}, ${prev.end}); tensors must not share bytes. The file is corrupt`);
    }
  }
  return contiguous;
}

function parse(buf: Uint8Array, fileSize: number, fileName: string, limits: GGUFLimits): GGUFHeader {
  const c = new Cursor(buf, fileSize, fileName, limits.maxHeaderBytes);
  const x: Ctx = { c, fileName, limits };
  if (fileSize < 4) {
    throw bad(`${fileName}: the file is ${fileSize} bytes long, too short to hold the GGUF magic; it is empty, truncated or not a GGUF file`);
  }
  c.need(4, 'the magic');
  if (buf[0] !== 0x47 || buf[1] !== 0x47 || buf[2] !== 0x55 || buf[3] !== 0x46) {
    const shown = [...buf.subarray(0, 4)].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '?')).join('');
    throw bad(`${fileName}: the file does not begin with the GGUF magic "GGUF" (found "${shown}", bytes ${[...buf.subarray(0, 4)].map(hex).join(' ')}); it is not a GGUF file`);
  }
  c.pos = 4;
  const version = c.u32('the version');
  if ((version & 0xffff) === 0 && version !== 0) {
    throw bad(`${fileName}: the version field reads ${version} (0x${version.toString(16)}): a big-endian GGUF file, which this library does not read; convert it to little-endian with gguf-py`);
  }
  if (!GGUF_READ_VERSIONS.includes(version)) {
    const why = version === 1 ? 'GGUF v1 (32-bit counts) is obsolete; re-convert the model with a current llama.cpp' : version === 0 ? 'version 0 does not exist; the file is corrupt' : `this library reads versions ${GGUF_READ_VERSIONS.join(' and ')}; the file is corrupt or newer than this reader`;
    throw bad(`${fileName}: GGUF version ${version} is not supported: ${why}`);
  }
  const nTensors = c.u64('the tensor count');
  const nKv = c.u64('the metadata key count');
  if (nTensors > BigInt(limits.maxTensorCount)) {
    throw bad(`${fileName}: the header says ${nTensors} tensors, over the limit of ${limits.maxTensorCount} (limits.maxTensorCount); the file is corrupt`);
  }
  if (nKv > BigInt(limits.maxMetadataCount)) {
    throw bad(`${fileName}: the header says ${nKv} metadata keys, over the limit of ${limits.maxMetadataCount} (limits.maxMetadataCount); the file is corrupt`);
  }
  // Each key takes at least 8 (length) + 1 + 4 (type) + 1 bytes; each tensor info at least 8 + 1 + 4 + 8 + 4 + 8.
  const minBytes = Number(nKv) * 14 + Number(nTensors) * 33;
  if (minBytes > c.remaining) {
    throw bad(`${fileName}: the header says ${nKv} metadata keys and ${nTensors} tensors, which need at least ${minBytes} bytes, but only ${c.remaining} are left in the file; the file is truncated or corrupt`);
  }
  const metadata = readMetadata(x, Number(nKv));
  const alignment = readAlignment(x, metadata);

  const seen = new Set<string>();
  const raw: RawTensor[] = [];
  for (let i = 0; i < Number(nTensors); i++) raw.push(readTensorInfo(x, i, seen));
  const headerLength = c.pos;
  // As gguf.cpp: the data section is aligned only when there is data (a file without tensors may
  // end right after its header).
  const dataOffset = raw.length > 0 ? alignUp(headerLength, alignment) : headerLength;
  if (raw.length > 0 && dataOffset > fileSize) {
    throw bad(`${fileName}: the data section would begin at byte ${dataOffset} (the header ends at ${headerLength}, aligned to ${alignment}), past the end of the ${fileSize}-byte file; the file is truncated`);
  }
  const contiguous = placeTensors(x, raw, dataOffset, alignment);
  return { fileName, fileSize, version, alignment, metadata, tensors: raw.map((r) => r.info), headerLength, dataOffset, contiguous };
}

function resolveLimits(limits: Partial<GGUFLimits> | undefined): GGUFLimits {
  const out = { ...GGUF_LIMITS, ...(limits ?? {}) };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new HQQError('INVALID_ARGUMENT', `GGUF limits.${k} is ${v}; limits are positive integers`);
  }
  return out;
}

/** Options of `parseGGUFHeader` and `openGGUF`. */
export interface GGUFReadOptions {
  /** Override some of {@link GGUF_LIMITS}. */
  limits?: Partial<GGUFLimits>;
}

/**
 * Parses and validates a GGUF header. `bytes` must hold the file from its first byte to at least
 * the end of the last tensor info (the whole file is fine); `fileSize` is the whole file's size,
 * needed to validate the tensor data.
 */
export function parseGGUFHeader(bytes: Uint8Array, fileSize: number, fileName = 'GGUF header', options: GGUFReadOptions = {}): GGUFHeader {
  if (typeof fileName !== 'string') throw new HQQError('INVALID_ARGUMENT', `parseGGUFHeader: fileName must be a string (for messages), got ${shown(fileName)}`);
  options = optionsArgument(options, 'parseGGUFHeader');
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) {
    throw new HQQError('INVALID_ARGUMENT', `${fileName}: fileSize ${fileSize} is not a non-negative integer; pass the file's size in bytes`);
  }
  if (!(bytes instanceof Uint8Array) || bytes.byteLength > fileSize) {
    throw new HQQError('INVALID_ARGUMENT', `${fileName}: pass the file's first bytes as a Uint8Array no longer than fileSize (${fileSize})`);
  }
  try {
    return parse(bytes, fileSize, fileName, resolveLimits(options.limits));
  } catch (e) {
    if (e instanceof NeedMoreBytes) {
      throw new HQQError('INVALID_ARGUMENT', `${fileName}: got ${bytes.byteLength} bytes, but the GGUF header continues past them; pass at least the first ${e.required} bytes (or the whole file)`);
    }
    throw e;
  }
}

/** Size of the first read of a header; it doubles until the header fits. */
const FIRST_CHUNK = 1 << 20;

/** An open GGUF file: its header and lazy reads of tensor data. */
export interface GGUFFile {
  /** The parsed, validated header. */
  readonly header: GGUFHeader;
  /** Looks a tensor up by name; `undefined` when absent. */
  tensor(name: string): GGUFTensorInfo | undefined;
  /** Reads a whole tensor's bytes (as stored: little-endian blocks). */
  readTensor(tensor: string | GGUFTensorInfo): Promise<Uint8Array>;
  /**
   * Reads `length` bytes starting `offset` bytes into a tensor (for chunked copies); `into`, a
   * buffer of exactly `length` bytes, may be filled and returned instead of a new one (see
   * `ByteSource.read`).
   */
  readRange(tensor: string | GGUFTensorInfo, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Closes the underlying source (the file owns it once opened). */
  close(): Promise<void>;
}

async function readExact(source: ByteSource, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await source.read(offset, length, into);
  } catch (e) {
    if (e instanceof HQQError) throw e;
    throw new HQQError('IO_ERROR', `${source.name}: reading ${length} bytes at offset ${offset} failed (${e instanceof Error ? e.message : String(e)}); check the file and try again`, { cause: e });
  }
  if (bytes.byteLength !== length) {
    throw new HQQError('IO_ERROR', `${source.name}: asked for ${length} bytes at offset ${offset} but got ${bytes.byteLength}; the file changed while being read`);
  }
  return bytes;
}

/** Reads the header from the start of `source`, in growing chunks, and parses it. */
async function readHeader(source: ByteSource, limits: GGUFLimits): Promise<GGUFHeader> {
  const size = source.size;
  let buf = await readExact(source, 0, Math.min(size, FIRST_CHUNK));
  for (;;) {
    try {
      return parse(buf, size, source.name, limits);
    } catch (e) {
      if (!(e instanceof NeedMoreBytes)) throw e;
      // need() only asks for bytes inside the file and under the header cap.
      const next = Math.min(size, Math.max(e.required, Math.min(2 * buf.length, limits.maxHeaderBytes)));
      const grown = new Uint8Array(next);
      grown.set(buf, 0);
      grown.set(await readExact(source, buf.length, next - buf.length), buf.length);
      buf = grown;
    }
  }
}

/**
 * Opens a GGUF file lazily: reads and validates the header, never reads tensor data until asked.
 *
 * Ownership: on success the returned file owns `source` (its `close()` closes the source). When
 * reading or validating the header fails, the source is closed before the error is thrown.
 */
export async function openGGUF(source: ByteSource, options: GGUFReadOptions = {}): Promise<GGUFFile> {
  checkByteSource(source, 'openGGUF: source');
  options = optionsArgument(options, 'openGGUF');
  const fileName = source.name;
  let header: GGUFHeader;
  try {
    header = await readHeader(source, resolveLimits(options.limits));
  } catch (e) {
    await source.close?.().catch(() => {});
    throw e;
  }
  const byName = new Map<string, GGUFTensorInfo>();
  for (const t of header.tensors) byName.set(t.name, t);

  const resolve = (tensor: string | GGUFTensorInfo): GGUFTensorInfo => {
    const name = typeof tensor === 'string' ? tensor : tensor?.name;
    const info = typeof name === 'string' ? byName.get(name) : undefined;
    if (!info) {
      throw new HQQError('INVALID_ARGUMENT', `${fileName}: no tensor named ${JSON.stringify(name)} in this file; list header.tensors for the names it holds`);
    }
    if (typeof tensor !== 'string' && (tensor.begin !== info.begin || tensor.end !== info.end)) {
      throw new HQQError('INVALID_ARGUMENT', `${fileName}: tensor ${JSON.stringify(name)}: the GGUFTensorInfo passed belongs to another file (offsets differ); pass an entry of this file's header.tensors`);
    }
    return info;
  };

  return {
    header,
    tensor: (name: string) => byName.get(name),
    async readTensor(tensor) {
      const info = resolve(tensor);
      return readExact(source, info.begin, info.byteLength);
    },
    async readRange(tensor, offset, length, into) {
      const info = resolve(tensor);
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > info.byteLength) {
        throw new HQQError(
          'INVALID_ARGUMENT',
          `${fileName}: tensor ${JSON.stringify(info.name)}: readRange(offset=${offset}, length=${length}) is outside the tensor's ${info.byteLength} bytes; keep 0 <= offset and offset + length <= byteLength`,
        );
      }
      return readExact(source, info.begin + offset, length, into);
    },
    async close() {
      await source.close?.();
    },
  };
}
