/**
 * Memory of the plan path at scale (issue 9, finding 16): a header listing 200,000 tiny tensors,
 * opened, planned (HQQ) and reported as a dry run reports it. Heap retained per tensor after a
 * full GC, measured in a child process with --expose-gc (plan-memory-probe.mjs). Before the fix
 * it kept 402 bytes per tensor for the input, 1,255 for the plan, 1,761 in all; now 209, 96 and
 * 409 (reports 104 both times). The bounds leave 40-150% margin. Speed is measured by
 * bench/bench-header.mjs, not here.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, requireBuiltCli } from '../cli/run-cli.js';

const N = 200_000;

describe('planning a header of 200k tensors', () => {
  it('keeps a few hundred bytes per tensor: input, plan and dry-run reports', () => {
    requireBuiltCli();
    const r = spawnSync(process.execPath, ['--expose-gc', join(ROOT, 'tests/web/model/plan-memory-probe.mjs'), ROOT, String(N)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const m = JSON.parse(r.stdout) as { tensors: number; reportCount: number; input: number; plan: number; reports: number; total: number };
    expect(m.tensors).toBe(N);
    expect(m.reportCount).toBe(N);
    expect(m.input).toBeLessThan(300); // header entries (frozen shared shapes), the name index, input tensors
    expect(m.plan).toBeLessThan(250); // copies derive their fields from the header entry; the layout is lazy
    expect(m.reports).toBeLessThan(250);
    expect(m.total).toBeLessThan(600);
  });
});
