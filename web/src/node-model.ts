/**
 * Node helpers around the browser-safe model orchestrator: files in, files out (every file goes to a
 * synced temp file first and all are renamed into place together at the end, index last; on
 * failure, abort or Ctrl-C before that nothing is left behind and existing outputs are untouched),
 * worker_threads pool, plus `inspectModelFile` and `dequantizeModelFile` for the CLI.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import type { HQQ } from './engine.js';
import { HQQError } from './errors.js';
import { parseIndexJson } from './io/index-json.js';
import { openFileSource } from './io/node-file.js';
import { createSafetensorsFileWriter, syncFolder, type SafetensorsFileWriter } from './io/node-writer.js';
import { openSafetensors, type DType, type SafetensorsFile, type TensorInfo } from './io/safetensors.js';
import type { ByteSource } from './io/source.js';
import { planSafetensors, type PlanEntry } from './io/writer.js';
import { HQQLINEAR_KEYS, groupedShapeOf, readHQQLayers, type HQQLayerInfo } from './model/hqqlinear.js';
import { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from './model/plan.js';
import {
  quantizeModel, type ModelInput, type ModelSink, type QuantizeModelOptions, type QuantizeModelReport, type ShardWriter,
} from './model/quantize-model.js';
import { loadHQQ } from './node.js';
import { createNodePool, defaultNodeWorkers } from './pool/node-pool.js';

export interface QuantizeModelFilesOptions extends QuantizeModelOptions {
  /** An HQQ instance whose compiled module the workers share (default: `loadHQQ()`). */
  hqq?: HQQ;
  /** Abort cleanly on SIGINT (Ctrl-C) while running (the CLI sets this). */
  handleSigint?: boolean;
}

export interface QuantizeModelFilesReport extends QuantizeModelReport {
  /** The written files (absolute paths); for a sharded model the index is last. */
  outputPaths: string[];
}

function isIndexPath(p: string): boolean {
  return p.endsWith('.json');
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function real(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return resolve(p);
  }
}

interface ResolvedIO {
  input: ModelInput;
  sources: ByteSource[];
  inputPaths: string[];
  /** Output file name -> path. */
  pathOf(fileName: string): string;
  outDir: string;
}

async function openInputs(inputPath: string, outputPath: string | undefined): Promise<ResolvedIO> {
  if (typeof inputPath !== 'string' || inputPath.length === 0) throw new HQQError('INVALID_ARGUMENT', 'the input path must be a non-empty string');
  const sources: ByteSource[] = [];
  try {
    if (isIndexPath(inputPath)) {
      let text: string;
      try {
        text = await readFile(inputPath, 'utf8');
      } catch (e) {
        throw new HQQError('IO_ERROR', `${inputPath}: cannot read the index (${(e as Error).message}); check the path`, { cause: e });
      }
      const index = parseIndexJson(text, basename(inputPath));
      const inDir = dirname(inputPath);
      for (const shard of index.shards) sources.push(await openFileSource(join(inDir, shard)));
      const inputPaths = [inputPath, ...index.shards.map((s) => join(inDir, s))];
      let outDir = outputPath ?? '';
      let indexName = index.fileName;
      if (outputPath !== undefined && isIndexPath(outputPath)) {
        outDir = dirname(outputPath);
        indexName = basename(outputPath);
      }
      if (outputPath !== undefined) {
        await mkdir(outDir, { recursive: true }).catch((e: Error) => {
          throw new HQQError('IO_ERROR', `${outDir}: cannot create the output folder (${e.message})`, { cause: e });
        });
        if ((await real(outDir)) === (await real(inDir))) {
          throw new HQQError('INVALID_ARGUMENT', `${outputPath}: the output folder is the input folder ${inDir}; the shards keep their file names, so this would overwrite the input — write to a different folder`);
        }
      }
      return {
        input: { sources, index: { text, fileName: indexName } },
        sources,
        inputPaths,
        pathOf: (f) => join(outDir, f),
        outDir,
      };
    }
    sources.push(await openFileSource(inputPath));
    let outFile = outputPath ?? '';
    if (outputPath !== undefined && (await isDirectory(outputPath))) outFile = join(outputPath, basename(inputPath));
    if (outputPath !== undefined && (await real(outFile)) === (await real(inputPath))) {
      throw new HQQError('INVALID_ARGUMENT', `${outputPath}: the output is the input file ${inputPath}; refusing to overwrite a file being read — write to a different path`);
    }
    return {
      input: { sources, outputFileName: outputPath === undefined ? undefined : basename(outFile) },
      sources,
      inputPaths: [inputPath],
      pathOf: () => outFile,
      outDir: dirname(outFile),
    };
  } catch (e) {
    await Promise.allSettled(sources.map((s) => s.close?.()));
    throw e;
  }
}

