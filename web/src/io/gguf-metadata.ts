/**
 * GGUF metadata values, typed so that a file's metadata round-trips exactly: every value keeps its
 * GGUF value type (a u32 stays a u32, not a JS number of unknown width), 64-bit integers are
 * bigint, numeric arrays are typed arrays and string arrays are a compact `GGUFStringList` (a
 * 150k-entry token list is one buffer, not 150k objects). Float scalars are JS numbers, exact for
 * every f32/f64 value except NaN payloads, which JS does not keep; numeric arrays keep every bit.
 *
 * Metadata is a `Map<string, GGUFValue>` in file order. To copy an input's metadata and change a
 * few keys use {@link withMetadata}; to build values use {@link ggufValue}. Browser-safe.
 */
import { HQQError } from '../errors.js';

/** Value type ids as stored in the file (`enum gguf_type`, ggml/include/gguf.h). */
export const GGUF_VALUE_TYPE_IDS = Object.freeze({
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const);

export type GGUFValueType = keyof typeof GGUF_VALUE_TYPE_IDS;
/** The numeric value types a JS number holds exactly. */
export type GGUFNumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
/** The 64-bit integer value types, held as a bigint (a number would lose precision above 2^53). */
export type GGUFBigIntType = 'u64' | 'i64';
export type GGUFScalarType = GGUFNumberType | GGUFBigIntType | 'bool' | 'string';

const TYPE_BY_ID: readonly GGUFValueType[] = Object.keys(GGUF_VALUE_TYPE_IDS) as GGUFValueType[];

/** The value type with id `id`, or undefined. */
export function ggufValueTypeById(id: number): GGUFValueType | undefined {
  return Number.isInteger(id) && id >= 0 && id < TYPE_BY_ID.length ? TYPE_BY_ID[id] : undefined;
}

/** Bytes per element of the fixed-size value types. */
export const GGUF_SCALAR_SIZES: Readonly<Record<GGUFNumberType | GGUFBigIntType | 'bool', number>> = Object.freeze({
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
});

/** The typed array holding an array of each numeric value type. */
export interface GGUFTypedArrays {
  /** Items of a `u8` array. */
  u8: Uint8Array;
  /** Items of an `i8` array. */
  i8: Int8Array;
  /** Items of a `u16` array. */
  u16: Uint16Array;
  /** Items of an `i16` array. */
  i16: Int16Array;
  /** Items of a `u32` array. */
  u32: Uint32Array;
  /** Items of an `i32` array. */
  i32: Int32Array;
  /** Items of an `f32` array. */
  f32: Float32Array;
  /** Items of an `f64` array. */
  f64: Float64Array;
  /** Items of a `u64` array. */
  u64: BigUint64Array;
  /** Items of an `i64` array. */
  i64: BigInt64Array;
}

/**
 * A metadata array of numbers: `type` is always 'array', `itemType` the type of every item, and
 * `items` the little-endian values decoded into that type's typed array (`f32` -> Float32Array).
 */
export type GGUFNumericArray = {
  [K in keyof GGUFTypedArrays]: { type: 'array'; itemType: K; items: GGUFTypedArrays[K] };
}[keyof GGUFTypedArrays];

/**
 * A metadata array value: `type` is always 'array' and every item has the one type `itemType`;
 * `items` holds numbers in a typed array, booleans, strings (a `GGUFStringList`, kept encoded and
 * decoded on demand, so a 260k-token vocabulary stays one buffer) or nested arrays.
 */
export type GGUFArray =
  | GGUFNumericArray
  | { type: 'array'; itemType: 'bool'; items: boolean[] }
  | { type: 'array'; itemType: 'string'; items: GGUFStringList }
  /** An array of arrays; each element carries its own item type (the format allows mixing). */
  | { type: 'array'; itemType: 'array'; items: GGUFArray[] };

/**
 * One metadata value: `type` is its GGUF value type and `value` the value, a number for the
 * numeric types a JS number holds exactly, a bigint for u64/i64, a boolean or a string; or an
 * array (`GGUFArray`). Build one with `ggufValue`.
 */
export type GGUFValue =
  | { type: GGUFNumberType; value: number }
  | { type: GGUFBigIntType; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | GGUFArray;

/** A GGUF header's key-value pairs, in file order (`general.architecture`, `tokenizer.ggml.tokens`, ...). */
export type GGUFMetadata = Map<string, GGUFValue>;

const utf8Decoder = new TextDecoder('utf-8');

/**
 * A list of strings stored as in a GGUF file: each string is a u64 little-endian byte length then
 * its UTF-8 bytes, back to back in one buffer. Reading an element decodes it on demand; writing the
 * list copies the buffer as is. Immutable.
 */
export class GGUFStringList implements Iterable<string> {
  /** The encoded form: (u64 length, bytes) per string. */
  readonly encoded: Uint8Array;
  /** starts[i] is where string i's length prefix begins in `encoded`; starts[length] = encoded.length. */
  readonly #starts: Float64Array;

  /** Wraps an encoded list; `starts` must be validated by the caller (the reader, `from`). */
  private constructor(encoded: Uint8Array, starts: Float64Array) {
    this.encoded = encoded;
    this.#starts = starts;
  }

  /**
   * Wraps an already encoded list (the reader's constructor): `starts` has length n + 1, starts[i]
   * is where string i's length prefix begins and starts[n] = encoded.length. The structure is
   * checked (INVALID_ARGUMENT when the prefixes and `starts` disagree); the UTF-8 is the caller's
   * to have validated.
   */
  static fromEncoded(encoded: Uint8Array, starts: Float64Array): GGUFStringList {
    const bad = () => new HQQError('INVALID_ARGUMENT', 'GGUFStringList.fromEncoded: the length prefixes and starts do not describe the buffer; build lists with GGUFStringList.from()');
    if (!(encoded instanceof Uint8Array) || !(starts instanceof Float64Array) || starts.length < 1 || starts[0] !== 0 || starts[starts.length - 1] !== encoded.length) throw bad();
    const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
    for (let i = 0; i + 1 < starts.length; i++) {
      const at = starts[i]!;
      if (at + 8 > encoded.length || view.getUint32(at + 4, true) !== 0 || starts[i + 1] !== at + 8 + view.getUint32(at, true)) throw bad();
    }
    return new GGUFStringList(encoded, starts);
  }

  /** Encodes `strings` (well-formed UTF-16: a lone surrogate is INVALID_ARGUMENT, not silently replaced). */
  static from(strings: Iterable<string>): GGUFStringList {
    const list = Array.isArray(strings) ? (strings as readonly string[]) : [...strings];
    let capacity = 0;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (typeof s !== 'string') throw new HQQError('INVALID_ARGUMENT', `GGUFStringList.from: element ${i} is a ${typeof s}, not a string`);
      capacity += 8 + 3 * s.length; // UTF-8 needs at most 3 bytes per UTF-16 unit
    }
    let encoded = new Uint8Array(capacity);
    const view = new DataView(encoded.buffer);
    const starts = new Float64Array(list.length + 1);
    let pos = 0;
    for (let i = 0; i < list.length; i++) {
      starts[i] = pos;
      const end = encodeUtf8(list[i]!, encoded, pos + 8);
      if (end < 0) {
        throw new HQQError('INVALID_ARGUMENT', `GGUFStringList.from: element ${i} holds a lone UTF-16 surrogate, which has no UTF-8 encoding; fix the string`);
      }
      const len = end - pos - 8;
      view.setUint32(pos, len, true); // lengths stay below 2^32 (a JS string is shorter)
      view.setUint32(pos + 4, 0, true);
      pos = end;
    }
    starts[list.length] = pos;
    if (pos < capacity) encoded = encoded.slice(0, pos);
    return new GGUFStringList(encoded, starts);
  }

  /** Number of strings in the list. */
  get length(): number {
    return this.#starts.length - 1;
  }

  /** UTF-8 bytes of string `i` (a view into the list's buffer). */
  bytes(i: number): Uint8Array {
    this.#check(i);
    return this.encoded.subarray(this.#starts[i]! + 8, this.#starts[i + 1]!);
  }

  /** String `i`. */
  get(i: number): string {
    return utf8Decoder.decode(this.bytes(i));
  }

  /** Every string, decoded (costs the whole list's decoding: prefer `get(i)` for large lists). */
  toArray(): string[] {
    const out = new Array<string>(this.length);
    for (let i = 0; i < out.length; i++) out[i] = this.get(i);
    return out;
  }

  /** The strings in order, each decoded when reached. */
  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new HQQError('INVALID_ARGUMENT', `GGUFStringList: index ${i} is outside the list's ${this.length} strings`);
    }
  }
}

