/**
 * GGUF files in Node, for the CLI: `inspectGGUFFile` (metadata, tokenizer summary, tensor types,
 * bits per weight) and `dequantizeGGUFFile` (every tensor back to F32/F16/BF16 in a safetensors
 * file, written through the crash-safe file writer: the output appears whole or not at all).
 */
import type { HQQ, GGUFTypeName } from './engine.js';
import { HQQError } from './errors.js';
import { checkEncodedRange } from './formats/convert.js';
import { openGGUF, type GGUFFile, type GGUFTensorInfo } from './io/gguf-reader.js';
import type { GGUFValue } from './io/gguf-metadata.js';
import { openFileSource } from './io/node-file.js';
import { createOutputFolder, dequantizedFileName, resolveOneFileOutput } from './io/node-output-target.js';
import { createSafetensorsFileWriter } from './io/node-writer.js';
import { planSafetensors, type PlanEntry } from './io/writer.js';
import { abortOnTermination } from './node-signals.js';
import { loadHQQ } from './node.js';
import { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from './version.js';

/** Whether the file at `path` starts with the GGUF magic. */
export async function isGGUFFile(path: string): Promise<boolean> {
  const s = await openFileSource(path);
  try {
    if (s.size < 4) return false;
    const b = await s.read(0, 4);
    return String.fromCharCode(...b) === 'GGUF';
  } finally {
    await s.close();
  }
}

export interface GGUFMetadataEntry {
  key: string;
  /** The value type (`u32`, `string`, `array<string>`...). */
  type: string;
  /** The value, or for arrays their length and first elements. */
  summary: string;
}

export interface GGUFTypeSummary {
  type: string;
  tensors: number;
  parameters: number;
  bytes: number;
}

export interface GGUFInspectReport {
  path: string;
  size: number;
  version: number;
  alignment: number;
  metadata: GGUFMetadataEntry[];
  tokenizer?: { model?: string; pre?: string; tokens: number; merges: number; bos?: number; eos?: number; chatTemplate: boolean };
  types: GGUFTypeSummary[];
  parameters: number;
  /** Tensor bytes * 8 / parameters. */
  bitsPerWeight: number;
  tensors: { name: string; type: string; shape: number[]; bytes: number }[];
}

function summarize(v: GGUFValue): { type: string; summary: string } {
  if (v.type !== 'array') return { type: v.type, summary: typeof v.value === 'string' ? (v.value.length > 100 ? `${JSON.stringify(v.value.slice(0, 100))}...` : JSON.stringify(v.value)) : String(v.value) };
  const n = v.items.length;
  const first: string[] = [];
  for (let i = 0; i < Math.min(n, 4); i++) {
    const item = v.itemType === 'string' ? JSON.stringify((v.items as { get(i: number): string }).get(i)) : v.itemType === 'array' ? '[...]' : String((v.items as ArrayLike<unknown>)[i]);
    first.push(item);
  }
  return { type: `array<${v.itemType}>`, summary: `${n} items${n ? `: ${first.join(', ')}${n > 4 ? ', ...' : ''}` : ''}` };
}

function numberOf(v: GGUFValue | undefined): number | undefined {
  return v && v.type !== 'array' && (typeof v.value === 'number' || typeof v.value === 'bigint') ? Number(v.value) : undefined;
}

export async function inspectGGUFFile(path: string): Promise<GGUFInspectReport> {
  const f = await openGGUF(await openFileSource(path));
  try {
    const h = f.header;
    const meta = h.metadata;
    const types = new Map<string, GGUFTypeSummary>();
    let parameters = 0;
    let bytes = 0;
    for (const t of h.tensors) {
      const s = types.get(t.type) ?? { type: t.type, tensors: 0, parameters: 0, bytes: 0 };
      s.tensors++;
      s.parameters += t.numel;
      s.bytes += t.byteLength;
      types.set(t.type, s);
      parameters += t.numel;
      bytes += t.byteLength;
    }
    const tokens = meta.get('tokenizer.ggml.tokens');
    const merges = meta.get('tokenizer.ggml.merges');
    const str = (k: string) => {
      const v = meta.get(k);
      return v?.type === 'string' ? v.value : undefined;
    };
    return {
      path, size: h.fileSize, version: h.version, alignment: h.alignment,
      metadata: [...meta].map(([key, v]) => ({ key, ...summarize(v) })),
      tokenizer: tokens ? {
        model: str('tokenizer.ggml.model'), pre: str('tokenizer.ggml.pre'),
        tokens: tokens.type === 'array' ? tokens.items.length : 0, merges: merges?.type === 'array' ? merges.items.length : 0,
        bos: numberOf(meta.get('tokenizer.ggml.bos_token_id')), eos: numberOf(meta.get('tokenizer.ggml.eos_token_id')),
        chatTemplate: meta.has('tokenizer.chat_template'),
      } : undefined,
      types: [...types.values()].sort((a, b) => b.bytes - a.bytes),
      parameters,
      bitsPerWeight: parameters > 0 ? (bytes * 8) / parameters : 0,
      tensors: h.tensors.map((t) => ({ name: t.name, type: t.type, shape: t.shape, bytes: t.byteLength })),
    };
  } finally {
    await f.close();
  }
}

export type GGUFDequantizeDtype = 'float32' | 'float16' | 'bfloat16';

export interface DequantizeGGUFOptions {
  /** dtype of every output tensor (default: F32 for quantized tensors; float tensors keep theirs). */
  dtype?: GGUFDequantizeDtype;
  hqq?: HQQ;
  handleSigint?: boolean;
  signal?: AbortSignal;
  onTensor?: (e: { name: string; index: number; total: number; from: string; to: string; shape: number[] }) => void;
}

export interface DequantizeGGUFReport {
  outputPath: string;
  tensors: number;
  dequantized: number;
  bytes: number;
  seconds: number;
}

const DTYPE = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' } as const;
/** Weights per engine call (a tensor larger than that is done in row ranges). */
const ROWS_WEIGHTS = 1 << 24;

function outDtype(t: GGUFTensorInfo, dtype: GGUFDequantizeDtype | undefined): 'F32' | 'F16' | 'BF16' {
  if (dtype) return DTYPE[dtype];
  return t.type === 'F16' || t.type === 'BF16' ? t.type : 'F32';
}

/** Scalar metadata as safetensors strings (arrays such as the vocabulary are left out: their count is noted). */
function stringMetadata(f: GGUFFile): Record<string, string> {
  const out: Record<string, string> = { format: 'pt', hqq_dequantized_by: `${HQQ_WASM_TOOL} ${HQQ_WASM_VERSION}`, gguf_source: f.header.fileName };
  for (const [k, v] of f.header.metadata) out[`gguf.${k}`] = v.type === 'array' ? `(array of ${v.items.length} ${v.itemType})` : String(v.value);
  return out;
}

/** The float32 (or 16-bit) bytes of rows [r0, r0 + n) of `t`. */
async function rowsAs(hqq: HQQ, f: GGUFFile, t: GGUFTensorInfo, r0: number, n: number, to: 'F32' | 'F16' | 'BF16'): Promise<Uint8Array> {
  const cols = t.ne[0]!;
  const rowBytes = t.byteLength / (t.numel / cols);
  const raw = (await f.readRange(t, r0 * rowBytes, n * rowBytes)).slice();
  if (t.type === to) return raw;
  let values: Float32Array;
  if (t.type === 'F32') values = new Float32Array(raw.buffer);
  else if (t.type === 'F16' || t.type === 'BF16') values = hqq.decode16(new Uint16Array(raw.buffer), t.type === 'F16' ? 'f16' : 'bf16');
  else values = hqq.dequantizeGGUF(raw, [n, cols], t.type as GGUFTypeName);
  if (to === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const kind = to === 'F16' ? 'f16' : 'bf16';
  const encoded = hqq.encode16(values, kind);
  checkEncodedRange(values, encoded, kind, { what: `tensor ${JSON.stringify(t.name)} (dequantized to ${to === 'F16' ? 'float16' : 'bfloat16'})`, wayOut: 'dequantize to bfloat16 or float32 instead (--dtype)' });
  return new Uint8Array(encoded.buffer);
}

/** Every tensor of a GGUF file as F32/F16/BF16 in a safetensors file (GGUF names, PyTorch-order shapes). */
export async function dequantizeGGUFFile(inputPath: string, outputPath: string, options: DequantizeGGUFOptions = {}): Promise<DequantizeGGUFReport> {
  const t0 = performance.now();
  if (options.dtype !== undefined && !(options.dtype in DTYPE)) throw new HQQError('INVALID_ARGUMENT', `dtype ${JSON.stringify(options.dtype)} is invalid; use float32, float16 or bfloat16`);
  const f = await openGGUF(await openFileSource(inputPath));
  const sig = options.handleSigint ? abortOnTermination(options.signal) : { signal: options.signal, dispose() {} };
  let writer: Awaited<ReturnType<typeof createSafetensorsFileWriter>> | undefined;
  try {
    const tensors = f.header.tensors;
    const entries: PlanEntry[] = tensors.map((t) => ({ name: t.name, dtype: outDtype(t, options.dtype), shape: t.shape }));
    const out = await resolveOneFileOutput(outputPath, dequantizedFileName(inputPath));
    const plan = planSafetensors(entries, stringMetadata(f), { fileName: out.path });
    if (out.createFolder) await createOutputFolder(out.createFolder);
    writer = await createSafetensorsFileWriter(out.path, plan, { inputPaths: [inputPath] });
    const hqq = options.hqq ?? (await loadHQQ());
    let dequantized = 0;
    for (let i = 0; i < tensors.length; i++) {
      if (sig.signal?.aborted) throw new HQQError('ABORTED', 'dequantize cancelled; no output was written');
      const t = tensors[i]!;
      const to = entries[i]!.dtype as 'F32' | 'F16' | 'BF16';
      options.onTensor?.({ name: t.name, index: i + 1, total: tensors.length, from: t.type, to, shape: t.shape });
      if (t.type !== to) dequantized++;
      const cols = t.ne[0]!;
      const rows = t.numel / cols;
      const per = Math.max(1, Math.floor(ROWS_WEIGHTS / cols));
      const outRow = cols * (to === 'F32' ? 4 : 2);
      if (rows === 0) await writer.writeTensor(t.name, new Uint8Array(0), 0);
      for (let r = 0; r < rows; r += per) {
        const n = Math.min(per, rows - r);
        await writer.writeTensor(t.name, await rowsAs(hqq, f, t, r, n, to), r * outRow);
      }
    }
    if (sig.signal?.aborted) throw new HQQError('ABORTED', 'dequantize cancelled; no output was written');
    await writer.commit();
    return { outputPath: writer.targetPath, tensors: tensors.length, dequantized, bytes: plan.totalSize, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    await writer?.abort();
    throw e;
  } finally {
    sig.dispose();
    await f.close();
  }
}
