/**
 * A model folder as a `ModelInput` (browser-safe): the files of a Hugging Face folder (a dropped
 * folder, selected files, a Node directory listing) sorted into the weights (one .safetensors, or
 * the shards of model.safetensors.index.json; or one .gguf) and the folder's other files
 * (config.json, tokenizer files...). Errors say which file is missing or extra.
 */
import { HQQError } from '../errors.js';
import { parseIndexJson } from '../io/index-json.js';
import type { ByteSource } from '../io/source.js';
import type { ModelInput } from './input.js';

/** Weight files of other formats: never copied into an output folder, never read. */
const OTHER_WEIGHTS = /\.(bin|pt|pth|ckpt|h5|msgpack|onnx|onnx_data|gguf)$/i;

function baseName(name: string): string {
  return name.split(/[\\/]/).pop() ?? name;
}

/** A `ModelInput` made from a folder's files, and what was left out. */
export interface FolderModelInput extends ModelInput {
  /** Files of the folder left out of the input (other weight formats): each `name` with the `reason`. */
  skipped: { name: string; reason: string }[];
}

/**
 * Sorts a folder's files into a ModelInput. Sub-folders are not looked into (a file name with a
 * folder part keeps only its last component).
 * @param options.name The folder's name (GGUF output falls back to it for `general.name`).
 */
export async function modelInputFromFolder(files: readonly ByteSource[], options: { name?: string } = {}): Promise<FolderModelInput> {
  if (!Array.isArray(files) || files.length === 0) throw new HQQError('INVALID_ARGUMENT', 'the model folder holds no files; pick the folder with config.json and the .safetensors weights');
  const byName = new Map<string, ByteSource>();
  for (const f of files) {
    const b = baseName(f.name);
    if (byName.has(b)) throw new HQQError('INVALID_ARGUMENT', `the folder holds two files named ${b}; pick one model folder`);
    byName.set(b, f);
  }
  const names = [...byName.keys()];
  const indexes = names.filter((n) => n.endsWith('.safetensors.index.json'));
  const safetensors = names.filter((n) => n.endsWith('.safetensors'));
  const ggufs = names.filter((n) => n.toLowerCase().endsWith('.gguf'));
  if (indexes.length > 1) throw new HQQError('INVALID_ARGUMENT', `the folder holds ${indexes.length} index files (${indexes.join(', ')}); keep the one of this model`);
  let sources: ByteSource[];
  let index: ModelInput['index'];
  if (indexes.length === 1) {
    const f = byName.get(indexes[0]!)!;
    const text = new TextDecoder().decode(await f.read(0, f.size));
    const parsed = parseIndexJson(text, indexes[0]!);
    const missing = parsed.shards.filter((s) => !byName.has(s));
    if (missing.length > 0) throw new HQQError('BAD_FILE', `${indexes[0]} lists ${missing.join(', ')}, which the folder does not hold; download every shard`);
    sources = parsed.shards.map((s) => byName.get(s)!);
    index = { text, fileName: indexes[0]! };
    const extra = safetensors.filter((s) => !parsed.shards.includes(s));
    if (extra.length > 0) throw new HQQError('BAD_FILE', `the folder holds ${extra.join(', ')}, which ${indexes[0]} does not list; remove what does not belong to this model`);
  } else if (safetensors.length === 1) {
    sources = [byName.get(safetensors[0]!)!];
  } else if (safetensors.length > 1) {
    throw new HQQError('BAD_FILE', `the folder holds ${safetensors.length} .safetensors files but no model.safetensors.index.json; a sharded model needs its index`);
  } else if (ggufs.length === 1) {
    return { sources: [byName.get(ggufs[0]!)!], skipped: names.filter((n) => n !== ggufs[0]).map((name) => ({ name, reason: 'a GGUF file carries its own metadata and tokenizer' })) };
  } else {
    throw new HQQError('BAD_FILE', `the folder holds no model weights (.safetensors, with model.safetensors.index.json when sharded, or one .gguf); found: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}`);
  }
  const weights = new Set([...sources.map((s) => baseName(s.name)), ...indexes]);
  const skipped: FolderModelInput['skipped'] = [];
  const rest: ByteSource[] = [];
  for (const [n, f] of byName) {
    if (weights.has(n)) continue;
    if (OTHER_WEIGHTS.test(n)) skipped.push({ name: n, reason: 'weights in another format' });
    else rest.push(f);
  }
  return { sources, index, folder: { name: options.name, files: rest }, skipped };
}