/**
 * Writes `s` as UTF-8 into `out` at `pos` (the caller guarantees 3 bytes per UTF-16 unit of room);
 * returns the end position, or -1 when `s` holds a lone surrogate.
 */
function encodeUtf8(s: string, out: Uint8Array, pos: number): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[pos++] = c;
    } else if (c < 0x800) {
      out[pos++] = 0xc0 | (c >> 6);
      out[pos++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      out[pos++] = 0xe0 | (c >> 12);
      out[pos++] = 0x80 | ((c >> 6) & 0x3f);
      out[pos++] = 0x80 | (c & 0x3f);
    } else {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c >= 0xdc00 || d < 0xdc00 || d > 0xdfff) return -1;
      c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
      i++;
      out[pos++] = 0xf0 | (c >> 18);
      out[pos++] = 0x80 | ((c >> 12) & 0x3f);
      out[pos++] = 0x80 | ((c >> 6) & 0x3f);
      out[pos++] = 0x80 | (c & 0x3f);
    }
  }
  return pos;
}

/** True when `s` holds an unpaired UTF-16 surrogate (TextEncoder would turn it into U+FFFD). */
export function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c >= 0xdc00) return true;
    const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    if (d < 0xdc00 || d > 0xdfff) return true;
    i++;
  }
  return false;
}

