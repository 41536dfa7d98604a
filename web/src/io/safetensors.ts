/**
 * safetensors header parsing and validation. The parser is pure (works on bytes); `openSafetensors`
 * reads lazily through a `ByteSource`. No `node:` imports, so the same code runs in Node and browsers.
 *
 * File layout: 8 bytes little-endian u64 N (header length), N bytes of UTF-8 JSON, then the data
 * section. Rules enforced here (each violation gets its own message, all are `BAD_FILE`):
 *
 *  - the file holds at least 8 bytes; 1 <= N <= 100,000,000; 8 + N <= file size;
 *  - the header is valid UTF-8 (a byte-order mark is NOT stripped; it is rejected by the next rule);
 *  - the header text is `{` ... `}` followed only by spaces (0x20). Strict on purpose: the first byte
 *    must be `{` (no leading whitespace, no BOM) and the only padding allowed after the closing brace
 *    is 0x20. NUL padding, tabs or newlines after the JSON are rejected even though `JSON.parse` would
 *    accept the latter, so that every tool agrees on what a valid header is;
 *  - valid JSON whose top level is an object, with no duplicate key in ANY object (checked on the raw
 *    text, because `JSON.parse` silently keeps the last duplicate);
 *  - `__metadata__`, if present, is an object of string -> string;
 *  - every other entry is an object with exactly the keys `dtype`, `shape`, `data_offsets`; dtype is a
 *    known one; shape is an array of non-negative safe integers ([] = a scalar, 1 element);
 *    data_offsets is [begin, end] of non-negative safe integers with begin <= end;
 *  - bytes = product(shape) x dtype size (checked arithmetic, BigInt) equals end - begin;
 *  - sorted by (begin, end) the tensors tile the data section exactly: the first begins at 0, each
 *    begins where the previous ended, the last ends at the data section's size (fileSize - 8 - N).
 *    Zero-byte tensors (begin == end) are allowed and take part in the tiling.
 *
 * Tensors are returned in the header's textual order (not JS property order, which would move
 * integer-like names first); validation of the layout is done on the sorted order.
 */
import { HQQError } from '../errors.js';
import type { ByteSource } from './source.js';

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

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, value);
}

export function dtypeSize(dtype: DType): number {
  return DTYPE_SIZES[dtype];
}

/** Largest header the reader accepts (same limit as the reference implementation). */
export const MAX_HEADER_LENGTH = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute file offset of the first byte. */
  begin: number;
  /** Absolute file offset one past the last byte. */
  end: number;
  byteLength: number;
  numel: number;
}

export interface SafetensorsHeader {
  fileName: string;
  fileSize: number;
  /** N, the header's length in bytes (without the 8-byte prefix). */
  headerLength: number;
  /** 8 + N: where the data section starts. */
  dataOffset: number;
  metadata: Record<string, string>;
  /** In the header's order. */
  tensors: TensorInfo[];
}

const METADATA_KEY = '__metadata__';
const ENTRY_KEYS = ['dtype', 'shape', 'data_offsets'] as const;

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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