/**
 * A ModelSink writing files with `createSafetensorsFileWriter`, in two phases. `commit()` of a shard
 * only prepares it (every byte written, fsynced, closed; still a temp file) and `writeFile` writes
 * a small file (an index, a config) to a synced temp file; `finish()`, called once everything is
 * ready, renames the temp files onto their targets in one tight loop, small files last. A run that fails or is aborted before
 * `finish()` therefore leaves the output folder exactly as it was (a previous run's files stay
 * untouched, temp files are removed). Only a failure inside the rename loop itself can leave a mix;
 * the error then names the files already replaced.
 */
export function nodeFileSink(pathOf: (fileName: string) => string, inputPaths: readonly string[]): ModelSink & { written: string[] } {
  const written: string[] = [];
  const ready: SafetensorsFileWriter[] = [];
  const small: { path: string; temp: string }[] = [];
  const dropSmall = async () => {
    await Promise.allSettled(small.splice(0).map((f) => rm(f.temp, { force: true })));
  };
  return {
    written,
    async createShard(fileName, plan): Promise<ShardWriter> {
      const w = await createSafetensorsFileWriter(pathOf(fileName), plan, { inputPaths });
      return {
        writeTensor: (name, bytes, offset) => w.writeTensor(name, bytes, offset),
        async commit() {
          await w.prepare();
          ready.push(w);
        },
        abort: () => w.abort(),
      };
    },
    async writeFile(fileName, data) {
      const p = pathOf(fileName);
      if (inputPaths.some((i) => resolve(i) === resolve(p))) {
        throw new HQQError('INVALID_ARGUMENT', `${p}: this output file is also an input; write to a different folder`);
      }
      if (small.some((f) => f.path === p)) throw new HQQError('INVALID_ARGUMENT', `${p}: written twice in one run`);
      const temp = join(dirname(p), `.${basename(p)}.${randomBytes(6).toString('hex')}.partial`);
      try {
        const fh = await open(temp, 'wx');
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
      } catch (e) {
        await rm(temp, { force: true }).catch(() => {});
        throw new HQQError('IO_ERROR', `${p}: writing failed (${(e as Error).message}); check free space and permissions`, { cause: e });
      }
      small.push({ path: p, temp });
    },
    async finish() {
      const done: string[] = [];
      try {
        for (const w of ready) {
          await w.commit({ syncFolder: false });
          done.push(w.targetPath);
        }
        while (small.length > 0) {
          const f = small[0]!;
          await rename(f.temp, f.path);
          small.shift();
          done.push(f.path);
        }
      } catch (e) {
        await Promise.allSettled(ready.map((w) => w.abort()));
        await dropSmall();
        const replaced = done.length ? `${done.join(', ')} had already been replaced` : 'no file had been replaced yet';
        throw new HQQError('IO_ERROR', `renaming the finished output files into place failed (${(e as Error).message}); ${replaced}`, { cause: e });
      } finally {
        written.push(...done);
        for (const folder of new Set(done.map((p) => dirname(p)))) await syncFolder(folder);
      }
    },
    async discard() {
      // Nothing was published before finish(): remove what is still a temp file, never a target.
      await Promise.allSettled(ready.map((w) => w.abort()));
      await dropSmall();
    },
  };
}

/** Abort signal combining `signal` with SIGINT (when asked); `dispose` removes the handler. */
function sigintSignal(signal: AbortSignal | undefined, handle: boolean): { signal: AbortSignal | undefined; dispose(): void } {
  if (!handle) return { signal, dispose() {} };
  const ctl = new AbortController();
  const onSig = () => ctl.abort(new Error('interrupted (SIGINT)'));
  process.once('SIGINT', onSig);
  const onOuter = () => ctl.abort(signal!.reason);
  if (signal?.aborted) ctl.abort(signal.reason);
  signal?.addEventListener('abort', onOuter, { once: true });
  return {
    signal: ctl.signal,
    dispose() {
      process.removeListener('SIGINT', onSig);
      signal?.removeEventListener('abort', onOuter);
    },
  };
}

/**
 * Quantizes `inputPath` (a .safetensors file, or a `*.safetensors.index.json` of a sharded model)
 * into `outputPath` (single file: a file path or an existing folder; sharded: a folder, created if
 * needed, or the path of the new index.json). With `dryRun` nothing is written and `outputPath` may
 * be omitted. Files are written to temp files and renamed into place only once all of them are
 * complete (see `nodeFileSink`); on failure, abort or Ctrl-C (`handleSigint`) nothing is left behind
 * and files of a previous run at the output paths stay as they were.
 */
