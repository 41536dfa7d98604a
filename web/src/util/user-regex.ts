/**
 * Regular expressions typed by users (`--include`, `--exclude`, `--tensor-config`, the demo's
 * fields), compiled so that matching can never block the event loop. Browser-safe.
 *
 * Why a separate engine: JavaScript's RegExp backtracks, so a pattern such as `(a+)+$` takes
 * exponential time on some names and a loop over tensor names would hang the process (Ctrl-C is
 * not even delivered while a match runs). A static "is this pattern dangerous" check cannot be
 * both complete and exact (even `.*.*.*.*x` is polynomially slow), and a time limit cannot
 * interrupt a synchronous match. So patterns run on RE2 semantics (re2js, a JavaScript port of
 * RE2: automata, linear in the input, no backtracking), which works unchanged in Node and
 * browsers and needs no wasm. The price: RE2 has no lookaround and no backreferences (they are
 * what makes linear time impossible); such a pattern is refused with a message that says so.
 * Plain names and dotted literals (`down_proj`, `mlp\.down_proj`, `^lm_head$`), by far the most
 * common patterns, skip the engine and use a substring test.
 *
 * The result is a RegExp subclass whose `test`/`exec` (and so `String.prototype.match` etc.) run
 * the safe engine and whose `source` is the user's pattern, so existing code that keeps RegExps
 * works unchanged.
 */
import { RE2JS } from 're2js';
import { HQQError } from '../errors.js';

/** The user's pattern as a literal, when it is one: `mlp\.down` -> mlp.down, anchors noted. */
function literalOf(pattern: string): { text: string; start: boolean; end: boolean } | undefined {
  let p = pattern;
  const start = p.startsWith('^');
  if (start) p = p.slice(1);
  const end = p.endsWith('$') && !p.endsWith('\\$');
  if (end) p = p.slice(0, -1);
  let text = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined || !/[.\\/\-_[\](){}*+?|^$]/.test(n)) return undefined; // \d, \w, ...: not a literal
      text += n;
      i++;
    } else if (/[.*+?()[\]{}|^$]/.test(c)) {
      return undefined;
    } else {
      text += c;
    }
  }
  return { text, start, end };
}

/** A RegExp whose matching runs on a linear-time engine (see the module comment). */
export class UserRegExp extends RegExp {
  readonly #pattern: string;
  readonly #test: (s: string) => boolean;
  readonly #exec: (s: string) => RegExpExecArray | null;

  constructor(pattern: string, test: (s: string) => boolean, exec: (s: string) => RegExpExecArray | null) {
    super('(?:)');
    this.#pattern = pattern;
    this.#test = test;
    this.#exec = exec;
  }

  override get source(): string {
    return this.#pattern;
  }

  override toString(): string {
    return `/${this.#pattern}/`;
  }

  override test(s: string): boolean {
    return this.#test(String(s));
  }

  override exec(s: string): RegExpExecArray | null {
    return this.#exec(String(s));
  }
}

function execArray(match: string, index: number, input: string): RegExpExecArray {
  return Object.assign([match], { index, input, groups: undefined }) as RegExpExecArray;
}

/**
 * Compiles a user pattern (RE2 syntax, which for everyday patterns is JavaScript's: classes,
 * `\d \w \s`, groups, alternation, quantifiers, anchors). `what` names it in errors, e.g.
 * "--exclude". Throws INVALID_ARGUMENT for a syntax error or an unsupported construct.
 */
export function compileUserRegex(pattern: string, what: string): UserRegExp {
  if (typeof pattern !== 'string') throw new HQQError('INVALID_ARGUMENT', `${what} must be a string pattern, got ${typeof pattern}`);
  const lit = literalOf(pattern);
  if (lit) {
    const { text, start, end } = lit;
    const find = (s: string): number => {
      if (start && end) return s === text ? 0 : -1;
      if (start) return s.startsWith(text) ? 0 : -1;
      if (end) return s.endsWith(text) ? s.length - text.length : -1;
      return s.indexOf(text);
    };
    return new UserRegExp(pattern, (s) => find(s) >= 0, (s) => {
      const at = find(s);
      return at < 0 ? null : execArray(text, at, s);
    });
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const hint = /\(\?[=!<]|\\[1-9]|\\k</.test(pattern)
      ? '; lookahead, lookbehind and backreferences are not supported (patterns run on a linear-time engine so that no pattern can hang the run)'
      : '';
    throw new HQQError('INVALID_ARGUMENT', `${what}: ${JSON.stringify(pattern)} is not a valid regular expression (${why})${hint}`);
  }
  return new UserRegExp(pattern, (s) => re.test(s), (s) => {
    const m = re.exec(s);
    return m ? execArray(String(m[0]), (m as unknown as { index: number }).index, s) : null;
  });
}