/** Index of the brace closing the object that opens `text` (string-aware), or -1. */
function objectEnd(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/**
 * Decodes, checks and parses the JSON header text. Shared rules: UTF-8, `{` first, only spaces after
 * the closing brace, valid JSON, object at top level, no duplicate keys.
 */
function parseHeaderJson(bytes: Uint8Array, fileName: string): { value: Record<string, unknown>; scan: JsonKeyScan } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
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
  // Only spaces (0x20) may pad the header after the JSON.
  let endTrim = text.length;
  while (endTrim > 0 && text.charCodeAt(endTrim - 1) === 0x20) endTrim--;
  const trimmed = text.slice(0, endTrim);
  if (trimmed.length === 0) {
    throw bad(`${fileName}: the header is ${text.length} spaces and no JSON; the file is corrupt`);
  }
  const c0 = trimmed.charCodeAt(0);
  if (c0 === 0xfeff || c0 === 0x20 || c0 === 0x09 || c0 === 0x0a || c0 === 0x0d) {
    throw bad(
      `${fileName}: the header must begin with "{" (0x7B) but begins with ${c0 === 0xfeff ? 'a UTF-8 byte-order mark' : `0x${c0.toString(16).padStart(2, '0')} (leading whitespace)`}; re-save the file with a conforming writer`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (e) {
    // Distinguish junk after a complete JSON object (e.g. NUL padding) from broken JSON.
    const close = c0 === 0x7b ? objectEnd(trimmed) : -1;
    if (close > 0 && close < trimmed.length - 1) {
      let prefixOk = false;
      try {
        prefixOk = isPlainObject(JSON.parse(trimmed.slice(0, close + 1)));
      } catch {
        prefixOk = false;
      }
      if (prefixOk) {
        const junk = trimmed.charCodeAt(close + 1);
        throw bad(
          `${fileName}: the header has ${trimmed.length - close - 1} byte(s) after the JSON object that are not spaces (first is 0x${junk.toString(16).padStart(2, '0')}); only spaces (0x20) may pad a safetensors header. Re-save the file with a conforming writer`,
        );
      }
    }
    const why = e instanceof Error ? e.message : String(e);
    throw bad(`${fileName}: the header is not valid JSON (${why}); the file is corrupt or was written by a buggy tool`);
  }
  if (!isPlainObject(value)) {
    throw bad(`${fileName}: the header's JSON top level is ${describe(value)}, but it must be an object mapping tensor names to entries; the file is not a safetensors file`);
  }
  if (trimmed.charCodeAt(trimmed.length - 1) !== 0x7d) {
    const c = trimmed.charCodeAt(trimmed.length - 1);
    throw bad(
      `${fileName}: the header's JSON object is followed by whitespace other than spaces (0x${c.toString(16).padStart(2, '0')}); only spaces (0x20) may pad a safetensors header. Re-save the file with a conforming writer`,
    );
  }
  const scan = scanJsonKeys(trimmed);
  if (scan.duplicate) {
    const { key, path } = scan.duplicate;
    if (path.length === 0) {
      throw bad(
        key === METADATA_KEY
          ? `${fileName}: "__metadata__" appears twice in the header; JSON parsers would silently keep only the last one. The file is corrupt or was written by a buggy tool`
          : `${fileName}: tensor ${JSON.stringify(key)} appears twice in the header (duplicate name); JSON parsers would silently keep only the last one. The file is corrupt or was written by a buggy tool`,
      );
    }
    const owner = path[0] === METADATA_KEY ? '"__metadata__"' : `tensor ${JSON.stringify(path[0])}`;
    throw bad(
      `${fileName}: ${owner}: key ${JSON.stringify(key)} appears twice${path.length > 1 ? ` inside ${path.slice(1).map((p) => JSON.stringify(p)).join('.')}` : ''} (duplicate key); the file is corrupt or was written by a buggy tool`,
    );
  }
  return { value, scan };
}

function checkUInt(value: unknown, fileName: string, tensor: string, what: string, rule: string): number {
  const t = `${fileName}: tensor ${JSON.stringify(tensor)}`;
  if (typeof value !== 'number') {
    throw bad(`${t}: ${what} is ${describe(value)}; ${rule}. The file is corrupt or was written by a buggy tool`);
  }
  if (!Number.isInteger(value)) {
    throw bad(`${t}: ${what} is ${value}, not an integer; ${rule}. The file is corrupt or was written by a buggy tool`);
  }
  if (value < 0) {
    throw bad(`${t}: ${what} is ${value}, negative; ${rule}. The file is corrupt or was written by a buggy tool`);
  }
  if (!Number.isSafeInteger(value)) {
    throw bad(`${t}: ${what} is ${value}, above 2^53-1 (too large to represent exactly); ${rule}. The file is corrupt`);
  }
  return value;
}

function parseEntry(
  name: string,
  raw: unknown,
  fileName: string,
  dataSize: number,
): { dtype: DType; shape: number[]; rb: number; re: number; numel: number } {
  const t = `${fileName}: tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(raw)) {
    throw bad(`${t}: the entry is ${describe(raw)}, but it must be an object {"dtype", "shape", "data_offsets"}; the file is corrupt or was written by a buggy tool`);
  }
  for (const key of Object.keys(raw)) {
    if (!(ENTRY_KEYS as readonly string[]).includes(key)) {
      throw bad(
        `${t}: unknown key ${JSON.stringify(key)} in the entry; a tensor entry holds exactly "dtype", "shape" and "data_offsets" (per-file notes belong in "__metadata__"). The file was written by a non-conforming tool`,
      );
    }
  }
  for (const key of ENTRY_KEYS) {
    if (!Object.prototype.hasOwnProperty.call(raw, key)) {
      throw bad(`${t}: the entry has no "${key}"; a tensor entry holds exactly "dtype", "shape" and "data_offsets". The file is corrupt or was written by a buggy tool`);
    }
  }
  const dtype = raw.dtype;
  if (typeof dtype !== 'string') {
    throw bad(`${t}: "dtype" is ${describe(dtype)}, but it must be a string such as "F16"; the file is corrupt`);
  }
  if (!isDType(dtype)) {
    throw bad(
      `${t}: unknown dtype ${JSON.stringify(dtype)}; known dtypes are ${Object.keys(DTYPE_SIZES).join(', ')}. The file is corrupt or uses a dtype this library does not read`,
    );
  }
  const shapeRaw = raw.shape;
  if (!Array.isArray(shapeRaw)) {
    throw bad(`${t}: "shape" is ${describe(shapeRaw)}, but it must be an array of non-negative integers ([] for a scalar); the file is corrupt`);
  }
  const shape = shapeRaw.map((d, i) =>
    checkUInt(d, fileName, name, `shape[${i}]`, 'dimensions must be non-negative integers'),
  );
  const offs = raw.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2) {
    throw bad(
      `${t}: "data_offsets" is ${Array.isArray(offs) ? `an array of ${offs.length} element(s)` : describe(offs)}, but it must be [begin, end] (exactly 2 integers); the file is corrupt`,
    );
  }
  const rb = checkUInt(offs[0], fileName, name, 'data_offsets[0] (begin)', 'offsets must be non-negative integers');
  const re = checkUInt(offs[1], fileName, name, 'data_offsets[1] (end)', 'offsets must be non-negative integers');
  if (rb > re) {
    throw bad(`${t}: data_offsets [${rb}, ${re}] begin after they end (begin > end); the file is corrupt or was written by a buggy tool`);
  }
  let numelBig = 1n;
  for (const d of shape) numelBig *= BigInt(d);
  const size = DTYPE_SIZES[dtype];
  const bytesBig = numelBig * BigInt(size);
  if (bytesBig > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw bad(
      `${t}: shape [${shape.join(', ')}] has ${numelBig} elements, ${bytesBig} bytes as ${dtype}, which overflows 2^53-1 (shape product too large); the file is corrupt`,
    );
  }
  const numel = Number(numelBig);
  const bytes = Number(bytesBig);
  if (re - rb !== bytes) {
    throw bad(
      `${t}: data_offsets [${rb}, ${re}] hold ${re - rb} bytes but ${dtype} [${shape.join(', ')}] needs ${bytes} bytes (${numel} elements x ${size}); the file is corrupt or was written by a buggy tool`,
    );
  }
  if (re > dataSize) {
    throw bad(
      `${t}: data_offsets [${rb}, ${re}] end past the data section, which holds only ${dataSize} bytes; the file is truncated (incomplete download?) or corrupt`,
    );
  }
  return { dtype, shape, rb, re, numel };
}

/**
 * Parses and validates a safetensors header. `prefixBytes` must hold the first 8 + N bytes of the
 * file (more is fine); `fileSize` is the whole file's size, needed to validate the data section.
 */
export function parseSafetensorsHeader(prefixBytes: Uint8Array, fileSize: number, fileName: string): SafetensorsHeader {
  const headerLength = readHeaderLength(prefixBytes, fileSize, fileName);
  if (prefixBytes.byteLength < 8 + headerLength) {
    throw new HQQError(
      'INVALID_ARGUMENT',
      `${fileName}: got ${prefixBytes.byteLength} prefix bytes but the header needs 8 + ${headerLength}; pass the first ${8 + headerLength} bytes of the file`,
    );
  }
  const dataOffset = 8 + headerLength;
  const dataSize = fileSize - dataOffset;
  const { value, scan } = parseHeaderJson(prefixBytes.subarray(8, dataOffset), fileName);

  const metaEntries: [string, string][] = [];
  if (Object.prototype.hasOwnProperty.call(value, METADATA_KEY)) {
    const meta = value[METADATA_KEY];
    if (!isPlainObject(meta)) {
      throw bad(`${fileName}: "__metadata__" is ${describe(meta)}, but it must be an object mapping strings to strings; the file is corrupt or was written by a buggy tool`);
    }
    const order = scan.childKeys.get(METADATA_KEY) ?? Object.keys(meta);
    for (const k of order) {
      const v = meta[k];
      if (typeof v !== 'string') {
        throw bad(
          `${fileName}: "__metadata__" key ${JSON.stringify(k)} has ${describe(v)} as value, but every metadata value must be a string; the file was written by a non-conforming tool`,
        );
      }
      metaEntries.push([k, v]);
    }
  }
  // Object.fromEntries defines own properties, so a "__proto__" key stays a plain key.
  const metadata = Object.fromEntries(metaEntries) as Record<string, string>;

  const tensors: TensorInfo[] = [];
  const rel: { info: TensorInfo; rb: number; re: number }[] = [];
  for (const name of scan.topKeys) {
    if (name === METADATA_KEY) continue;
    const e = parseEntry(name, value[name], fileName, dataSize);
    const info: TensorInfo = {
      name,
      dtype: e.dtype,
      shape: e.shape,
      begin: dataOffset + e.rb,
      end: dataOffset + e.re,
      byteLength: e.re - e.rb,
      numel: e.numel,
    };
    tensors.push(info);
    rel.push({ info, rb: e.rb, re: e.re });
  }

  // Tiling: validate on the sorted order, keep the header's order in the result.
  const sorted = rel.slice().sort((a, b) => a.rb - b.rb || a.re - b.re);
  let pos = 0;
  let prev: (typeof sorted)[number] | undefined;
  for (const cur of sorted) {
    const cname = JSON.stringify(cur.info.name);
    if (cur.rb > pos) {
      if (!prev) {
        throw bad(
          `${fileName}: tensor ${cname}: the first tensor in the data section begins at data offset ${cur.rb}, not 0; ${cur.rb} bytes before it belong to no tensor (gap at start). The file is corrupt or was written by a buggy tool`,
        );
      }
      throw bad(
        `${fileName}: tensor ${cname}: gap of ${cur.rb - pos} bytes between tensor ${JSON.stringify(prev.info.name)} (ends at data offset ${pos}) and tensor ${cname} (begins at ${cur.rb}); tensors must tile the data section without gaps. The file is corrupt or was written by a buggy tool`,
      );
    }
    if (cur.rb < pos) {
      throw bad(
        `${fileName}: tensor ${cname}: data_offsets [${cur.rb}, ${cur.re}] overlap tensor ${JSON.stringify(prev!.info.name)}, which ends at data offset ${pos}; tensors must not share bytes. The file is corrupt or was written by a buggy tool`,
      );
    }
    pos = cur.re;
    prev = cur;
  }
  if (pos !== dataSize) {
    // pos < dataSize here: every end <= dataSize was checked per tensor.
    throw bad(
      `${fileName}: the data section holds ${dataSize} bytes but the tensors end at data offset ${pos}; ${dataSize - pos} trailing bytes belong to no tensor. The file is corrupt or was written by a buggy tool`,
    );
  }

  return { fileName, fileSize, headerLength, dataOffset, metadata, tensors };
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

export interface SafetensorsFile {
  readonly header: SafetensorsHeader;
  /** Looks a tensor up by name; `undefined` when absent. */
  tensor(name: string): TensorInfo | undefined;
  /** Reads a whole tensor's bytes (little-endian, as stored). */
  readTensor(tensor: string | TensorInfo): Promise<Uint8Array>;
  /** Reads `length` bytes starting `offset` bytes into a tensor (for chunked copies). */
  readRange(tensor: string | TensorInfo, offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

async function readExact(source: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await source.read(offset, length);
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
  const fileName = source.name;
  const size = source.size;
  let header: SafetensorsHeader;
  try {
    const first = await readExact(source, 0, Math.min(8, size));
    const n = readHeaderLength(first, size, fileName);
    const prefix = new Uint8Array(8 + n);
    prefix.set(first, 0);
    prefix.set(await readExact(source, 8, n), 8);
    header = parseSafetensorsHeader(prefix, size, fileName);
  } catch (e) {
    await source.close?.().catch(() => {});
    throw e;
  }
  const byName = new Map<string, TensorInfo>();
  for (const t of header.tensors) byName.set(t.name, t);

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
    async readRange(tensor, offset, length) {
      const info = resolve(tensor);
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0 || offset + length > info.byteLength) {
        throw new HQQError(
          'INVALID_ARGUMENT',
          `${fileName}: tensor ${JSON.stringify(info.name)}: readRange(offset=${offset}, length=${length}) is outside the tensor's ${info.byteLength} bytes; keep 0 <= offset and offset + length <= byteLength`,
        );
      }
      return readExact(source, info.begin + offset, length);
    },
    async close() {
      await source.close?.();
    },
  };
}
