/**
 * The reference `HQQLinear` state-dict layout (HQQ-SPEC.md section 5) for one quantized weight:
 * key names, dtypes and shapes, and the bytes of the small config tensors. Browser-safe; no
 * numerics here (scale/zero are converted to float16/bfloat16 by the wasm core in the workers).
 *
 * `<name>.weight` becomes, with prefix `<name>.`:
 *   W_q           U8 [packed rows, cols]  (I32 for 3-bit, `3bit_32`)
 *   scale, zero   compute dtype, [n_groups, 1] (axis 1) or [1, n_groups] (axis 0)
 *   nbits, group_size, axis              I32 0-d (nbits 1.58: F32 0-d, see below)
 *   shape                                I64 [2]
 *   packing, unpack_view_dtype, compute_dtype   U8 [len] ASCII
 *   view_as_float, quant_scale, quant_zero, offload_meta, channel_wise, optimize, round_zero   U8 0-d
 *   encoded_state_dict, stores_quant_config     U8 0-d, value 1
 *
 * 1.58-bit: the reference encodes a Python float config value as a float32 0-d tensor
 * (`encode_safetensor_type`), so `nbits` = 1.58 is stored as F32 0-d holding 1.58f; every other
 * nbits is an int and stored as I32 like the reference file. Readers here accept both.
 */
import { SUPPORTED_NBITS, type Nbits, type PackingName } from '../engine.js';
import { HQQError } from '../errors.js';
import {
  DTYPE_SIZES, MAX_CONFIG_STRING_BYTES, readAsciiString, readIntArray, readScalarInt, type DType, type TensorInfo,
} from '../io/safetensors.js';
import type { PlanEntry } from '../io/writer.js';

/** The dtype an HQQLinear layer stores its scale and zero in (and computes in): the reference's `compute_dtype`. */
export type ComputeDtype = 'float16' | 'bfloat16' | 'float32';
export const COMPUTE_DTYPES: readonly ComputeDtype[] = ['float16', 'bfloat16', 'float32'];

/** safetensors dtype of scale/zero for a compute dtype. */
export function computeDtypeToDType(c: ComputeDtype): DType {
  return c === 'float16' ? 'F16' : c === 'bfloat16' ? 'BF16' : 'F32';
}

/** The per-layer quantization config as it is stored. */
export interface LayerQuantConfig {
  /** Bits per weight. */
  nbits: Nbits;
  /** Values per quantization group. */
  groupSize: number;
  /** Grouping axis (see `QuantizeOptions.axis`). */
  axis: 0 | 1;
  /** Whether the HQQ solver ran (stored as the layer's `optimize` flag). */
  optimize: boolean;
  /** Whether the initial zero point was rounded (the layer's `round_zero`). */
  roundZero: boolean;
  /** dtype of `scale` and `zero` (and of a converted bias). */
  computeDtype: ComputeDtype;
}

/** The key suffixes written per layer, in output order (big tensors first, then alphabetical). */
export const HQQLINEAR_KEYS = [
  'W_q', 'scale', 'zero',
  'axis', 'channel_wise', 'compute_dtype', 'encoded_state_dict', 'group_size', 'nbits', 'offload_meta',
  'optimize', 'packing', 'quant_scale', 'quant_zero', 'round_zero', 'shape', 'stores_quant_config',
  'unpack_view_dtype', 'view_as_float',
] as const;
export type HQQLinearKey = (typeof HQQLINEAR_KEYS)[number];

export function packingFor(nbits: Nbits): PackingName {
  switch (nbits) {
    case 8: case 6: case 5: return '8bit_u8';
    case 4: return '4bit_u8';
    case 3: return '3bit_32';
    case 2: case 1.58: return '2bit_u8';
    case 1: return '1bit_u8';
  }
}

/** Rows of the packed matrix for a grouped matrix with `rows` rows (see HQQ-SPEC.md section 4). */
export function packedRows(nbits: Nbits, rows: number): number {
  switch (packingFor(nbits)) {
    case '8bit_u8': return rows;
    case '4bit_u8': return rows / 2;
    case '3bit_32': return Math.ceil(rows / 10);
    case '2bit_u8': return rows / 4;
    case '1bit_u8': return rows / 8;
  }
}

/** Row-count divisor the packing needs (4-bit: 2, 2-bit: 4, 1-bit: 8; otherwise 1). */
export function packingRowMultiple(nbits: Nbits): number {
  switch (packingFor(nbits)) {
    case '4bit_u8': return 2;
    case '2bit_u8': return 4;
    case '1bit_u8': return 8;
    default: return 1;
  }
}

/** [rows, cols] of the grouped matrix for `numel` values. */
export function groupedShapeOf(numel: number, groupSize: number, axis: 0 | 1): [number, number] {
  return axis === 1 ? [numel / groupSize, groupSize] : [groupSize, numel / groupSize];
}

