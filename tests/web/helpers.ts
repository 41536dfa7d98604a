// Small assertion helpers shared by the Node test files.
import { expect } from 'vitest';

import { HQQError } from '../../web/src/errors.js';

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