export async function quantizeModelFiles(inputPath: string, outputPath: string | undefined, options: QuantizeModelFilesOptions = {}): Promise<QuantizeModelFilesReport> {
  const { hqq: hqqOpt, handleSigint = false, ...rest } = options;
  if (outputPath === undefined && !rest.dryRun) throw new HQQError('INVALID_ARGUMENT', 'quantizeModelFiles: pass an output path (or dryRun: true)');
  const io = await openInputs(inputPath, outputPath);
  const sink = nodeFileSink(io.pathOf, io.inputPaths);
  const sig = sigintSignal(rest.signal, handleSigint);
  try {
    let module: WebAssembly.Module | undefined;
    const createPool = rest.createPool ?? (async (size: number) => {
      module ??= (hqqOpt ?? (await loadHQQ())).module;
      return createNodePool({ size, module });
    });
    const report = await quantizeModel(io.input, rest.dryRun ? undefined : sink, {
      ...rest,
      workers: rest.workers ?? defaultNodeWorkers(),
      createPool,
      signal: sig.signal,
    });
    return { ...report, outputPaths: sink.written.slice() };
  } finally {
    sig.dispose();
    await Promise.allSettled(io.sources.map((s) => s.close?.()));
  }
}

// ------------------------------------------------------------------------------------------------
// inspect

export interface InspectedTensor {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: number;
}

export interface InspectedFile {
  path: string;
  size: number;
  metadata: Record<string, string>;
  tensors: InspectedTensor[];
  parameters: number;
  /** HQQLinear layers found (quantized files). */
  layers: Omit<HQQLayerInfo, 'wq' | 'scale' | 'zero' | 'keys'>[];
}

export interface InspectReport {
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

export type DequantizeDtype = 'float32' | 'float16' | 'bfloat16';

export interface DequantizeFileOptions {
  /** Output dtype of the restored weights (default: each layer's compute dtype). */
  dtype?: DequantizeDtype;
  hqq?: HQQ;
  copyChunkBytes?: number;
  signal?: AbortSignal;
  handleSigint?: boolean;
  onTensor?: (e: { name: string; index: number; total: number; action: 'dequantize' | 'copy'; shape: number[]; dtype: DType }) => void;
}

export interface DequantizeFileReport {
  outputPath: string;
  layers: number;
  copied: number;
  bytes: number;
  seconds: number;
}

function dtypeOfCompute(s: string, fallback: DType): DType {
  if (s === 'torch.float32') return 'F32';
  if (s === 'torch.bfloat16') return 'BF16';
  if (s === 'torch.float16') return 'F16';
  return fallback;
}

/** Turns the HQQLinear keys of a quantized single file back into `<name>.weight` tensors. */
export async function dequantizeModelFile(inputPath: string, outputPath: string, options: DequantizeFileOptions = {}): Promise<DequantizeFileReport> {
  const t0 = performance.now();
  const dtypeMap: Record<DequantizeDtype, DType> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
  if (options.dtype !== undefined && !(options.dtype in dtypeMap)) {
    throw new HQQError('INVALID_ARGUMENT', `dtype ${JSON.stringify(options.dtype)} is invalid; use float32, float16 or bfloat16`);
  }
  if (isIndexPath(inputPath)) throw new HQQError('UNSUPPORTED', `${inputPath}: dequantize works on one .safetensors file; run it per shard`);
  const chunk = options.copyChunkBytes ?? 16 * 1024 * 1024;
  const file: SafetensorsFile = await openSafetensors(await openFileSource(inputPath));
  const sig = sigintSignal(options.signal, options.handleSigint ?? false);
  let writer: Awaited<ReturnType<typeof createSafetensorsFileWriter>> | undefined;
  try {
    const layers = await readHQQLayers(file);
    const byKey = new Map<string, HQQLayerInfo>();
    const layerAt = new Map<string, HQQLayerInfo>();
    for (const l of layers) {
      layerAt.set(l.wq.name, l);
      for (const k of HQQLINEAR_KEYS) if (file.tensor(l.prefix + k)) byKey.set(l.prefix + k, l);
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
    const plan = planSafetensors(items.map((i) => i.entry), metadata);
    writer = await createSafetensorsFileWriter(outputPath, plan, { inputPaths: [inputPath] });
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
      const values = hqq!.dequantize({
        packed: await file.readTensor(l.wq),
        nbits: l.nbits,
        axis: l.axis,
        groupedShape: groupedShapeOf(numel, l.groupSize, l.axis),
        scale: await decode(l.scale),
        zero: await decode(l.zero),
      });
      const d = item.entry.dtype;
      const bytes = d === 'F32' ? new Uint8Array(values.buffer, values.byteOffset, values.byteLength) : new Uint8Array(hqq!.encode16(values, d === 'F16' ? 'f16' : 'bf16').buffer);
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

