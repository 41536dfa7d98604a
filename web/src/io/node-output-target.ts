/**
 * What an output path (`-o`) means (docs/outputs.md), Node-only. Nothing is created here: the
 * sink creates the output only once the plan is valid.
 *
 * - An output of several files (sharded safetensors + index, ...) is a folder: `-o dir` or
 *   `-o dir/`; `-o dir/name.index.json` (a path ending in `.json` that is not a folder) is the
 *   folder `dir` with that index name.
 * - A one-file output:
 *   - a path ending in `/` (or `\` on Windows) names a folder: a new one is created holding the
 *     file (finding 11: never a file named like the folder);
 *   - an existing folder (with or without the slash) receives the file under `defaultFileName`,
 *     next to what is already there; but a folder hqq-wasm made (it has `.hqq-wasm-output.json`)
 *     is a folder output and is replaced as a whole, like the run that made it;
 *   - anything else is the file's path.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { HQQError } from '../errors.js';
import { checkOutputIsNotInput, inspectFolderTarget, type OutputTarget } from './node-sink.js';
import { OUTPUT_MARKER } from './node-temporaries.js';
import { makeFolders } from './node-folders.js';
import { errText } from './node-writer.js';

export interface ResolvedOutput {
  target: OutputTarget;
  /** The name the output file gets (one-file outputs) or the index name (`-o dir/name.index.json`). */
  fileName?: string;
}

export interface ResolveOutputOptions {
  /** The output has several files (a folder is needed). */
  multiFile: boolean;
  /** One-file output written into a folder: its name there (usually the input's name). */
  defaultFileName: string;
  /** Refused as, or inside, the output. */
  inputPaths?: readonly string[];
  /** Also refuse, now, a folder the output may not replace (a folder of the user's, a file). Default true. */
  checkFolder?: boolean;
}

function endsWithSeparator(p: string): boolean {
  return p.endsWith('/') || (sep === '\\' && p.endsWith('\\'));
}

async function statOrUndefined(p: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  try {
    return await stat(p);
  } catch {
    return undefined;
  }
}

async function hasMarker(dir: string): Promise<boolean> {
  return (await statOrUndefined(join(dir, OUTPUT_MARKER)))?.isFile() ?? false;
}

/**
 * `outputPath` as a trailing-separator flag, the path without it, and what is there; for a
 * one-file output, a trailing "/" on an existing file is refused.
 */
async function outputPathParts(outputPath: string, oneFile: boolean): Promise<{ slash: boolean; bare: string; st: Awaited<ReturnType<typeof statOrUndefined>> }> {
  if (typeof outputPath !== 'string' || outputPath.length === 0) throw new HQQError('INVALID_ARGUMENT', 'the output path must be a non-empty string');
  const slash = endsWithSeparator(outputPath);
  const bare = slash ? outputPath.replace(/[\\/]+$/, '') || outputPath : outputPath;
  const st = await statOrUndefined(bare);
  if (oneFile && slash && st && !st.isDirectory()) {
    throw new HQQError('INVALID_ARGUMENT', `${outputPath}: ends in "/" (a folder), but it is a file; drop the "/" to replace the file, or name a folder`);
  }
  return { slash, bare, st };
}

/** Resolves `outputPath` into a file or folder target (see the module comment). */
export async function resolveOutputTarget(outputPath: string, options: ResolveOutputOptions): Promise<ResolvedOutput> {
  const { slash, bare, st } = await outputPathParts(outputPath, !options.multiFile);
  let resolved: ResolvedOutput;
  if (options.multiFile) {
    if (!slash && bare.endsWith('.json') && !st?.isDirectory()) resolved = { target: { kind: 'folder', path: dirname(bare) }, fileName: basename(bare) };
    else resolved = { target: { kind: 'folder', path: bare } };
  } else if (slash && !st) {
    resolved = { target: { kind: 'folder', path: bare }, fileName: options.defaultFileName };
  } else if (st?.isDirectory()) {
    resolved = (await hasMarker(bare))
      ? { target: { kind: 'folder', path: bare }, fileName: options.defaultFileName }
      : { target: { kind: 'file', path: join(bare, options.defaultFileName) }, fileName: options.defaultFileName };
  } else {
    resolved = { target: { kind: 'file', path: bare }, fileName: basename(bare) };
  }
  await checkOutputIsNotInput(resolved.target, options.inputPaths ?? []);
  if (resolved.target.kind === 'folder' && options.checkFolder !== false) await inspectFolderTarget(resolved.target.path);
  return resolved;
}

/** A one-file output written by a plain file writer (dequantize): its path, and a folder to create first. */
export interface OneFileOutput {
  /** The file to write. */
  path: string;
  /** A folder named with a trailing "/" that does not exist yet: create it once the plan is valid. */
  createFolder?: string;
}

/**
 * `outputPath` as the path of one file, with the one-file rules of `resolveOutputTarget`: a path
 * ending in "/" is a folder (created) holding `defaultFileName`, an existing folder receives it,
 * anything else is the file's path.
 */
export async function resolveOneFileOutput(outputPath: string, defaultFileName: string): Promise<OneFileOutput> {
  const { slash, bare, st } = await outputPathParts(outputPath, true);
  if (st?.isDirectory()) return { path: join(bare, defaultFileName) };
  if (slash) return { path: join(bare, defaultFileName), createFolder: bare };
  return { path: bare };
}

/** The default name of a dequantized file: the input's base name as a .safetensors file. */
export function dequantizedFileName(inputPath: string): string {
  return basename(inputPath).replace(/\.(safetensors|gguf)$/i, '') + '.safetensors';
}

/** Creates a folder an output was asked into (`-o newdir/`). */
export async function createOutputFolder(dir: string): Promise<void> {
  try {
    await makeFolders(dir);
  } catch (e) {
    throw new HQQError('IO_ERROR', `${dir}: cannot create the output folder (${errText(e)}); check the path and permissions`, { cause: e });
  }
}
