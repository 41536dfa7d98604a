/**
 * The output-format seam. A format (HQQ safetensors, GGUF, ONNX MatMulNBits...) says, from the
 * input's headers alone, what every input tensor becomes: the output files and their layouts, the
 * output entries of each tensor with their byte sizes, and the worker jobs that compute them. The
 * orchestrator (`model/quantize-model.ts`), the pool, the sinks and the progress reporting then
 * serve every format without knowing any of them. Browser-safe.
 *
 * Containers (`io/`: safetensors, GGUF, ONNX) are separate from formats: a format writes into one
 * container; a container's reader feeds any format through `model/input.ts`.
 */
import type { HQQError } from '../errors.js';
import type { ByteSource } from '../io/source.js';
import type { GGUFConfigRecord } from './gguf/config.js';
import type { HQQConfigRecord } from './hqq/config.js';
import type { ONNXConfigRecord } from './onnx/config.js';
import type { FileLayout } from '../io/layout.js';
import type { InputModel, InputTensor } from '../model/input.js';
import type { PlanPart } from '../model/shard.js';
import type { TaskBuffer, TaskStats, WorkerResult, WorkerTask } from '../pool/types.js';

/** 'drop': the tensor has no place in the output (e.g. rotary frequencies llama.cpp recomputes). */
export type TensorAction = 'quantize' | 'convert' | 'copy' | 'drop';

/** One output file streamed through a `ShardWriter`. */
export interface PlannedFile {
  /** The file's name inside the output. */
  fileName: string;
  /** Its layout: header bytes and where each entry goes. */
  layout: FileLayout;
  /** The input file it is made from, where there is one (sharded safetensors). */
  inputName?: string;
}

/** A small output file written whole after the streamed ones (an index.json, a config.json...). */
export interface PlannedSmallFile {
  /** The file's name inside the output. */
  fileName: string;
  /** Known at plan time, or made by the format's `finish()` from the results. */
  data?: Uint8Array | string;
  /** A file copied whole from the input (a folder's tokenizer files...), read at commit time. */
  source?: ByteSource;
}

/** Bytes for one output entry: `bytes` at `offset` inside entry `entry` of file `file`. */
export interface TensorWrite {
  /** Index of the output file in `FormatPlan.files`. */
  file: number;
  /** The entry's name in that file's layout. */
  entry: string;
  /** Byte offset inside the entry. */
  offset: number;
  /** The bytes. */
  bytes: Uint8Array;
}

/** One piece of worker work: a whole tensor, or a row range of it. */
export interface Job {
  /** `index` of the planned tensor it computes (part of). */
  tensor: number;
  /** The input bytes it reads, relative to the tensor's data. */
  offset: number;
  /** How many input bytes it reads. */
  length: number;
  /** First row (`start`) and row count (`count`) when the tensor is split into row ranges. */
  rows?: { start: number; count: number };
  /** Other input tensors read whole and passed along (e.g. the bias of an HQQ layer). */
  with?: number[];
  /** Format-specific, serializable parameters of the task (no data). */
  spec: unknown;
}

/** What the plan does with one input tensor: its action, output entries, jobs and sizes. */
export interface PlannedTensor {
  /** Input tensor name. */
  name: string;
  /** Input dtype as its container names it (F32, BF16, Q4_K...). */
  dtype: string;
  /** Row-major (PyTorch order). */
  shape: number[];
  /** Number of elements (the product of `shape`). */
  numel: number;
  /** Position in the whole model (0-based, input order over all files). */
  index: number;
  /** Which input file it lives in. */
  sourceIndex: number;
  /** Quantized, converted to another float dtype, copied unchanged, or dropped. */
  action: TensorAction;
  /** Why the tensor is copied (or converted) instead of quantized. */
  reason?: string;
  /** What it becomes, in a few characters: "q4 g64", "Q4_K", "F32"... */
  label: string;
  /** Output entries: `file` (index in `FormatPlan.files`), entry `name`, `byteLength`. A tensor folded into another one's job has none of its own work. */
  outputs: { file: number; name: string; byteLength: number }[];
  /** Worker jobs (quantize/convert); empty for copies and for tensors computed by another tensor's job. */
  jobs: Job[];
  /** A copy: the input bytes go unchanged into entry `entry` of output file `file` (index in `FormatPlan.files`). */
  copyTo?: { file: number; entry: string };
  /** The index of the tensor whose job also produces this one (e.g. an HQQ layer's converted bias). */
  producedBy?: number;
  /** Its input bytes. */
  bytesBefore: number;
  /** Its output bytes over all its entries (0 when dropped). */
  bytesAfter: number;
  /** `bytesAfter` x 8 / `numel` (0 for an empty tensor). */
  bitsPerWeight: number;
  /** HQQ: the layer config (`nbits`, `groupSize`, `axis`, `optimize`, `roundZero`, `computeDtype`, as in `ResolvedModelConfig`). */
  hqq?: { nbits: number; groupSize: number; axis: 0 | 1; optimize: boolean; roundZero: boolean; computeDtype: string };
  /** GGUF: the output type. */
  ggufType?: string;
}

