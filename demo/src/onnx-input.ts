/**
 * ONNX input: which `.onnx` of what was opened is the model (a dropped file, or a transformers.js
 * folder's `onnx/model.onnx` / `onnx/model_fp16.onnx`), which external data files its
 * initializers name (`location`) and which of them are missing, and the output file name.
 */
import { HQQError, blobSource, planModelInput, type ByteSource } from 'hqq-wasm';
import type { PickedFiles } from './collect';

export interface ONNXPick {
  model: File;
  /** Files next to the model that may hold its external data (matched by name by the library). */
  candidates: File[];
  /** Top-level files of a transformers.js folder (config.json, tokenizer files...): shown, not used. */
  folderFiles: File[];
  skipped: { name: string; reason: string }[];
  /** Opened as a transformers.js folder (the model came from `onnx/`). */
  transformersJs: boolean;
}

export interface ExternalData {
  /** Every external data file the model names, in the order first read. */
  names: string[];
  /** Those not among the given files. */
  missing: string[];
}

const isONNX = (f: File) => /\.onnx$/i.test(f.name);
/** The two inputs transformers.js quantizes from (fp32, fp16), in that preference. */
const BASE_MODELS = ['model.onnx', 'model_fp16.onnx'];

function chooseModel(onnx: File[]): File {
  if (onnx.length === 1) return onnx[0]!;
  for (const name of BASE_MODELS) {
    const f = onnx.find((x) => x.name === name);
    if (f) return f;
  }
  throw new HQQError('INVALID_ARGUMENT', `several .onnx models were given (${onnx.map((f) => f.name).join(', ')}); drop one, with its external data file`);
}

function pickFrom(files: File[], others: File[], transformersJs: boolean): ONNXPick {
  const onnx = files.filter(isONNX);
  const model = chooseModel(onnx);
  const skipped = onnx.filter((f) => f !== model).map((f) => ({ name: f.name, reason: `another .onnx (${model.name} is the model quantized)` }));
  return { model, candidates: files.filter((f) => !isONNX(f)), folderFiles: others, skipped, transformersJs };
}

/**
 * The ONNX model of `picked`, or undefined when it holds none the page should use: a `.onnx` at
 * the top level wins; else, when the top level has no .safetensors/.gguf weights, a
 * transformers.js folder's `onnx/model.onnx` (or `model_fp16.onnx`).
 */
export function pickONNX(picked: PickedFiles): ONNXPick | undefined {
  if (picked.files.some(isONNX)) return pickFrom(picked.files, [], false);
  const sub = picked.onnxFolder?.filter((f) => BASE_MODELS.includes(f.name)) ?? [];
  if (sub.length === 0 || picked.files.some((f) => /\.(safetensors|gguf)$/i.test(f.name))) return undefined;
  const inner = picked.onnxFolder!.filter((f) => !isONNX(f) || sub.includes(f));
  const pick = pickFrom(inner, picked.files, true);
  for (const f of picked.onnxFolder!) {
    if (isONNX(f) && !sub.includes(f)) pick.skipped.push({ name: `onnx/${f.name}`, reason: 'another variant (quantized from model.onnx or model_fp16.onnx only)' });
  }
  return pick;
}

/**
 * A stand-in for a missing external data file: it lets the library walk the whole graph, so that
 * every missing file is named at once (not only the first). Nothing is ever read from it: a
 * dry open reads headers only.
 */
function standIn(location: string): ByteSource {
  return {
    name: location, size: Number.MAX_SAFE_INTEGER,
    read: () => Promise.reject(new HQQError('IO_ERROR', `${location} was not given; drop it together with the .onnx`)),
  };
}

/** The external data files `pick.model` names, and which of them were not given. */
export async function externalDataOf(pick: ONNXPick): Promise<ExternalData> {
  const missing: string[] = [];
  const planned = await planModelInput({
    sources: [blobSource(pick.model, pick.model.name), ...pick.candidates.map((f) => blobSource(f, f.name))],
    openExternal: async (location) => {
      if (!missing.includes(location)) missing.push(location);
      return standIn(location);
    },
  }, { format: 'onnx' });
  const names = planned.input.fileNames.slice(1);
  await planned.close();
  return { names, missing };
}

/** The page's error for missing external data: every missing file, and the way out. */
export function missingDataError(model: string, ext: ExternalData): HQQError {
  const list = ext.missing.join(', ');
  return new HQQError('IO_ERROR', `${model} keeps weights in ${ext.names.length === 1 ? 'the external data file' : `${ext.names.length} external data files`} (${ext.names.join(', ')}); missing: ${list}. Drop or choose ${ext.missing.length === 1 ? 'it' : 'them'} together with the .onnx`);
}

/**
 * The output name, as transformers.js looks for it: model.onnx -> model_q4.onnx, model_fp16.onnx
 * -> model_q4f16.onnx (`dtype: 'q4'` / `'q4f16'`), name.onnx -> name_q4.onnx.
 */
export function onnxOutputName(model: string, bits: number): string {
  const stem = model.replace(/\.onnx$/i, '');
  if (/_fp16$/.test(stem)) return `${stem.replace(/_fp16$/, '')}_q${bits}f16.onnx`;
  return `${stem}_q${bits}.onnx`;
}
