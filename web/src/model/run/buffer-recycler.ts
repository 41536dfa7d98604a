/**
 * Input buffers of the quantize lane, recycled (browser-safe). Every job's input used to be a
 * fresh ArrayBuffer: on a 1B model that is 2.2 GB of new memory, page-faulted in by the read and
 * later collected by the garbage collector in both threads (profiled: about a tenth of the
 * pipeline's CPU). Workers hand each input buffer back with their result (`WorkerResult.inputs`),
 * and the next read of the same size goes into it.
 *
 * With a pool that shares memory (Node), the recycled buffers are SharedArrayBuffers: they stay
 * where they are instead of moving between threads. A large ArrayBuffer that arrives by transfer
 * counts as new external memory for V8 each time, so the same few buffers going back and forth
 * made the main thread run ~45 full GCs on a 1B model; shared ones are counted once (measured on
 * the CLI over a 1B model: user CPU -0.6 s, wall -3 to -4%, output byte-identical).
 *
 * Buffers are matched by exact byte length (a task's `data` must be exactly its job's bytes), and
 * the free list is capped in bytes, dropping the oldest first, so it never holds more than about
 * the in-flight inputs would anyway.
 */
import { isSharedBuffer, type TaskBuffer } from '../../pool/types.js';

export class BufferRecycler {
  /** Free buffers, oldest first (a handful: the cap is a few jobs' bytes). */
  readonly #free: TaskBuffer[] = [];
  #freeBytes = 0;

  /**
   * `capBytes`: the most the free list holds (0 disables recycling). `shared`: `obtain()` makes
   * SharedArrayBuffers when none is free (for a pool with `sharesMemory`).
   */
  constructor(readonly capBytes: number, readonly shared = false) {}

  /** A free buffer of exactly `byteLength` bytes, or undefined (then read into fresh memory). */
  take(byteLength: number): TaskBuffer | undefined {
    const i = this.#free.findIndex((b) => b.byteLength === byteLength);
    if (i < 0) return undefined;
    this.#freeBytes -= byteLength;
    return this.#free.splice(i, 1)[0];
  }

  /**
   * A buffer of `byteLength` bytes to fill: a free one, else (shared) a new SharedArrayBuffer, so
   * that everything the lane recycles is shared; else undefined (the caller gets fresh memory).
   */
  obtain(byteLength: number): TaskBuffer | undefined {
    return this.take(byteLength) ?? (this.shared && byteLength > 0 && byteLength <= this.capBytes ? new SharedArrayBuffer(byteLength) : undefined);
  }

  /** Takes back buffers no one uses any more; detached (empty) ones and those over the cap are dropped. */
  give(buffers: readonly TaskBuffer[] | undefined): void {
    for (const buf of buffers ?? []) {
      const n = buf.byteLength;
      if (n === 0 || n > this.capBytes) continue;
      // A shared lane keeps only shared buffers (an ArrayBuffer a source returned would be transferred).
      if (this.shared && !isSharedBuffer(buf)) continue;
      while (this.#freeBytes + n > this.capBytes) this.#freeBytes -= this.#free.shift()!.byteLength;
      this.#free.push(buf);
      this.#freeBytes += n;
    }
  }

  /** Bytes held in the free list. */
  get freeBytes(): number {
    return this.#freeBytes;
  }
}
