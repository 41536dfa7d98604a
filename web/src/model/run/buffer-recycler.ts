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
 * the CLI, output byte-identical: 7B 55.8-62.6 s -> 48.3-49.1 s, system CPU 20-22 s -> 10-12 s;
 * on a 1B model user CPU -0.6 s, the wall time within the run-to-run spread).
 *
 * Buffers are matched by exact byte length (a task's `data` must be exactly its job's bytes).
 * ArrayBuffers in the free list are capped in bytes, dropping the oldest first, so it never holds
 * more than about the in-flight inputs would anyway. Shared buffers are never dropped: a dropped
 * one stays allocated until every thread that saw it has collected its garbage, which happens
 * rarely once buffers no longer move (on a 7B model, dropping them as sizes alternated between
 * attention and FFN weights raised the peak RSS by ~330 MB). Instead at most `sharedBudget` bytes
 * of them are ever made, enough for every size of a transformer layer in every slot; beyond it a
 * read gets an ArrayBuffer, recycled and moved as before.
 */
import { isSharedBuffer, type TaskBuffer } from '../../pool/types.js';

export class BufferRecycler {
  /** Free buffers, oldest first (a handful: the caps are a few jobs' bytes). */
  readonly #free: TaskBuffer[] = [];
  /** Bytes of the ArrayBuffers in the free list. */
  #freeBytes = 0;
  /** Bytes of every SharedArrayBuffer made (they are all kept, free or in use). */
  #sharedBytes = 0;
  /** Bytes of the SharedArrayBuffers in the free list (at most the budget, whoever gives them). */
  #freeShared = 0;

  /**
   * `capBytes`: the most the free list holds in ArrayBuffers (0 disables recycling). With
   * `sharedBudget` > 0, `obtain()` makes SharedArrayBuffers, up to that many bytes in all, when
   * none of the size is free (for a pool with `sharesMemory`).
   */
  constructor(readonly capBytes: number, readonly sharedBudget = 0) {}

  /** A free buffer of exactly `byteLength` bytes, or undefined (then read into fresh memory). */
  take(byteLength: number): TaskBuffer | undefined {
    const i = this.#free.findIndex((b) => b.byteLength === byteLength);
    if (i < 0) return undefined;
    const buf = this.#free.splice(i, 1)[0]!;
    if (isSharedBuffer(buf)) this.#freeShared -= byteLength;
    else this.#freeBytes -= byteLength;
    return buf;
  }

  /**
   * A buffer of `byteLength` bytes to fill: a free one, else a new SharedArrayBuffer while the
   * shared budget allows, else undefined (the caller gets fresh memory).
   */
  obtain(byteLength: number): TaskBuffer | undefined {
    const free = this.take(byteLength);
    if (free || byteLength === 0 || this.#sharedBytes + byteLength > this.sharedBudget) return free;
    this.#sharedBytes += byteLength;
    return new SharedArrayBuffer(byteLength);
  }

  /** Takes back buffers no one uses any more; detached (empty) ones and ArrayBuffers over the cap are dropped. */
  give(buffers: readonly TaskBuffer[] | undefined): void {
    for (const buf of buffers ?? []) {
      const n = buf.byteLength;
      if (n === 0) continue;
      if (isSharedBuffer(buf)) {
        // The lane's own, coming back (a new object over the same memory, so identity cannot tell);
        // the budget bounds the list even so.
        if (this.#freeShared + n > this.sharedBudget) continue;
        this.#free.push(buf);
        this.#freeShared += n;
        continue;
      }
      if (n > this.capBytes) continue;
      while (this.#freeBytes + n > this.capBytes) {
        const i = this.#free.findIndex((b) => !isSharedBuffer(b));
        this.#freeBytes -= this.#free.splice(i, 1)[0]!.byteLength;
      }
      this.#free.push(buf);
      this.#freeBytes += n;
    }
  }

  /** Bytes of ArrayBuffers held in the free list. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** Bytes of SharedArrayBuffers made so far (free or in use). */
  get sharedBytes(): number {
    return this.#sharedBytes;
  }
}
