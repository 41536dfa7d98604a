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
    // A UTF-8 byte order mark is legal in files written by some editors; JSON.parse refuses it.
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
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
