/** `hqq-wasm dequantize`: HQQLinear layers back into `<name>.weight`. */
import type { Command } from 'commander';
import { openFileSource } from '../io/node-file.js';
import { openSafetensors } from '../io/safetensors.js';
import { findHQQLayerKeys } from '../model/hqq-detect.js';
import { dequantizeModelFile, type DequantizeDtype } from '../node-model.js';
import { dequantizeGGUFFile } from '../node-gguf.js';
import { resolveInputFile } from './input-file.js';
import { formatBytes, middleTruncate } from './format.js';
import { printWarnings, strictExit, UsageError, type CliWarning, type Out } from './io.js';
import { choiceOption, stringOption } from './options.js';

export interface DequantizeFlags {
  output?: string;
  dtype?: DequantizeDtype;
  json?: boolean;
  strict?: boolean;
}

export function defineDequantize(cmd: Command): Command {
  return cmd
    .summary('turn HQQ layers or a GGUF back into float weights')
    .usage('<file.safetensors | model.gguf> -o <out.safetensors> [--dtype float32|float16|bfloat16]')
    .description('Turns every HQQLinear layer (<name>.W_q, scale, zero, ...) back into <name>.weight; other tensors are copied unchanged. A GGUF file becomes a safetensors file of its tensors (GGUF names, PyTorch-order shapes), decoded exactly as llama.cpp decodes them: F32 for quantized tensors unless --dtype says otherwise.')
    .argument('[input...]', 'a quantized .safetensors file, or a .gguf')
    .option('-o, --output <path>', 'output file', stringOption('--output'))
    .option('--dtype <dtype>', 'float32, float16 or bfloat16 (default: each layer\'s compute dtype)',
      choiceOption('--dtype', ['float32', 'float16', 'bfloat16'] as const, String, 'float32, float16 or bfloat16'))
    .option('--json', 'print a JSON report')
    .option('--strict', 'fail (exit 1, nothing written) when the file holds no HQQ layer');
}

/** Header only: a warning when there is nothing to dequantize. */
async function nothingToDequantize(path: string): Promise<CliWarning | undefined> {
  if (path.endsWith('.json')) return undefined; // dequantizeModelFile says it wants one shard
  const f = await openSafetensors(await openFileSource(path));
  try {
    if (findHQQLayerKeys(f.header).length > 0) return undefined;
    return { code: 'NOTHING_TO_DEQUANTIZE', message: `${path} holds no HQQ layer (no <name>.W_q with its scale and zero); the output is a plain copy` };
  } finally {
    await f.close();
  }
}

export async function runDequantize(inputs: string[], flags: DequantizeFlags, io: Out): Promise<number> {
  if (inputs.length !== 1) throw new UsageError(`dequantize takes exactly one input file, got ${inputs.length}`);
  if (!flags.output) throw new UsageError('dequantize needs -o <out.safetensors>');
  const { path: input, kind } = await resolveInputFile(inputs[0]!, 'dequantize');
  if (kind === 'onnx') {
    throw new UsageError(`dequantize reads HQQ safetensors and GGUF files; ${input} is an ONNX model, whose MatMulNBits weights onnxruntime runs as they are (hqq-wasm inspect lists them)`);
  }
  if (kind === 'gguf') {
    const g = await dequantizeGGUFFile(input, flags.output, {
      dtype: flags.dtype, handleSigint: true,
      onTensor: flags.json ? undefined : (e) => {
        const w = String(e.total).length;
        io.out(`[${String(e.index).padStart(w + 1)}/${String(e.total).padStart(w + 1)}] ${middleTruncate(e.name, 72)}  [${e.shape.join(', ')}]  ${e.from === e.to ? `${e.from} copy` : `${e.from} -> ${e.to}`}\n`);
      },
    });
    if (flags.json) io.out(JSON.stringify({ command: 'dequantize', input, format: 'gguf', ...g }, null, 2) + '\n');
    else io.out(`decoded ${g.dequantized} of ${g.tensors} tensors, ${formatBytes(g.bytes)} in ${g.seconds.toFixed(1)} s\nwrote ${g.outputPath}\n`);
    return 0;
  }
  const warnings: CliWarning[] = [];
  const nothing = await nothingToDequantize(input);
  if (nothing) warnings.push(nothing);
  printWarnings(io, warnings);
  if (strictExit(io, warnings, Boolean(flags.strict), 'before writing anything')) return 1;
  const r = await dequantizeModelFile(input, flags.output, {
    dtype: flags.dtype,
    handleSigint: true,
    onTensor: flags.json ? undefined : (e) => {
      const w = String(e.total).length;
      io.out(`[${String(e.index).padStart(w + 1)}/${String(e.total).padStart(w + 1)}] ${middleTruncate(e.name, 72)}  [${e.shape.join(', ')}]  ${e.action === 'dequantize' ? `-> ${e.dtype}` : `${e.dtype} copy`}\n`);
    },
  });
  if (flags.json) io.out(JSON.stringify({ command: 'dequantize', input, ...r, warnings }, null, 2) + '\n');
  else io.out(`dequantized ${r.layers} layers, copied ${r.copied} tensors, ${formatBytes(r.bytes)} in ${r.seconds.toFixed(1)} s\nwrote ${r.outputPath}\n`);
  return 0;
}
