/**
 * Process-wide termination handling for runs that write files (Node only): SIGINT, SIGTERM and
 * SIGHUP, and a closed stdout (reported by the launcher as SIGPIPE), all abort the runs in
 * progress cleanly (docs/outputs.md).
 *
 * - The first signal aborts every registered run through its AbortSignal; each run removes its
 *   temporaries and rejects with ABORTED. `terminationExitCode()` then gives the conventional
 *   128 + signal number (SIGHUP 129, SIGINT 130, SIGPIPE 141, SIGTERM 143).
 * - A second signal exits at once: the temporaries this process registered are removed
 *   synchronously first, except while an output is being switched into place (the two renames of
 *   a folder switch): the exit then waits for the switch to end, so a forced exit never leaves an
 *   output moved aside; when the switch succeeded the exit code is 0 (the output is complete). A
 *   third signal during that wait exits without removing anything (the next run completes the
 *   switch).
 *
 * The handlers are installed only while at least one run is registered, so a process that is not
 * writing keeps Node's default behaviour.
 */
import { writeSync } from 'node:fs';
import { removeLiveTemporariesSync } from './io/node-temporaries.js';

export type TerminationCause = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGPIPE';

const SIGNAL_NUMBER: Record<TerminationCause, number> = { SIGHUP: 1, SIGINT: 2, SIGPIPE: 13, SIGTERM: 15 };
const HANDLED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const runs = new Set<AbortController>();
let first: TerminationCause | undefined;
let count = 0;
let critical = 0;
let pendingExit: number | undefined;

function say(line: string): void {
  try {
    writeSync(2, `hqq-wasm: ${line}\n`);
  } catch {
    /* stderr closed */
  }
}

function forceExit(code: number): never {
  const removed = removeLiveTemporariesSync();
  say(`exiting now${removed.length ? ` (removed ${removed.length} temporar${removed.length === 1 ? 'y' : 'ies'})` : ''}`);
  process.exit(code);
}

function onSignal(cause: TerminationCause): void {
  count++;
  const code = 128 + SIGNAL_NUMBER[cause];
  if (count === 1) {
    first = cause;
    const why = cause === 'SIGPIPE' ? 'stdout was closed' : `received ${cause}`;
    for (const ctl of runs) ctl.abort(new Error(why));
    return;
  }
  if (critical > 0) {
    if (pendingExit === undefined) {
      pendingExit = code;
      say(`${cause} again: exiting as soon as the output switch in progress is done`);
      return;
    }
    say(`${cause} again: exiting without cleanup; the next run into the same output completes the switch`);
    process.exit(code);
  }
  say(`${cause} again: stopping without waiting for the cleanup`);
  forceExit(code);
}

const listeners = new Map<string, () => void>(HANDLED.map((s) => [s, () => onSignal(s)]));

function install(): void {
  for (const [s, l] of listeners) process.on(s, l);
}

function uninstall(): void {
  for (const [s, l] of listeners) process.removeListener(s, l);
}

/**
 * An AbortSignal that fires when `outer` does or when the process receives SIGINT, SIGTERM or
 * SIGHUP (or `terminate()` is called); `dispose()` unregisters the run (call it when the run has
 * finished cleaning up).
 */
export function abortOnTermination(outer?: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const ctl = new AbortController();
  if (runs.size === 0) {
    first = undefined;
    count = 0;
    install();
  }
  runs.add(ctl);
  const onOuter = () => ctl.abort(outer!.reason);
  if (outer?.aborted) ctl.abort(outer.reason);
  else outer?.addEventListener('abort', onOuter, { once: true });
  if (count > 0) ctl.abort(new Error(`received ${first}`));
  let disposed = false;
  return {
    signal: ctl.signal,
    dispose() {
      if (disposed) return;
      disposed = true;
      outer?.removeEventListener('abort', onOuter);
      runs.delete(ctl);
      if (runs.size === 0) uninstall();
    },
  };
}

/** True while a run is registered with `abortOnTermination`. */
export function hasActiveRuns(): boolean {
  return runs.size > 0;
}

/**
 * Treats `cause` like a received signal (the launcher calls it with SIGPIPE when stdout is
 * closed). Repeated calls with SIGPIPE count once: every later write fails the same way.
 */
export function terminate(cause: TerminationCause): void {
  if (cause === 'SIGPIPE' && first === 'SIGPIPE') return;
  onSignal(cause);
}

/** 128 + the number of the first signal received by the current (or last) runs, if any. */
export function terminationExitCode(): number | undefined {
  return first === undefined ? undefined : 128 + SIGNAL_NUMBER[first];
}

/**
 * Runs `fn` as a critical section: a forced exit (second signal) waits until it is done. For the
 * few renames that switch an output into place; keep it short.
 */
export async function criticalSection<T>(fn: () => Promise<T>): Promise<T> {
  critical++;
  let done = false;
  try {
    const result = await fn();
    done = true;
    return result;
  } finally {
    critical--;
    if (critical === 0 && pendingExit !== undefined) {
      // The switch is over. If it succeeded the output is complete: that is a success, not an
      // interruption (the previous output, now a temporary, is removed on the way out).
      if (done) say('the new output is in place');
      forceExit(done ? 0 : pendingExit);
    }
  }
}
