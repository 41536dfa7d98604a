/**
 * Early writeback for a file being written (Node-only).
 *
 * An output is fsynced before it is published (crash consistency, docs/outputs.md). Linux starts
 * writing dirty pages on its own only past `dirty_background_ratio` of memory (10%: 2.4 GB on a
 * 24 GiB machine) or after 30 s, so a whole 0.8 GB output used to wait in the page cache and the
 * final fsync then wrote all of it while the workers sat idle (0.41 s of an 8 s run on the 1b
 * bench model). A background `fdatasync` every WRITEBACK_EVERY bytes keeps the disk writing while
 * the workers compute, and the final fsync only flushes the rest. Node has no
 * `sync_file_range`, the call that would start writeback without waiting for it; one datasync in
 * flight at a time, on a thread-pool thread, is the portable stand-in.
 */
import type { FileHandle } from 'node:fs/promises';

/** Bytes written between two background datasyncs. */
export const WRITEBACK_EVERY = 64 * 1024 * 1024;

export class EarlyWriteback {
  readonly #fh: FileHandle;
  #sinceLast = 0;
  #running: Promise<void> | undefined;
  #error: unknown;

  constructor(fh: FileHandle) {
    this.#fh = fh;
  }

  /** Counts `n` bytes written; starts a datasync once WRITEBACK_EVERY have been written since the last one started. */
  wrote(n: number): void {
    this.#sinceLast += n;
    if (this.#running || this.#sinceLast < WRITEBACK_EVERY) return;
    this.#sinceLast = 0;
    this.#running = this.#fh
      .datasync()
      .catch((e: unknown) => {
        this.#error ??= e;
      })
      .finally(() => {
        this.#running = undefined;
      });
  }

  /**
   * Waits for the datasync in flight, then throws the error of any that failed: the kernel reports
   * a writeback error to one sync call only, so the final fsync could succeed after it.
   */
  async settle(): Promise<void> {
    await this.#running;
    if (this.#error !== undefined) throw this.#error;
  }
}
