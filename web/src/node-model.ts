/**
 * Node helpers around the browser-safe model orchestrator: files in, files out through the
 * crash-consistent output sink (io/node-sink.ts, docs/outputs.md: an output path holds the previous
 * output or the new one whatever happens, never a mix), SIGINT/SIGTERM/SIGHUP handling
 * (node-signals.ts), worker_threads pool, plus `inspectModelFile` and `dequantizeModelFile` for the CLI.
 */
import { writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';

import type { HQQ } from './engine.js';
import { checkBooleanOption, checkFunctionOption, checkSignalOption, optionsArgument, pathArgument, shown } from './arguments.js';
import { HQQError, causeText } from './errors.js';
import { checkEncodedRange } from './formats/convert.js';
import type { FormatName } from './formats/types.js';
import { modelInputFromFolder } from './model/folder-input.js';
import { parseIndexJson } from './io/index-json.js';
import { openFileSource } from './io/node-file.js';
import { isDirectory, listFolder } from './io/node-folders.js';
import { createOutputFolder, dequantizedFileName, resolveOneFileOutput, resolveOutputTarget } from './io/node-output-target.js';
import { nodeFilesSink } from './io/node-files-sink.js';
import { nodeOutputSink, type NodeOutputSink, type OutputTarget } from './io/node-sink.js';
import { createSafetensorsFileWriter } from './io/node-writer.js';
import { openSafetensors, type DType, type SafetensorsFile, type TensorInfo } from './io/safetensors.js';
import type { ByteSource } from './io/source.js';
import { planSafetensors, type PlanEntry } from './io/writer.js';
import { HQQLINEAR_KEYS, groupedShapeOf, readHQQLayers, type HQQLayerInfo } from './model/hqqlinear.js';
import { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from './model/plan.js';
import { quantizeModel, type ModelInput, type QuantizeModelOptions, type QuantizeModelReport } from './model/quantize-model.js';
import { abortOnTermination } from './node-signals.js';
import { loadHQQ } from './node.js';
import { createNodePool, defaultNodeWorkers } from './pool/node-pool.js';
import { isONNXFile, isTransformersJsFolder, openONNXInputs, transformersJsModel } from './node-onnx.js';
import { planModelInput } from './model/quantize-model.js';

export { nodeFileSink, nodeOutputSink } from './io/node-sink.js';
export type { NodeOutputSink, NodeOutputSinkOptions, OutputTarget } from './io/node-sink.js';
export { resolveOutputTarget } from './io/node-output-target.js';

/** Options of `quantizeModelFiles`: those of `quantizeModel`, plus the Node-only ones. */
export interface QuantizeModelFilesOptions extends QuantizeModelOptions {
  /** An HQQ instance whose compiled module the workers share (default: `loadHQQ()`). */
  hqq?: HQQ;
  /**
   * Abort cleanly on SIGINT, SIGTERM and SIGHUP while running (the CLI sets this): the run removes
   * its temporaries and rejects with ABORTED; a second signal exits the process at once (after
   * removing the temporaries synchronously). See node-signals.ts.
   */
  handleSignals?: boolean;
  /** The former name of `handleSignals` (it now covers SIGTERM and SIGHUP too). */
  handleSigint?: boolean;
  /** Noteworthy events about the output (stale temporaries of killed runs removed, a late interrupt...). */
  onNotice?: (message: string) => void;
}

/** What `quantizeModelFiles` did: `quantizeModel`'s report, plus the files on disk. */
export interface QuantizeModelFilesReport extends QuantizeModelReport {
  /** The written files (absolute paths); for a sharded model the index is last. Empty for a dry run. */
  outputPaths: string[];
  /** Where the output went: one file, or a folder (published as a whole). Absent for a dry run without output. */
  output?: OutputTarget;
  /** True when the run replaced a previous output at that path. */
  replaced: boolean;
  /** Every notice (also passed to `onNotice`). */
  notices: string[];
}

function isIndexPath(p: string): boolean {
  return p.endsWith('.json');
}

interface OpenedInputs {
  input: ModelInput;
  /** Every source opened (closed at the end). */
  sources: ByteSource[];
  inputPaths: string[];
  target?: OutputTarget;
  /** Things worth saying about the input (files of a folder left out...). */
  notices?: string[];
}

/** Every regular, non-hidden file of `dir` (not recursive), opened. */
async function openFolderFiles(dir: string, sources: ByteSource[], subfolders?: string[]): Promise<ByteSource[]> {
  let entries: Awaited<ReturnType<typeof listFolder>>;
  try {
    entries = await listFolder(dir);
  } catch (e) {
    throw new HQQError('IO_ERROR', `${dir}: cannot list the folder (${causeText(e)}); check the path`, { cause: e });
  }
  subfolders?.push(...entries.folders.filter((n) => !n.startsWith('.')));
  const out: ByteSource[] = [];
  for (const name of entries.files) {
    if (name.startsWith('.')) continue;
    const s = await openFileSource(join(dir, name));
    sources.push(s);
    out.push(s);
  }
  return out;
}

/** A model folder (Hugging Face layout) as the input; GGUF output is one file, HQQ output a folder. */
async function openFolderInput(dir: string, outputPath: string | undefined, checkFolder: boolean, format: FormatName | undefined, sources: ByteSource[]): Promise<OpenedInputs> {
  const name = basename(resolve(dir));
  const subfolders: string[] = [];
  const files = await openFolderFiles(dir, sources, subfolders);
  const input = await modelInputFromFolder(files, { name });
  const paths = files.map((f) => join(dir, basename(f.name)));
  const notices = input.skipped.map((s) => `${join(dir, s.name)} is not read (${s.reason})`);
  for (const f of subfolders) notices.push(`${join(dir, f)}${sep} is not read (sub-folders are not part of the model's files; an HQQ folder output does not copy it)`);
  const gguf = format === 'gguf' || input.sources[0]!.name.toLowerCase().endsWith('.gguf');
  const out = outputPath === undefined ? undefined : await resolveOutputTarget(outputPath, {
    multiFile: !gguf, defaultFileName: gguf ? `${name}.gguf` : (input.index?.fileName ?? basename(input.sources[0]!.name)),
    inputPaths: paths, checkFolder,
  });
  // The index keeps its own name for messages; an HQQ output may give it another.
  if (out?.fileName && input.index && !gguf) input.index = { ...input.index, outputFileName: out.fileName };
  else if (out?.fileName) input.outputFileName = out.fileName;
  return { input, sources, inputPaths: paths, target: out?.target, notices };
}

/** The folder holding `inputPath`, for GGUF output from a safetensors file (config.json and the tokenizer are next to it). */
async function siblingFolder(inputPath: string, weights: readonly string[], sources: ByteSource[]): Promise<ModelInput['folder']> {
  const dir = dirname(resolve(inputPath));
  const files = (await openFolderFiles(dir, sources)).filter((f) => !weights.includes(basename(f.name)) && !/\.(safetensors|bin|pt|pth|gguf|onnx)$/i.test(f.name));
  return { name: basename(dir), files };
}

/**
 * `checkFolder`: refuse now an output folder the run may not replace (not for parts: they share
 * one); `folder`: the output has several files even from one input file.
 */
async function openInputs(inputPath: string, outputPath: string | undefined, how: { checkFolder: boolean; folder: boolean }, format?: FormatName): Promise<OpenedInputs> {
  const { checkFolder } = how;
  if (typeof inputPath !== 'string' || inputPath.length === 0) throw new HQQError('INVALID_ARGUMENT', 'the input path must be a non-empty string');
  const sources: ByteSource[] = [];
  try {
    if (await isDirectory(inputPath)) return await openFolderInput(inputPath, outputPath, checkFolder, format, sources);
    if (isIndexPath(inputPath)) {
      let text: string;
      try {
        text = await readFile(inputPath, 'utf8');
      } catch (e) {
        throw new HQQError('IO_ERROR', `${inputPath}: cannot read the index (${(e as Error).message}); check the path`, { cause: e });
      }
      const index = parseIndexJson(text, basename(inputPath));
      const inDir = dirname(inputPath);
      const inputPaths = [inputPath, ...index.shards.map((s) => join(inDir, s))];
      const out = outputPath === undefined ? undefined
        : await resolveOutputTarget(outputPath, { multiFile: true, defaultFileName: index.fileName, inputPaths, checkFolder });
      const shards: ByteSource[] = [];
      for (const shard of index.shards) {
        const s = await openFileSource(join(inDir, shard));
        sources.push(s);
        shards.push(s);
      }
      const folder = format === 'gguf' ? await siblingFolder(inputPath, [basename(inputPath), ...index.shards], sources) : undefined;
      return { input: { sources: shards, index: { text, fileName: index.fileName, outputFileName: out?.fileName }, folder }, sources, inputPaths, target: out?.target };
    }
    const out = outputPath === undefined ? undefined
      : await resolveOutputTarget(outputPath, { multiFile: how.folder, defaultFileName: basename(inputPath), inputPaths: [inputPath], checkFolder });
    const main = await openFileSource(inputPath);
    sources.push(main);
    const folder = format === 'gguf' && !inputPath.toLowerCase().endsWith('.gguf') ? await siblingFolder(inputPath, [basename(inputPath)], sources) : undefined;
    return { input: { sources: [main], outputFileName: out?.fileName, folder }, sources, inputPaths: [inputPath], target: out?.target };
  } catch (e) {
    await Promise.allSettled(sources.map((s) => s.close?.()));
    throw e;
  }
}

/**
 * An .onnx input (its external data next to it), or a transformers.js folder: onnx/model.onnx
 * (or model_fp16.onnx) in, onnx/model_q4.onnx (model_q4f16.onnx) written next to it unless `-o`
 * says otherwise. The plan is made once first: weights in external data make the output a folder.
 */
async function openONNX(inputPath: string, outputPath: string | undefined, options: QuantizeModelOptions): Promise<OpenedInputs> {
  const sources: ByteSource[] = [];
  try {
    let modelPath = inputPath;
    let out = outputPath;
    if (isTransformersJsFolder(inputPath)) {
      const tj = transformersJsModel(inputPath, options.onnx?.bits ?? 4)!;
      modelPath = tj.input;
      if (out === undefined || resolve(out) === resolve(inputPath)) out = options.dryRun ? undefined : tj.output;
    }
    const probe = await openONNXInputs(modelPath, undefined, true, sources, false, [modelPath]);
    const planned = await planModelInput(probe.input, { ...options, format: options.format ?? 'onnx' });
    const external = planned.plan.files.length > 1;
    const inputPaths = [modelPath, ...planned.input.fileNames.slice(1).map((f) => join(dirname(modelPath), f))];
    await planned.close();
    const io = await openONNXInputs(modelPath, out, options.dryRun ?? false, sources, external, inputPaths);
    if (isTransformersJsFolder(inputPath) && external && io.target?.kind === 'folder' && resolve(io.target.path) === resolve(dirname(modelPath))) {
      throw new HQQError('UNSUPPORTED', `${modelPath}: the quantized model needs an external data file, and writing two files into ${dirname(modelPath)} cannot be made atomic; write it to a new folder (-o out/model_q4.onnx) and move both files`);
    }
    return { input: io.input, sources, inputPaths, target: io.target };
  } catch (e) {
    await Promise.allSettled(sources.map((s) => s.close?.()));
    throw e;
  }
}

/**
 * Test-only (fault injection, tests/faults): with HQQ_WASM_TEST_OUTPUT_POINTS set, every named
 * point of the output protocol is printed on stderr as `hqq-wasm-test-point <name>`; the value
 * `<name>:<ms>[,<name>:<ms>...]` also pauses that long at those points (`1` only prints).
 */
function testPointsFromEnv(): ((name: string) => Promise<void>) | undefined {
  const spec = process.env.HQQ_WASM_TEST_OUTPUT_POINTS;
  if (!spec) return undefined;
  const pauses = new Map<string, number>();
  for (const part of spec.split(',')) {
    const m = /^(.+):(\d+)$/.exec(part.trim());
    if (m) pauses.set(m[1]!, Number(m[2]));
  }
  return async (name: string) => {
    writeSync(2, `hqq-wasm-test-point ${name}\n`);
    const ms = pauses.get(name);
    if (ms) await new Promise((r) => setTimeout(r, ms));
  };
}

/**
 * Quantizes `inputPath` (a .safetensors file, or a `*.safetensors.index.json` of a sharded model)
 * into `outputPath` (see io/node-output-target.ts: a file, a folder for a sharded model, `dir/` to
 * create a folder). With `dryRun` nothing is written and `outputPath` may be omitted. The output is
 * published all at once when complete (io/node-sink.ts): on failure, abort or signal before that the
 * output path is left exactly as it was and no temporary stays behind.
 */
export async function quantizeModelFiles(inputPath: string, outputPath: string | undefined, options: QuantizeModelFilesOptions = {}): Promise<QuantizeModelFilesReport> {
  const fn = 'quantizeModelFiles';
  pathArgument(inputPath, fn, 'inputPath');
  if (outputPath !== undefined) pathArgument(outputPath, fn, 'outputPath');
  const { hqq: hqqOpt, handleSigint = false, handleSignals = handleSigint, onNotice, ...rest } = optionsArgument(options, fn);
  checkBooleanOption(handleSignals, 'handleSignals');
  checkFunctionOption(onNotice, 'onNotice');
  checkSignalOption(rest.signal);
  if (hqqOpt !== undefined && !(hqqOpt?.module instanceof WebAssembly.Module)) {
    throw new HQQError('INVALID_ARGUMENT', `${fn}: hqq must be the HQQ instance loadHQQ() resolves with (or omitted), got ${shown(hqqOpt)}`);
  }
  if (outputPath === undefined && !rest.dryRun && !isTransformersJsFolder(inputPath)) throw new HQQError('INVALID_ARGUMENT', 'quantizeModelFiles: pass an output path (or dryRun: true)');
  // The format: as asked; else GGUF for a .gguf output path (or a GGUF input), else HQQ.
  const format = rest.format ?? (outputPath?.toLowerCase().endsWith('.gguf') ? 'gguf' : undefined);
  // A part of a sharded run, or a GGUF split set: files published one by one into a shared folder.
  const split = rest.split ?? 1;
  const onnxIn = isONNXFile(inputPath) || isTransformersJsFolder(inputPath);
  if (onnxIn && (rest.shard !== undefined || split > 1)) {
    throw new HQQError('UNSUPPORTED', `${inputPath}: --shard and --split are for safetensors/HQQ and GGUF outputs; an ONNX model is written as one .onnx (+ its external data file) by one run`);
  }
  const ggufOut = format === 'gguf' || (format === undefined && inputPath.toLowerCase().endsWith('.gguf'));
  const perFile = rest.shard !== undefined || (split > 1 && ggufOut);
  // An HQQ output of several files (split, or a one-file model in parts) is a folder.
  const folder = !ggufOut && (split > 1 || (rest.shard?.count ?? 1) > 1);
  const io = onnxIn
    ? await openONNX(inputPath, outputPath, rest)
    : await openInputs(inputPath, outputPath, { checkFolder: !(rest.dryRun ?? false) && !perFile, folder }, format);
  for (const n of io.notices ?? []) onNotice?.(n);
  const term = handleSignals ? abortOnTermination(rest.signal) : undefined;
  const signal = term?.signal ?? rest.signal;
  let sink: NodeOutputSink | undefined;
  try {
    if (io.target && !rest.dryRun) {
      const sinkOptions = { inputPaths: io.inputPaths, signal, onNotice, onPoint: testPointsFromEnv() };
      sink = perFile
        ? nodeFilesSink(io.target.kind === 'folder' ? io.target.path : dirname(io.target.path), sinkOptions)
        : nodeOutputSink(io.target, sinkOptions);
    }
    let module: WebAssembly.Module | undefined;
    const createPool = rest.createPool ?? (async (size: number) => {
      module ??= (hqqOpt ?? (await loadHQQ())).module;
      return createNodePool({ size, module });
    });
    const report = await quantizeModel(io.input, sink, {
      ...rest,
      ...(format ? { format } : {}),
      workers: rest.workers ?? defaultNodeWorkers(),
      createPool,
      signal,
    });
    return { ...report, outputPaths: sink?.written.slice() ?? [], output: io.target, replaced: sink?.replaced ?? false, notices: [...(io.notices ?? []), ...(sink?.notices ?? [])] };
  } finally {
    await sink?.dispose();
    term?.dispose();
    await Promise.allSettled(io.sources.map((s) => s.close?.()));
  }
}

// ------------------------------------------------------------------------------------------------
// inspect

/** One tensor of an inspected safetensors file, as its header declares it. */
export interface InspectedTensor {
  /** The tensor's key in the file. */
  name: string;
  /** Its safetensors dtype (F32, F16, BF16, U8, ...). */
  dtype: DType;
  /** Row-major shape. */
  shape: number[];
  /** Bytes of data (the header's data_offsets end - begin). */
  bytes: number;
}

/** One inspected safetensors file (a sharded model has one per shard). */
export interface InspectedFile {
  /** The file's path as given (shards: resolved next to the index). */
  path: string;
  /** File size in bytes. */
  size: number;
  /** The header's `__metadata__` (string to string; hqq-wasm writes its config here). */
  metadata: Record<string, string>;
  /** Every tensor, in header order. */
  tensors: InspectedTensor[];
  /** Sum of the tensors' element counts (packed tensors count their stored elements). */
  parameters: number;
  /** HQQLinear layers found (quantized files). */
  layers: Omit<HQQLayerInfo, 'wq' | 'scale' | 'zero' | 'keys'>[];
}

/** What `inspectModelFile` found. */
export interface InspectReport {
  /** The path inspected (a .safetensors file, or a sharded model's index.json). */
  path: string;
  /** Sharded models: the index's file names. */
  files: InspectedFile[];
}

async function inspectOne(path: string): Promise<InspectedFile> {
  const f = await openSafetensors(await openFileSource(path));
  try {
    const layers = await readHQQLayers(f);
    return {
      path,
      size: f.header.fileSize,
      metadata: f.header.metadata,
      tensors: f.header.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteLength })),
      parameters: f.header.tensors.reduce((a, t) => a + t.numel, 0),
      layers: layers.map(({ wq: _w, scale: _s, zero: _z, keys: _k, ...l }) => l),
    };
  } finally {
    await f.close();
  }
}