/** Sums over a plan's tensors and files. */
export interface PlanTotals {
  /** Input tensors. */
  tensors: number;
  /** Tensors quantized. */
  quantized: number;
  /** Tensors not quantized: copied, converted or dropped. */
  copied: number;
  /** Elements over all input tensors. */
  parameters: number;
  /** Elements of the quantized tensors. */
  quantizedParameters: number;
  /** Input tensor bytes. */
  bytesBefore: number;
  /** Output tensor bytes. */
  bytesAfter: number;
  /** Output file bytes (headers, padding and small files included). */
  fileBytes: number;
  /** Input bytes of the quantized tensors. */
  quantizedBytesBefore: number;
  /** Output bytes of the quantized tensors. */
  quantizedBytesAfter: number;
  /** Output bits per weight over the quantized tensors (`quantizedBytesAfter` x 8 / `quantizedParameters`; 0 when none). */
  bitsPerWeight: number;
}

/**
 * Something the user probably did not mean: found at plan time (e.g. a pattern that matched
 * nothing), or by the run itself (`SMALL_WEIGHTS`: weights too small for HQQ's scale limits).
 */
export interface PlanWarning {
  /** What kind of warning, for code that wants to react to one (e.g. treat `NOTHING_QUANTIZED` as an error). */
  code: 'NOTHING_QUANTIZED' | 'PATTERN_UNUSED' | 'OVERRIDE_UNUSED' | 'MOSTLY_COPIED' | 'RUNTIME_COMPAT' | 'WORKERS_CAPPED' | 'SMALL_WEIGHTS' | 'OTHER';
  /** What was found and what to do about it, for people. */
  message: string;
}

/** A format's plan for a run, made from the input headers alone: files, tensors, totals, warnings. */
export interface FormatPlan {
  /** The output format. */
  format: FormatName;
  /** The resolved config, as JSON-friendly data (recorded in the output and in reports). */
  config: FormatConfigRecord;
  /** The streamed output files (shards, a GGUF file), in output order. */
  files: PlannedFile[];
  /** Small files written whole after them (an index.json, a config.json, copied tokenizer files). */
  smallFiles: PlannedSmallFile[];
  /** Bytes known at plan time (tensors the format makes itself), written once the files exist. */
  constants?: TensorWrite[];
  /** Every input tensor, in input order. */
  tensors: PlannedTensor[];
  /** Sums over the tensors and files. */
  totals: PlanTotals;
  /** Things the user probably did not mean; the run goes ahead. */
  warnings: PlanWarning[];
  /** The name of the baseline the format compares against ("round-to-nearest", "llama.cpp"). */
  baselineName?: string;
  /** One part of a sharded run (`model/shard.ts`): the other parts' tensors are `drop`s here. */
  part?: PlanPart;
}

/** The output formats: HQQ safetensors (`hqq`), GGUF with GGML block types (`gguf`), ONNX with MatMulNBits (`onnx`). */
export type FormatName = 'hqq' | 'gguf' | 'onnx';

/** A run's config as reports record it: HQQ's (`nbits`, `group_size`...) or GGUF's (`preset`...). */
export type FormatConfigRecord = HQQConfigRecord | GGUFConfigRecord | ONNXConfigRecord;

/** What a format does; one instance per run (it may keep state between plan and finish). */
export interface OutputFormat {
  /** Which format this is. */
  readonly name: FormatName;
  /** Plans everything from the input headers. Throws HQQError for an invalid config or input. */
  plan(input: InputModel): FormatPlan;
  /**
   * The worker task of a job, given the bytes it reads (`data`: the job's range of its tensor;
   * `extra`: the whole `job.with` tensors, in order). Buffers are transferred.
   * @param options.compareBaseline Also compute the format's baseline and its error.
   */
  task(job: Job, tensor: PlannedTensor, data: TaskBuffer, extra: TaskBuffer[], options: { compareBaseline: boolean }): WorkerTask;
  /** Where the results of a job go. */
  place(job: Job, tensor: PlannedTensor, result: WorkerResult): TensorWrite[];
  /**
   * Optional: the byte length of the one result buffer of `job` that its worker fills into a
   * spare buffer (`WorkerTask.spare`), so that the pipeline can pass back a buffer of an earlier
   * result of that length. Formats whose workers use no spares leave it out.
   */
  spareBytes?(job: Job, tensor: PlannedTensor): number | undefined;
  /** Small files made from the results, after every job is done (those without `data` at plan time). */
  finish?(plan: FormatPlan): PlannedSmallFile[];
}

export type { InputModel, InputTensor, TaskStats, HQQError };
