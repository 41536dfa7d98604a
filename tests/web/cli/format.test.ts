/** Pure pieces of the CLI output: per-tensor lines, their order, the ETA policy, the worker cap. */
import { describe, expect, it } from 'vitest';
import { MAX_LINE, middleTruncate, tensorLine } from '../../../web/src/cli/format.js';
import { etaLabel, OrderedLines } from '../../../web/src/cli/progress.js';
import { capWorkers } from '../../../web/src/cli/quantize.js';
import { findHQQLayerKeys, requantizeProblem } from '../../../web/src/model/hqq-detect.js';
import { HQQLINEAR_KEYS } from '../../../web/src/model/hqqlinear.js';
import type { TensorReport } from '../../../web/src/model/quantize-model.js';

const quantized: TensorReport = {
  name: 'model.layers.17.mlp.down_proj.weight', shape: [4096, 11008], dtype: 'F16', action: 'quantize', label: 'q4 g64', nbits: 4, groupSize: 64,
  bytesBefore: 90177536, bytesAfter: 25362432, bitsPerWeight: 4.5, meanAbs: 1.23e-3, rtn: { meanAbs: 2.5e-3, maxAbs: 1, relFrobenius: 0.1 },
};

describe('tensorLine', () => {
  it('stays under 120 characters, shortening long names in the middle', () => {
    const long = { ...quantized, name: `model.${'very_long_module_name.'.repeat(8)}layers.17.mlp.down_proj.weight` };
    const line = tensorLine(long, 1234, 99999);
    expect(line.length).toBeLessThanOrEqual(MAX_LINE);
    expect(line).toMatch(/^\[ {2}1234\/ 99999\] model\.ver.*….*_proj\.weight \[4096, 11008\] F16 -> q4 g64 86\.00 MiB -> 24\.19 MiB 4\.50 bpw \|err\| 1\.2e-3/);
    const short = tensorLine(quantized, 3, 13);
    expect(short).toBe('[  3/ 13] model.layers.17.mlp.down_proj.weight [4096, 11008] F16 -> q4 g64 86.00 MiB -> 24.19 MiB 4.50 bpw |err| 1.2e-3');
    const copy = tensorLine({ ...quantized, action: 'copy', reason: 'cannot hold 4-bit g64 axis 1: '.repeat(10) }, 1, 13);
    expect(copy.length).toBeLessThanOrEqual(MAX_LINE);
    expect(copy).toMatch(/model\.layers\.17\.mlp\.down_proj\.weight \[4096, 11008\] F16 -> copy 86\.00 MiB \(cannot hold.*…\)$/);
  });

  it('middleTruncate keeps both ends', () => {
    expect(middleTruncate('abcdefghij', 10)).toBe('abcdefghij');
    expect(middleTruncate('abcdefghij', 5)).toBe('ab…ij');
    expect(middleTruncate('abcdefghij', 6)).toBe('ab…hij');
  });
});

describe('OrderedLines', () => {
  it('prints in index order whatever order results arrive in', () => {
    const out: string[] = [];
    const o = new OrderedLines((l) => out.push(l));
    o.add(3, 'c');
    o.add(2, 'b');
    expect(out).toEqual([]);
    expect(o.held).toBe(2);
    o.add(1, 'a');
    expect(out).toEqual(['a', 'b', 'c']);
    o.add(5, 'e');
    o.add(4, 'd');
    expect(out).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(o.held).toBe(0);
  });
});

describe('etaLabel', () => {
  it('appears only once 5% of the work and 3 seconds are behind', () => {
    expect(etaLabel({ bytesDone: 1, bytesTotal: 100, etaSeconds: 50 }, 10)).toBe('');
    expect(etaLabel({ bytesDone: 50, bytesTotal: 100, etaSeconds: 50 }, 1)).toBe('');
    expect(etaLabel({ bytesDone: 50, bytesTotal: 100, etaSeconds: Number.NaN }, 10)).toBe('');
    expect(etaLabel({ bytesDone: 50, bytesTotal: 100, etaSeconds: 95 }, 10)).toBe('  ETA 1m35s');
  });
});

describe('capWorkers', () => {
  it('caps at the core count with a warning', () => {
    expect(capWorkers(undefined, 2)).toEqual({ workers: undefined });
    expect(capWorkers(2, 2)).toEqual({ workers: 2 });
    const c = capWorkers(1000, 2);
    expect(c.workers).toBe(2);
    expect(c.warning?.code).toBe('WORKERS_CAPPED');
  });
});

describe('findHQQLayerKeys (what the planner uses to refuse requantizing)', () => {
  it('finds HQQLinear layers from the header names alone', () => {
    const tensors = [
      ...HQQLINEAR_KEYS.map((k) => ({ name: `a.${k}` })),
      { name: 'b.W_q' }, { name: 'b.scale' }, { name: 'b.zero' },
      { name: 'c.W_q' }, // no scale/zero: not a layer
      { name: 'lm_head.weight' },
    ];
    const layers = findHQQLayerKeys({ tensors });
    expect(layers.map((l) => l.prefix)).toEqual(['a.', 'b.']);
    expect(layers[0]!.keys).toHaveLength(HQQLINEAR_KEYS.length);
    expect(layers[1]!.keys).toEqual(['b.W_q', 'b.scale', 'b.zero']);
    expect(findHQQLayerKeys({ tensors: [{ name: 'x.weight' }] })).toEqual([]);
    expect(requantizeProblem('m.safetensors', { tensors })).toMatch(/m\.safetensors is already HQQ-quantized \(2 HQQLinear layers, e.g. "a"\).*hqq-wasm dequantize/);
    expect(requantizeProblem('m.safetensors', { tensors: [{ name: 'x.weight' }] })).toBeUndefined();
  });
});
