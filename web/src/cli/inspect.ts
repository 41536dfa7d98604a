/** `hqq-wasm inspect`: a summary of a (sharded) safetensors model; every key with --keys. */
import type { Command } from 'commander';
import { findHQQLayerKeys } from '../model/hqq-detect.js';
import { inspectModelFile, type InspectedFile, type InspectReport } from '../node-model.js';
import { inspectGGUFFile, type GGUFInspectReport } from '../node-gguf.js';
import { inspectONNXFile, type ONNXInspectReport } from '../node-onnx.js';
import { resolveInputFile } from './input-file.js';
import { formatBytes, formatCount, maxOf, middleTruncate } from './format.js';
import { UsageError, type Out } from './io.js';

export interface InspectFlags {
  json?: boolean;
  keys?: boolean;
}

export function defineInspect(cmd: Command): Command {
  return cmd
    .summary('summarize a .safetensors file, a sharded model, a .gguf or an .onnx')
    .usage('<file.safetensors | model.safetensors.index.json | model.gguf | model.onnx | model folder> [--keys] [--json]')
    .description('Summarizes a safetensors file (or every shard of an index.json): tensors by dtype, metadata, and for quantized files the HQQ configs of its layers; or a GGUF file: metadata, tokenizer, tensor types and bits per weight. --keys lists every tensor (and every HQQ layer).')
    .argument('[file...]', 'file.safetensors, model.safetensors.index.json, model.gguf, model.onnx, or a model folder (its weights)')
    .option('--keys', 'list every tensor (dtype, shape, size) and every HQQ layer')
    .option('--json', 'machine-readable output (always complete)');
}

const META_VALUE_CHARS = 100;

function summary(f: InspectedFile): string[] {
  const lines = [`${f.path}  ${formatBytes(f.size)}  ${f.tensors.length} tensors  ${formatCount(f.parameters)} elements`];
  const byDtype = new Map<string, { n: number; bytes: number }>();
  for (const t of f.tensors) {
    const d = byDtype.get(t.dtype) ?? { n: 0, bytes: 0 };
    d.n++;
    d.bytes += t.bytes;
    byDtype.set(t.dtype, d);
  }
  if (byDtype.size) lines.push(`  dtypes: ${[...byDtype].map(([d, v]) => `${d} ${v.n} (${formatBytes(v.bytes)})`).join(', ')}`);
  for (const [k, v] of Object.entries(f.metadata)) {
    lines.push(`  metadata ${k} = ${v.length > META_VALUE_CHARS ? v.slice(0, META_VALUE_CHARS) + '...' : v}`);
  }
  if (f.layers.length > 0) {
    const keys = findHQQLayerKeys(f).reduce((a, l) => a + l.keys.length, 0);
    lines.push(`  HQQ layers: ${f.layers.length} (${keys} tensors), ${f.tensors.length - keys} other tensors`);
    const configs = new Map<string, number>();
    for (const l of f.layers) {
      const c = `q${l.nbits} g${l.groupSize} axis ${l.axis} ${l.packing} ${l.computeDtype}`;
      configs.set(c, (configs.get(c) ?? 0) + 1);
    }
    for (const [c, n] of configs) lines.push(`    ${c}: ${n} layer${n === 1 ? '' : 's'}`);
  }
  return lines;
}

function keyListing(f: InspectedFile): string[] {
  const lines: string[] = [];
  const w = Math.min(60, maxOf(f.tensors, (t) => t.name.length, 4));
  for (const t of f.tensors) {
    lines.push(`  ${middleTruncate(t.name, 60).padEnd(w)}  ${t.dtype.padEnd(4)}  ${`[${t.shape.join(', ')}]`.padEnd(16)}  ${formatBytes(t.bytes)}`);
  }
  if (f.layers.length > 0) {
    lines.push(`  HQQ layers: ${f.layers.length}`);
    for (const l of f.layers) {
      const flags = `${l.optimize !== undefined ? `  optimize ${l.optimize ? 1 : 0}` : ''}${l.roundZero !== undefined ? `  round_zero ${l.roundZero ? 1 : 0}` : ''}`;
      lines.push(`  ${middleTruncate(l.prefix.slice(0, -1), 60).padEnd(w)}  q${l.nbits} g${l.groupSize} axis ${l.axis}  [${l.shape.join(', ')}]  ${l.packing}  ${l.computeDtype}${flags}`);
    }
  }
  return lines;
}

export function inspectText(r: InspectReport, keys: boolean): string[] {
  const lines: string[] = [];
  for (const f of r.files) {
    lines.push(...summary(f));
    if (keys) lines.push(...keyListing(f));
  }
  if (r.files.length > 1) {
    const size = r.files.reduce((a, f) => a + f.size, 0);
    const tensors = r.files.reduce((a, f) => a + f.tensors.length, 0);
    const layers = r.files.reduce((a, f) => a + f.layers.length, 0);
    lines.push(`total: ${r.files.length} shards, ${formatBytes(size)}, ${tensors} tensors${layers ? `, ${layers} HQQ layers` : ''}`);
  }
  if (!keys && r.files.some((f) => f.tensors.length > 0)) lines.push('(--keys lists every tensor)');
  return lines;
}

