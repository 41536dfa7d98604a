/**
 * Small helpers to read the JSON files of a Hugging Face folder with errors that name the file
 * and the key. Browser-safe.
 */
import { HQQError } from '../../errors.js';
import { scanJsonKeys } from '../../io/safetensors.js';

/** A parsed JSON object. */
export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** "an object", "a string", "null"... for messages. */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** A config value for a message: JSON, but NaN and Infinity as themselves (JSON.stringify says null). */
export function shownJson(v: unknown): string {
  return typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/** Python's json module writes these for float nan/inf (allow_nan=True is its default). */
const PYTHON_NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** Same-length valid stand-ins, so that a syntax error elsewhere is reported at its true position. */
const SAME_LENGTH: Record<string, string> = { NaN: '0.0', Infinity: '0.000000', '-Infinity': '-0.000000' };

/**
 * Where Python's bare NaN / Infinity / -Infinity tokens stand as values (not as keys, not inside
 * strings): after ':', after '[' or a ',' inside an array, or as the whole document.
 */
function nonFiniteTokens(body: string): { at: number; token: string }[] {
  const found: { at: number; token: string }[] = [];
  const stack: number[] = []; // 0x7b '{' or 0x5b '['
  let last = -1; // the last significant character outside strings (-1: none yet)
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < body.length && body.charCodeAt(i) !== 0x22; i++) if (body.charCodeAt(i) === 0x5c /* \ */) i++;
      last = 0x22;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (c === 0x7b || c === 0x5b) stack.push(c);
    else if (c === 0x7d || c === 0x5d) stack.pop();
    else if (c === 0x4e /* N */ || c === 0x49 /* I */ || c === 0x2d /* - */) {
      const value = last === -1 || last === 0x3a /* : */ || last === 0x5b || (last === 0x2c /* , */ && stack[stack.length - 1] === 0x5b);
      const token = value ? /^(-?Infinity|NaN)(?![\w$.])/.exec(body.slice(i, i + 10))?.[1] : undefined;
      if (token) {
        found.push({ at: i, token });
        i += token.length - 1;
        last = 0x30; // a value
        continue;
      }
    }
    last = c;
  }
  return found;
}

function substitute(body: string, tokens: readonly { at: number; token: string }[], replace: (token: string) => string): string {
  let out = '';
  let from = 0;
  for (const { at, token } of tokens) {
    out += body.slice(from, at) + replace(token);
    from = at + token.length;
  }
  return out + body.slice(from);
}

/**
 * Parses JSON as Hugging Face's Python tools write and read it: a leading UTF-8 byte order mark
 * is skipped (some editors write one; JSON.parse refuses it), and the bare tokens NaN, Infinity
 * and -Infinity in value positions are read as those numbers (Python's json.dump writes them and
 * json.load reads them, so transformers accepts such a config). Anything else JSON.parse refuses
 * (such a token as a key, +Infinity, nan) throws its SyntaxError, positioned in `text`.
 */
export function parseHFJson(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const tokens = /NaN|Infinity/.test(body) ? nonFiniteTokens(body) : [];
  if (tokens.length === 0) return JSON.parse(body);
  // Each token becomes a string starting with a per-call marker (written as a \u0000 escape: JSON
  // strings hold no raw control characters), which the reviver turns back into its number.
  const tag = `hqq-wasm-${Math.random().toString(36).slice(2)}:`;
  const prefix = `\u0000${tag}`;
  try {
    return JSON.parse(substitute(body, tokens, (t) => `"\\u0000${tag}${t}"`), (_key, v) => (typeof v === 'string' && v.startsWith(prefix) ? PYTHON_NON_FINITE[v.slice(prefix.length)] : v));
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    JSON.parse(substitute(body, tokens, (t) => SAME_LENGTH[t]!)); // throws the error at its place in the text
    throw e;
  }
}

/**
 * Parses `text` as a JSON object. `checkDuplicates` scans the raw text for repeated keys first
 * (JSON.parse silently keeps the last one); it is meant for the small config files, not for a
 * 10 MB tokenizer.json.
 */
export function parseJsonObject(text: string, fileName: string, checkDuplicates = false): JsonObject {
  if (typeof text !== 'string') {
    throw new HQQError('INVALID_ARGUMENT', `${fileName}: expected the file's text (a string), got ${describeJson(text)}`);
  }
  let value: unknown;
  try {
    value = parseHFJson(text);
  } catch (e) {
    throw new HQQError('BAD_FILE', `${fileName}: not valid JSON (${e instanceof Error ? e.message : String(e)}); the file is corrupt or truncated — download it again`);
  }
  if (!isObject(value)) {
    throw new HQQError('BAD_FILE', `${fileName}: the top level is ${describeJson(value)}, but it must be a JSON object; is this the right file?`);
  }
  if (checkDuplicates) {
    const dup = scanJsonKeys(text).duplicate;
    if (dup) {
      const inside = dup.path.length ? ` inside ${dup.path.map((p) => JSON.stringify(p)).join('.')}` : '';
      throw new HQQError('BAD_FILE', `${fileName}: key ${JSON.stringify(dup.key)} appears twice${inside}; JSON readers keep only the last one, so the file is ambiguous. Remove the duplicate`);
    }
  }
  return value;
}

/** A positive safe integer at `obj[key]`, or undefined when absent/null. Anything else is BAD_FILE. */
export function optionalPositiveInt(obj: JsonObject, key: string, fileName: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new HQQError('BAD_FILE', `${fileName}: "${key}" is ${shownJson(v)}, but it must be a positive integer`);
  }
  return v;
}

/** A finite number at `obj[key]`, or undefined when absent/null. */
export function optionalNumber(obj: JsonObject, key: string, fileName: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new HQQError('BAD_FILE', `${fileName}: "${key}" is ${shownJson(v)}, but it must be a finite number`);
  }
  return v;
}
