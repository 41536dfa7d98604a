/** User patterns are checked so that matching cannot hang (issue 9, finding 10: `--exclude '(a+)+$'`). */
import { describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import { planModel } from '../../../web/src/model/plan.js';
import { parseSafetensorsHeader } from '../../../web/src/io/safetensors.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { compileUserRegex, regexHazard } from '../../../web/src/util/user-regex.js';

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
  it('refuses patterns whose backtracking is exponential or of high degree', () => {
    for (const p of ['(a+)+$', '^(a|a)*$', '(a*)*b', '(\\w+\\.)*x', '(?:x|y)+z', '(a|b){2,}', '.*.*.*.*x', '(a)\\1', '(?<n>a)\\k<n>']) {
      const e = catchErr(() => compileUserRegex(p, '--exclude'));
      expect(e.code, p).toBe('INVALID_ARGUMENT');
      expect(e.message, p).toMatch(/^--exclude: .* (could take exponential time|backreference)|could take exponential time/);
    }
    expect(regexHazard('(a+)+$')).toMatch(/nested repetition/);
  });

  it('accepts everyday patterns, which match as RegExps', () => {
    const ok = ['down_proj', 'mlp\\.down_proj', '^lm_head$', 'mlp\\.(up|down)_proj', '\\d+\\.self_attn', '[qkv]_proj$', 'model\\..*\\.mlp\\..*_proj',
      '(up|down)?_proj', '(a|b){2}', 'layers\\.(1[0-9]|2[0-3])\\.', '[(+*]+x', '\\(a+\\)+', 'x{2,4}y'];
    for (const p of ok) expect(regexHazard(p), p).toBeUndefined();
    const re = compileUserRegex('mlp\\.(up|down)_proj', '--include');
    expect(re.source).toBe('mlp\\.(up|down)_proj');
    expect(re.test('model.layers.0.mlp.down_proj.weight')).toBe(true);
    expect(re.test('model.layers.0.mlpXdown_proj.weight')).toBe(false);
  });

  it('reports syntax errors naming the option', () => {
    const e = catchErr(() => compileUserRegex('(', '--include'));
    expect(e.message).toMatch(/^--include: "\(" is not a valid regular expression/);
  });

  it('the model planner uses it: an evil --exclude is refused before any tensor is matched', () => {
    const layout = planSafetensors([{ name: `${'a'.repeat(40)}.weight`, dtype: 'F16', shape: [64, 64] }]);
    const header = parseSafetensorsHeader(layout.headerBytes, layout.totalSize, 'm.safetensors');
    const e = catchErr(() => planModel([{ fileName: 'm.safetensors', header }], { exclude: '(a+)+$' }));
    expect(e.message).toMatch(/exclude: "\(a\+\)\+\$" could take exponential time/);
    expect(catchErr(() => planModel([{ fileName: 'm.safetensors', header }], { tensorConfig: ['(a|aa)+b=8:64'] })).message).toMatch(/exponential/);
  });
});
