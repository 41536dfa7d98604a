/**
 * Node-only `ByteSource` over a file on disk, using positional reads (`fh.read` with a position), so
 * nothing but the requested ranges is ever read. Keep `node:` imports in this file only.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { HQQError, causeText } from '../errors.js';
import { checkReadRange, type ByteSource } from './source.js';

const ioMessage = causeText;

/** A `ByteSource` over a file on disk (`openFileSource`); close it when done. */
export interface FileSource extends ByteSource {
  /** The path it was opened with. */
  readonly path: string;
  /** Closes the file handle; calling it again does nothing. */
  close(): Promise<void>;
}

/** Opens `path` for lazy reads. Throws `IO_ERROR` when it cannot be opened or is not a regular file. */
export async function openFileSource(path: string): Promise<FileSource> {
  const name = basename(path);
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint =
      code === 'ENOENT' ? 'check the path' : code === 'EACCES' || code === 'EPERM' ? 'check the file permissions' : 'check the path and permissions';
    throw new HQQError('IO_ERROR', `${path}: cannot open for reading (${ioMessage(e)}); ${hint}`, { cause: e });
  }
  let size: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new HQQError('IO_ERROR', `${path}: is not a regular file (a directory or device?); pass the path of a .safetensors file`);
    }
    size = st.size;
  } catch (e) {
    await fh.close().catch(() => {});
    if (e instanceof HQQError) throw e;
    throw new HQQError('IO_ERROR', `${path}: cannot stat (${ioMessage(e)}); check the path and permissions`, { cause: e });
  }
  let closed = false;

  const readRange = async (offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> => {
    // A fresh buffer is not zero-filled (a 7B model reads 13.5 GB: zeroing it first is a second
    // pass over memory); every byte is read below, or the read throws. Its own ArrayBuffer,
    // exactly this long, so the pool can transfer it to a worker. A caller's `into` (a recycled
    // buffer) also spares the page faults of fresh memory.
    const out = into !== undefined && into.byteLength === length ? into : new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
    let done = 0;
    while (done < length) {
      let n: number;
      try {
        // Cap a single read so huge requests stay within what the OS reads at once.
        const want = Math.min(length - done, 1 << 30);
        ({ bytesRead: n } = await fh.read(out, done, want, offset + done));
      } catch (e) {
        throw new HQQError('IO_ERROR', `${name}: reading ${length} bytes at offset ${offset} failed (${ioMessage(e)}); check the disk and try again`, { cause: e });
      }
      if (n === 0) {
        throw new HQQError(
          'IO_ERROR',
          `${name}: reading ${length} bytes at offset ${offset} hit the end of the file after ${done} bytes; the file shrank while being read (still downloading?) — wait for it to be complete and try again`,
        );
      }
      done += n;
    }
    return out;
  };

  return {
    path,
    name,
    size,
    async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
      if (closed) throw new HQQError('INVALID_ARGUMENT', `${name}: read after close(); open the file again`);
      checkReadRange(name, size, offset, length);
      return readRange(offset, length, into);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await fh.close();
      } catch (e) {
        throw new HQQError('IO_ERROR', `${name}: close failed (${ioMessage(e)})`, { cause: e });
      }
    },
  };
}