/**
 * Index of the first byte of `bytes[start, end)` that makes it invalid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or -1 when the range is valid.
 */
export function invalidUtf8At(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let i = start;
  while (i < end) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + n >= end) return i; // truncated sequence
    const c1 = bytes[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= n; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += n + 1;
  }
  return -1;
}

function arg(message: string): HQQError {
  return new HQQError('INVALID_ARGUMENT', message);
}

const INT_RANGES: Readonly<Record<'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32', [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffff_ffff],
  i32: [-0x8000_0000, 0x7fff_ffff],
};
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function intValue(type: keyof typeof INT_RANGES, v: number): { type: GGUFNumberType; value: number } {
  const [lo, hi] = INT_RANGES[type];
  if (!Number.isInteger(v) || v < lo || v > hi) throw arg(`ggufValue.${type}(${v}): a ${type} is an integer in [${lo}, ${hi}]`);
  return { type, value: v };
}

function bigValue(type: GGUFBigIntType, v: bigint | number): { type: GGUFBigIntType; value: bigint } {
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw arg(`ggufValue.${type}(${v}): pass a bigint or a safe integer`);
  const b = BigInt(v);
  const [lo, hi] = type === 'u64' ? [0n, U64_MAX] : [I64_MIN, I64_MAX];
  if (b < lo || b > hi) throw arg(`ggufValue.${type}(${b}): a ${type} is in [${lo}, ${hi}]`);
  return { type, value: b };
}

const TYPED_ARRAY_CTORS = {
  u8: Uint8Array,
  i8: Int8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  f32: Float32Array,
  f64: Float64Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
} as const;

/** The typed-array constructor used for arrays of `itemType`. */
export function typedArrayFor<K extends keyof GGUFTypedArrays>(itemType: K): (typeof TYPED_ARRAY_CTORS)[K] {
  return TYPED_ARRAY_CTORS[itemType];
}