/** Lists tensors (dtype, shape, size) and, for quantized files, the HQQ config of every layer. */
export async function inspectModelFile(path: string): Promise<InspectReport> {
  pathArgument(path, 'inspectModelFile', 'path');
  if (isIndexPath(path)) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new HQQError('IO_ERROR', `${path}: cannot read (${(e as Error).message}); check the path`, { cause: e });
    }
    const index = parseIndexJson(text, basename(path));
    const files: InspectedFile[] = [];
    for (const s of index.shards) files.push(await inspectOne(join(dirname(path), s)));
    return { path, files };
  }
  return { path, files: [await inspectOne(path)] };
}

// ------------------------------------------------------------------------------------------------
// dequantize

/** The dtypes `dequantizeModelFile` can restore weights in. */
export type DequantizeDtype = 'float32' | 'float16' | 'bfloat16';

/** Options of `dequantizeModelFile`. */
export interface DequantizeFileOptions {
  /** Output dtype of the restored weights (default: each layer's compute dtype). */
  dtype?: DequantizeDtype;
  /** The HQQ instance to dequantize with (default: `loadHQQ()`, loaded only when the file has HQQ layers). */
  hqq?: HQQ;
  /** Chunk size for copied tensors, in bytes (default 16 MiB). */
  copyChunkBytes?: number;
  /** Cancels the run between tensors: it rejects with `ABORTED` and writes no output. */
  signal?: AbortSignal;
  /** Abort cleanly on SIGINT, SIGTERM and SIGHUP (as `quantizeModelFiles`' `handleSignals`). */
  handleSigint?: boolean;
  /**
   * Called before each output tensor: its `name`, 1-based `index` of `total`, `action` ('dequantize'
   * an HQQLinear layer into `<name>.weight`, or 'copy' as is), output `shape` and `dtype`.
   */
  onTensor?: (e: { name: string; index: number; total: number; action: 'dequantize' | 'copy'; shape: number[]; dtype: DType }) => void;
}

