/**
 * safetensors writer core (browser-safe): plans the layout and builds the header bytes. Tensors are
 * laid out in the given order, back to back from data offset 0. The header JSON is built by hand
 * (not via a JS object) so the order is kept exactly and names like "__proto__" or "0" stay as they
 * are; it is padded with spaces (0x20) so that 8 + N is a multiple of 8 and the data section starts
 * 8-byte aligned.
 */
import { HQQError } from '../errors.js';
import type { FileLayout } from './layout.js';
import { DTYPE_SIZES, MAX_HEADER_LENGTH, isDType, type DType, type TensorInfo } from './safetensors.js';

/** One tensor for `planSafetensors`. */
export interface PlanEntry {
  /** The tensor's name (any string; it is written into the header JSON as is, escaped). */
  name: string;
  /** Its element type. */
  dtype: DType;
  /** Its dims, PyTorch order; `[]` for a scalar. */
  shape: readonly number[];
  /** Optional: when given it must equal elements x dtype size (a cross-check). */
  byteLength?: number;
}

/** The layout of a safetensors file: header bytes and where each tensor goes. */
export interface SafetensorsPlan extends FileLayout {
  /** The 8-byte length prefix followed by the padded header JSON. */
  headerBytes: Uint8Array;
  /** 8 + N: absolute offset of the data section. */
  dataOffset: number;
  /** Size of the whole file. */
  totalSize: number;
  /** Absolute file offsets of every tensor, [`begin`, `end`), in plan order. */
  offsets: Map<string, { begin: number; end: number }>;
  /** The same layout as reader-style TensorInfo entries, in plan order. */
  tensors: TensorInfo[];
  /** The `__metadata__` written into the header (`{}` writes none). */
  metadata: Record<string, string>;
}

function arg(message: string): HQQError {
  return new HQQError('INVALID_ARGUMENT', message);
}

/** The metadata as ordered pairs, checked (values must be strings). */
function metadataPairs(metadata: Record<string, string> | undefined): [string, string][] {
  const metaPairs: [string, string][] = [];
  if (metadata === undefined) return metaPairs;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw arg('planSafetensors: metadata must be an object mapping strings to strings');
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') {
      throw arg(`planSafetensors: metadata key ${JSON.stringify(k)} has a ${typeof v} value; safetensors metadata values must be strings (use String(value) or JSON.stringify)`);
    }
    metaPairs.push([k, v]);
  }
  return metaPairs;
}

/** Validates one entry and returns its element and byte counts. `t` names it in messages. */
function entrySize(e: PlanEntry, t: () => string): { numel: number; bytes: number } {
  const dtype: DType = e.dtype;
  if (!isDType(dtype)) throw arg(`${t()}: unknown dtype ${JSON.stringify(dtype)}; use one of ${Object.keys(DTYPE_SIZES).join(', ')}`);
  const shape: readonly number[] = e.shape;
  if (!Array.isArray(shape as unknown)) throw arg(`${t()}: shape must be an array of non-negative integers ([] for a scalar)`);
  // Element and byte counts in doubles while they stay exact (below 2^53), BigInt beyond.
  let numelF = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (!Number.isSafeInteger(d) || d < 0) throw arg(`${t()}: shape[${i}] is ${d}; dimensions must be non-negative integers`);
    numelF *= d;
  }
  const size = DTYPE_SIZES[dtype];
  let numel: number | bigint = numelF;
  let bytes = numelF * size;
  if (!Number.isSafeInteger(bytes)) {
    const numelBig = shape.reduce((a, d) => a * BigInt(d), 1n);
    const bytesBig = numelBig * BigInt(size);
    if (bytesBig > BigInt(Number.MAX_SAFE_INTEGER)) throw arg(`${t()}: ${e.dtype} [${e.shape.join(', ')}] is ${bytesBig} bytes, which overflows 2^53-1`);
    numel = numelBig;
    bytes = Number(bytesBig);
  }
  if (e.byteLength !== undefined && e.byteLength !== bytes) {
    throw arg(`${t()}: byteLength ${e.byteLength} does not match ${e.dtype} [${e.shape.join(', ')}], which needs ${bytes} bytes (${numel} elements x ${size})`);
  }
  return { numel: Number(numel), bytes };
}

/**
 * The header JSON, encoded piece by piece: a header of a million entries is never one string
 * of every entry (nor an array of a million strings) on top of its bytes.
 */
class HeaderText {
  readonly #encoder = new TextEncoder();
  readonly #pieces: Uint8Array[] = [];
  #parts: string[] = [];
  #byteLength = 0;

  add(part: string): void {
    this.#parts.push(part);
    if (this.#parts.length >= 4096) this.#flush();
  }

  #flush(): void {
    const bytes = this.#encoder.encode(this.#parts.join(''));
    this.#pieces.push(bytes);
    this.#byteLength += bytes.byteLength;
    this.#parts = [];
  }

  /** Its length in bytes, once every part is added. */
  finish(): number {
    this.#flush();
    return this.#byteLength;
  }

