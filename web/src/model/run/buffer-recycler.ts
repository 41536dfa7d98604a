/**
 * Input buffers of the quantize lane, recycled (browser-safe). Every job's input used to be a
 * fresh ArrayBuffer: on a 1B model that is 2.2 GB of new memory, page-faulted in by the read and
 * later collected by the garbage collector in both threads (profiled: about a tenth of the
 * pipeline's CPU). Workers hand each input buffer back with their result (`WorkerResult.inputs`),
 * and the next read of the same size goes into it.
 *
 * Buffers are matched by exact byte length (a task's `data` must be exactly its job's bytes), and
 * the free list is capped in bytes, dropping the oldest first, so it never holds more than about
 * the in-flight inputs would anyway.
 */
export class BufferRecycler {
  /** Free buffers, oldest first (a handful: the cap is a few jobs' bytes). */
  readonly #free: ArrayBuffer[] = [];
  #freeBytes = 0;

  /** `capBytes`: the most the free list holds (0 disables recycling). */
  constructor(readonly capBytes: number) {}

  /** A free buffer of exactly `byteLength` bytes, or undefined (then read into fresh memory). */
  take(byteLength: number): ArrayBuffer | undefined {
    const i = this.#free.findIndex((b) => b.byteLength === byteLength);
    if (i < 0) return undefined;
    this.#freeBytes -= byteLength;
    return this.#free.splice(i, 1)[0];
  }

  /** Takes back buffers no one uses any more; detached (empty) ones and those over the cap are dropped. */
  give(buffers: readonly ArrayBuffer[] | undefined): void {
    for (const buf of buffers ?? []) {
      const n = buf.byteLength;
      if (n === 0 || n > this.capBytes) continue;
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
