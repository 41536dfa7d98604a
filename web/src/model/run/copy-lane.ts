/**
 * The copy lane (browser-safe): tensors stored unchanged go from input to output in bounded
 * chunks, alongside the quantize lane.
 *
 * Every chunk is read into the same buffer (the lane is sequential, and a writer is done with its
 * bytes once `writeTensor` resolves, see `ShardWriter`). A fresh buffer per chunk meant the copied
 * tensors' bytes (262 MB on a 1B model: embeddings and output head) were page-faulted into new
 * memory and collected later, on the I/O threads competing with the workers at the start of a
 * run (profiled: about 0.2 s of CPU per 100 MB on the benchmark VM).
 */
import type { FormatPlan } from '../../formats/types.js';
import type { InputModel } from '../input.js';
import { plannedReport, type TensorReport } from '../report.js';
import type { RunState } from './state.js';

export async function runCopyLane(run: RunState, plan: FormatPlan, input: InputModel, reports: (TensorReport | undefined)[], chunkBytes: number): Promise<void> {
  let reused: Uint8Array | undefined; // the chunk buffer, as long as the largest chunk so far
  const chunkBuffer = (n: number): Uint8Array => {
    if (!reused || reused.byteLength < n) reused = new Uint8Array(n);
    return reused.subarray(0, n);
  };
  for (const t of plan.tensors) {
    if (!t.copyTo || t.jobs.length > 0 || t.producedBy !== undefined) continue;
    if (run.failure) return;
    run.emit('tensor-start', t);
    const w = run.writers[t.copyTo.file]!;
    const src = input.tensors[t.index]!;
    try {
      if (t.bytesBefore === 0) await w.writeTensor(t.copyTo.entry, new Uint8Array(0), 0);
      for (let off = 0; off < t.bytesBefore; off += chunkBytes) {
        if (run.failure) return;
        const n = Math.min(chunkBytes, t.bytesBefore - off);
        const chunk = await src.read(off, n, chunkBuffer(n));
        if (run.failure) return;
        await w.writeTensor(t.copyTo.entry, chunk, off);
        run.advance(t, n);
        if (off + n < t.bytesBefore) run.emit('progress', t);
      }
    } catch (e) {
      run.fail(e);
      return;
    }
    reports[t.index] = plannedReport(t);
    run.emit('tensor-done', t, reports[t.index]);
    run.emit('progress', t);
  }
}