/** Builders for typed metadata values; each checks its argument (INVALID_ARGUMENT). */
export const ggufValue = Object.freeze({
  /** A u8: an integer in [0, 255]. */
  u8: (v: number) => intValue('u8', v),
  /** An i8: an integer in [-128, 127]. */
  i8: (v: number) => intValue('i8', v),
  /** A u16: an integer in [0, 65535]. */
  u16: (v: number) => intValue('u16', v),
  /** An i16: an integer in [-32768, 32767]. */
  i16: (v: number) => intValue('i16', v),
  /** A u32: an integer in [0, 2^32 - 1] (e.g. `general.alignment`, `general.file_type`). */
  u32: (v: number) => intValue('u32', v),
  /** An i32: an integer in [-2^31, 2^31 - 1]. */
  i32: (v: number) => intValue('i32', v),
  /** An f32: the number rounded to float32 (`Math.fround`), as the file will hold it. */
  f32(v: number): GGUFValue {
    if (typeof v !== 'number') throw arg(`ggufValue.f32: ${String(v)} is not a number`);
    return { type: 'f32', value: Math.fround(v) };
  },
  /** An f64. */
  f64(v: number): GGUFValue {
    if (typeof v !== 'number') throw arg(`ggufValue.f64: ${String(v)} is not a number`);
    return { type: 'f64', value: v };
  },
  /** A u64: a bigint (or safe integer) in [0, 2^64 - 1], held as a bigint. */
  u64: (v: bigint | number) => bigValue('u64', v),
  /** An i64: a bigint (or safe integer) in [-2^63, 2^63 - 1], held as a bigint. */
  i64: (v: bigint | number) => bigValue('i64', v),
  /** A bool. */
  bool(v: boolean): GGUFValue {
    if (typeof v !== 'boolean') throw arg(`ggufValue.bool: ${String(v)} is not a boolean`);
    return { type: 'bool', value: v };
  },
  /** A string, written as UTF-8 (a lone UTF-16 surrogate, which has none, is refused). */
  string(v: string): GGUFValue {
    if (typeof v !== 'string') throw arg(`ggufValue.string: a ${typeof v} is not a string`);
    if (hasLoneSurrogate(v)) throw arg('ggufValue.string: the string holds a lone UTF-16 surrogate, which has no UTF-8 encoding');
    return { type: 'string', value: v };
  },
  /** An array of strings (a list is kept as is, an iterable is encoded once). */
  strings(v: Iterable<string> | GGUFStringList): GGUFArray {
    return { type: 'array', itemType: 'string', items: v instanceof GGUFStringList ? v : GGUFStringList.from(v) };
  },
  /** A numeric array of `itemType`; the values are range-checked and copied into the typed array. */
  numbers<K extends keyof GGUFTypedArrays>(itemType: K, values: ArrayLike<number> | ArrayLike<bigint>): GGUFArray {
    const Ctor = TYPED_ARRAY_CTORS[itemType];
    if (!Ctor) throw arg(`ggufValue.numbers: ${JSON.stringify(itemType)} is not a numeric GGUF type; use one of ${Object.keys(TYPED_ARRAY_CTORS).join(', ')}`);
    const n = values.length;
    const big = itemType === 'u64' || itemType === 'i64';
    const out = new (Ctor as unknown as new (n: number) => GGUFTypedArrays[K])(n);
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      if (big) (out as BigInt64Array)[i] = bigValue(itemType as GGUFBigIntType, v).value;
      else if (itemType === 'f32' || itemType === 'f64') {
        if (typeof v !== 'number') throw arg(`ggufValue.numbers(${itemType}): element ${i} is not a number`);
        (out as Float64Array)[i] = v;
      } else {
        if (typeof v !== 'number') throw arg(`ggufValue.numbers(${itemType}): element ${i} is not a number`);
        (out as Int32Array)[i] = intValue(itemType as keyof typeof INT_RANGES, v).value;
      }
    }
    return { type: 'array', itemType, items: out } as GGUFArray;
  },
  /** An array of bools (copied). */
  bools(values: readonly boolean[]): GGUFArray {
    values.forEach((v, i) => {
      if (typeof v !== 'boolean') throw arg(`ggufValue.bools: element ${i} is not a boolean`);
    });
    return { type: 'array', itemType: 'bool', items: values.slice() };
  },
  /** An array of arrays. */
  arrays(values: readonly GGUFArray[]): GGUFArray {
    values.forEach((v, i) => {
      if (!v || v.type !== 'array') throw arg(`ggufValue.arrays: element ${i} is not a GGUF array value`);
    });
    return { type: 'array', itemType: 'array', items: values.slice() };
  },
});

