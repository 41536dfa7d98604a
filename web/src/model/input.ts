/**
 * The input model, whatever its container: every tensor with its name, dtype, row-major shape and
 * a positional reader, plus the container's own header data for the formats that need it. Opened
 * from `ByteSource`s (browser File/Blob, Node files) with headers only; no tensor is read here.
 * Browser-safe.
 */
import { checkByteSource } from '../arguments.js';
import { HQQError } from '../errors.js';
import { openGGUF, type GGUFFile } from '../io/gguf-reader.js';
import { parseIndexJson, type IndexJson } from '../io/index-json.js';
import { openONNXInput, type ONNXInput } from './onnx-input.js';
import { openSafetensors, type SafetensorsFile, type TensorInfo } from '../io/safetensors.js';
import type { ByteSource } from '../io/source.js';

/** One input tensor, whatever the container: name, dtype, shape and a lazy reader. */
export interface InputTensor {
  /** The tensor's name in its container. */
  name: string;
  /** The container's dtype name: F32, F16, BF16, I64... (safetensors), or a GGML type (GGUF). */
  dtype: string;
  /** Row-major (PyTorch order; a GGUF tensor's ne reversed). */
  shape: number[];
  /** Number of elements (the product of `shape`). */
  numel: number;
  /** Bytes of its data as stored. */
  byteLength: number;
  /** Index of the input file holding it. */
  sourceIndex: number;
  /**
   * Reads `length` bytes at `offset` inside the tensor's data. `into` (exactly `length` bytes) may
   * be filled and returned instead of a new array (see `ByteSource.read`): use the result.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
}

/** The rest of a model folder: its name, the text of its JSON/template files, and every other file. */
export interface FolderInput {
  /** The folder's name, when known (GGUF output falls back to it for `general.name`). */
  name?: string;
  /** File name -> text, for the folder files formats read (config.json, tokenizer files...). */
  texts: Map<string, string>;
  /** Every file of the folder that is not a weight file (copied into folder outputs). */
  files: readonly ByteSource[];
}

/** The container data of a safetensors input (one file, or shards with their index). */
export interface SafetensorsInput {
  /** Always `'safetensors'`. */
  kind: 'safetensors';
  /** The opened files, in shard order. */
  files: SafetensorsFile[];
  /** Sharded models: the parsed index (shards in its order), and its text. */
  index?: IndexJson;
  /** Sharded models: the index's text as given. */
  indexText?: string;
  /** Single-file output name asked for by the caller. */
  outputFileName?: string;
  /** Sharded models: the index's name in the output, when the caller asked for another. */
  indexOutputName?: string;
  /** The model folder the weights came from, when the input is a folder. */
  folder?: FolderInput;
}

/** The container data of a GGUF input. */
export interface GGUFInput {
  /** Always `'gguf'`. */
  kind: 'gguf';
  /** The opened file. */
  file: GGUFFile;
  /** Output file name asked for by the caller. */
  outputFileName?: string;
}

/** An opened input model (headers only): its tensors and container data. Close it when done. */
export interface InputModel {
  /** Input file names, in order. */
  fileNames: string[];
  /** Every tensor, in input order over all files. */
  tensors: InputTensor[];
  /** The container's own data, for formats that need it. */
  container: SafetensorsInput | GGUFInput | ONNXInput;
  /** Closes every input file. */
  close(): Promise<void>;
}

/** The input of `quantizeModel`: the model's byte sources, an index for a sharded model, a folder's other files. */
export interface ModelInput {
  /** Single-file model: one source. Sharded: every shard named in the index (matched by `name`). */
  sources: readonly ByteSource[];
  /**
   * Sharded models: the `model.safetensors.index.json` `text` and its `fileName` (named in
   * errors); `outputFileName`, the index's name in an HQQ output (default: `fileName`).
   */
  index?: { text: string; fileName: string; outputFileName?: string };
  /** Single-file output: the file name given to the sink (default: the input's name). */
  outputFileName?: string;
  /**
   * A Hugging Face model folder's other files (config.json, tokenizer.json, tokenizer_config.json,
   * generation_config.json, special_tokens_map.json, chat templates, README...): GGUF output reads
   * the architecture and tokenizer from them; HQQ output copies them and adds quantization_config
   * to config.json. `name` is the folder's name (GGUF falls back to it for `general.name`), `files` its files besides the weights. See `modelInputFromFolder`.
   */
  folder?: { name?: string; files: readonly ByteSource[] };
  /**
   * ONNX models (`sources[0]` named `*.onnx`): the source of an external data file by its
   * `location` (relative to the model's folder). Sources given after the model are matched by
   * name first (browsers: the dropped files); Node passes files next to the model.
   */
  openExternal?: (location: string) => Promise<ByteSource | undefined>;
}

/** Folder files read as text (a JSON/template file this large would be an error anyway). */
const FOLDER_TEXT_FILES = new Set(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json']);
const MAX_FOLDER_TEXT_BYTES = 256 * 1024 * 1024;

async function readFolder(folder: NonNullable<ModelInput['folder']>): Promise<FolderInput> {
  if (!folder || !Array.isArray(folder.files)) invalid('quantizeModel: input.folder.files must list the folder\'s ByteSources');
  const texts = new Map<string, string>();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const f of folder.files) {
    const base = f.name.split(/[\\/]/).pop()!;
    if (!FOLDER_TEXT_FILES.has(base)) continue;
    if (f.size > MAX_FOLDER_TEXT_BYTES) throw new HQQError('BAD_FILE', `${f.name}: ${f.size} bytes is far more than a ${base} holds; is it the right file?`);
    try {
      texts.set(base, decoder.decode(await f.read(0, f.size)));
    } catch (e) {
      if (e instanceof HQQError) throw e;
      throw new HQQError('BAD_FILE', `${f.name}: not valid UTF-8 text (${(e as Error).message}); a ${base} is a UTF-8 JSON/text file`);
    }
  }
  return { name: folder.name, texts, files: folder.files };
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

/** What a file input tensor needs of its header entry (safetensors `TensorInfo`, GGUF tensor info). */
interface HeaderEntry {
  readonly name: string;
  readonly shape: number[];
  readonly numel: number;
  readonly byteLength: number;
}

/**
 * An input tensor of a safetensors or GGUF file: its header entry and file, the rest derived on
 * the prototype (a header can list millions of tensors: no closure and no field copies per tensor).
 */
abstract class FileInputTensor<E extends HeaderEntry> implements InputTensor {
  constructor(
    readonly file: { readRange(t: E, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> },
    readonly info: E,
    readonly sourceIndex: number,
  ) {}
  abstract get dtype(): string;
  get name(): string {
    return this.info.name;
  }
  get shape(): number[] {
    return this.info.shape;
  }
  get numel(): number {
    return this.info.numel;
  }
  get byteLength(): number {
    return this.info.byteLength;
  }
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    return this.file.readRange(this.info, offset, length, into);
  }
}

class SafetensorsInputTensor extends FileInputTensor<TensorInfo> {
  get dtype(): string {
    return this.info.dtype;
  }
}

type GGUFTensorInfo = GGUFFile['header']['tensors'][number];

class GGUFInputTensor extends FileInputTensor<GGUFTensorInfo> {
  get dtype(): string {
    return this.info.type;
  }
}

/** Whether `source` starts with the GGUF magic. */
async function isGGUF(source: ByteSource): Promise<boolean> {
  if (source.size < 4) return false;
  const head = await source.read(0, 4);
  return head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46; // "GGUF"
}

async function openGGUFInput(input: ModelInput): Promise<InputModel> {
  if (input.sources.length !== 1 || input.index) {
    invalid(`quantizeModel: a GGUF model is one file; got ${input.sources.length} sources${input.index ? ' and an index' : ''} (split GGUF input is not supported: merge it with llama.cpp's gguf-split --merge first)`);
  }
  const file = await openGGUF(input.sources[0]!);
  const tensors: InputTensor[] = file.header.tensors.map((t) => new GGUFInputTensor(file, t, 0));
  return {
    fileNames: [file.header.fileName], tensors,
    container: { kind: 'gguf', file, outputFileName: input.outputFileName },
    close: () => file.close(),
  };
}

/** Opens the inputs (headers only): safetensors (one file, or shards with their index) or GGUF. Close the result when done. */
export async function openModelInput(input: ModelInput): Promise<InputModel> {
  if (!input || !Array.isArray(input.sources) || input.sources.length === 0) {
    invalid('quantizeModel: input.sources must list at least one ByteSource (the model file, or every shard)');
  }
  input.sources.forEach((s, i) => checkByteSource(s, `quantizeModel: input.sources[${i}]`));
  // A .gguf name goes to the GGUF reader even without the magic, so a damaged GGUF file is
  // reported as one (bad magic), not as a malformed safetensors header.
  if (/\.gguf$/i.test(input.sources[0]!.name) || (await isGGUF(input.sources[0]!))) return openGGUFInput(input);
  if (/\.onnx$/i.test(input.sources[0]!.name)) return openONNXInput(input);
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
      for (const t of f.header.tensors) tensors.push(new SafetensorsInputTensor(f, t, i));
    });
    const folder = input.folder ? await readFolder(input.folder) : undefined;
    return {
      fileNames: files.map((f) => f.header.fileName),
      tensors,
      container: { kind: 'safetensors', files, index, indexText: input.index?.text, outputFileName: input.outputFileName, indexOutputName: input.index?.outputFileName, folder },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
