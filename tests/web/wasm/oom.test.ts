// Out of memory: requests the 4 GiB wasm heap cannot hold fail with HQQError OUT_OF_MEMORY and the
// instance keeps working. Its own file, so the heap this grows goes away with the test process.
//
// What is reachable on wasm32 (measured on this machine):
// - an input whose bytes cannot be allocated: _malloc returns 0 (allocations above 2 GiB fail in
//   Emscripten's allocator) or the size does not fit its u32 argument (>= 4 GiB). The typed arrays
//   below are zero-filled and never written, so they cost virtual memory only.
// - a tensor of 2^28 or more elements: the C++ core refuses it before allocating its working
//   memory (numel * 16 bytes would overflow size_t).
// - a genuine std::bad_alloc in the middle of quantizing is not reachable with one call: below
//   2^28 elements the working memory fits (a [16383, 16384] f32 tensor with axis 0 peaks at about
//   3.4 GiB and succeeds in ~10 s), so it is not tested here.
import { describe, expect, it } from 'vitest';

import { HQQError } from '../../../web/src/errors.js';
import { loadHQQ } from '../../../web/src/node.js';
import { caseOptions, loadInput, manifest, sameAsReference } from '../refdata.js';

function expectOOM(fn: () => unknown, fragment: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected HQQError OUT_OF_MEMORY, got ${String(thrown)}`).toBeInstanceOf(HQQError);
  expect((thrown as HQQError).code, (thrown as HQQError).message).toBe('OUT_OF_MEMORY');
  expect((thrown as HQQError).message).toContain(fragment);
}

describe.each([true, false])('out of memory (simd: %s)', (simd) => {
  it('fails with OUT_OF_MEMORY and the instance still quantizes correctly', async () => {
    const hqq = await loadHQQ({ simd });
    const start = hqq.heapInUse();

    // 4 GiB of bf16: does not fit _malloc's size argument.
    expectOOM(() => hqq.quantize(new Uint16Array(2 ** 31), [2 ** 25, 64], { dtype: 'bf16' }), 'cannot allocate 4294967296 bytes');
    // 3 GiB of bf16 / 2.5 GiB of f32: the allocator refuses.
    expectOOM(() => hqq.quantize(new Uint16Array(3 * 2 ** 29), [3 * 2 ** 23, 64], { dtype: 'bf16' }), 'cannot allocate 3221225472 bytes');
    expectOOM(() => hqq.quantize(new Float32Array(5 * 2 ** 27), [5 * 2 ** 21, 64], { nbits: 2 }), 'cannot allocate 2684354560 bytes');
    // 2^28 bf16 elements (512 MiB, copied into wasm): its float32 working set cannot be addressed.
    expectOOM(() => hqq.quantize(new Uint16Array(2 ** 28), [2 ** 14, 2 ** 14], { dtype: 'bf16' }), 'shape [16384, 16384] (268435456 elements) is too large');
    expect(hqq.heapInUse()).toBe(start);

    // Still correct afterwards: an RTN reference case bit for bit, an optimized one as a fresh instance gives.
    const m = manifest();
    const rtn = m.cases.find((c) => !c.optimize && c.nbits === 4)!;
    const q = hqq.quantize(loadInput(rtn.input), rtn.shape, caseOptions(rtn));
    expect(sameAsReference(rtn.packed, q.packed)).toBe(true);
    expect(sameAsReference(rtn.zero, q.zero)).toBe(true);
    const opt = m.cases.find((c) => c.optimize)!;
    const fresh = await loadHQQ({ simd });
    const a = hqq.quantize(loadInput(opt.input), opt.shape, caseOptions(opt));
    const b = fresh.quantize(loadInput(opt.input), opt.shape, caseOptions(opt));
    expect(Buffer.from(a.packed).equals(Buffer.from(b.packed))).toBe(true);
    expect(a.stats).toEqual(b.stats);
    expect(hqq.heapInUse()).toBe(start);
  }, 60_000);
});
