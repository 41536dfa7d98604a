/**
 * GGUF planning (browser-safe): the type of every tensor (llama-quantize's rules in
 * `tensor-types.ts`), the output file's layout (`planGGUF`: header with every metadata key and
 * precomputed aligned offsets), and the worker jobs. GGML types are per block, so a tensor is
 * split into row ranges: no tensor is too large (a 70B model's 1B-weight token embedding becomes
 * dozens of jobs), and memory per job stays bounded.
 */
import { HQQError } from '../../errors.js';
import { withMetadata, type GGUFMetadata } from '../../io/gguf-metadata.js';
import { ggmlRowBytes, requireGGMLType } from '../../io/gguf-types.js';
import { planGGUF, type GGUFPlan } from '../../io/gguf-writer.js';
import type { InputModel, InputTensor } from '../../model/input.js';
import type { RopePermutation } from '../../model/hf/permute.js';
import { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from '../../version.js';
import { NO_JOBS, planTotals, runWarnings } from '../plan-common.js';
import type { FormatPlan, Job, PlannedTensor } from '../types.js';
import { describeGGUFConfig, type ResolvedGGUFConfig } from './config.js';
import { chooseTensorTypes, ggufModelFacts, quantizedMetadataChanges, unusedTensorTypeWarnings, type TensorTypeChoice } from './tensor-types.js';

/** Weights per job at most: 16 Mi (64 MiB of float32 in a worker, plus the output). */
export const MAX_JOB_WEIGHTS = 1 << 24;

export interface GGUFJobSpec {
  kind: 'gguf' | 'convert';
  inputType: string;
  type: string;
  rows: number;
  cols: number;
  /** First row of the range (output bytes start at rowStart * output row bytes). */
  rowStart: number;
  /** Output bytes per row. */
  rowBytes: number;
  /** llama's q/k RoPE row permutation of the job's rows (whole heads), applied before quantizing. */
  permute?: RopePermutation;
}

export interface GGUFPlannedTensor extends PlannedTensor {
  ggufType: string;
  /** GGUF dims (ne[0] = row length). */
  ne: number[];
}

export interface GGUFFormatPlan extends FormatPlan {
  format: 'gguf';
  tensors: GGUFPlannedTensor[];
  layout: GGUFPlan;
  metadata: GGUFMetadata;
}

const FLOATS = new Set(['F32', 'F16', 'BF16']);

function rowBytes(type: string, cols: number, what: string): number {
  const b = ggmlRowBytes(requireGGMLType(type, what), cols);
  if (b === undefined) throw new HQQError('INTERNAL', `${what}: ${type} rows of ${cols} weights do not split into whole blocks`);
  return b;
}

/**
 * Row-range jobs covering a [rows, cols] tensor. With `permute`, ranges hold whole heads (the
 * permutation moves rows only within a head) and each job permutes its own rows.
 */
export function rowJobs(index: number, rows: number, cols: number, inputType: string, type: string, what: string, maxWeights: number, permute?: RopePermutation): Job[] {
  const inRow = rowBytes(inputType, cols, what);
  const outRow = rowBytes(type, cols, what);
  const kind = FLOATS.has(inputType) && FLOATS.has(type) ? 'convert' : 'gguf';
  const align = permute ? rows / permute.heads : 1;
  const per = Math.max(1, Math.floor(maxWeights / Math.max(1, cols) / align)) * align;
  const jobs: Job[] = [];
  for (let r = 0; r < rows; r += per) {
    const count = Math.min(per, rows - r);
    const spec: GGUFJobSpec = { kind, inputType, type, rows: count, cols, rowStart: r, rowBytes: outRow };
    if (permute) spec.permute = { kind: permute.kind, heads: count / align, rows: count };
    jobs.push({ tensor: index, offset: r * inRow, length: count * inRow, rows: { start: r, count }, spec });
  }
  return jobs;
}

function plannedTensor(t: InputTensor, index: number, choice: TensorTypeChoice, ne: number[], byteLength: number, maxWeights: number): GGUFPlannedTensor {
  const cols = ne[0]!;
  const rows = cols > 0 ? t.numel / cols : 0;
  const copy = choice.action === 'copy';
  const jobs = copy ? NO_JOBS : rowJobs(index, rows, cols, choice.inputType, choice.type, `tensor ${JSON.stringify(t.name)}`, maxWeights);
  const converting = !copy && FLOATS.has(choice.inputType) && FLOATS.has(choice.type);
  // One object per tensor, built once (no base object spread into a second one).
  return {
    name: t.name, dtype: t.dtype, shape: t.shape, numel: t.numel, index, sourceIndex: 0, ne, ggufType: choice.type,
    label: choice.type, outputs: [{ file: 0, name: t.name, byteLength }], bytesBefore: t.byteLength, bytesAfter: byteLength,
    bitsPerWeight: t.numel > 0 ? (byteLength * 8) / t.numel : 0,
    action: copy ? 'copy' : converting ? 'convert' : 'quantize', reason: copy || converting ? choice.reason : undefined,
    jobs, copyTo: copy ? { file: 0, entry: t.name } : undefined,
  };
}

/** Plans a GGUF file from a GGUF input (llama-quantize's job: same metadata and tokenizer, new types). */
export function planGGUFFromGGUF(input: InputModel, c: ResolvedGGUFConfig, maxJobWeights = MAX_JOB_WEIGHTS): GGUFFormatPlan {
  if (input.container.kind !== 'gguf') throw new HQQError('INTERNAL', 'planGGUFFromGGUF needs a GGUF input');
  const header = input.container.file.header;
  const facts = ggufModelFacts(header.metadata, header.fileName);
  const choices = chooseTensorTypes(header.tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type })), facts, c.options);
  const metadata = withMetadata(header.metadata, {
    ...quantizedMetadataChanges(c.preset),
    'general.quantized_by': { type: 'string', value: `${HQQ_WASM_TOOL} ${HQQ_WASM_VERSION} (HQQ-optimised)` },
  });
  const layout = planGGUF({
    metadata, alignment: header.alignment,
    tensors: header.tensors.map((t, i) => ({ name: t.name, type: choices[i]!.type, ne: t.ne })),
  });
  const tensors = header.tensors.map((t, i) => {
    const r = layout.offsets.get(t.name)!;
    return plannedTensor(input.tensors[i]!, i, choices[i]!, t.ne, r.end - r.begin, maxJobWeights);
  });
  const fileName = input.container.outputFileName ?? header.fileName;
  const files = [{ fileName, layout }];
  return {
    format: 'gguf', config: describeGGUFConfig(c), baselineName: 'llama.cpp', files, smallFiles: [], tensors, layout,
    metadata: layout.metadata, totals: planTotals(tensors, files, []),
    warnings: [...unusedTensorTypeWarnings(header.tensors.map((t) => t.name), c.options), ...runWarnings(tensors)],
  };
}
