/**
 * safetensors header parsing and validation. The parser is pure (works on bytes); `openSafetensors`
 * reads lazily through a `ByteSource`. No `node:` imports, so the same code runs in Node and browsers.
 *
 * File layout: 8 bytes little-endian u64 N (header length), N bytes of UTF-8 JSON, then the data
 * section. Where this reader and the reference reader (huggingface/safetensors, Rust, which parses
 * the header with serde_json) could disagree, it follows the reference; the exceptions are marked
 * STRICTER below. Each violation gets its own message, all are `BAD_FILE`:
 *
 *  - the file holds at least 8 bytes; 1 <= N <= 100,000,000; 8 + N <= file size;
 *  - the header is valid UTF-8 (a byte-order mark is NOT stripped; it is not JSON whitespace);
 *  - the header is one JSON object, with only JSON whitespace (space, tab, LF, CR) before and after
 *    it, as serde_json reads it: NUL padding or any other byte is rejected. Conforming writers pad
 *    with spaces;
 *  - strict RFC 8259 JSON, read in one pass (io/json-cursor.ts): strings must be valid Unicode (a
 *    lone surrogate escape such as `\ud800` is rejected), no control characters in strings, at
 *    most 128 levels of nesting;
 *  - STRICTER: no duplicate key in any object (the reference would keep the last duplicate of a
 *    tensor name silently: a silent wrong answer);
 *  - `__metadata__`, if present, is an object of string -> string, or null (= no metadata);
 *  - every other entry is an object with the keys `dtype`, `shape`, `data_offsets`; other keys are
 *    read (they must be valid JSON) and ignored, as the reference ignores them. dtype is a known
 *    one; shape is an array of non-negative integers ([] = a scalar, 1 element); data_offsets is
 *    [begin, end] with begin <= end. Integers are written with digits only, as serde_json reads a
 *    `usize`: `64.0`, `1e3` and `-0` are rejected; values above 2^53 - 1 too (JavaScript numbers);
 *  - bytes = product(shape) x dtype size (checked: no overflow past 2^53 - 1) equals end - begin;
 *  - sorted by (begin, end) the tensors tile the data section exactly: the first begins at 0, each
 *    begins where the previous ended, the last ends at the data section's size (fileSize - 8 - N).
 *    Zero-byte tensors (begin == end) are allowed and take part in the tiling.
 *
 * Cost: linear in the header size; a 1.4M-tensor header (97 MB) keeps the tensor list, one
 * name -> tensor map and the decoded text. A header with a syntax error anywhere reports it, even
 * when an entry before it is also invalid (a truncated header is "not valid JSON").
 *
 * Tensors are returned in the header's textual order (not JS property order, which would move
 * integer-like names first); validation of the layout is done on the sorted order.
 */
import { checkByteSource, checkBytes, shown } from '../arguments.js';
import { HQQError } from '../errors.js';
import { JsonCursor, JsonDuplicateKey, JsonSyntaxError, type JsonNumber } from './json-cursor.js';
import type { ByteSource } from './source.js';

/** A safetensors element type, as the header spells it. */
export type DType =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64';

/** Bytes per element of each dtype the reader accepts. */
export const DTYPE_SIZES: Readonly<Record<DType, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
});

/** Whether `value` is a dtype name the reader accepts. */
export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

/** Bytes per element of `dtype`. */
export function dtypeSize(dtype: DType): number {
  return DTYPE_SIZES[dtype];
}

/** Largest header the reader accepts (same limit as the reference implementation). */
export const MAX_HEADER_LENGTH = 100_000_000;

/** One tensor of a safetensors file, as its header entry describes it, with absolute offsets. */
export interface TensorInfo {
  /** The tensor's name (its key in the header). */
  name: string;
  /** Its element type. */
  dtype: DType;
  /** Its dims, PyTorch order ([rows, cols] for a matrix); `[]` for a scalar. */
  shape: number[];
  /** Absolute file offset of the first byte. */
  begin: number;
  /** Absolute file offset one past the last byte. */
  end: number;
  /** Bytes of tensor data (`end - begin` = `numel` x the dtype's size). */
  byteLength: number;
  /** Number of elements (the product of `shape`, 1 for a scalar). */
  numel: number;
}

