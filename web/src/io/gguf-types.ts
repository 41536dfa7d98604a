/**
 * The GGML tensor types a GGUF file can hold: every id llama.cpp knows (ggml/include/ggml.h,
 * `enum ggml_type`), with the block geometry from ggml.c's type traits (`blck_size`, `type_size`)
 * and the block structs of ggml-common.h. The reader validates any GGUF against this table; the
 * subset hqq-wasm can encode is marked `writable`. Browser-safe.
 *
 * A tensor row of ne[0] weights is ne[0] / blockSize blocks of typeSize bytes each; ne[0] must be a
 * multiple of blockSize. Ids 4, 5 (Q4_2, Q4_3), 31-33 (Q4_0_4_4...) and 36-38 (IQ4_NL_4_4...) were
 * removed from GGML and are refused by its loader; they are not in the table.
 */
import { HQQError } from '../errors.js';

/** The name of a ggml tensor type, as `enum ggml_type` spells it without the `GGML_TYPE_` prefix. */
export type GGMLTypeName =
  | 'F32'
  | 'F16'
  | 'Q4_0'
  | 'Q4_1'
  | 'Q5_0'
  | 'Q5_1'
  | 'Q8_0'
  | 'Q8_1'
  | 'Q2_K'
  | 'Q3_K'
  | 'Q4_K'
  | 'Q5_K'
  | 'Q6_K'
  | 'Q8_K'
  | 'IQ2_XXS'
  | 'IQ2_XS'
  | 'IQ3_XXS'
  | 'IQ1_S'
  | 'IQ4_NL'
  | 'IQ3_S'
  | 'IQ2_S'
  | 'IQ4_XS'
  | 'I8'
  | 'I16'
  | 'I32'
  | 'I64'
  | 'F64'
  | 'IQ1_M'
  | 'BF16'
  | 'TQ1_0'
  | 'TQ2_0'
  | 'MXFP4'
  | 'NVFP4'
  | 'Q1_0'
  | 'Q2_0';

/** A ggml tensor type: its id, names, block geometry and whether hqq-wasm can write it. */
export interface GGMLTypeInfo {
  /** The id stored in a GGUF tensor info (`enum ggml_type`). */
  readonly id: number;
  /** The enum name without the `GGML_TYPE_` prefix, e.g. "Q4_K". */
  readonly name: GGMLTypeName;
  /** The name ggml prints (`ggml_type_name`), e.g. "q4_K"; llama-quantize matches it case-insensitively. */
  readonly ggmlName: string;
  /** Weights per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
  /** `ggml_is_quantized`: a block type (not F32/F16/BF16/F64/I8..I64). */
  readonly quantized: boolean;
  /** hqq-wasm can encode it (and decode it, to requantize). */
  readonly writable: boolean;
}

const QK_K = 256;

// [id, name, ggmlName, blockSize, typeSize, quantized]
const TABLE: readonly [number, GGMLTypeName, string, number, number, boolean][] = [
  [0, 'F32', 'f32', 1, 4, false],
  [1, 'F16', 'f16', 1, 2, false],
  [2, 'Q4_0', 'q4_0', 32, 2 + 16, true],
  [3, 'Q4_1', 'q4_1', 32, 2 + 2 + 16, true],
  [6, 'Q5_0', 'q5_0', 32, 2 + 4 + 16, true],
  [7, 'Q5_1', 'q5_1', 32, 2 + 2 + 4 + 16, true],
  [8, 'Q8_0', 'q8_0', 32, 2 + 32, true],
  [9, 'Q8_1', 'q8_1', 32, 2 + 2 + 32, true],
  [10, 'Q2_K', 'q2_K', QK_K, 2 + 2 + QK_K / 16 + QK_K / 4, true],
  [11, 'Q3_K', 'q3_K', QK_K, 2 + QK_K / 4 + QK_K / 8 + 12, true],
  [12, 'Q4_K', 'q4_K', QK_K, 2 + 2 + 12 + QK_K / 2, true],
  [13, 'Q5_K', 'q5_K', QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2, true],
  [14, 'Q6_K', 'q6_K', QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, true],
  [15, 'Q8_K', 'q8_K', QK_K, 4 + QK_K + (QK_K / 16) * 2, true],
  [16, 'IQ2_XXS', 'iq2_xxs', QK_K, 2 + QK_K / 4, true],
  [17, 'IQ2_XS', 'iq2_xs', QK_K, 2 + QK_K / 4 + QK_K / 32, true],
  [18, 'IQ3_XXS', 'iq3_xxs', QK_K, 2 + QK_K / 4 + QK_K / 8, true],
  [19, 'IQ1_S', 'iq1_s', QK_K, 2 + QK_K / 8 + QK_K / 16, true],
  [20, 'IQ4_NL', 'iq4_nl', 32, 2 + 16, true],
  [21, 'IQ3_S', 'iq3_s', QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4, true],
  [22, 'IQ2_S', 'iq2_s', QK_K, 2 + QK_K / 4 + QK_K / 16, true],
  [23, 'IQ4_XS', 'iq4_xs', QK_K, 2 + 2 + QK_K / 2 + QK_K / 64, true],
  [24, 'I8', 'i8', 1, 1, false],
  [25, 'I16', 'i16', 1, 2, false],
  [26, 'I32', 'i32', 1, 4, false],
  [27, 'I64', 'i64', 1, 8, false],
  [28, 'F64', 'f64', 1, 8, false],
  [29, 'IQ1_M', 'iq1_m', QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32, true],
  [30, 'BF16', 'bf16', 1, 2, false],
  [34, 'TQ1_0', 'tq1_0', QK_K, 2 + QK_K / 64 + (QK_K - (4 * QK_K) / 64) / 5, true],
  [35, 'TQ2_0', 'tq2_0', QK_K, 2 + QK_K / 4, true],
  [39, 'MXFP4', 'mxfp4', 32, 1 + 16, true],
  [40, 'NVFP4', 'nvfp4', 64, 4 + 32, true],
  [41, 'Q1_0', 'q1_0', 128, 2 + 128 / 8, true],
  [42, 'Q2_0', 'q2_0', 64, 2 + 64 / 4, true],
];