  /** Copies the text into `out` at `offset` (after `finish`). */
  writeTo(out: Uint8Array, offset: number): void {
    for (const p of this.#pieces) {
      out.set(p, offset);
      offset += p.byteLength;
    }
  }
}

/** Options of `planSafetensors`. */
export interface PlanSafetensorsOptions {
  /**
   * The caller has checked that no name appears twice (the HQQ planner checks every output name
   * of a model once): the per-file check, a set of every name, is skipped.
   */
  distinctNames?: boolean;
  /** The file the plan is for, named in errors (default: "planSafetensors", for a caller's own plan). */
  fileName?: string;
}

/** The layout's TensorInfo entries, made on first use from the kept entries and their end offsets. */
function layoutTensors(kept: readonly PlanEntry[], ends: readonly number[], dataOffset: number): TensorInfo[] {
  const out: TensorInfo[] = new Array(kept.length);
  let begin = 0;
  for (let i = 0; i < kept.length; i++) {
    const e = kept[i]!;
    const end = ends[i]!;
    const byteLength = end - begin;
    out[i] = { name: e.name, dtype: e.dtype, shape: e.shape as number[], begin: dataOffset + begin, end: dataOffset + end, byteLength, numel: byteLength / DTYPE_SIZES[e.dtype] };
    begin = end;
  }
  return out;
}

/** Defines `obj[key]` as `make()`, computed on first read and then kept as a plain data property. */
function lazyField<T extends object>(obj: T, key: keyof T & string, make: () => unknown): void {
  Object.defineProperty(obj, key, {
    enumerable: true, configurable: true,
    get() {
      const value = make();
      Object.defineProperty(obj, key, { value, enumerable: true, configurable: true, writable: true });
      return value;
    },
  });
}

/**
 * Computes offsets and the header for a safetensors file holding `entries` in this order (an
 * array, or any iterable of entries). A shape that is frozen is kept as it is; others are copied.
 * `tensors` and `offsets` are made on first read (a dry run of a million-tensor header never
 * needs them); they describe the entries as they were at the call.
 */
export function planSafetensors(entries: Iterable<PlanEntry>, metadata?: Record<string, string>, options: PlanSafetensorsOptions = {}): SafetensorsPlan {
  if (entries === null || typeof entries !== 'object' || typeof (entries as Iterable<PlanEntry>)[Symbol.iterator] !== 'function') {
    throw arg('planSafetensors: entries must be an array of {name, dtype, shape}');
  }
  const where = options.fileName ?? 'planSafetensors';
  const metaPairs = metadataPairs(metadata);
  const text = new HeaderText();
  text.add('{');
  if (metaPairs.length > 0) {
    text.add(`"__metadata__":{${metaPairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  }
  const seen = options.distinctNames ? undefined : new Set<string>();
  const kept: PlanEntry[] = []; // the entries, with shapes that cannot change under the plan
  const ends: number[] = []; // each entry's end, relative to the data section
  let pos = 0;
  for (const e of entries) {
    const name = e?.name;
    // An empty name is a valid key: the safetensors reference reads and writes it.
    if (typeof name !== 'string') throw arg(`${where}: tensor name ${JSON.stringify(name)} must be a string`);
    // (messages are built only on failure: a plan can hold a million entries)
    const t = () => `${where}: tensor ${JSON.stringify(name)}`;
    if (name === '__metadata__') throw arg(`${t()}: "__metadata__" is reserved for the metadata block; rename the tensor`);
    if (seen?.has(name)) throw arg(`${t()}: appears twice; tensor names must be unique in a file`);
    seen?.add(name);
    const { bytes } = entrySize(e, t);
    if (pos + bytes > Number.MAX_SAFE_INTEGER) throw arg(`${t()}: the file would exceed 2^53-1 bytes`);
    kept.push(Object.isFrozen(e.shape) ? e : { name, dtype: e.dtype, shape: e.shape.slice() });
    text.add(`${kept.length > 1 || metaPairs.length > 0 ? ',' : ''}${JSON.stringify(name)}:{"dtype":"${e.dtype}","shape":[${e.shape.join(',')}],"data_offsets":[${pos},${pos + bytes}]}`);
    pos += bytes;
    ends.push(pos);
  }
  text.add('}');
  const jsonLength = text.finish();
  const n = Math.ceil(jsonLength / 8) * 8;
  if (n > MAX_HEADER_LENGTH) {
    throw arg(`${where}: the header would be ${n} bytes, over the ${MAX_HEADER_LENGTH}-byte limit readers accept; split the tensors over several shards or shorten the metadata`);
  }
  const headerBytes = new Uint8Array(8 + n);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(n), true);
  text.writeTo(headerBytes, 8);
  headerBytes.fill(0x20, 8 + jsonLength);
  const dataOffset = 8 + n;
  const plan = { headerBytes, dataOffset, totalSize: dataOffset + pos, metadata: Object.fromEntries(metaPairs) } as SafetensorsPlan;
  lazyField(plan, 'tensors', () => layoutTensors(kept, ends, dataOffset));
  // The map's values are the layout's TensorInfo entries (they hold begin and end).
  lazyField(plan, 'offsets', () => new Map(plan.tensors.map((t) => [t.name, t])));
  return plan;
}