/** A parsed, validated safetensors header. */
export interface SafetensorsHeader {
  /** The name given to the parser, for messages. */
  fileName: string;
  /** The whole file's size in bytes (the data section must fill it exactly). */
  fileSize: number;
  /** N, the header's length in bytes (without the 8-byte prefix). */
  headerLength: number;
  /** 8 + N: where the data section starts. */
  dataOffset: number;
  /** The `__metadata__` entry: free-form string pairs (`{ format: 'pt' }` from PyTorch); `{}` when absent or null. */
  metadata: Record<string, string>;
  /** In the header's order. */
  tensors: TensorInfo[];
}

const METADATA_KEY = '__metadata__';

function bad(message: string): HQQError {
  return new HQQError('BAD_FILE', message);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value)})`;
  return `a ${typeof value} (${String(value)})`;
}

/**
 * Validates the 8-byte prefix and returns N. `prefix` must hold at least the first 8 bytes (or the
 * whole file when it is shorter than 8 bytes).
 */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, fileName: string): number {
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) {
    throw new HQQError('INVALID_ARGUMENT', `${fileName}: fileSize ${fileSize} is not a non-negative integer; pass the file's size in bytes`);
  }
  if (fileSize < 8) {
    throw bad(
      `${fileName}: the file is ${fileSize} bytes long, shorter than the 8-byte header-length prefix every safetensors file starts with; it is empty, truncated or not a safetensors file`,
    );
  }
  if (prefix.byteLength < 8) {
    throw new HQQError('INVALID_ARGUMENT', `${fileName}: got ${prefix.byteLength} prefix bytes but the first 8 bytes of the file are needed`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n === 0n) {
    throw bad(`${fileName}: the header length (first 8 bytes) is 0, but a safetensors header holds at least "{}"; the file is corrupt or not a safetensors file`);
  }
  if (n > BigInt(MAX_HEADER_LENGTH)) {
    throw bad(
      `${fileName}: the header length (first 8 bytes) is ${n} bytes, over the limit of ${MAX_HEADER_LENGTH}; the file is corrupt or not a safetensors file`,
    );
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw bad(
      `${fileName}: the header length (first 8 bytes) says ${len} bytes of header follow, but the file is only ${fileSize} bytes long (8 + ${len} > ${fileSize}); the file is truncated (incomplete download?) or corrupt`,
    );
  }
  return len;
}

/** Keys of a JSON document found by {@link scanJsonKeys}. */
export interface JsonKeyScan {
  /** Keys of the top-level object, in textual order. */
  topKeys: string[];
  /** For each top-level key whose value is an object: that object's keys, in textual order. */
  childKeys: Map<string, string[]>;
  /** The first duplicate key found in any object, if any. */
  duplicate?: { key: string; path: string[] };
}

/**
 * Scans the raw text of a JSON document that `JSON.parse` already accepted and reports object keys
 * in textual order plus the first key that appears twice in the same object (at any depth). Handles
 * escapes: `"a\u0062"` and `"ab"` are the same key.
 */
export function scanJsonKeys(text: string): JsonKeyScan {
  interface Frame {
    isObject: boolean;
    expectKey: boolean;
    keys: Set<string> | null;
    name: string;
  }
  const stack: Frame[] = [];
  const topKeys: string[] = [];
  const childKeys = new Map<string, string[]>();
  let lastKey = '';
  let duplicate: JsonKeyScan['duplicate'];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      const top = stack[stack.length - 1];
      if (top && top.isObject && top.expectKey) {
        const raw = text.slice(start, i + 1);
        const key = raw.indexOf('\\') >= 0 ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        top.expectKey = false;
        lastKey = key;
        if (top.keys!.has(key)) {
          if (!duplicate) duplicate = { key, path: stack.slice(1).map((f) => f.name) };
        } else top.keys!.add(key);
        if (stack.length === 1) topKeys.push(key);
        else if (stack.length === 2) childKeys.get(stack[1].name)?.push(key);
      }
    } else if (c === 0x7b /* { */) {
      const name = stack.length >= 1 ? lastKey : '';
      if (stack.length === 1) childKeys.set(lastKey, []);
      stack.push({ isObject: true, expectKey: true, keys: new Set(), name });
    } else if (c === 0x5b /* [ */) {
      stack.push({ isObject: false, expectKey: false, keys: null, name: stack.length >= 1 ? lastKey : '' });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top && top.isObject) top.expectKey = true;
    }
  }
  return { topKeys, childKeys, duplicate };
}

