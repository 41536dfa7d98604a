// Small assertion helpers shared by the Node test files.
import { expect } from 'vitest';

import { HQQError, type HQQErrorCode } from '../../web/src/errors.js';

/** Awaits `p`, which must reject with an HQQError; returns it for further checks. */
export async function rejectsWithHQQError(p: Promise<unknown>): Promise<HQQError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HQQError);
    return e as HQQError;
  }
  throw new Error('expected an HQQError, nothing was thrown');
}

/**
 * Calls `fn`, which must throw an HQQError with `code` whose message contains every string
 * fragment and matches every RegExp one; returns the error for further checks.
 */
export function expectHQQError(fn: () => unknown, code: HQQErrorCode, ...fragments: (string | RegExp)[]): HQQError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected HQQError ${code}`).toBeInstanceOf(HQQError);
  const err = thrown as HQQError;
  expect(err.code, err.message).toBe(code);
  for (const f of fragments) {
    if (typeof f === 'string') expect(err.message).toContain(f);
    else expect(err.message).toMatch(f);
  }
  return err;
}