/** The text summary of a GGUF file (every tensor with --keys). */
export function ggufInspectText(r: GGUFInspectReport, keys: boolean): string[] {
  const lines = [`${r.path}  ${formatBytes(r.size)}  GGUF v${r.version}  ${r.tensors.length} tensors  ${formatCount(r.parameters)} parameters  ${r.bitsPerWeight.toFixed(2)} bits per weight`];
  lines.push(`  types: ${r.types.map((t) => `${t.type} ${t.tensors} (${formatBytes(t.bytes)}, ${((t.bytes * 8) / Math.max(1, t.parameters)).toFixed(2)} bpw)`).join(', ')}`);
  if (r.tokenizer) {
    const k = r.tokenizer;
    lines.push(`  tokenizer: ${k.model ?? '?'}${k.pre ? ` (pre ${k.pre})` : ''}, ${k.tokens} tokens${k.merges ? `, ${k.merges} merges` : ''}${k.bos !== undefined ? `, bos ${k.bos}` : ''}${k.eos !== undefined ? `, eos ${k.eos}` : ''}${k.chatTemplate ? ', chat template' : ''}`);
  }
  for (const m of r.metadata) {
    if (m.key.startsWith('tokenizer.ggml.') && m.type.startsWith('array')) continue; // summarized above
    lines.push(`  ${m.key} (${m.type}) = ${m.summary.length > META_VALUE_CHARS ? `${m.summary.slice(0, META_VALUE_CHARS)}...` : m.summary}`);
  }
  if (keys) {
    const w = Math.min(60, maxOf(r.tensors, (t) => t.name.length, 4));
    for (const t of r.tensors) lines.push(`  ${middleTruncate(t.name, 60).padEnd(w)}  ${t.type.padEnd(5)}  ${`[${t.shape.join(', ')}]`.padEnd(16)}  ${formatBytes(t.bytes)}`);
  } else if (r.tensors.length > 0) lines.push('(--keys lists every tensor)');
  return lines;
}

/** The text summary of an ONNX file: opsets, inputs/outputs, operators, and the MatMul / MatMulNBits weights. */
export function onnxInspectText(r: ONNXInspectReport, keys: boolean): string[] {
  const lines = [`${r.path}  ${formatBytes(r.size)}  ONNX IR v${r.irVersion}  ${r.nodes} nodes  ${r.initializers} initializers  ${formatCount(r.parameters)} elements`];
  lines.push(`  opsets: ${r.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}`);
  lines.push(`  inputs: ${r.inputs.join(', ') || '(none)'}`, `  outputs: ${r.outputs.join(', ') || '(none)'}`);
  if (r.externalFiles.length) lines.push(`  external data: ${r.externalFiles.join(', ')}`);
  lines.push(`  operators: ${Object.entries(r.ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const nb = r.weights.filter((w) => w.op === 'MatMulNBits');
  const mm = r.weights.filter((w) => w.op !== 'MatMulNBits');
  if (mm.length) lines.push(`  MatMul/Gemm weights: ${mm.length} (${formatCount(mm.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0))} weights)`);
  if (nb.length) {
    const cfg = new Map<string, number>();
    for (const w of nb) cfg.set(`${w.bits}-bit block ${w.blockSize}`, (cfg.get(`${w.bits}-bit block ${w.blockSize}`) ?? 0) + 1);
    lines.push(`  MatMulNBits: ${nb.length} (${[...cfg].map(([k, v]) => `${k}: ${v}`).join(', ')})`);
  }
  if (keys) {
    const w = Math.min(60, maxOf(r.weights, (x) => x.weight.length, 4));
    for (const x of r.weights) {
      const what = x.op === 'MatMulNBits' ? `K ${x.K} N ${x.N} q${x.bits} b${x.blockSize}` : `[${x.shape.join(', ')}] ${x.dtype}`;
      lines.push(`  ${middleTruncate(x.weight, 60).padEnd(w)}  ${x.op.padEnd(11)}  ${what}  (node ${x.node})`);
    }
  } else if (r.weights.length > 0) lines.push('(--keys lists every weight)');
  return lines;
}

export async function runInspect(files: string[], flags: InspectFlags, io: Out): Promise<number> {
  if (files.length !== 1) throw new UsageError(`inspect takes exactly one file, got ${files.length}`);
  const input = await resolveInputFile(files[0]!, 'inspect');
  if (input.kind === 'gguf') {
    const g = await inspectGGUFFile(input.path);
    if (flags.json) io.out(JSON.stringify({ command: 'inspect', format: 'gguf', ...g }, null, 2) + '\n');
    else for (const l of ggufInspectText(g, Boolean(flags.keys))) io.out(l + '\n');
    return 0;
  }
  if (input.kind === 'onnx') {
    const o = await inspectONNXFile(input.path);
    if (flags.json) io.out(JSON.stringify({ command: 'inspect', format: 'onnx', ...o }, null, 2) + '\n');
    else for (const l of onnxInspectText(o, Boolean(flags.keys))) io.out(l + '\n');
    return 0;
  }
  const r = await inspectModelFile(input.path);
  if (flags.json) io.out(JSON.stringify({ command: 'inspect', ...r }, null, 2) + '\n');
  else for (const l of inspectText(r, Boolean(flags.keys))) io.out(l + '\n');
  return 0;
}
