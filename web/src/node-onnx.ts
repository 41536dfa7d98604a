/**
 * Node helpers for ONNX models (Node-only): external data files opened next to the model, the
 * output target of a model that needs one file or two (the .onnx and its `<out>.onnx_data`), the
 * transformers.js folder layout (onnx/model.onnx -> onnx/model_q4.onnx, onnx/model_fp16.onnx ->
 * onnx/model_q4f16.onnx), and `inspect` for .onnx files.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { HQQError } from './errors.js';
import { openFileSource } from './io/node-file.js';
import { resolveOutputTarget, type ResolvedOutput } from './io/node-output-target.js';
import { openONNX, type ONNXModel } from './io/onnx/reader.js';
import type { ByteSource } from './io/source.js';
import type { ModelInput } from './model/input.js';

/** A transformers.js model folder: config.json next to onnx/model.onnx or onnx/model_fp16.onnx. */
export function isTransformersJsFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory() && transformersJsModel(path) !== undefined;
  } catch {
    return false;
  }
}

/** The ONNX file of a transformers.js folder and the name its q-bits twin gets there. */
export function transformersJsModel(dir: string, bits = 4): { input: string; output: string } | undefined {
  for (const [name, suffix] of [['model.onnx', ''], ['model_fp16.onnx', 'f16']] as const) {
    const p = join(dir, 'onnx', name);
    if (existsSync(p)) return { input: p, output: join(dir, 'onnx', `model_q${bits}${suffix}.onnx`) };
  }
  return undefined;
}

/** Opens external data `location` next to `modelPath`; undefined when the file is not there. */
export function externalOpener(modelPath: string, sources: ByteSource[]): (location: string) => Promise<ByteSource | undefined> {
  const dir = dirname(resolve(modelPath));
  return async (location) => {
    const p = join(dir, location);
    if (!existsSync(p)) return undefined;
    const s = await openFileSource(p);
    sources.push(s);
    return s;
  };
}

export interface ONNXInputs {
  input: ModelInput;
  inputPaths: string[];
  target?: ResolvedOutput['target'];
}

/**
 * The input and output target of an ONNX run. The output is one file, unless the plan puts
 * weights in external data: then a folder (docs/outputs.md) holding `<name>.onnx` and
 * `<name>.onnx_data`; `-o dir/name.onnx` names both.
 */
export async function openONNXInputs(inputPath: string, outputPath: string | undefined, dryRun: boolean, sources: ByteSource[], external: boolean, inputPaths: string[]): Promise<ONNXInputs> {
  const main = await openFileSource(inputPath);
  sources.push(main);
  const input: ModelInput = { sources: [main], openExternal: externalOpener(inputPath, sources) };
  if (outputPath === undefined) return { input, inputPaths };
  let out: ResolvedOutput;
  if (external && /\.onnx$/i.test(outputPath) && !outputPath.endsWith('/')) {
    const name = basename(outputPath);
    try {
      out = await resolveOutputTarget(dirname(outputPath) + '/', { multiFile: true, defaultFileName: name, inputPaths, checkFolder: !dryRun });
    } catch (e) {
      if (!(e instanceof HQQError)) throw e;
      throw new HQQError(e.code, `${outputPath}: the quantized model keeps its weights in an external data file, so the output is a folder of two files (${name}, ${name}_data), published together; name a new folder for them, e.g. -o ${join('q4', name)} (${e.message})`, { cause: e });
    }
    out.fileName = name;
  } else {
    out = await resolveOutputTarget(outputPath, { multiFile: external, defaultFileName: basename(inputPath), inputPaths, checkFolder: !dryRun });
  }
  input.outputFileName = out.fileName ?? basename(inputPath);
  return { input, inputPaths, target: out.target };
}

// ------------------------------------------------------------------------------------------------
// inspect

export interface ONNXInspectReport {
  path: string;
  size: number;
  irVersion: number;
  opsets: { domain: string; version: number }[];
  inputs: string[];
  outputs: string[];
  nodes: number;
  ops: Record<string, number>;
  externalFiles: string[];
  /** MatMul/Gemm weights (constant B) and MatMulNBits nodes with their attributes. */
  weights: { node: string; op: string; weight: string; shape: number[]; dtype: string; bits?: number; blockSize?: number; K?: number; N?: number }[];
  initializers: number;
  parameters: number;
}

export function isONNXFile(path: string): boolean {
  return /\.onnx$/i.test(path);
}

function weightsOf(m: ONNXModel): ONNXInspectReport['weights'] {
  const consts = new Map(m.initializers.map((t) => [t.name, t]));
  for (const n of m.nodes) if (n.constant && n.output[0]) consts.set(n.output[0], n.constant);
  const out: ONNXInspectReport['weights'] = [];
  for (const n of m.nodes) {
    const b = consts.get(n.input[1] ?? '');
    if (!b) continue;
    if ((n.opType === 'MatMul' || n.opType === 'Gemm') && n.domain === '') out.push({ node: n.name, op: n.opType, weight: b.name, shape: b.dims, dtype: b.dtype });
    if (n.opType === 'MatMulNBits') {
      const a = (k: string) => Number(n.attribute.find((x) => x.name === k)?.i ?? NaN);
      out.push({ node: n.name, op: n.opType, weight: b.name, shape: b.dims, dtype: b.dtype, bits: a('bits'), blockSize: a('block_size'), K: a('K'), N: a('N') });
    }
  }
  return out;
}

/** Opset, inputs/outputs, operator counts and the MatMul/MatMulNBits weights of an .onnx file. */
export async function inspectONNXFile(path: string): Promise<ONNXInspectReport> {
  const sources: ByteSource[] = [];
  try {
    const src = await openFileSource(path);
    sources.push(src);
    const m = await openONNX(src, { openExternal: externalOpener(path, sources) });
    const ops: Record<string, number> = {};
    for (const n of m.nodes) {
      const k = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
      ops[k] = (ops[k] ?? 0) + 1;
    }
    return {
      path, size: src.size, irVersion: m.irVersion, opsets: m.opsets, inputs: [...m.graphInputs].filter((i) => !m.initializers.some((t) => t.name === i)),
      outputs: [...m.graphOutputs], nodes: m.nodes.length, ops, externalFiles: m.externalFiles, weights: weightsOf(m),
      initializers: m.initializers.length, parameters: m.initializers.reduce((a, t) => a + t.numel, 0),
    };
  } catch (e) {
    if (e instanceof HQQError) throw e;
    throw new HQQError('IO_ERROR', `${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    await Promise.allSettled(sources.map((s) => s.close?.()));
  }
}