/** What `dequantizeModelFile` wrote. */
export interface DequantizeFileReport {
  /** The output file's absolute path. */
  outputPath: string;
  /** HQQLinear layers turned back into weights. */
  layers: number;
  /** Other tensors copied unchanged. */
  copied: number;
  /** Size of the output file in bytes. */
  bytes: number;
  /** Wall time. */
  seconds: number;
}

function dtypeOfCompute(s: string, fallback: DType): DType {
  if (s === 'torch.float32') return 'F32';
  if (s === 'torch.bfloat16') return 'BF16';
  if (s === 'torch.float16') return 'F16';
  return fallback;
}

/** `values` as float16/bfloat16 bytes; a finite value the type cannot hold is INVALID_VALUE naming the tensor. */
function encodeChecked(hqq: HQQ, values: Float32Array, dtype: 'F16' | 'BF16', name: string): Uint8Array {
  const kind = dtype === 'F16' ? 'f16' : 'bf16';
  const encoded = hqq.encode16(values, kind);
  checkEncodedRange(values, encoded, kind, { what: `tensor ${JSON.stringify(name)} (dequantized to ${dtype === 'F16' ? 'float16' : 'bfloat16'})`, wayOut: 'dequantize to bfloat16 or float32 instead (--dtype)' });
  return new Uint8Array(encoded.buffer);
}

