/** `hqq-wasm inspect`: a summary of a (sharded) safetensors model; every key with --keys. */
import type { Command } from 'commander';
import { findHQQLayerKeys } from '../model/hqq-detect.js';
import { inspectModelFile, type InspectedFile, type InspectReport } from '../node-model.js';
import { formatBytes, formatCount, maxOf, middleTruncate } from './format.js';
import { UsageError, type Out } from './io.js';

export interface InspectFlags {
  json?: boolean;
  keys?: boolean;
}

export function defineInspect(cmd: Command): Command {
  return cmd
    .summary('summarize a .safetensors file or sharded model')
    .usage('<file.safetensors | model.safetensors.index.json> [--keys] [--json]')
    .description('Summarizes a safetensors file (or every shard of an index.json): tensors by dtype, metadata, and for quantized files the HQQ configs of its layers. --keys lists every tensor and every layer.')
    .argument('[file...]', 'file.safetensors or model.safetensors.index.json')
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

export async function runInspect(files: string[], flags: InspectFlags, io: Out): Promise<number> {
  if (files.length !== 1) throw new UsageError(`inspect takes exactly one file, got ${files.length}`);
  const r = await inspectModelFile(files[0]!);
  if (flags.json) io.out(JSON.stringify({ command: 'inspect', ...r }, null, 2) + '\n');
  else for (const l of inspectText(r, Boolean(flags.keys))) io.out(l + '\n');
  return 0;
}