/** Why `shape` cannot be quantized with (nbits, groupSize, axis), or undefined when it can. */
export function configProblem(shape: readonly number[], nbits: Nbits, groupSize: number, axis: 0 | 1): string | undefined {
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel === 0) return 'has no elements';
  if (numel % groupSize !== 0) return `group size ${groupSize} does not divide its ${numel} elements`;
  const [rows] = groupedShapeOf(numel, groupSize, axis);
  const m = packingRowMultiple(nbits);
  if (rows % m !== 0) {
    return `the grouped matrix has ${rows} rows, not a multiple of ${m} as ${packingFor(nbits)} packing (${nbits}-bit) needs`;
  }
  return undefined;
}

/** The output entries (name, dtype, shape) replacing `<prefix>weight` of shape `shape`. */
export function hqqLinearEntries(prefix: string, shape: readonly number[], cfg: LayerQuantConfig): PlanEntry[] {
  const numel = shape.reduce((a, b) => a * b, 1);
  const [rows, cols] = groupedShapeOf(numel, cfg.groupSize, cfg.axis);
  const nGroups = numel / cfg.groupSize;
  const packing = packingFor(cfg.nbits);
  const sd = computeDtypeToDType(cfg.computeDtype);
  const strings = configStrings(cfg);
  const perGroup = cfg.axis === 1 ? [nGroups, 1] : [1, nGroups];
  const shapes: Record<HQQLinearKey, { dtype: DType; shape: number[] }> = {
    W_q: { dtype: packing === '3bit_32' ? 'I32' : 'U8', shape: [packedRows(cfg.nbits, rows), cols] },
    scale: { dtype: sd, shape: perGroup },
    zero: { dtype: sd, shape: perGroup },
    axis: { dtype: 'I32', shape: [] },
    channel_wise: { dtype: 'U8', shape: [] },
    compute_dtype: { dtype: 'U8', shape: [strings.compute_dtype.length] },
    encoded_state_dict: { dtype: 'U8', shape: [] },
    group_size: { dtype: 'I32', shape: [] },
    nbits: { dtype: cfg.nbits === 1.58 ? 'F32' : 'I32', shape: [] },
    offload_meta: { dtype: 'U8', shape: [] },
    optimize: { dtype: 'U8', shape: [] },
    packing: { dtype: 'U8', shape: [strings.packing.length] },
    quant_scale: { dtype: 'U8', shape: [] },
    quant_zero: { dtype: 'U8', shape: [] },
    round_zero: { dtype: 'U8', shape: [] },
    shape: { dtype: 'I64', shape: [2] },
    stores_quant_config: { dtype: 'U8', shape: [] },
    unpack_view_dtype: { dtype: 'U8', shape: [strings.unpack_view_dtype.length] },
    view_as_float: { dtype: 'U8', shape: [] },
  };
  return HQQLINEAR_KEYS.map((k) => ({ name: prefix + k, dtype: shapes[k].dtype, shape: shapes[k].shape }));
}

function configStrings(cfg: LayerQuantConfig): { packing: string; unpack_view_dtype: string; compute_dtype: string } {
  return {
    packing: packingFor(cfg.nbits),
    unpack_view_dtype: cfg.nbits === 3 ? 'torch.int32' : 'torch.uint8',
    compute_dtype: `torch.${cfg.computeDtype}`,
  };
}

function ascii(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function i32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

function f32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return b;
}

/**
 * Bytes of every config tensor of a layer (all keys but W_q/scale/zero), keyed by suffix. The
 * weight shape must be 2-D (the reference stores `shape` as I64 [2]).
 */
export function hqqLinearConfigBytes(shape: readonly number[], cfg: LayerQuantConfig): Map<HQQLinearKey, Uint8Array> {
  if (shape.length !== 2) throw new HQQError('INVALID_ARGUMENT', `HQQLinear layers hold 2-D weights; got shape [${shape.join(', ')}]`);
  const s = configStrings(cfg);
  const shapeBytes = new Uint8Array(16);
  const dv = new DataView(shapeBytes.buffer);
  dv.setBigInt64(0, BigInt(shape[0]!), true);
  dv.setBigInt64(8, BigInt(shape[1]!), true);
  const flag = (b: boolean) => new Uint8Array([b ? 1 : 0]);
  return new Map<HQQLinearKey, Uint8Array>([
    ['axis', i32(cfg.axis)],
    ['channel_wise', flag(true)],
    ['compute_dtype', ascii(s.compute_dtype)],
    ['encoded_state_dict', flag(true)],
    ['group_size', i32(cfg.groupSize)],
    ['nbits', cfg.nbits === 1.58 ? f32(1.58) : i32(cfg.nbits)],
    ['offload_meta', flag(false)],
    ['optimize', flag(cfg.optimize)],
    ['packing', ascii(s.packing)],
    ['quant_scale', flag(false)],
    ['quant_zero', flag(false)],
    ['round_zero', flag(cfg.roundZero)],
    ['shape', shapeBytes],
    ['stores_quant_config', flag(true)],
    ['unpack_view_dtype', ascii(s.unpack_view_dtype)],
    ['view_as_float', flag(false)],
  ]);
}

