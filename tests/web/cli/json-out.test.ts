/** `--json` output written in pieces: byte for byte what JSON.stringify(value, null, 2) gives. */
import { describe, expect, it } from 'vitest';
import { writeJsonStreamed } from '../../../web/src/cli/json-out.js';

function written(value: Record<string, unknown>): { text: string; writes: number } {
  const parts: string[] = [];
  writeJsonStreamed({ out: (s) => parts.push(s), err: () => {}, isTTY: false }, value, 'tensors');
  return { text: parts.join(''), writes: parts.length };
}

describe('writeJsonStreamed', () => {
  const tensor = (i: number) => ({ name: `t${i}\n"x"`, shape: [i, 2], baseline: { name: 'rtn', meanAbs: i / 3 }, reason: undefined, empty: [], obj: {} });
  const cases: Record<string, unknown>[] = [
    { command: 'quantize', tensors: [] },
    { command: 'quantize', tensors: [tensor(1)], warnings: [] },
    { command: 'quantize', input: 'a', tensors: Array.from({ length: 10_000 }, (_, i) => tensor(i)), totals: { n: 1 }, warnings: [{ code: 'X', message: 'm' }] },
    { tensors: [null, 1, 'two', [3]], last: true },
  ];
  for (const [i, value] of cases.entries()) {
    it(`case ${i}: the same bytes as JSON.stringify(value, null, 2) + newline`, () => {
      expect(written(value).text).toBe(JSON.stringify(value, null, 2) + '\n');
    });
  }
  it('writes a long tensor list in several pieces, not as one string', () => {
    expect(written(cases[2]!).writes).toBeGreaterThan(2);
  });
});
