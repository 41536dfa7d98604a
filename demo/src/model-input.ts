/**
 * What the user opened, sorted by the package (`modelInputFromFolder`): the weights (one
 * .safetensors, shards with their index, or one .gguf), the folder's other files, and what each
 * output format needs from them. Turns it into the `ModelInput` of a run for a chosen format.
 */
import { blobSource, modelInputFromFolder, parseIndexJson, type ModelInput } from 'hqq-wasm';
import type { PickedFiles } from './collect';

export type OutputFormatChoice = 'hqq' | 'hqq-folder' | 'gguf';

export interface LoadedInput {
  label: string;
  kind: 'safetensors' | 'gguf';
  folderName?: string;
  /** Weight files by name (.safetensors shards or the .gguf), in the order the input reads them. */
  weights: Map<string, File>;
  index?: { text: string; fileName: string; weightMap: Map<string, string> };
  /** The folder's other files (config.json, tokenizer files, README...). */
  folderFiles: File[];
  /** Files left out, with the reason (other weight formats, sub-folders). */
  skipped: { name: string; reason: string }[];
}

/** What an output format needs from the folder, and which of it is there. */
export interface Needs {
  format: OutputFormatChoice;
  needed: { name: string; present: boolean; why: string }[];
  /** Used when present (the output is complete without them). */
  optional: { name: string; present: boolean; why: string }[];
  ok: boolean;
}

export async function loadPicked(picked: PickedFiles): Promise<LoadedInput> {
  const byName = new Map(picked.files.map((f) => [f.name, f]));
  const sorted = await modelInputFromFolder(picked.files.map((f) => blobSource(f, f.name)), { name: picked.folderName });
  const weights = new Map<string, File>();
  for (const s of sorted.sources) weights.set(s.name, byName.get(s.name)!);
  const kind = [...weights.keys()][0]!.toLowerCase().endsWith('.gguf') ? 'gguf' : 'safetensors';
  let index: LoadedInput['index'];
  if (sorted.index) {
    const parsed = parseIndexJson(sorted.index.text, sorted.index.fileName);
    index = { ...sorted.index, weightMap: parsed.weightMap };
  }
  const folderFiles = kind === 'gguf' ? [] : (sorted.folder?.files ?? []).map((s) => byName.get(s.name)!);
  const skipped = [...sorted.skipped, ...picked.subfolders.map((name) => ({ name: `${name}/`, reason: 'a sub-folder (only the folder\'s top level is read)' }))];
  return { label: picked.label, kind, folderName: picked.folderName, weights, index, folderFiles, skipped };
}

function has(inp: LoadedInput, name: string): boolean {
  return inp.folderFiles.some((f) => f.name === name);
}

/** Each output format's needs, for the page to show before anything runs. */
export function needsOf(inp: LoadedInput): Needs[] {
  const weights = { name: inp.kind === 'gguf' ? 'a .gguf file' : 'the .safetensors weights', present: true, why: 'the tensors' };
  if (inp.kind === 'gguf') {
    return [
      { format: 'hqq', needed: [{ name: '.safetensors weights', present: false, why: 'HQQ output is made from safetensors; a GGUF gives GGUF' }], optional: [], ok: false },
      { format: 'hqq-folder', needed: [{ name: '.safetensors weights', present: false, why: 'HQQ output is made from safetensors' }], optional: [], ok: false },
      { format: 'gguf', needed: [weights], optional: [], ok: true },
    ];
  }
  const config = { name: 'config.json', present: has(inp, 'config.json'), why: 'the architecture and its sizes' };
  const tokenizer = { name: 'tokenizer.json', present: has(inp, 'tokenizer.json'), why: 'a GGUF carries the tokenizer' };
  const opt = (name: string, why: string) => ({ name, present: has(inp, name), why });
  return [
    { format: 'hqq', needed: [weights], optional: [], ok: true },
    { format: 'hqq-folder', needed: [weights, config], optional: [opt('tokenizer.json', 'copied, for the runtimes to tokenize')], ok: config.present },
    {
      format: 'gguf', needed: [weights, config, tokenizer],
      optional: [opt('tokenizer_config.json', 'the chat template and the add-BOS/EOS flags'), opt('generation_config.json', 'the default sampling settings, general.sampling.*')],
      ok: config.present && tokenizer.present,
    },
  ];
}

/** The run's input for `format`: the folder goes along for the folder outputs only. */
export function modelInputFor(inp: LoadedInput, format: OutputFormatChoice, outputFileName: string | undefined): ModelInput {
  const sources = [...inp.weights.values()].map((f) => blobSource(f, f.name));
  const index = inp.index && { text: inp.index.text, fileName: inp.index.fileName };
  const folder = inp.kind === 'safetensors' && format !== 'hqq' ? { name: inp.folderName, files: inp.folderFiles.map((f) => blobSource(f, f.name)) } : undefined;
  return { sources, index, folder, outputFileName: index ? undefined : outputFileName };
}

/** The file holding `tensor` (for the plots). */
export function fileOf(inp: LoadedInput, tensor: string): File | undefined {
  if (inp.index) {
    const shard = inp.index.weightMap.get(tensor);
    return shard === undefined ? undefined : inp.weights.get(shard);
  }
  return inp.weights.values().next().value;
}
