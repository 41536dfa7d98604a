// The reference-data loader itself: it finds the data, checks it, and fails loudly without it.
import { afterEach, describe, expect, it } from 'vitest';

import { loadInput, manifest, readRefFile, refDir } from '../refdata.js';

describe('reference data', () => {
  const saved = process.env.HQQ_REF_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.HQQ_REF_DIR;
    else process.env.HQQ_REF_DIR = saved;
  });

  it('is present and consistent with its manifest', () => {
    const m = manifest();
    expect(m.cases.length).toBeGreaterThanOrEqual(34);
    for (const input of m.inputs) expect(loadInput(input.id).length).toBe(input.shape.reduce((a, b) => a * b, 1));
    for (const c of m.cases) {
      expect(m.inputs.some((i) => i.id === c.input), c.id).toBe(true);
      expect(Boolean(c.packed.file || c.wq.file), `${c.id}: stores wq or packed`).toBe(true);
    }
  });

  it('throws (never skips) when the data is missing', () => {
    process.env.HQQ_REF_DIR = '/nonexistent/hqq-ref';
    expect(refDir()).toBe('/nonexistent/hqq-ref');
    expect(() => readRefFile('manifest.json')).toThrow(/reference data file missing: \/nonexistent\/hqq-ref\/manifest.json.*HQQ_REF_DIR/);
  });
});
