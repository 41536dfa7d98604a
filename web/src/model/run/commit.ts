/**
 * The commit phase (browser-safe): every streamed file is committed in order, then the small files
 * (index, configs) are written, then the sink publishes everything at once (`finish`). Once
 * `finish` has returned, the run has succeeded: an abort that comes later changes nothing.
 */
import { HQQError } from '../../errors.js';
import type { ModelSink } from '../../io/sink.js';
import type { FormatPlan, OutputFormat } from '../../formats/types.js';
import type { RunState } from './state.js';

/**
 * Fills `committed` with the names of the files committed as it goes (for `discard` if a later
 * step fails or throws); resolves with whether the sink published the output.
 */
export async function commitOutputs(
  run: RunState, plan: FormatPlan, format: OutputFormat, sink: ModelSink, signalAborted: () => HQQError | undefined, committed: string[],
): Promise<boolean> {
  const stopped = () => run.failure ?? signalAborted();
  for (let i = 0; i < run.writers.length; i++) {
    const why = stopped();
    if (why) {
      run.fail(why);
      return false;
    }
    await run.writers[i]!.commit();
    committed.push(plan.files[i]!.fileName);
  }
  const small = [...plan.smallFiles.filter((f) => f.data !== undefined || f.source !== undefined), ...(format.finish?.(plan) ?? [])];
  if (small.length > 0 && !sink.writeFile) {
    throw new HQQError('INVALID_ARGUMENT', `the output has ${small.length} more file(s) (${small.map((f) => f.fileName).join(', ')}) but the sink has no writeFile(); use a sink that can hold several files`);
  }
  for (const f of small) {
    const why = stopped();
    if (why) {
      run.fail(why);
      return false;
    }
    const data = f.data ?? (await f.source!.read(0, f.source!.size));
    await sink.writeFile!(f.fileName, data);
    committed.push(f.fileName);
  }
  const why = stopped();
  if (why) {
    run.fail(why);
    return false;
  }
  await sink.finish?.();
  return true;
}
