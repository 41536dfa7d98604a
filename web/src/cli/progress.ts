/**
 * Live output of a quantize run: per-tensor lines printed in tensor order although workers finish
 * out of order (a finished tensor waits until every tensor before it is printed), and, on a
 * terminal, a progress bar on the last line with an ETA once one can be trusted.
 */
import type { ModelProgressEvent } from '../model/quantize-model.js';
import { formatBytes, formatSeconds } from './format.js';
import type { Out } from './io.js';

/** Prints lines numbered 1..n in order, holding back those that arrive early. */
export class OrderedLines {
  readonly #pending = new Map<number, string>();
  #next = 1;
  constructor(private readonly write: (line: string) => void) {}

  add(index: number, line: string): void {
    this.#pending.set(index, line);
    while (this.#pending.has(this.#next)) {
      this.write(this.#pending.get(this.#next)!);
      this.#pending.delete(this.#next);
      this.#next++;
    }
  }

  /** Lines still held back (waiting for an earlier tensor). */
  get held(): number {
    return this.#pending.size;
  }
}

/**
 * The ETA is shown once it means something: at least 5% of the work and 3 seconds in, so that
 * the start-up (workers compiling, the first tensor read) does not make it jump around.
 */
export function etaLabel(e: Pick<ModelProgressEvent, 'bytesDone' | 'bytesTotal' | 'etaSeconds'>, elapsedSeconds: number): string {
  const frac = e.bytesTotal > 0 ? e.bytesDone / e.bytesTotal : 0;
  if (frac < 0.05 || elapsedSeconds < 3 || !Number.isFinite(e.etaSeconds) || e.etaSeconds < 0) return '';
  return `  ETA ${formatSeconds(e.etaSeconds)}`;
}

export function progressBar(e: ModelProgressEvent, elapsedSeconds: number): string {
  const frac = e.bytesTotal > 0 ? e.bytesDone / e.bytesTotal : 1;
  const width = 30;
  const fill = Math.round(frac * width);
  return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${formatBytes(e.bytesDone)} / ${formatBytes(e.bytesTotal)}${etaLabel(e, elapsedSeconds)}`;
}

/** The onProgress handler of the quantize command, and `done()` to clear the bar at the end. */
export function quantizeProgress(io: Out, lineOf: (e: ModelProgressEvent) => string | undefined): { onProgress(e: ModelProgressEvent): void; done(): void } {
  const t0 = performance.now();
  let barShown = false;
  let lastBar = 0;
  const clearBar = () => {
    if (barShown) {
      io.out('\r\x1b[K');
      barShown = false;
    }
  };
  const lines = new OrderedLines((l) => {
    clearBar();
    io.out(l + '\n');
  });
  return {
    onProgress(e) {
      if (e.type === 'tensor-done') {
        const line = lineOf(e);
        if (line !== undefined) lines.add(e.index, line);
      }
      const now = performance.now();
      if (io.isTTY && e.type !== 'tensor-start' && (e.type === 'tensor-done' || now - lastBar > 100)) {
        lastBar = now;
        clearBar();
        io.out(progressBar(e, (now - t0) / 1000));
        barShown = true;
      }
    },
    done: clearBar,
  };
}
