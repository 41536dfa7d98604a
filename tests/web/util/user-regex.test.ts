/** User patterns run on a linear-time engine (issue 9, finding 10: `--exclude '(a+)+$'` hung the run). */
import { describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import { planModel } from '../../../web/src/model/plan.js';
import { parseSafetensorsHeader } from '../../../web/src/io/safetensors.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { compileUserRegex, UserRegExp } from '../../../web/src/util/user-regex.js';

function catchErr(fn: () => unknown): HQQError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HQQError);
    return e as HQQError;
  }
  throw new Error('expected an HQQError');
}

describe('compileUserRegex', () => {
  it('matches catastrophic patterns in linear time', () => {
    const evil = 'a'.repeat(5000) + '!';
    // A backtracking engine would not return from any of these (2^5000 paths or 5000^8 steps).
    for (const p of ['(a+)+$', '^(a|a)*$', '(a*)*b', '.*.*.*.*.*.*.*.*x']) {
      expect(compileUserRegex(p, '--exclude').test(evil), p).toBe(false);
    }
    expect(compileUserRegex('(a+)+$', '--exclude').test('a'.repeat(5000))).toBe(true);
  });

  it('keeps RegExp behaviour: source, instanceof, test, exec, String.prototype.match', () => {
    const re = compileUserRegex('mlp\\.(up|down)_proj', '--include');
    expect(re).toBeInstanceOf(RegExp);
    expect(re).toBeInstanceOf(UserRegExp);
    expect(re.source).toBe('mlp\\.(up|down)_proj');
    expect(String(re)).toBe('/mlp\\.(up|down)_proj/');
    expect(re.test('model.layers.0.mlp.down_proj.weight')).toBe(true);
    expect(re.test('model.layers.0.mlpXdown_proj.weight')).toBe(false);
    const m = re.exec('x.mlp.up_proj.weight')!;
    expect(m[0]).toBe('mlp.up_proj');
    expect(m.index).toBe(2);
    expect('a.mlp.down_proj'.match(re)![0]).toBe('mlp.down_proj');
    expect(compileUserRegex('\\d+\\.self_attn', 'x').test('layers.12.self_attn.q_proj')).toBe(true);
    expect(compileUserRegex('[qkv]_proj$', 'x').test('attn.k_proj')).toBe(true);
    expect(compileUserRegex('é', 'x').test('café')).toBe(true);
  });

  it('literal patterns (the common case) match as substrings, with anchors', () => {
    expect(compileUserRegex('down_proj', 'x').test('mlp.down_proj.weight')).toBe(true);
    expect(compileUserRegex('mlp\\.down', 'x').test('mlpXdown')).toBe(false);
    expect(compileUserRegex('^lm_head', 'x').test('model.lm_head')).toBe(false);
    expect(compileUserRegex('^lm_head', 'x').test('lm_head.weight')).toBe(true);
    expect(compileUserRegex('weight$', 'x').test('a.weight')).toBe(true);
    expect(compileUserRegex('weight$', 'x').test('a.weight.x')).toBe(false);
    expect(compileUserRegex('^a$', 'x').test('a')).toBe(true);
    expect(compileUserRegex('', 'x').test('anything')).toBe(true);
    expect(compileUserRegex('a\\$', 'x').test('a$b')).toBe(true);
  });

  it('refuses invalid and backtracking-only syntax with a message naming the option', () => {
    let e = catchErr(() => compileUserRegex('(', '--include'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^--include: "\(" is not a valid regular expression/);
    e = catchErr(() => compileUserRegex('mlp(?=\\.down)', '--exclude'));
    expect(e.message).toMatch(/--exclude: .*lookahead, lookbehind and backreferences are not supported/);
    e = catchErr(() => compileUserRegex('(a)\\1', 'tensor config'));
    expect(e.message).toMatch(/backreferences are not supported/);
  });

  it('the model planner uses it: an evil --exclude does not hang planning', () => {
    const name = `${'a'.repeat(40)}.weight`;
    const layout = planSafetensors([{ name, dtype: 'F16', shape: [64, 64] }]);
    const header = parseSafetensorsHeader(layout.headerBytes, layout.totalSize, 'm.safetensors');
    const plan = planModel([{ fileName: 'm.safetensors', header }], { exclude: '(a+)+$', tensorConfig: ['(a|aa)+b=8:64'] });
    expect(plan.tensors[0]!.action).toBe('quantize');
    expect(plan.config.exclude!.source).toBe('(a+)+$');
    expect(plan.tensors[0]!.config!.nbits).toBe(4);
  });
});
