/**
 * Regular expressions typed by users (`--include`, `--exclude`, `--tensor-config`, the demo's
 * fields), checked so that matching can never block the event loop. Browser-safe, no dependency.
 *
 * Why: JavaScript's RegExp backtracks, so a pattern such as `(a+)+$` takes exponential time on some
 * names and a loop over tensor names hangs the process (Ctrl-C is not even delivered while a match
 * runs); a time limit cannot interrupt a synchronous match. A linear-time engine (RE2 ported to
 * JavaScript, re2js) was tried first: it works, but as a runtime dependency it breaks the package
 * for a plain browser page that imports web/dist/index.js without a bundler (a bare module
 * specifier), so the choice is a conservative static check instead. A pattern is accepted only
 * when backtracking on it is polynomial of low degree:
 *  - no quantifier on a group that itself holds a quantifier or an alternation (`(a+)+`, `(a|a)*`,
 *    `(\w+\.)*`): these are the exponential ones;
 *  - at most MAX_UNBOUNDED unbounded quantifiers (`*`, `+`, `{n,}`, and `{n,m}` counted as
 *    unbounded) in all, which bounds the work per name by about len^(MAX_UNBOUNDED + 1);
 *  - no backreference (`\1`, `\k<name>`).
 * Anything else is refused with a message that says which construct and how to rewrite it. Plain
 * names and dotted literals (`down_proj`, `mlp\.down_proj`), the common case, always pass.
 */
import { HQQError } from '../errors.js';

/** Unbounded quantifiers allowed in one pattern (`model\..*\.mlp\..*_proj` has two). */
export const MAX_UNBOUNDED = 3;

interface Group {
  quantified: boolean; // holds a quantifier
  alternation: boolean; // holds a `|`
}

/** Why `pattern` could backtrack catastrophically, or undefined when it is safe (see above). */
export function regexHazard(pattern: string): string | undefined {
  const stack: Group[] = [{ quantified: false, alternation: false }];
  let unbounded = 0;
  let lastGroup: Group | undefined; // the group just closed, if the previous atom was `)`
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const prevGroup = lastGroup;
    lastGroup = undefined;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n !== undefined && /[1-9]/.test(n)) return `the backreference \\${n} at position ${i}`;
      if (n === 'k' && pattern[i + 2] === '<') return `the named backreference at position ${i}`;
      i++;
      continue;
    }
    if (c === '[') {
      // A character class is one atom: skip to its closing bracket.
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      i = j;
      continue;
    }
    if (c === '(') {
      stack.push({ quantified: false, alternation: false });
      if (pattern[i + 1] === '?') i++; // (?: (?= (?! (?<name> (?<= (?<!: the rest is ordinary text
      continue;
    }
    if (c === ')') {
      const g = stack.length > 1 ? stack.pop()! : undefined;
      if (g) {
        const outer = stack[stack.length - 1]!;
        outer.quantified ||= g.quantified;
        outer.alternation ||= g.alternation;
        lastGroup = g;
      }
      continue;
    }
    if (c === '|') {
      stack[stack.length - 1]!.alternation = true;
      continue;
    }
    const isBrace = c === '{' && /^\{\d*,?\d*\}/.test(pattern.slice(i));
    if (c === '*' || c === '+' || c === '?' || isBrace) {
      if (c === '?' && pattern[i - 1] && /[*+?}]/.test(pattern[i - 1]!)) continue; // lazy modifier
      const bounded = c === '?' || (isBrace && /^\{\d+\}/.test(pattern.slice(i)));
      if (!bounded && ++unbounded > MAX_UNBOUNDED) return `more than ${MAX_UNBOUNDED} unbounded quantifiers (*, +, {n,})`;
      if (prevGroup && (prevGroup.quantified || prevGroup.alternation) && !bounded) {
        return `a quantifier at position ${i} on a group that holds ${prevGroup.quantified ? 'a quantifier' : 'an alternation'} (nested repetition such as (a+)+ or (a|b)*)`;
      }
      stack[stack.length - 1]!.quantified = true;
      if (isBrace) i += /^\{\d*,?\d*\}/.exec(pattern.slice(i))![0].length - 1;
    }
  }
  return undefined;
}

/**
 * Compiles a user pattern (JavaScript syntax) after the safety check. `what` names it in errors,
 * e.g. "--exclude". Throws INVALID_ARGUMENT for a syntax error or a pattern that could hang.
 */
export function compileUserRegex(pattern: string, what: string): RegExp {
  if (typeof pattern !== 'string') throw new HQQError('INVALID_ARGUMENT', `${what} must be a string pattern, got ${typeof pattern}`);
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (e) {
    throw new HQQError('INVALID_ARGUMENT', `${what}: ${JSON.stringify(pattern)} is not a valid regular expression (${e instanceof Error ? e.message : String(e)})`);
  }
  const hazard = regexHazard(pattern);
  if (hazard) {
    throw new HQQError(
      'INVALID_ARGUMENT',
      `${what}: ${JSON.stringify(pattern)} could take exponential time to match (${hazard}), which would hang the run; ` +
        'rewrite it without nested repetition, e.g. "(a+)+" as "a+", "(\\w+\\.)*x" as "[\\w.]*x"',
    );
  }
  return re;
}
