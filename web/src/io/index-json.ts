/**
 * `model.safetensors.index.json`: `{"metadata": {...}, "weight_map": {tensorName: shardFileName}}`.
 * Shard names must be plain file names in the same folder as the index: non-empty, no "/" or "\",
 * not "." or "..", no NUL, ending in ".safetensors". Duplicate keys are rejected (checked on the raw
 * text, since JSON.parse keeps only the last one).
 */
import { HQQError } from '../errors.js';
import { scanJsonKeys } from './safetensors.js';

/** A parsed, validated `model.safetensors.index.json`. */
export interface IndexJson {
  /** The name given to the parser, for messages. */
  fileName: string;
  /** The index's "metadata" object as parsed (e.g. {total_size: 123}); {} when absent. */
  metadata: Record<string, unknown>;
  /** Tensor name -> shard file name, in the file's order. */
  weightMap: Map<string, string>;
  /** Unique shard file names, in order of first appearance in weight_map. */
  shards: string[];
}

/** Why `name` is not an acceptable shard file name, or undefined when it is fine. */
export function shardNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.includes('/') || name.includes('\\')) return 'contains a path separator; shards must sit next to the index';
  if (name === '.' || name === '..') return 'is "." or ".."; shards must be files next to the index';
  if (name.includes('\0')) return 'contains a NUL character';
  if (!name.endsWith('.safetensors') || name === '.safetensors') return 'does not end with ".safetensors"';
  return undefined;
}

function bad(message: string): HQQError {
  return new HQQError('BAD_FILE', message);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Parses and validates the text of a `model.safetensors.index.json`. `fileName` names it in
 * messages. Throws `BAD_FILE` for invalid JSON, duplicate keys, a missing or malformed `weight_map`
 * or a shard name that is not a plain `.safetensors` file name next to the index.
 */
export function parseIndexJson(text: string, fileName: string): IndexJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw bad(`${fileName}: not valid JSON (${e instanceof Error ? e.message : String(e)}); the index file is corrupt — download it again`);
  }
  if (!isObj(value)) throw bad(`${fileName}: the top level is ${kind(value)}, but an index must be an object with "weight_map"; is this the right file?`);
  const scan = scanJsonKeys(text);
  if (scan.duplicate) {
    const { key, path } = scan.duplicate;
    const inside = path.length ? ` inside ${path.map((p) => JSON.stringify(p)).join('.')}` : '';
    throw bad(`${fileName}: key ${JSON.stringify(key)} appears twice${inside} (duplicate key); JSON parsers would silently keep only the last one. The index is corrupt`);
  }
  let metadata: Record<string, unknown> = {};
  if (Object.prototype.hasOwnProperty.call(value, 'metadata')) {
    const m = value.metadata;
    if (!isObj(m)) throw bad(`${fileName}: "metadata" is ${kind(m)}, but it must be an object (e.g. {"total_size": 123}); the index is corrupt`);
    if ('total_size' in m && !(Number.isSafeInteger(m.total_size) && (m.total_size as number) >= 0)) {
      throw bad(`${fileName}: "metadata"."total_size" is ${JSON.stringify(m.total_size)}, but it must be a non-negative integer byte count; the index is corrupt`);
    }
    metadata = m;
  }
  if (!Object.prototype.hasOwnProperty.call(value, 'weight_map')) {
    throw bad(`${fileName}: no "weight_map"; an index maps every tensor name to its shard file. Is this a model.safetensors.index.json?`);
  }
  const wm = value.weight_map;
  if (!isObj(wm)) throw bad(`${fileName}: "weight_map" is ${kind(wm)}, but it must be an object mapping tensor names to shard file names`);
  const order = scan.childKeys.get('weight_map') ?? Object.keys(wm);
  if (order.length === 0) throw bad(`${fileName}: "weight_map" is empty; an index must list at least one tensor`);
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  const seenShard = new Set<string>();
  for (const tensor of order) {
    const shard = wm[tensor];
    if (typeof shard !== 'string') {
      throw bad(`${fileName}: tensor ${JSON.stringify(tensor)}: shard is ${kind(shard)}, but weight_map values must be shard file names (strings)`);
    }
    const problem = shardNameProblem(shard);
    if (problem) {
      throw bad(`${fileName}: tensor ${JSON.stringify(tensor)}: shard file name ${JSON.stringify(shard)} ${problem}; the index is corrupt or unsafe`);
    }
    weightMap.set(tensor, shard);
    if (!seenShard.has(shard)) {
      seenShard.add(shard);
      shards.push(shard);
    }
  }
  return { fileName, metadata, weightMap, shards };
}

/**
 * Builds an index JSON string (2-space indented, like Hugging Face writes it) with
 * `metadata.total_size = totalSize` plus `extraMetadata`, and the weight map in the given order.
 */
export function buildIndexJson(
  weightMap: Map<string, string> | Record<string, string>,
  totalSize: number,
  extraMetadata: Record<string, unknown> = {},
): string {
  if (!Number.isSafeInteger(totalSize) || totalSize < 0) {
    throw new HQQError('INVALID_ARGUMENT', `buildIndexJson: totalSize ${totalSize} must be a non-negative integer (the sum of all tensor bytes)`);
  }
  const entries = weightMap instanceof Map ? [...weightMap] : Object.entries(weightMap);
  if (entries.length === 0) throw new HQQError('INVALID_ARGUMENT', 'buildIndexJson: the weight map is empty; list at least one tensor');
  for (const [tensor, shard] of entries) {
    const problem = typeof shard === 'string' ? shardNameProblem(shard) : 'is not a string';
    if (problem) throw new HQQError('INVALID_ARGUMENT', `buildIndexJson: tensor ${JSON.stringify(tensor)}: shard file name ${JSON.stringify(shard)} ${problem}`);
  }
  const meta: string[] = [`    "total_size": ${totalSize}`];
  for (const [k, v] of Object.entries(extraMetadata)) {
    if (k === 'total_size') continue;
    const json = JSON.stringify(v);
    if (json === undefined) throw new HQQError('INVALID_ARGUMENT', `buildIndexJson: metadata key ${JSON.stringify(k)} has a value JSON cannot hold`);
    meta.push(`    ${JSON.stringify(k)}: ${json}`);
  }
  const wm = entries.map(([t, s]) => `    ${JSON.stringify(t)}: ${JSON.stringify(s)}`);
  return `{\n  "metadata": {\n${meta.join(',\n')}\n  },\n  "weight_map": {\n${wm.join(',\n')}\n  }\n}\n`;
}