/** Total output bytes of one quantized layer (all HQQLinear keys). */
export function hqqLinearBytes(entries: readonly PlanEntry[]): number {
  return entries.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1) * DTYPE_SIZES[e.dtype], 0);
}

// ------------------------------------------------------------------------------------------------
// Reading HQQLinear layers back (inspect, dequantize).

/** The minimal reader surface needed here (an `openSafetensors` result). */
interface TensorReader {
  /** The file's `fileName` (for messages) and its `tensors`. */
  header: { fileName: string; tensors: TensorInfo[] };
  /** Looks a tensor up by name. */
  tensor(name: string): TensorInfo | undefined;
  /** Reads a whole tensor's bytes. */
  readTensor(t: TensorInfo): Promise<Uint8Array>;
}

/** An HQQLinear layer found in a safetensors file (`readHQQLayers`): its stored config and tensors. */
export interface HQQLayerInfo {
  /** `<name>.` */
  prefix: string;
  /** Bits per weight (the layer's `nbits`). */
  nbits: Nbits;
  /** Values per group (`group_size`). */
  groupSize: number;
  /** Grouping axis (`axis`). */
  axis: 0 | 1;
  /** Original weight shape. */
  shape: [number, number];
  /** The reference packing name (`packing`, or the one `nbits` implies when absent): '4bit_u8', '3bit_32'... */
  packing: string;
  /** The stored `compute_dtype` string ('torch.float16', ...), '' when the layer has none. */
  computeDtype: string;
  /** The stored `optimize` flag; undefined when the layer has none. */
  optimize?: boolean;
  /** The stored `round_zero` flag; undefined when the layer has none. */
  roundZero?: boolean;
  /** The stored keys of this layer (all present HQQLinear keys). */
  keys: string[];
  /** The packed levels, `<prefix>W_q`. */
  wq: TensorInfo;
  /** Per-group scales, `<prefix>scale`. */
  scale: TensorInfo;
  /** Per-group zero points, `<prefix>zero`. */
  zero: TensorInfo;
}

const FLOAT_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16'];
const REQUIRED: readonly HQQLinearKey[] = ['W_q', 'scale', 'zero', 'nbits', 'group_size', 'axis', 'shape'];