/** Decodes the header bytes as UTF-8 (fatal: invalid bytes are an error naming the first one). */
function decodeHeader(bytes: Uint8Array, fileName: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    let at = -1;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] >= 0x80) {
        at = i;
        break;
      }
    }
    throw bad(
      `${fileName}: the header is not valid UTF-8${at >= 0 ? ` (first non-ASCII byte 0x${bytes[at].toString(16).padStart(2, '0')} at header byte ${at})` : ''}; the file is corrupt or not a safetensors file`,
    );
  }
}

/**
 * An element of a list that should hold integers: a plain unsigned integer literal (as a number),
 * a number written otherwise (kept as written), or anything else.
 */
type IntListElement = number | JsonNumber | { other: unknown };

/** Reads `[...]` keeping how numbers were written; anything but an array comes back as `notArray`. */
function readIntList(cur: JsonCursor): { elements: IntListElement[] } | { notArray: unknown } {
  if (cur.peek() !== 0x5b) return { notArray: cur.value(1) };
  const elements: IntListElement[] = [];
  cur.array(() => {
    const v = cur.plainUint();
    if (v >= 0) {
      elements.push(v);
      return;
    }
    const c = cur.peek();
    elements.push(c === 0x2d || (c >= 0x30 && c <= 0x39) ? cur.number() : { other: cur.value(2) });
  });
  return { elements };
}

function checkUInt(e: IntListElement, t: () => string, what: string, rule: string): number {
  if (typeof e === 'number') return e; // plain literal of at most 15 digits: a safe integer
  const tail = `${rule}. The file is corrupt or was written by a buggy tool`;
  if ('other' in e) throw bad(`${t()}: ${what} is ${describe(e.other)}; ${tail}`);
  if (!e.unsignedInteger) {
    if (/[.eE]/.test(e.text)) throw bad(`${t()}: ${what} is ${e.text}, not an integer (written with a fraction or an exponent); ${tail}`);
    if (e.value === 0) throw bad(`${t()}: ${what} is ${e.text}, a signed zero; ${tail}`);
    throw bad(`${t()}: ${what} is ${e.text}, negative; ${tail}`);
  }
  if (!Number.isSafeInteger(e.value)) {
    throw bad(`${t()}: ${what} is ${e.text}, above 2^53-1 (too large to represent exactly); ${rule}. The file is corrupt`);
  }
  return e.value;
}

/**
 * One frozen array per distinct shape of a header: a header of a million tensors holds a handful
 * of shapes, and every tensor of a shape shares its array (frozen, so none can change another's).
 */
class ShapeCache {
  static readonly MAX = 1 << 16; // distinct shapes kept; past that, shapes are frozen but not shared
  readonly #byKey = new Map<number | string, number[]>();

