/**
 * The one error type the package throws. `code` says which family of failure it is, so callers can
 * branch on it without parsing messages; the message names the tensor/option/file and the way out.
 */
export type HQQErrorCode =
  | 'INVALID_ARGUMENT' // a bad option or shape passed by the caller
  | 'INVALID_VALUE' // NaN/Inf or otherwise unusable weights
  | 'UNSUPPORTED' // a valid request this library does not support (yet)
  | 'OUT_OF_MEMORY' // the wasm heap could not hold the request
  | 'BAD_FILE' // a malformed or inconsistent safetensors file / index
  | 'IO_ERROR' // the file system or a Blob read failed
  | 'WORKER_FAILED' // a worker died or threw
  | 'ABORTED' // the caller cancelled through an AbortSignal
  | 'INTERNAL'; // a bug: please report it

/**
 * An error of this package: `code` says which family of failure it is (see `HQQErrorCode`), the
 * message names the tensor, option or file and the way out. Test with `instanceof HQQError` or
 * `err.name === 'HQQError'` (which also holds when two copies of the package are loaded).
 */
export class HQQError extends Error {
  /** Which family of failure this is: branch on it rather than on the message. */
  readonly code: HQQErrorCode;
  /**
   * @param code The failure family.
   * @param message What failed (naming the tensor, option or file) and how to fix it.
   * @param options.cause The underlying error, kept as `err.cause`.
   */
  constructor(code: HQQErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HQQError';
    this.code = code;
  }
}

/**
 * The text of a caught error for an HQQError message, with its errno code once: Node's own
 * messages already begin with the code ("ENOENT: no such file or directory, open 'x'"), so
 * prefixing `err.code` again printed "ENOENT: ENOENT: ...". Browser-safe.
 */
export function causeText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || code.length === 0 || e.message.includes(code)) return e.message;
  return `${code}: ${e.message}`;
}
