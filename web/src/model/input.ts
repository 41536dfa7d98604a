/**
 * The input model, whatever its container: every tensor with its name, dtype, row-major shape and
 * a positional reader, plus the container's own header data for the formats that need it. Opened
 * from `ByteSource`s (browser File/Blob, Node files) with headers only; no tensor is read here.
 * Browser-safe.
 */
import { HQQError } from '../errors.js';
import { parseIndexJson, type IndexJson } from '../io/index-json.js';
import { openSafetensors, type SafetensorsFile, type TensorInfo } from '../io/safetensors.js';
import type { ByteSource } from '../io/source.js';

export interface InputTensor {
  name: string;
  /** The container's dtype name: F32, F16, BF16, I64... (safetensors), or a GGML type (GGUF). */
  dtype: string;
  /** Row-major (PyTorch order; a GGUF tensor's ne reversed). */
  shape: number[];
  numel: number;
  byteLength: number;
  /** Index of the input file holding it. */
  sourceIndex: number;
  /** Reads `length` bytes at `offset` inside the tensor's data. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface SafetensorsInput {
  kind: 'safetensors';
  files: SafetensorsFile[];
  /** Sharded models: the parsed index (shards in its order). */
  index?: IndexJson;
  /** Single-file output name asked for by the caller. */
  outputFileName?: string;
}

export interface InputModel {
  /** Input file names, in order. */
  fileNames: string[];
  tensors: InputTensor[];
  container: SafetensorsInput;
  close(): Promise<void>;
}

export interface ModelInput {
  /** Single-file model: one source. Sharded: every shard named in the index (matched by `name`). */
  sources: readonly ByteSource[];
  /** Sharded models: the `model.safetensors.index.json` text and its file name. */
  index?: { text: string; fileName: string };
  /** Single-file output: the file name given to the sink (default: the input's name). */
  outputFileName?: string;
}

function invalid(message: string): never {
  throw new HQQError('INVALID_ARGUMENT', message);
}

/** Orders the sources as the index lists its shards; every shard must be given. */
function orderByIndex(sources: readonly ByteSource[], index: IndexJson): ByteSource[] {
  const byName = new Map(sources.map((s) => [s.name, s]));
  return index.shards.map((shard) => {
    const s = byName.get(shard);
    if (!s) invalid(`${index.fileName} lists shard ${shard}, but no source of that name was given; pass every shard (given: ${[...byName.keys()].join(', ')})`);
    return s;
  });
}

/** Every tensor in the index must be in the shard it names, and every shard tensor in the index. */
function checkIndex(files: readonly SafetensorsFile[], idx: IndexJson): void {
  for (const f of files) {
    for (const t of f.header.tensors) {
      const where = idx.weightMap.get(t.name);
      if (where === undefined) throw new HQQError('BAD_FILE', `${f.header.fileName}: tensor ${JSON.stringify(t.name)} is not listed in ${idx.fileName}; the index does not match the shards`);
      if (where !== f.header.fileName) throw new HQQError('BAD_FILE', `${idx.fileName}: tensor ${JSON.stringify(t.name)} is mapped to ${where} but it is stored in ${f.header.fileName}; the index does not match the shards`);
    }
  }
  const have = new Set<string>();
  for (const f of files) for (const t of f.header.tensors) have.add(t.name);
  for (const [name, shard] of idx.weightMap) {
    if (!have.has(name)) throw new HQQError('BAD_FILE', `${idx.fileName}: tensor ${JSON.stringify(name)} is mapped to ${shard} but that shard does not hold it; the index does not match the shards`);
  }
}

function safetensorsTensor(file: SafetensorsFile, t: TensorInfo, sourceIndex: number): InputTensor {
  return {
    name: t.name, dtype: t.dtype, shape: t.shape, numel: t.numel, byteLength: t.byteLength, sourceIndex,
    read: (offset, length) => file.readRange(t, offset, length),
  };
}

/** Opens the inputs (headers only). Close the result when done. */
export async function openModelInput(input: ModelInput): Promise<InputModel> {
  if (!input || !Array.isArray(input.sources) || input.sources.length === 0) {
    invalid('quantizeModel: input.sources must list at least one ByteSource (the model file, or every shard)');
  }
  let index: IndexJson | undefined;
  let sources = input.sources.slice();
  if (input.index) {
    index = parseIndexJson(input.index.text, input.index.fileName);
    sources = orderByIndex(sources, index);
  } else if (sources.length !== 1) {
    invalid(`quantizeModel: ${sources.length} sources but no index; pass one model file, or the index.json of a sharded model`);
  }
  const files: SafetensorsFile[] = [];
  const close = async () => {
    await Promise.allSettled(files.map((f) => f.close()));
  };
  try {
    for (const s of sources) files.push(await openSafetensors(s));
    if (index) checkIndex(files, index);
    const tensors: InputTensor[] = [];
    files.forEach((f, i) => {
      for (const t of f.header.tensors) tensors.push(safetensorsTensor(f, t, i));
    });
    return {
      fileNames: files.map((f) => f.header.fileName),
      tensors,
      container: { kind: 'safetensors', files, index, outputFileName: input.outputFileName },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
