/**
 * What the user opened, sorted by the package (`modelInputFromFolder`): the weights (one
 * .safetensors, shards with their index, or one .gguf), the folder's other files, and what each
 * output format needs from them; or an ONNX model with its external data (onnx-input.ts). Turns
 * it into the `ModelInput` of a run for a chosen format.
 */
import { blobSource, modelInputFromFolder, parseIndexJson, type ModelInput } from 'hqq-wasm';
import type { PickedFiles } from './collect';
import { externalDataOf, onnxOutputName, pickONNX, type ExternalData, type ONNXPick } from './onnx-input';

export type OutputFormatChoice = 'hqq' | 'hqq-folder' | 'gguf' | 'onnx';

export interface LoadedInput {
  label: string;
  kind: 'safetensors' | 'gguf' | 'onnx';
  folderName?: string;
  /** Weight files by name (.safetensors shards or the .gguf), in the order the input reads them. */
  weights: Map<string, File>;
  index?: { text: string; fileName: string; weightMap: Map<string, string> };
  /** The folder's other files (config.json, tokenizer files, README...). */
  folderFiles: File[];
  /** Files left out, with the reason (other weight formats, sub-folders). */
  skipped: { name: string; reason: string }[];
  /** ONNX input: the model (also in `weights`), its external data files (present ones in `weights` too). */
  onnx?: { model: File; external: ExternalData; transformersJs: boolean };
}

/** What an output format needs from the folder, and which of it is there. */
export interface Needs {
  format: OutputFormatChoice;
  needed: { name: string; present: boolean; why: string }[];
  /** Used when present (the output is complete without them). */
  optional: { name: string; present: boolean; why: string }[];
  ok: boolean;
}

async function loadONNX(picked: PickedFiles, pick: ONNXPick): Promise<LoadedInput> {
  const external = await externalDataOf(pick);
  const weights = new Map<string, File>([[pick.model.name, pick.model]]);
  for (const name of external.names) {
    const f = pick.candidates.find((c) => c.name === name.split(/[\\/]/).pop());
    if (f) weights.set(f.name, f);
  }
  const unused = pick.candidates.filter((f) => !weights.has(f.name));
  const subfolders = picked.subfolders.map((name) => ({ name: `${name}/`, reason: 'a sub-folder (only the folder\'s top level is read)' }));
  return {
    label: pick.transformersJs ? `${picked.label} (onnx/${pick.model.name})` : picked.label,
    kind: 'onnx', folderName: picked.folderName, weights, folderFiles: [...pick.folderFiles, ...unused],
    skipped: [...pick.skipped, ...subfolders], onnx: { model: pick.model, external, transformersJs: pick.transformersJs },
  };
}

export async function loadPicked(picked: PickedFiles): Promise<LoadedInput> {
  const onnx = pickONNX(picked);
  if (onnx) return loadONNX(picked, onnx);
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
  const subfolders = [...picked.subfolders, ...(picked.onnxFolder ? ['onnx'] : [])];
  const skipped = [...sorted.skipped, ...subfolders.map((name) => ({ name: `${name}/`, reason: name === 'onnx' ? 'ONNX models (this folder has safetensors/GGUF weights at the top; drop onnx/ itself to quantize its model)' : 'a sub-folder (only the folder\'s top level is read)' }))];
  return { label: picked.label, kind, folderName: picked.folderName, weights, index, folderFiles, skipped };
}

function has(inp: LoadedInput, name: string): boolean {
  return inp.folderFiles.some((f) => f.name === name);
}

function onnxNeeds(inp: LoadedInput): Needs[] {
  const ext = inp.onnx!.external;
  const needed = [{ name: inp.onnx!.model.name, present: true, why: 'the graph' }, ...ext.names.map((name) => ({ name, present: !ext.missing.includes(name), why: 'external data the model names' }))];
  const notHere = (why: string) => [{ name: '.safetensors weights', present: false, why }];
  return [
    { format: 'hqq', needed: notHere('HQQ output is made from safetensors; an ONNX model gives ONNX'), optional: [], ok: false },
    { format: 'hqq-folder', needed: notHere('HQQ output is made from safetensors'), optional: [], ok: false },
    { format: 'gguf', needed: notHere('GGUF output is made from safetensors or a .gguf'), optional: [], ok: false },
    { format: 'onnx', needed, optional: [], ok: ext.missing.length === 0 },
  ];
}

/** Each output format's needs, for the page to show before anything runs. */
export function needsOf(inp: LoadedInput): Needs[] {
  if (inp.kind === 'onnx') return onnxNeeds(inp);
  const onnx: Needs = { format: 'onnx', needed: [{ name: 'a .onnx model', present: false, why: 'MatMulNBits output is made from an ONNX model' }], optional: [], ok: false };
  const weights = { name: inp.kind === 'gguf' ? 'a .gguf file' : 'the .safetensors weights', present: true, why: 'the tensors' };
  if (inp.kind === 'gguf') {
    return [
      { format: 'hqq', needed: [{ name: '.safetensors weights', present: false, why: 'HQQ output is made from safetensors; a GGUF gives GGUF' }], optional: [], ok: false },
      { format: 'hqq-folder', needed: [{ name: '.safetensors weights', present: false, why: 'HQQ output is made from safetensors' }], optional: [], ok: false },
      { format: 'gguf', needed: [weights], optional: [], ok: true },
      onnx,
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
    onnx,
  ];
}

/** The run's input for `format`: the folder goes along for the folder outputs only. */
export function modelInputFor(inp: LoadedInput, format: OutputFormatChoice, outputFileName: string | undefined): ModelInput {
  if (inp.kind === 'onnx') return { sources: [...inp.weights.values()].map((f) => blobSource(f, f.name)), outputFileName };
  const sources = [...inp.weights.values()].map((f) => blobSource(f, f.name));
  const index = inp.index && { text: inp.index.text, fileName: inp.index.fileName };
  const folder = inp.kind === 'safetensors' && format !== 'hqq' ? { name: inp.folderName, files: inp.folderFiles.map((f) => blobSource(f, f.name)) } : undefined;
  return { sources, index, folder, outputFileName: index ? undefined : outputFileName };
}

/** The ONNX output's name for `bits` (model_q4.onnx...). */
export function onnxOutputFor(inp: LoadedInput, bits: number): string {
  return onnxOutputName(inp.onnx!.model.name, bits);
}

/** The file holding `tensor` (for the plots). */
export function fileOf(inp: LoadedInput, tensor: string): File | undefined {
  if (inp.index) {
    const shard = inp.index.weightMap.get(tensor);
    return shard === undefined ? undefined : inp.weights.get(shard);
  }
  return inp.weights.values().next().value;
}
