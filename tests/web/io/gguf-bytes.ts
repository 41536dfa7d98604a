/**
 * A hand-rolled GGUF byte builder for the tests, independent of `planGGUF` (so round-trip and
 * corpus tests do not check the writer against itself): little-endian fields concatenated.
 */
const enc = new TextEncoder();

export function cat(...parts: (Uint8Array | number[])[]): Uint8Array<ArrayBuffer> {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

export function u64(v: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)), true);
  return b;
}

export function f32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return b;
}

/** A GGUF string: u64 length + bytes (a JS string is UTF-8 encoded; bytes are used as given). */
export function str(s: string | Uint8Array, lengthOverride?: number | bigint): Uint8Array {
  const b = typeof s === 'string' ? enc.encode(s) : s;
  return cat(u64(lengthOverride ?? b.byteLength), b);
}

export const T = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;

/** A key-value pair: key string, u32 value type, payload. */
export function kv(key: string | Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  return cat(str(key), u32(type), payload);
}

/** An array payload: u32 item type, u64 count, items. */
export function arr(itemType: number, count: number | bigint, items: Uint8Array = new Uint8Array(0)): Uint8Array {
  return cat(u32(itemType), u64(count), items);
}

/** A tensor info: name, n_dims, ne..., type, offset. */
export function tinfo(name: string | Uint8Array, ne: (number | bigint)[], type: number, offset: number | bigint, nDims = ne.length): Uint8Array {
  return cat(str(name), u32(nDims), ...ne.map((d) => u64(d)), u32(type), u64(offset));
}

export interface RawFile {
  version?: number;
  /** Override the counts written (default: the number of kvs / infos). */
  nTensors?: number | bigint;
  nKv?: number | bigint;
  kvs?: Uint8Array[];
  infos?: Uint8Array[];
  /** Alignment used to pad the header (default 32). */
  alignment?: number;
  /** Bytes of tensor data after the padded header (a counting pattern). */
  data?: number;
  /** Do not pad the header. */
  noPad?: boolean;
  magic?: string;
}

/** A whole file: magic, version, counts, kvs, infos, zero padding to the alignment, data. */
export function gguf(f: RawFile): Uint8Array<ArrayBuffer> {
  const kvs = f.kvs ?? [];
  const infos = f.infos ?? [];
  const head = cat(enc.encode(f.magic ?? 'GGUF'), u32(f.version ?? 3), u64(f.nTensors ?? infos.length), u64(f.nKv ?? kvs.length), ...kvs, ...infos);
  const align = f.alignment ?? 32;
  const padded = f.noPad ? head.length : Math.ceil(head.length / align) * align;
  const data = f.data ?? 0;
  const out = new Uint8Array(padded + data);
  out.set(head);
  for (let i = 0; i < data; i++) out[padded + i] = (i * 7 + 3) & 0xff;
  return out;
}

/** The header length (magic to the end of the infos) of `f`, unpadded. */
export function headerLength(f: RawFile): number {
  return gguf({ ...f, data: 0, noPad: true }).length;
}
