/**
 * The one input file of `inspect` and `dequantize`: what kind of file it is, and for a model
 * folder, the folder's weights. The kind goes by the file name first (a `.gguf` whose magic is
 * damaged is reported by the GGUF reader as a bad GGUF file, not as a bad safetensors header),
 * then by the GGUF magic (a GGUF file under another name).
 */
import { join } from 'node:path';
import { isDirectory, listFolder } from '../io/node-folders.js';
import { isGGUFFile } from '../node-gguf.js';
import { UsageError } from './io.js';

/** The container of an input file. */
export type InputKind = 'gguf' | 'onnx' | 'safetensors';

/** An input file and its kind. */
export interface InputFile {
  /** The file to read (for a folder, its weights file). */
  path: string;
  /** Its container. */
  kind: InputKind;
}

/**
 * The weights file of a model folder: its safetensors index, else its one .safetensors, .gguf or
 * .onnx file (also in an `onnx/` sub-folder, as transformers.js lays it out).
 */
async function folderWeights(dir: string, command: string): Promise<string> {
  const names = (await listFolder(dir)).files; // a sub-folder named x.safetensors is no weight file
  const pick = (re: RegExp) => names.filter((n) => re.test(n));
  for (const re of [/\.safetensors\.index\.json$/, /\.safetensors$/, /\.gguf$/i, /\.onnx$/i]) {
    const found = pick(re);
    if (found.length === 1) return join(dir, found[0]!);
    if (found.length > 1) {
      throw new UsageError(`${dir} holds ${found.length} such weight files (${found.slice(0, 4).join(', ')}${found.length > 4 ? ', ...' : ''}); ${command} one of them by its path`);
    }
  }
  if (await isDirectory(join(dir, 'onnx'))) {
    const onnx = (await listFolder(join(dir, 'onnx'))).files.filter((n) => /\.onnx$/i.test(n));
    if (onnx.includes('model.onnx')) return join(dir, 'onnx', 'model.onnx');
    if (onnx.length === 1) return join(dir, 'onnx', onnx[0]!);
  }
  throw new UsageError(`${dir} is a folder with no model weights (.safetensors, .safetensors.index.json, .gguf or .onnx); pass a model file or the folder that holds one`);
}

/** The input of `command` and its kind; a folder stands for its weights file. */
export async function resolveInputFile(path: string, command: string): Promise<InputFile> {
  // (an absent or unreadable path goes on as a file: the reader's own error names the problem)
  const file = (await isDirectory(path)) ? await folderWeights(path, command) : path;
  if (/\.gguf$/i.test(file)) return { path: file, kind: 'gguf' };
  if (/\.onnx$/i.test(file)) return { path: file, kind: 'onnx' };
  if (/\.json$/i.test(file)) return { path: file, kind: 'safetensors' }; // a shard index
  return { path: file, kind: (await isGGUFFile(file).catch(() => false)) ? 'gguf' : 'safetensors' };
}