/** Number of elements of an array value. */
export function ggufArrayLength(a: GGUFArray): number {
  return a.items.length;
}

/**
 * A copy of `metadata` with `changes` applied: a key already present keeps its position and gets
 * the new value, a new key is appended, a key mapped to `null` is removed. The values themselves are
 * shared (they are treated as immutable).
 */
export function withMetadata(
  metadata: ReadonlyMap<string, GGUFValue>,
  changes: ReadonlyMap<string, GGUFValue | null> | Readonly<Record<string, GGUFValue | null>>,
): GGUFMetadata {
  const out: GGUFMetadata = new Map(metadata);
  const entries = changes instanceof Map ? [...changes.entries()] : Object.entries(changes);
  for (const [k, v] of entries) {
    if (v === null) out.delete(k);
    else out.set(k, v);
  }
  return out;
}

function describeValue(v: GGUFValue): string {
  return v.type === 'array' ? `an array of ${v.itemType} (${v.items.length} elements)` : `a ${v.type}`;
}

function badKey(fileName: string | undefined, key: string, message: string): HQQError {
  return new HQQError('BAD_FILE', `${fileName ? `${fileName}: ` : ''}metadata key ${JSON.stringify(key)}: ${message}`);
}

/**
 * Integer value of `key` (any integer value type; a bigint outside the safe range is BAD_FILE), or
 * undefined when absent. `elementOfArray`: accept an integer array too and return this element
 * (some models store per-layer values, e.g. head_count_kv, as arrays).
 */
export function metadataInteger(
  metadata: ReadonlyMap<string, GGUFValue>,
  key: string,
  options: { fileName?: string; elementOfArray?: number } = {},
): number | undefined {
  const v = metadata.get(key);
  if (v === undefined) return undefined;
  let raw: number | bigint | undefined;
  if (v.type === 'array' && options.elementOfArray !== undefined && v.itemType !== 'string' && v.itemType !== 'array' && v.itemType !== 'bool' && v.itemType !== 'f32' && v.itemType !== 'f64') {
    if (v.items.length <= options.elementOfArray) {
      throw badKey(options.fileName, key, `the array has ${v.items.length} elements, element ${options.elementOfArray} is needed`);
    }
    raw = v.items[options.elementOfArray];
  } else if (v.type !== 'array' && v.type !== 'string' && v.type !== 'bool' && v.type !== 'f32' && v.type !== 'f64') {
    raw = v.value;
  } else {
    throw badKey(options.fileName, key, `is ${describeValue(v)}, but an integer is expected`);
  }
  if (typeof raw === 'bigint') {
    if (raw > BigInt(Number.MAX_SAFE_INTEGER) || raw < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw badKey(options.fileName, key, `${raw} is outside the safe integer range`);
    }
    return Number(raw);
  }
  return raw;
}

/** String value of `key`, or undefined when absent; another type is BAD_FILE. */
export function metadataString(metadata: ReadonlyMap<string, GGUFValue>, key: string, options: { fileName?: string } = {}): string | undefined {
  const v = metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'string') throw badKey(options.fileName, key, `is ${describeValue(v)}, but a string is expected`);
  return v.value;
}

/** String-array value of `key`, or undefined when absent; another type is BAD_FILE. */
export function metadataStrings(metadata: ReadonlyMap<string, GGUFValue>, key: string, options: { fileName?: string } = {}): GGUFStringList | undefined {
  const v = metadata.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'array' || v.itemType !== 'string') throw badKey(options.fileName, key, `is ${describeValue(v)}, but an array of strings is expected`);
  return v.items;
}