/** The error for dequantize of an index: it works per file; name the shards when the index lists them. */
async function perShardError(inputPath: string): Promise<HQQError> {
  let shards: readonly string[] = [];
  try {
    shards = parseIndexJson(await readFile(inputPath, 'utf8'), basename(inputPath)).shards;
  } catch {
    /* not a readable index (a config.json?): the general advice below */
  }
  const how = shards.length > 0
    ? `; it is the index of ${shards.length} shard${shards.length > 1 ? 's' : ''}: run dequantize on each, e.g. hqq-wasm dequantize ${join(dirname(inputPath), shards[0]!)} -o <out>/`
    : '; pass a .safetensors file (or a .gguf)';
  return new HQQError('UNSUPPORTED', `${inputPath}: dequantize works on one file${how}`);
}

/** Turns the HQQLinear keys of a quantized single file back into `<name>.weight` tensors. */
export async function dequantizeModelFile(inputPath: string, outputPath: string, options: DequantizeFileOptions = {}): Promise<DequantizeFileReport> {
  const t0 = performance.now();
  const fn = 'dequantizeModelFile';
  pathArgument(inputPath, fn, 'inputPath');
  pathArgument(outputPath, fn, 'outputPath');
  options = optionsArgument(options, fn);
  checkSignalOption(options.signal);
  checkFunctionOption(options.onTensor, 'onTensor');
  checkBooleanOption(options.handleSigint, 'handleSigint');
  const dtypeMap: Record<DequantizeDtype, DType> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
  if (options.dtype !== undefined && !(options.dtype in dtypeMap)) {
    throw new HQQError('INVALID_ARGUMENT', `dtype ${JSON.stringify(options.dtype)} is invalid; use float32, float16 or bfloat16`);
  }
  if (isIndexPath(inputPath)) throw await perShardError(inputPath);
  const chunk = options.copyChunkBytes ?? 16 * 1024 * 1024;
  const file: SafetensorsFile = await openSafetensors(await openFileSource(inputPath));
  const sig = options.handleSigint ? abortOnTermination(options.signal) : { signal: options.signal, dispose() {} };
  let writer: Awaited<ReturnType<typeof createSafetensorsFileWriter>> | undefined;
  try {
    const layers = await readHQQLayers(file);
    const byKey = new Map<string, HQQLayerInfo>();
    const layerAt = new Map<string, HQQLayerInfo>();
    for (const l of layers) {
      layerAt.set(l.wq.name, l);
      for (const k of HQQLINEAR_KEYS) if (file.tensor(l.prefix + k)) byKey.set(l.prefix + k, l);
    }
    for (const l of layers) {
      if (file.tensor(l.prefix + 'weight') && !byKey.has(l.prefix + 'weight')) {
        throw new HQQError('BAD_FILE', `${inputPath}: layer ${JSON.stringify(l.prefix.slice(0, -1))} holds both HQQ keys (${l.wq.name}) and a plain ${l.prefix}weight, which its restored weight would replace; the file is a mix of two models. Use the file as the quantizer wrote it`);
      }
    }
    const outDtype = (l: HQQLayerInfo): DType => (options.dtype ? dtypeMap[options.dtype] : dtypeOfCompute(l.computeDtype, l.scale.dtype === 'F32' ? 'F32' : l.scale.dtype));
    type Item = { kind: 'layer'; layer: HQQLayerInfo; entry: PlanEntry } | { kind: 'copy'; info: TensorInfo; entry: PlanEntry };
    const items: Item[] = [];
    for (const t of file.header.tensors) {
      const l = layerAt.get(t.name);
      if (l) items.push({ kind: 'layer', layer: l, entry: { name: l.prefix + 'weight', dtype: outDtype(l), shape: l.shape } });
      else if (!byKey.has(t.name)) items.push({ kind: 'copy', info: t, entry: { name: t.name, dtype: t.dtype, shape: t.shape } });
    }
    const metadata = Object.fromEntries(Object.entries(file.header.metadata).filter(([k]) => !k.startsWith('hqq_')));
    metadata.hqq_dequantized_by = `${HQQ_WASM_TOOL} ${HQQ_WASM_VERSION}`;
    const out = await resolveOneFileOutput(outputPath, dequantizedFileName(inputPath));
    const plan = planSafetensors(items.map((i) => i.entry), metadata, { fileName: out.path });
    if (out.createFolder) await createOutputFolder(out.createFolder);
    writer = await createSafetensorsFileWriter(out.path, plan, { inputPaths: [inputPath] });
    const hqq = layers.length ? (options.hqq ?? (await loadHQQ())) : undefined;
    let n = 0;
    for (const item of items) {
      if (sig.signal?.aborted) throw new HQQError('ABORTED', `dequantize cancelled; no output was written`);
      n++;
      options.onTensor?.({ name: item.entry.name, index: n, total: items.length, action: item.kind === 'layer' ? 'dequantize' : 'copy', shape: item.entry.shape as number[], dtype: item.entry.dtype });
      if (item.kind === 'copy') {
        const size = item.info.byteLength;
        if (size === 0) await writer.writeTensor(item.entry.name, new Uint8Array(0), 0);
        for (let off = 0; off < size; off += chunk) {
          const len = Math.min(chunk, size - off);
          await writer.writeTensor(item.entry.name, await file.readRange(item.info, off, len), off);
        }
        continue;
      }
      const l = item.layer;
      const decode = async (t: TensorInfo): Promise<Float32Array> => {
        const b = await file.readTensor(t);
        const own = b.slice();
        if (t.dtype === 'F32') return new Float32Array(own.buffer);
        if (t.dtype === 'F16' || t.dtype === 'BF16') return hqq!.decode16(new Uint16Array(own.buffer), t.dtype === 'F16' ? 'f16' : 'bf16');
        throw new HQQError('BAD_FILE', `${inputPath}: ${t.name} has dtype ${t.dtype}; scale/zero must be F32, F16 or BF16`);
      };
      const numel = l.shape[0] * l.shape[1]; // readHQQLayers checked the config against the tensors
      const q = {
        packed: await file.readTensor(l.wq),
        nbits: l.nbits,
        axis: l.axis,
        groupedShape: groupedShapeOf(numel, l.groupSize, l.axis),
        scale: await decode(l.scale),
        zero: await decode(l.zero),
      };
      let values: Float32Array;
      try {
        values = hqq!.dequantize(q);
      } catch (e) {
        // The core's checks (e.g. a NaN scale) do not know the layer: name it and the file.
        if (e instanceof HQQError) throw new HQQError(e.code, `${inputPath}: layer ${JSON.stringify(l.prefix.replace(/\.$/, ''))}: ${e.message}`, { cause: e });
        throw e;
      }
      const d = item.entry.dtype;
      const bytes = d === 'F32' ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : encodeChecked(hqq!, values, d === 'F16' ? 'F16' : 'BF16', item.entry.name);
      await writer.writeTensor(item.entry.name, bytes, 0);
    }
    if (sig.signal?.aborted) throw new HQQError('ABORTED', `dequantize cancelled; no output was written`);
    await writer.commit();
    return {
      outputPath: writer.targetPath,
      layers: layers.length,
      copied: items.filter((i) => i.kind === 'copy').length,
      bytes: plan.totalSize,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    await writer?.abort();
    throw e;
  } finally {
    sig.dispose();
    await file.close();
  }
}

