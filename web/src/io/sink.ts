/**
 * The output side of whole-model quantization, shared by every sink (Node files in
 * `node-model.ts`, browser Blobs / File System Access in `browser-sink.ts`, test sinks):
 * the `ShardWriter` / `ModelSink` interfaces, and `TensorCoverage`, the byte bookkeeping every
 * writer needs to refuse overlapping writes and incomplete files. Browser-safe (no `node:` imports).
 */
import { HQQError } from '../errors.js';
import type { FileLayout } from './layout.js';

/** One output file being written (a safetensors shard, a GGUF file, ONNX external data...). */
export interface ShardWriter {
  /**
   * Writes `bytes` at `offsetWithinTensor` inside output tensor `name` (its absolute position is
   * `layout.offsets.get(name).begin + offsetWithinTensor`). Calls come in any order, possibly
   * concurrently; every byte of every planned tensor is written exactly once. The header bytes
   * (`layout.headerBytes`, at offset 0) and the zero padding between regions are the sink's to
   * write, e.g. in `createShard` / `commit`.
   *
   * `bytes` is the writer's only until the returned promise settles: the pipeline then reads the
   * next chunk into the same buffer. A writer that keeps bytes for later (staging, a list of
   * parts) keeps a copy.
   */
  writeTensor(name: string, bytes: Uint8Array, offsetWithinTensor: number): Promise<void>;
  /**
   * All tensors are written: check that the file is complete and finish it. A sink without
   * `finish()` makes the file visible here (close the stream, build the Blob...); a sink with
   * `finish()` only makes it ready (complete and durable, nothing visible yet) and publishes it in
   * `finish()`.
   */
  commit(): Promise<void>;
  /**
   * Discard the file: a partial one, or one committed but not yet published by `finish()`. May be
   * called after a failed write or commit; must not throw.
   */
  abort(): Promise<void>;
}

/** Where a model run writes its output files: shards laid out up front, small files, then one publish step. */
export interface ModelSink {
  /**
   * Optional first step, called once before anything is created, with the name of every file the
   * run will write (streamed files, then small files): e.g. a part sink removes that part's
   * previous record first, so a part that fails leaves no record claiming it is complete.
   */
  prepare?(fileNames: readonly string[]): Promise<void>;
  /** Starts output file `fileName` laid out by `layout` (`layout.totalSize` bytes in all). */
  createShard(fileName: string, layout: FileLayout): Promise<ShardWriter>;
  /**
   * A small whole file (an index.json, a config.json, an ONNX graph), after every shard has been
   * committed. Like a shard it becomes visible with the rest (in `finish()` where the sink has it).
   */
  writeFile?(fileName: string, data: Uint8Array | string): Promise<void>;
  /**
   * Optional last step, called once after every shard was committed and the small files written:
   * publish everything at once. The Node sink renames its temporary (a file, or a whole folder)
   * onto the output path here (docs/outputs.md), so a run that fails before (a shard, the index, an
   * abort) leaves an existing output exactly as it was. When it throws, the job fails like any other
   * failure; once it has resolved, the output is published and the run has succeeded.
   */
  finish?(): Promise<void>;
  /**
   * Called when the job fails after some shards were already committed (a later commit, a small
   * file or `finish` failed), with their names: remove what the failed run made visible, if
   * possible. A sink with `finish()` has made nothing visible before it, and must not delete the
   * targets (they may hold a previous run's files). Best effort; must not throw.
   */
  discard?(fileNames: string[]): Promise<void>;
}

function arg(message: string): HQQError {
  return new HQQError('INVALID_ARGUMENT', message);
}

/**
 * Which bytes of every planned tensor of one file were written: disjoint, merged, sorted intervals
 * per tensor. `add` refuses unknown tensors, writes outside a tensor and bytes written twice;
 * `check` refuses a file with a tensor not completely written.
 */
export class TensorCoverage {
  readonly #fileName: string;
  readonly #plan: FileLayout;
  // Written intervals per tensor, made on its first write (a model can have a million tensors;
  // most are written once, whole).
  readonly #intervals = new Map<string, { starts: number[]; ends: number[]; covered: number }>();

  constructor(fileName: string, plan: FileLayout) {
    this.#fileName = fileName;
    this.#plan = plan;
  }

  /**
   * Records a write of `bytes` at `offsetWithinTensor` inside tensor `name` and returns its
   * absolute file position. Throws INVALID_ARGUMENT (recording nothing) when the write is invalid.
   */
  add(name: string, bytes: Uint8Array, offsetWithinTensor: number): number {
    const where = () => `${this.#fileName}: tensor ${JSON.stringify(name)}`;
    const range = this.#plan.offsets.get(name);
    if (!range) throw arg(`${where()}: not in the plan; only planned tensors can be written`);
    if (!(bytes instanceof Uint8Array)) throw arg(`${where()}: bytes must be a Uint8Array`);
    const size = range.end - range.begin;
    const a = offsetWithinTensor;
    const b = a + bytes.byteLength;
    if (!Number.isSafeInteger(a) || a < 0 || b > size) {
      throw arg(`${where()}: writing ${bytes.byteLength} bytes at offset ${a} goes outside the tensor's ${size} bytes`);
    }
    if (b > a) {
      let iv = this.#intervals.get(name);
      if (!iv) this.#intervals.set(name, (iv = { starts: [], ends: [], covered: 0 }));
      const { starts: s, ends: e } = iv;
      let lo = 0;
      let hi = s.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (s[mid]! < a) lo = mid + 1;
        else hi = mid;
      }
      if ((lo > 0 && e[lo - 1]! > a) || (lo < s.length && s[lo]! < b)) {
        throw arg(`${where()}: bytes [${a}, ${b}) were already written; each byte must be written exactly once`);
      }
      const joinPrev = lo > 0 && e[lo - 1] === a;
      const joinNext = lo < s.length && s[lo] === b;
      if (joinPrev && joinNext) {
        e[lo - 1] = e[lo]!;
        s.splice(lo, 1);
        e.splice(lo, 1);
      } else if (joinPrev) e[lo - 1] = b;
      else if (joinNext) s[lo] = a;
      else {
        s.splice(lo, 0, a);
        e.splice(lo, 0, b);
      }
      iv.covered += b - a;
    }
    return range.begin + a;
  }

  /** Tensors not completely written, with the number of bytes still missing. */
  incomplete(): { name: string; missing: number; byteLength: number }[] {
    const covered = (name: string) => this.#intervals.get(name)?.covered ?? 0;
    return this.#plan.tensors
      .filter((t) => covered(t.name) !== t.byteLength)
      .map((t) => ({ name: t.name, missing: t.byteLength - covered(t.name), byteLength: t.byteLength }));
  }

  /** Throws INVALID_ARGUMENT naming (up to 5 of) the tensors not completely written. */
  check(what = 'commit()'): void {
    const missing = this.incomplete();
    if (missing.length === 0) return;
    const list = missing.slice(0, 5).map((t) => `"${t.name}" (${t.missing} of ${t.byteLength} bytes missing)`).join(', ');
    throw arg(`${this.#fileName}: ${what} with ${missing.length} tensor(s) not completely written: ${list}${missing.length > 5 ? ', ...' : ''}; write every planned tensor before commit()`);
  }
}
