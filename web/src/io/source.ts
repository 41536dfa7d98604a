/**
 * `ByteSource`: lazy, positional reads from a file-like object. Browser-safe (no `node:` imports);
 * the Node file implementation lives in `node-file.ts`.
 */
import { checkBytes, shown } from '../arguments.js';
import { HQQError } from '../errors.js';

/** Lazy positional reads from a file-like object (a `Blob`, bytes in memory, a file on disk): the readers fetch only the ranges they need. */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** A name for messages (usually the file name). */
  readonly name: string;
  /**
   * Reads exactly `length` bytes at `offset`; throws `IO_ERROR` when that is impossible. The
   * returned array belongs to the caller: the source keeps no reference to it (the pipeline
   * transfers it to a worker and later reads other data into it). With
   * `into` (exactly `length` bytes long) a source may read into it and return it, sparing a fresh
   * buffer (the Node file source does); a source that cannot returns a new array, so callers must
   * use the returned array, never assume `into` was filled. `into` may be a view of a
   * SharedArrayBuffer (the Node pipeline shares its buffers with the workers).
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Releases the underlying file, when there is one; optional (a Blob or bytes need none). */
  close?(): Promise<void>;
}

/** Validates read arguments against a source's size (a caller mistake is `INVALID_ARGUMENT`). */
export function checkReadRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new HQQError('INVALID_ARGUMENT', `${name}: read(offset=${offset}, length=${length}): offset and length must be non-negative integers`);
  }
  if (offset + length > size) {
    throw new HQQError(
      'INVALID_ARGUMENT',
      `${name}: read(offset=${offset}, length=${length}) ends at ${offset + length}, past the end of the ${size}-byte source; read inside the file`,
    );
  }
}

/** A source backed by a `Blob`/`File` (browser, and Node's global `Blob` / `fs.openAsBlob`). */
export function blobSource(blob: Blob, name?: string): ByteSource {
  if (typeof Blob === 'undefined' || !(blob instanceof Blob)) throw new HQQError('INVALID_ARGUMENT', `blobSource: blob must be a Blob or File, got ${shown(blob)}; use bytesSource for a Uint8Array`);
  if (name !== undefined && typeof name !== 'string') throw new HQQError('INVALID_ARGUMENT', `blobSource: name must be a string, got ${shown(name)}`);
  const own = (blob as { name?: unknown }).name; // a File has a name
  const fileName = name ?? (typeof own === 'string' && own.length > 0 ? own : 'blob');
  return {
    size: blob.size,
    name: fileName,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkReadRange(fileName, blob.size, offset, length);
      if (length === 0) return new Uint8Array(0);
      let buf: ArrayBuffer;
      try {
        buf = await blob.slice(offset, offset + length).arrayBuffer();
      } catch (e) {
        throw new HQQError(
          'IO_ERROR',
          `${fileName}: reading ${length} bytes at offset ${offset} failed (${e instanceof Error ? e.message : String(e)}); the file may have changed or been removed since it was opened — select it again`,
          { cause: e },
        );
      }
      if (buf.byteLength !== length) {
        throw new HQQError(
          'IO_ERROR',
          `${fileName}: reading ${length} bytes at offset ${offset} returned ${buf.byteLength} bytes; the file changed while being read — select it again`,
        );
      }
      return new Uint8Array(buf);
    },
    async close(): Promise<void> {},
  };
}

/** A source over bytes already in memory (tests, small files). Reads return copies. */
export function bytesSource(bytes: Uint8Array, name = 'bytes'): ByteSource {
  checkBytes(bytes, 'bytesSource: bytes');
  if (typeof name !== 'string') throw new HQQError('INVALID_ARGUMENT', `bytesSource: name must be a string, got ${shown(name)}`);
  return {
    size: bytes.byteLength,
    name,
    async read(offset: number, length: number): Promise<Uint8Array> {
      checkReadRange(name, bytes.byteLength, offset, length);
      return bytes.slice(offset, offset + length);
    },
    async close(): Promise<void> {},
  };
}
