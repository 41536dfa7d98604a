/**
 * Checks of the arguments of public entry points, so a caller's wrong type gets an HQQError
 * (INVALID_ARGUMENT) naming the argument and what it should be, never a raw TypeError from deep
 * inside (`Cannot destructure property 'hqq' of 'options' as it is null`). Browser-safe.
 */
import { HQQError } from './errors.js';

function invalid(message: string): never {
  throw new HQQError('INVALID_ARGUMENT', message);
}

/** A value as a message shows it: strings quoted (so `"4"` is not mistaken for 4), objects by kind. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** `options` of `fn`: undefined becomes `{}`; anything but a plain object is refused. */
export function optionsArgument<T extends object>(value: T | undefined, fn: string): T {
  if (value === undefined) return {} as T;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalid(`${fn}: options must be an object (or omitted), got ${shown(value)}`);
  }
  return value;
}

/** A file path argument: a non-empty string. */
export function pathArgument(value: unknown, fn: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) invalid(`${fn}: ${what} must be a file path (a non-empty string), got ${shown(value)}`);
  return value;
}

/** An optional callback option. */
export function checkFunctionOption(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'function') invalid(`${name} must be a function (or omitted), got ${shown(value)}`);
}

/** An optional boolean option. */
export function checkBooleanOption(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== 'boolean') invalid(`${name} = ${shown(value)} must be true or false (or omitted)`);
}

/** An optional AbortSignal option (anything with `aborted` and `addEventListener`, as AbortSignal has). */
export function checkSignalOption(value: unknown, name = 'signal'): void {
  if (value === undefined) return;
  const s = value as { aborted?: unknown; addEventListener?: unknown; removeEventListener?: unknown } | null;
  if (typeof s !== 'object' || s === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function' || typeof s.removeEventListener !== 'function') {
    invalid(`${name} must be an AbortSignal (e.g. new AbortController().signal, AbortSignal.timeout(ms)), got ${shown(value)}`);
  }
}

/** A ByteSource argument: `size`, `name` and `read` (see io/source.ts). */
export function checkByteSource(value: unknown, what: string): void {
  const s = value as { size?: unknown; name?: unknown; read?: unknown } | null;
  if (typeof s !== 'object' || s === null) invalid(`${what} must be a ByteSource ({ size, name, read }: see openFileSource, blobSource, bytesSource), got ${shown(value)}`);
  if (!Number.isSafeInteger(s.size) || (s.size as number) < 0) invalid(`${what}: size = ${shown(s.size)} must be the byte length (a non-negative integer); a ByteSource has { size, name, read }`);
  if (typeof s.name !== 'string') invalid(`${what}: name = ${shown(s.name)} must be a string (a name for messages, usually the file name)`);
  if (typeof s.read !== 'function') invalid(`${what} (${s.name}): read must be a function (offset, length) => Promise<Uint8Array>`);
}

/** A byte array argument. */
export function checkBytes(value: unknown, what: string): void {
  if (!(value instanceof Uint8Array)) invalid(`${what} must be a Uint8Array, got ${shown(value)}`);
}