/** The types hqq-wasm encodes (cpp/include/hqq/gguf.hpp). */
export const WRITABLE_GGML_TYPES: readonly GGMLTypeName[] = Object.freeze([
  'F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K',
] as GGMLTypeName[]);

/** One past the largest id GGML defines (`GGML_TYPE_COUNT`). */
export const GGML_TYPE_COUNT = 43;

/** Ids GGML once used and removed; files holding them are refused with a specific message. */
const REMOVED_IDS: ReadonlyMap<number, string> = new Map([
  [4, 'Q4_2'],
  [5, 'Q4_3'],
  [31, 'Q4_0_4_4'],
  [32, 'Q4_0_4_8'],
  [33, 'Q4_0_8_8'],
  [36, 'IQ4_NL_4_4'],
  [37, 'IQ4_NL_4_8'],
  [38, 'IQ4_NL_8_8'],
]);

const writable = new Set<string>(WRITABLE_GGML_TYPES);

/** Every GGML type, in id order. */
export const GGML_TYPES: readonly GGMLTypeInfo[] = Object.freeze(
  TABLE.map(([id, name, ggmlName, blockSize, typeSize, quantized]) =>
    Object.freeze({ id, name, ggmlName, blockSize, typeSize, quantized, writable: writable.has(name) }),
  ),
);

const BY_ID = new Map<number, GGMLTypeInfo>(GGML_TYPES.map((t) => [t.id, t]));
const BY_NAME = new Map<string, GGMLTypeInfo>(GGML_TYPES.map((t) => [t.name, t]));

/** The type with GGML id `id`, or undefined for an unknown or removed id. */
export function ggmlTypeById(id: number): GGMLTypeInfo | undefined {
  return BY_ID.get(id);
}

/** For messages: why id `id` is not a type ("removed from GGML (was Q4_2)" or "unknown"). */
export function describeUnknownTypeId(id: number): string {
  const removed = REMOVED_IDS.get(id);
  if (removed) return `type id ${id} (${removed}) was removed from GGML and is not loadable by llama.cpp any more`;
  return `type id ${id} is not a GGML type (known ids: 0-${GGML_TYPE_COUNT - 1} except ${[...REMOVED_IDS.keys()].join(', ')})`;
}

/**
 * The type named `name`, matched case-insensitively against both spellings ("Q4_K", "q4_K",
 * "q4_k"); undefined when there is none.
 */
export function ggmlTypeByName(name: string): GGMLTypeInfo | undefined {
  if (typeof name !== 'string') return undefined;
  return BY_NAME.get(name.toUpperCase());
}

/** Like {@link ggmlTypeByName} but throws INVALID_ARGUMENT naming `what` and the valid names. */
export function requireGGMLType(name: string | number, what: string): GGMLTypeInfo {
  const info = typeof name === 'number' ? ggmlTypeById(name) : ggmlTypeByName(name);
  if (!info) {
    throw new HQQError(
      'INVALID_ARGUMENT',
      `${what}: ${JSON.stringify(name)} is not a GGML type; use one of ${GGML_TYPES.map((t) => t.name).join(', ')}`,
    );
  }
  return info;
}

/** Bytes of one row of `ne0` weights of `type`; undefined when ne0 is not a multiple of the block. */
export function ggmlRowBytes(type: GGMLTypeInfo, ne0: number): number | undefined {
  if (!Number.isSafeInteger(ne0) || ne0 < 0 || ne0 % type.blockSize !== 0) return undefined;
  return (ne0 / type.blockSize) * type.typeSize;
}

/**
 * Bytes of a tensor of `type` and dims `ne` (GGUF order), in checked BigInt arithmetic: rows x row
 * size. The caller checks ne[0] % blockSize first.
 */
export function ggmlTensorBytes(type: GGMLTypeInfo, ne: readonly number[]): bigint {
  let rows = 1n;
  for (let i = 1; i < ne.length; i++) rows *= BigInt(ne[i]!);
  return rows * (BigInt(ne[0] ?? 1) / BigInt(type.blockSize)) * BigInt(type.typeSize);
}