/** Finds every HQQLinear layer (a `<prefix>W_q` with its siblings) and reads its config. */
export async function readHQQLayers(file: TensorReader): Promise<HQQLayerInfo[]> {
  const fileName = file.header.fileName;
  const bad = (t: TensorInfo, what: string) => new HQQError('BAD_FILE', `${fileName}: tensor ${JSON.stringify(t.name)}: ${what}; the quantized layer is corrupt`);
  const out: HQQLayerInfo[] = [];
  for (const t of file.header.tensors) {
    if (!t.name.endsWith('.W_q') && t.name !== 'W_q') continue;
    const prefix = t.name.slice(0, -'W_q'.length);
    const get = (k: string) => file.tensor(prefix + k);
    const missing = REQUIRED.filter((k) => !get(k));
    if (missing.length > 0) {
      throw new HQQError('BAD_FILE', `${fileName}: layer ${JSON.stringify(prefix)} has W_q but no ${missing.map((k) => prefix + k).join(', ')}; not a complete HQQLinear layer`);
    }
    /** Reads config tensor `k`, refusing (before reading) one larger than such a value can be. */
    const read = async (k: string, maxBytes: number, what: string) => {
      const info = get(k)!;
      if (info.byteLength > maxBytes) {
        throw bad(info, `${info.dtype} [${info.shape.join(', ')}] is ${info.byteLength} bytes, more than a ${what} can hold (at most ${maxBytes})`);
      }
      return { info, bytes: await file.readTensor(info) };
    };
    /** An integer scalar (any integer dtype, shape [] or [1]). */
    const int = async (k: string): Promise<number> => {
      const { info, bytes } = await read(k, 8, 'scalar config value');
      return readScalarInt(info, bytes, fileName);
    };
    const str = async (k: string): Promise<string | undefined> => {
      if (!get(k)) return undefined;
      const { info, bytes } = await read(k, MAX_CONFIG_STRING_BYTES, 'config string');
      return readAsciiString(info, bytes, fileName);
    };
    // nbits: I32 for integer widths; the reference stores the Python float 1.58 as F32.
    const nbitsT = await read('nbits', 8, 'scalar config value');
    let rawNbits: number;
    if (nbitsT.info.dtype === 'F32' || nbitsT.info.dtype === 'F64') {
      if (nbitsT.info.numel !== 1) throw bad(nbitsT.info, `shape [${nbitsT.info.shape.join(', ')}] holds ${nbitsT.info.numel} elements but a scalar config value must hold exactly 1`);
      const dv = new DataView(nbitsT.bytes.buffer, nbitsT.bytes.byteOffset, nbitsT.bytes.byteLength);
      rawNbits = nbitsT.info.dtype === 'F32' ? dv.getFloat32(0, true) : dv.getFloat64(0, true);
    } else {
      rawNbits = readScalarInt(nbitsT.info, nbitsT.bytes, fileName);
    }
    const nbits = (Math.abs(rawNbits - 1.58) < 1e-3 ? 1.58 : rawNbits) as Nbits;
    if (!(SUPPORTED_NBITS as readonly number[]).includes(nbits)) {
      throw bad(get('nbits')!, `nbits is ${rawNbits}, not a supported bit width (${SUPPORTED_NBITS.join(', ')})`);
    }
    const axis = await int('axis');
    if (axis !== 0 && axis !== 1) throw bad(get('axis')!, `axis is ${axis}; it must be 0 or 1`);
    const shapeT = await read('shape', 16, 'weight shape');
    const dims = readIntArray(shapeT.info, shapeT.bytes, fileName);
    if (dims.length !== 2) throw bad(shapeT.info, `the weight shape must be I64 [2], got ${shapeT.info.dtype} [${shapeT.info.shape.join(', ')}]`);
    if (!dims.every((d) => Number.isSafeInteger(d) && d > 0) || !Number.isSafeInteger(dims[0]! * dims[1]!)) {
      throw bad(shapeT.info, `the weight shape [${dims.join(', ')}] must hold two positive dimensions`);
    }
    const shape: [number, number] = [dims[0]!, dims[1]!];
    const groupSize = await int('group_size');
    if (groupSize <= 0) throw bad(get('group_size')!, `group_size is ${groupSize}; it must be a positive integer`);
    const problem = configProblem(shape, nbits, groupSize, axis);
    if (problem) throw bad(get('group_size')!, `group_size ${groupSize} (nbits ${nbits}, axis ${axis}) does not fit the weight shape [${shape.join(', ')}]: ${problem}`);
    const packing = (await str('packing')) ?? packingFor(nbits);
    if (packing !== packingFor(nbits)) throw bad(get('packing')!, `packing ${JSON.stringify(packing)} does not match nbits ${nbits}, which is packed as ${JSON.stringify(packingFor(nbits))}`);
    // W_q, scale and zero must have the sizes this config implies (what dequantize relies on).
    const wq = get('W_q')!;
    const wqWant = hqqLinearEntries(prefix, shape, { nbits, groupSize, axis, optimize: true, roundZero: false, computeDtype: 'float32' })[0]!;
    if (wq.dtype !== wqWant.dtype || wq.shape.length !== 2 || wq.shape[0] !== wqWant.shape[0] || wq.shape[1] !== wqWant.shape[1]) {
      throw bad(wq, `${wq.dtype} [${wq.shape.join(', ')}] does not match the layer config: nbits ${nbits}, group_size ${groupSize}, axis ${axis} and shape [${shape.join(', ')}] pack as ${wqWant.dtype} [${wqWant.shape.join(', ')}] (${packing})`);
    }
    const nGroups = (shape[0] * shape[1]) / groupSize;
    for (const k of ['scale', 'zero'] as const) {
      const info = get(k)!;
      if (!FLOAT_DTYPES.includes(info.dtype)) throw bad(info, `dtype ${info.dtype}; ${k} must be F32, F16 or BF16`);
      if (info.numel !== nGroups) throw bad(info, `${info.dtype} [${info.shape.join(', ')}] holds ${info.numel} values but the layer has ${nGroups} groups (shape [${shape.join(', ')}], group_size ${groupSize})`);
    }
    const flag = async (k: string) => (get(k) ? (await int(k)) !== 0 : undefined);
    const keys = HQQLINEAR_KEYS.filter((k) => get(k)).map((k) => prefix + k);
    out.push({
      prefix, nbits, groupSize, axis, shape, packing,
      computeDtype: (await str('compute_dtype')) ?? '',
      optimize: await flag('optimize'),
      roundZero: await flag('round_zero'),
      keys, wq, scale: get('scale')!, zero: get('zero')!,
    });
  }
  return out;
}