  get(dims: number[]): number[] {
    const key = dims.length === 1 ? dims[0]! : dims.join(',');
    const hit = this.#byKey.get(key);
    if (hit !== undefined) return hit;
    const own = Object.freeze(dims.slice()) as number[]; // exact length: the parsed list has spare capacity
    if (this.#byKey.size < ShapeCache.MAX) this.#byKey.set(key, own);
    return own;
  }
}

/** The raw values of one tensor entry, before validation. */
interface RawEntry {
  dtype?: unknown;
  shape?: ReturnType<typeof readIntList>;
  offsets?: ReturnType<typeof readIntList>;
}

/** Reads the members of one tensor entry object (duplicates refused; unknown keys read and ignored). */
function readEntryMembers(cur: JsonCursor, t: () => string): RawEntry {
  const got: RawEntry = {};
  let seen: Set<string> | undefined; // keys other than the three (rare)
  cur.object((key) => {
    const dup = key === 'dtype' ? 'dtype' in got : key === 'shape' ? 'shape' in got : key === 'data_offsets' ? 'offsets' in got : seen?.has(key);
    if (dup) throw bad(`${t()}: key ${JSON.stringify(key)} appears twice (duplicate key); the file is corrupt or was written by a buggy tool`);
    if (key === 'dtype') got.dtype = cur.peek() === 0x22 ? cur.string() : cur.value(1);
    else if (key === 'shape') got.shape = readIntList(cur);
    else if (key === 'data_offsets') got.offsets = readIntList(cur);
    else {
      (seen ??= new Set()).add(key);
      try {
        cur.value(1);
      } catch (e) {
        if (e instanceof JsonDuplicateKey) {
          throw bad(`${t()}: key ${JSON.stringify(e.key)} appears twice inside ${JSON.stringify(key)} (duplicate key); the file is corrupt or was written by a buggy tool`);
        }
        throw e;
      }
    }
  });
  return got;
}

/**
 * Reads one tensor entry (the cursor is on its value) and validates it against the data section.
 * Keys other than dtype/shape/data_offsets are read (they must be valid JSON) and ignored, as the
 * reference reader does. Messages are built only on failure (a header can hold a million entries).
 */
function readEntry(cur: JsonCursor, name: string, fileName: string, dataOffset: number, dataSize: number, shapes: ShapeCache): TensorInfo {
  const t = () => `${fileName}: tensor ${JSON.stringify(name)}`;
  if (cur.peek() !== 0x7b) {
    throw bad(`${t()}: the entry is ${describe(cur.value(1))}, but it must be an object {"dtype", "shape", "data_offsets"}; the file is corrupt or was written by a buggy tool`);
  }
  const got = readEntryMembers(cur, t);
  const missing = !('dtype' in got) ? 'dtype' : !('shape' in got) ? 'shape' : !('offsets' in got) ? 'data_offsets' : undefined;
  if (missing) throw bad(`${t()}: the entry has no "${missing}"; a tensor entry needs "dtype", "shape" and "data_offsets". The file is corrupt or was written by a buggy tool`);
  const dtype = got.dtype;
  if (typeof dtype !== 'string') throw bad(`${t()}: "dtype" is ${describe(dtype)}, but it must be a string such as "F16"; the file is corrupt`);
  if (!isDType(dtype)) {
    throw bad(`${t()}: unknown dtype ${JSON.stringify(dtype)}; known dtypes are ${Object.keys(DTYPE_SIZES).join(', ')}. The file is corrupt or uses a dtype this library does not read`);
  }
  const shapeList = got.shape!;
  if ('notArray' in shapeList) {
    throw bad(`${t()}: "shape" is ${describe(shapeList.notArray)}, but it must be an array of non-negative integers ([] for a scalar); the file is corrupt`);
  }
  const dims = shapeList.elements;
  for (let i = 0; i < dims.length; i++) dims[i] = checkUInt(dims[i]!, t, `shape[${i}]`, 'dimensions must be non-negative integers');
  const shape = shapes.get(dims as number[]);
  const offsList = got.offsets!;
  if ('notArray' in offsList || offsList.elements.length !== 2) {
    const what = 'notArray' in offsList ? describe(offsList.notArray) : `an array of ${offsList.elements.length} element(s)`;
    throw bad(`${t()}: "data_offsets" is ${what}, but it must be [begin, end] (exactly 2 integers); the file is corrupt`);
  }
  const rb = checkUInt(offsList.elements[0]!, t, 'data_offsets[0] (begin)', 'offsets must be non-negative integers');
  const re = checkUInt(offsList.elements[1]!, t, 'data_offsets[1] (end)', 'offsets must be non-negative integers');
  if (rb > re) throw bad(`${t()}: data_offsets [${rb}, ${re}] begin after they end (begin > end); the file is corrupt or was written by a buggy tool`);
  const { numel, bytes } = entryBytes(shape, dtype, t);
  if (re - rb !== bytes) {
    throw bad(`${t()}: data_offsets [${rb}, ${re}] hold ${re - rb} bytes but ${dtype} [${shape.join(', ')}] needs ${bytes} bytes (${numel} elements x ${DTYPE_SIZES[dtype]}); the file is corrupt or was written by a buggy tool`);
  }
  if (re > dataSize) {
    throw bad(`${t()}: data_offsets [${rb}, ${re}] end past the data section, which holds only ${dataSize} bytes; the file is truncated (incomplete download?) or corrupt`);
  }
  return { name, dtype, shape, begin: dataOffset + rb, end: dataOffset + re, byteLength: bytes, numel };
}

/**
 * Element and byte counts in doubles: exact while they stay <= 2^53 - 1 (every factor >= 1 keeps
 * the partial products below the total); anything larger is refused, with exact figures.
 */
function entryBytes(shape: readonly number[], dtype: DType, t: () => string): { numel: number; bytes: number } {
  let numel = 1;
  for (const d of shape) numel *= d;
  const size = DTYPE_SIZES[dtype];
  const bytes = numel * size;
  if (bytes > Number.MAX_SAFE_INTEGER) {
    const numelBig = shape.reduce((a, d) => a * BigInt(d), 1n);
    throw bad(`${t()}: shape [${shape.join(', ')}] has ${numelBig} elements, ${numelBig * BigInt(size)} bytes as ${dtype}, which overflows 2^53-1 (shape product too large); the file is corrupt`);
  }
  return { numel, bytes };
}

/** Reads the `__metadata__` value: an object of string values, or null (no metadata). */
function readMetadata(cur: JsonCursor, fileName: string): [string, string][] {
  const pairs: [string, string][] = [];
  const c = cur.peek();
  if (c === 0x6e && cur.text.startsWith('null', cur.pos)) {
    cur.value(1);
    return pairs; // the reference reads null as "no metadata"
  }
  if (c !== 0x7b) {
    throw bad(`${fileName}: "__metadata__" is ${describe(cur.value(1))}, but it must be an object mapping strings to strings; the file is corrupt or was written by a buggy tool`);
  }
  const seen = new Set<string>();
  cur.object((k) => {
    if (seen.has(k)) throw bad(`${fileName}: "__metadata__": key ${JSON.stringify(k)} appears twice (duplicate key); the file is corrupt or was written by a buggy tool`);
    seen.add(k);
    if (cur.peek() !== 0x22) {
      throw bad(`${fileName}: "__metadata__" key ${JSON.stringify(k)} has ${describe(cur.value(2))} as value, but every metadata value must be a string; the file was written by a non-conforming tool`);
    }
    pairs.push([k, cur.string()]);
  });
  return pairs;
}

/** Checks that the tensors tile the data section exactly (in offset order). */
function checkTiling(tensors: readonly TensorInfo[], dataOffset: number, dataSize: number, fileName: string): void {
  let inOrder = true;
  for (let i = 1; i < tensors.length && inOrder; i++) {
    const a = tensors[i - 1]!, b = tensors[i]!;
    inOrder = a.begin < b.begin || (a.begin === b.begin && a.end <= b.end);
  }
  const sorted = inOrder ? tensors : tensors.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: TensorInfo | undefined;
  for (const cur of sorted) {
    const rb = cur.begin - dataOffset;
    const cname = JSON.stringify(cur.name);
    if (rb > pos) {
      if (!prev) {
        throw bad(`${fileName}: tensor ${cname}: the first tensor in the data section begins at data offset ${rb}, not 0; ${rb} bytes before it belong to no tensor (gap at start). The file is corrupt or was written by a buggy tool`);
      }
      throw bad(`${fileName}: tensor ${cname}: gap of ${rb - pos} bytes between tensor ${JSON.stringify(prev.name)} (ends at data offset ${pos}) and tensor ${cname} (begins at ${rb}); tensors must tile the data section without gaps. The file is corrupt or was written by a buggy tool`);
    }
    if (rb < pos) {
      throw bad(`${fileName}: tensor ${cname}: data_offsets [${rb}, ${cur.end - dataOffset}] overlap tensor ${JSON.stringify(prev!.name)}, which ends at data offset ${pos}; tensors must not share bytes. The file is corrupt or was written by a buggy tool`);
    }
    pos = cur.end - dataOffset;
    prev = cur;
  }
  if (pos !== dataSize) {
    // pos < dataSize here: every end <= dataSize was checked per tensor.
    throw bad(`${fileName}: the data section holds ${dataSize} bytes but the tensors end at data offset ${pos}; ${dataSize - pos} trailing bytes belong to no tensor. The file is corrupt or was written by a buggy tool`);
  }
}

/** Name -> tensor of every parsed header, built once by the parser (openSafetensors reuses it). */
const TENSOR_INDEX = new WeakMap<SafetensorsHeader, Map<string, TensorInfo>>();

/**
 * Whether `header` came from the parser (which refuses a name twice) and still lists as many
 * tensors as it parsed: then its names are known to be distinct without hashing them again.
 */
export function hasDistinctNames(header: SafetensorsHeader): boolean {
  return TENSOR_INDEX.get(header)?.size === header.tensors.length;
}

interface TopLevelMembers {
  metadata: [string, string][];
  tensors: TensorInfo[];
  byName: Map<string, TensorInfo>;
}

/** Reads the top-level object: `__metadata__` and the tensor entries, validated as they come. */
function readTopLevelMembers(cur: JsonCursor, text: string, fileName: string, dataOffset: number, dataSize: number): TopLevelMembers {
  const out: TopLevelMembers = { metadata: [], tensors: [], byName: new Map() };
  const shapes = new ShapeCache();
  let sawMeta = false;
  try {
    cur.object((key) => {
      if (key === METADATA_KEY) {
        if (sawMeta) throw bad(`${fileName}: "__metadata__" appears twice in the header; JSON parsers would silently keep only the last one. The file is corrupt or was written by a buggy tool`);
        sawMeta = true;
        out.metadata = readMetadata(cur, fileName);
        return;
      }
      if (out.byName.has(key)) {
        throw bad(`${fileName}: tensor ${JSON.stringify(key)} appears twice in the header (duplicate name); JSON parsers would silently keep only the last one. The file is corrupt or was written by a buggy tool`);
      }
      const info = readEntry(cur, key, fileName, dataOffset, dataSize, shapes);
      out.byName.set(key, info);
      out.tensors.push(info);
    });
  } catch (e) {
    if (e instanceof HQQError || e instanceof JsonDuplicateKey) throwSyntaxErrorIfAny(text, fileName);
    throw e;
  }
  return out;
}

function readHeaderText(text: string, fileName: string, fileSize: number, headerLength: number): SafetensorsHeader {
  const dataOffset = 8 + headerLength;
  const dataSize = fileSize - dataOffset;
  const cur = new JsonCursor(text);
  const c0 = cur.peek();
  if (c0 === -1) throw bad(`${fileName}: the header is ${text.length} bytes of whitespace and no JSON; the file is corrupt`);
  if (c0 === 0xfeff) {
    throw bad(`${fileName}: the header must begin with "{" (0x7B) but begins with a UTF-8 byte-order mark; re-save the file with a conforming writer`);
  }
  if (c0 !== 0x7b) {
    const v = cur.value();
    if (!cur.atEnd()) cur.fail('unexpected text after the JSON value');
    throw bad(`${fileName}: the header's JSON top level is ${describe(v)}, but it must be an object mapping tensor names to entries; the file is not a safetensors file`);
  }
  const members = readTopLevelMembers(cur, text, fileName, dataOffset, dataSize);
  if (!cur.atEnd()) {
    const junk = text.charCodeAt(cur.pos);
    throw bad(`${fileName}: the header has ${new TextEncoder().encode(text.slice(cur.pos)).byteLength} byte(s) after the JSON object that are not JSON whitespace (first is 0x${junk.toString(16).padStart(2, '0')}); only whitespace (conforming writers pad with spaces, 0x20) may follow the JSON. Re-save the file with a conforming writer`);
  }
  checkTiling(members.tensors, dataOffset, dataSize, fileName);
  // Object.fromEntries defines own properties, so a "__proto__" key stays a plain key.
  const metadata = Object.fromEntries(members.metadata) as Record<string, string>;
  const header: SafetensorsHeader = { fileName, fileSize, headerLength, dataOffset, metadata, tensors: members.tensors };
  TENSOR_INDEX.set(header, members.byName);
  return header;
}

/**
 * Parses and validates a safetensors header. `prefixBytes` must hold the first 8 + N bytes of the
 * file (more is fine); `fileSize` is the whole file's size, needed to validate the data section.
 * One pass over the header text, linear in its size.
 */
export function parseSafetensorsHeader(prefixBytes: Uint8Array, fileSize: number, fileName = 'safetensors header'): SafetensorsHeader {
  checkBytes(prefixBytes, `parseSafetensorsHeader: prefixBytes (the file's first bytes)`);
  if (typeof fileName !== 'string') throw new HQQError('INVALID_ARGUMENT', `parseSafetensorsHeader: fileName must be a string (for messages), got ${shown(fileName)}`);
  const headerLength = readHeaderLength(prefixBytes, fileSize, fileName);
  if (prefixBytes.byteLength < 8 + headerLength) {
    throw new HQQError(
      'INVALID_ARGUMENT',
      `${fileName}: got ${prefixBytes.byteLength} prefix bytes but the header needs 8 + ${headerLength}; pass the first ${8 + headerLength} bytes of the file`,
    );
  }
  const text = decodeHeader(prefixBytes.subarray(8, 8 + headerLength), fileName);
  try {
    return readHeaderText(text, fileName, fileSize, headerLength);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw notJson(fileName, e);
    if (e instanceof JsonDuplicateKey) throw bad(`${fileName}: ${e.message} (duplicate key); the file is corrupt or was written by a buggy tool`);
    throw e;
  }
}

function notJson(fileName: string, e: JsonSyntaxError): HQQError {
  return bad(`${fileName}: the header is not valid JSON (${e.message}); the file is corrupt or was written by a buggy tool`);
}

/**
 * A broken JSON text is the more basic problem than a bad entry (a truncated header often shows
 * as a bad entry first): throws the syntax error when the whole text has one, as a
 * parse-then-validate reader would report it; returns otherwise.
 */
function throwSyntaxErrorIfAny(text: string, fileName: string): void {
  try {
    new JsonCursor(text).checkDocument();
  } catch (syntax) {
    if (syntax instanceof JsonSyntaxError) throw notJson(fileName, syntax);
    throw syntax;
  }
}


const INT_DTYPES: readonly DType[] = ['BOOL', 'U8', 'I8', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64'];

function intElements(tensor: TensorInfo, bytes: Uint8Array, fileName?: string): number[] {
  const where = `${fileName ? `${fileName}: ` : ''}tensor ${JSON.stringify(tensor.name)}`;
  if (!INT_DTYPES.includes(tensor.dtype)) {
    throw new HQQError('BAD_FILE', `${where}: dtype ${tensor.dtype} is not an integer dtype; expected one of ${INT_DTYPES.join(', ')} for an integer config value`);
  }
  if (bytes.byteLength !== tensor.byteLength) {
    throw new HQQError('INVALID_ARGUMENT', `${where}: got ${bytes.byteLength} bytes but the tensor holds ${tensor.byteLength}; pass the bytes returned by readTensor`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  const size = DTYPE_SIZES[tensor.dtype];
  for (let i = 0; i < tensor.numel; i++) {
    const o = i * size;
    let v: number | bigint;
    switch (tensor.dtype) {
      case 'BOOL':
      case 'U8':
        v = view.getUint8(o);
        break;
      case 'I8':
        v = view.getInt8(o);
        break;
      case 'I16':
        v = view.getInt16(o, true);
        break;
      case 'U16':
        v = view.getUint16(o, true);
        break;
      case 'I32':
        v = view.getInt32(o, true);
        break;
      case 'U32':
        v = view.getUint32(o, true);
        break;
      case 'I64':
        v = view.getBigInt64(o, true);
        break;
      default:
        v = view.getBigUint64(o, true);
        break;
    }
    if (typeof v === 'bigint') {
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new HQQError('BAD_FILE', `${where}: element ${i} is ${v}, outside the safe integer range; the config value is corrupt`);
      }
      v = Number(v);
    }
    out.push(v);
  }
  return out;
}

/** Reads a one-element integer tensor (shape [] or [1], any integer dtype) as a number. */
export function readScalarInt(tensor: TensorInfo, bytes: Uint8Array, fileName?: string): number {
  if (tensor.numel !== 1) {
    throw new HQQError(
      'BAD_FILE',
      `${fileName ? `${fileName}: ` : ''}tensor ${JSON.stringify(tensor.name)}: shape [${tensor.shape.join(', ')}] holds ${tensor.numel} elements but a scalar config value must hold exactly 1`,
    );
  }
  return intElements(tensor, bytes, fileName)[0];
}

/** Reads an integer tensor of any shape as a flat array of numbers. */
export function readIntArray(tensor: TensorInfo, bytes: Uint8Array, fileName?: string): number[] {
  return intElements(tensor, bytes, fileName);
}

/** The longest config string `readAsciiString` accepts by default ("torch.bfloat16" is 14 bytes). */
export const MAX_CONFIG_STRING_BYTES = 64;

/**
 * Reads a U8/I8 tensor holding ASCII text (e.g. a string-valued config key); trailing NULs are
 * dropped. A tensor longer than `maxBytes` is refused (BAD_FILE) before its bytes are looked at.
 */
export function readAsciiString(tensor: TensorInfo, bytes: Uint8Array, fileName?: string, maxBytes = MAX_CONFIG_STRING_BYTES): string {
  const where = `${fileName ? `${fileName}: ` : ''}tensor ${JSON.stringify(tensor.name)}`;
  if (tensor.dtype !== 'U8' && tensor.dtype !== 'I8') {
    throw new HQQError('BAD_FILE', `${where}: dtype ${tensor.dtype} cannot hold ASCII text; expected U8 or I8`);
  }
  if (tensor.byteLength > maxBytes) {
    throw new HQQError('BAD_FILE', `${where}: ${tensor.byteLength} bytes is longer than a config string may be (at most ${maxBytes}); the config string is corrupt`);
  }
  if (bytes.byteLength !== tensor.byteLength) {
    throw new HQQError('INVALID_ARGUMENT', `${where}: got ${bytes.byteLength} bytes but the tensor holds ${tensor.byteLength}; pass the bytes returned by readTensor`);
  }
  let end = bytes.byteLength;
  while (end > 0 && bytes[end - 1] === 0) end--;
  let s = '';
  for (let i = 0; i < end; i++) {
    const b = bytes[i];
    if (b === 0 || b > 0x7e || (b < 0x20 && b !== 0x09 && b !== 0x0a)) {
      throw new HQQError('BAD_FILE', `${where}: byte ${i} is 0x${b.toString(16).padStart(2, '0')}, not printable ASCII; the config string is corrupt`);
    }
    s += String.fromCharCode(b);
  }
  return s;
}

/** An open safetensors file: its header and lazy reads of tensor data. */
export interface SafetensorsFile {
  /** The parsed, validated header. */
  readonly header: SafetensorsHeader;
  /** Looks a tensor up by name; `undefined` when absent. */
  tensor(name: string): TensorInfo | undefined;
  /** Reads a whole tensor's bytes (little-endian, as stored). */
  readTensor(tensor: string | TensorInfo): Promise<Uint8Array>;
  /**
   * Reads `length` bytes starting `offset` bytes into a tensor (for chunked copies); `into`, a
   * buffer of exactly `length` bytes, may be filled and returned instead of a new one (see
   * `ByteSource.read`).
   */
  readRange(tensor: string | TensorInfo, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
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

/**
 * Opens a safetensors file lazily: reads the 8-byte prefix, then the header, validates everything,
 * and never reads tensor data until asked.
 *
 * Ownership: on success the returned file owns `source` (its `close()` closes the source). When
 * reading or validating the header fails, the source is closed before the error is thrown, so
 * `openSafetensors(await openFileSource(path))` never leaks a file handle. Closing a source twice
 * must be harmless (every source in this package allows it).
 */
export async function openSafetensors(source: ByteSource): Promise<SafetensorsFile> {
  checkByteSource(source, 'openSafetensors: source');
  const fileName = source.name;
  const size = source.size;
  let header: SafetensorsHeader;
  try {
    const first = await readExact(source, 0, Math.min(8, size));
    const n = readHeaderLength(first, size, fileName);
    // The prefix read again with the header: one buffer, not the header read and then copied (97 MB for finding 16).
    header = parseSafetensorsHeader(await readExact(source, 0, 8 + n), size, fileName);
  } catch (e) {
    await source.close?.().catch(() => {});
    throw e;
  }
  const byName = TENSOR_INDEX.get(header)!;

  const resolve = (tensor: string | TensorInfo): TensorInfo => {
    const name = typeof tensor === 'string' ? tensor : tensor?.name;
    const info = typeof name === 'string' ? byName.get(name) : undefined;
    if (!info) {
      throw new HQQError('INVALID_ARGUMENT', `${fileName}: no tensor named ${JSON.stringify(name)} in this file; list header.tensors for the names it holds`);
    }
    if (typeof tensor !== 'string' && (tensor.begin !== info.begin || tensor.end !== info.end)) {
      throw new HQQError('INVALID_ARGUMENT', `${fileName}: tensor ${JSON.stringify(name)}: the TensorInfo passed belongs to another file (offsets differ); pass an entry of this file's header.tensors`);
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
