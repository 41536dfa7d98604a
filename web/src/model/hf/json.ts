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

/** Python's json module writes these for float nan/inf (allow_nan=True is its default). */
const PYTHON_NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/**
 * Parses JSON as Hugging Face's Python tools write and read it: a leading UTF-8 byte order mark
 * is skipped (some editors write one; JSON.parse refuses it), and the bare tokens NaN, Infinity
 * and -Infinity outside strings are read as those numbers (Python's json.dump writes them and
 * json.load reads them, so transformers accepts such a config). Throws JSON.parse's SyntaxError.
 */
export function parseHFJson(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (!/NaN|Infinity/.test(body)) return JSON.parse(body);
  // Each bare token becomes a string starting with a per-call marker (written as a \u0000 escape:
  // JSON strings hold no raw control characters), which the reviver turns back into its number.
  const tag = `hqq-wasm-${Math.random().toString(36).slice(2)}:`;
  let out = '';
  let from = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < body.length && body.charCodeAt(i) !== 0x22; i++) if (body.charCodeAt(i) === 0x5c /* \ */) i++;
      continue;
    }
    if (c !== 0x4e /* N */ && c !== 0x49 /* I */ && c !== 0x2d /* - */) continue;
    const token = /^(-?Infinity|NaN)(?![\w$])/.exec(body.slice(i, i + 10))?.[1];
    if (token && !/[\w$.]/.test(body[i - 1] ?? '')) {
      out += `${body.slice(from, i)}"\\u0000${tag}${token}"`;
      i += token.length - 1;
      from = i + 1;
    }
  }
  const prefix = `\u0000${tag}`;
  return JSON.parse(out + body.slice(from), (_key, v) => (typeof v === 'string' && v.startsWith(prefix) ? PYTHON_NON_FINITE[v.slice(prefix.length)] : v));
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
    throw new HQQError('BAD_FILE', `${fileName}: "${key}" is ${JSON.stringify(v)}, but it must be a positive integer`);
  }
  return v;
}

/** A finite number at `obj[key]`, or undefined when absent/null. */
export function optionalNumber(obj: JsonObject, key: string, fileName: string): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new HQQError('BAD_FILE', `${fileName}: "${key}" is ${JSON.stringify(v)}, but it must be a finite number`);
  }
  return v;
}
