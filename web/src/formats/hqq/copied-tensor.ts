/**
 * A tensor the HQQ plan copies through unchanged (browser-safe). Most tensors of most plans are
 * copies, and a header can list millions of them (finding 16: 1.4M), so a copy holds only what is
 * its own (its header entry, positions, the reason and its output file) and derives every other
 * `PlannedTensor` field from its header entry on the prototype: a few words per tensor instead of
 * an object graph (entries, outputs, jobs, copyTo) per tensor.
 *
 * The derived fields are accessors: an object spread (`{ ...t }`) does not copy them; use
 * `plainTensor` (formats/plan-common.ts) for a plain copy. `entries`, `outputs` and `copyTo` are
 * made anew at each read (the plan path reads them once per tensor).
 */
import type { DType, TensorInfo } from '../../io/safetensors.js';
import type { PlanEntry } from '../../io/writer.js';
import { NO_JOBS } from '../plan-common.js';
import type { Job, TensorAction } from '../types.js';
import type { HQQPlannedTensor } from './plan.js';

export class CopiedTensor implements HQQPlannedTensor {
  constructor(
    /** The input header entry. */
    readonly info: TensorInfo,
    /** Position in the whole model. */
    readonly index: number,
    /** Which input file it lives in. */
    readonly sourceIndex: number,
    /** Why it is copied instead of quantized. */
    readonly reason: string,
    /** The output file it is copied into (the input's file, or a split file). */
    readonly file: number = sourceIndex,
  ) {}

  /** The same copy, written into output file `file` instead. */
  inFile(file: number): CopiedTensor {
    return new CopiedTensor(this.info, this.index, this.sourceIndex, this.reason, file);
  }

  get name(): string {
    return this.info.name;
  }
  get dtype(): DType {
    return this.info.dtype;
  }
  get shape(): number[] {
    return this.info.shape;
  }
  get numel(): number {
    return this.info.numel;
  }
  get action(): TensorAction {
    return 'copy';
  }
  get label(): string {
    return 'copy';
  }
  get bytesBefore(): number {
    return this.info.byteLength;
  }
  get bytesAfter(): number {
    return this.info.byteLength;
  }
  get bitsPerWeight(): number {
    return this.info.numel > 0 ? (this.info.byteLength * 8) / this.info.numel : 0;
  }
  get jobs(): Job[] {
    return NO_JOBS;
  }
  get entries(): PlanEntry[] {
    return [{ name: this.info.name, dtype: this.info.dtype, shape: this.info.shape }];
  }
  get outputs(): { file: number; name: string; byteLength: number }[] {
    return [{ file: this.file, name: this.info.name, byteLength: this.info.byteLength }];
  }
  get copyTo(): { file: number; entry: string } {
    return { file: this.file, entry: this.info.name };
  }
}
