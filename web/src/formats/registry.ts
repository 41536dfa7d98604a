/**
 * Picks the output format of a run from its options and input (browser-safe). `format` names it;
 * omitted, a GGUF input gives GGUF output (llama-quantize's job) and anything else HQQ. Each
 * format validates its own options, and options of another format are refused.
 */
import { shown } from '../arguments.js';
import { HQQError } from '../errors.js';
import type { InputModel } from '../model/input.js';
import { testHooksOf } from '../model/test-hooks.js';
import { createGGUFFormat } from './gguf/format.js';
import { checkSplitCount } from './gguf/split.js';
import type { GGUFModelConfig } from './gguf/config.js';
import type { ModelQuantConfig } from './hqq/config.js';
import { createHQQFormat } from './hqq/format.js';
import type { ONNXModelConfig } from './onnx/config.js';
import { createONNXFormat } from './onnx/format.js';
import type { FormatName, OutputFormat } from './types.js';

export const FORMAT_NAMES: readonly FormatName[] = ['hqq', 'gguf', 'onnx'];

/** The output options of a run: the format, and its options (HQQ's `ModelQuantConfig` fields, or `gguf`). */
export interface FormatOptions extends ModelQuantConfig {
  /** The output format: 'hqq' (HQQLinear layers in safetensors), 'gguf' (llama.cpp) or 'onnx' (MatMulNBits). Default: GGUF for a GGUF input, ONNX for an ONNX input, else HQQ. */
  format?: FormatName;
  /** GGUF output: the llama-quantize preset and flags. */
  gguf?: GGUFModelConfig;
  /**
   * Write the output in this many files, balanced by bytes (docs/sharding.md): GGUF, a gguf-split
   * set `<name>-0000I-of-0000N.gguf` (llama.cpp loads it from the first); HQQ,
   * `model-0000I-of-0000N.safetensors` and an index.json. Default 1: one GGUF file; HQQ, the
   * input's files.
   */
  split?: number;
  /** ONNX output (MatMulNBits): bits, block size, zero points. */
  onnx?: ONNXModelConfig;
}

const HQQ_ONLY: readonly (keyof ModelQuantConfig)[] = ['nbits', 'groupSize', 'axis', 'optimize', 'roundZero', 'computeDtype', 'tensorConfig', 'solver', 'include', 'exclude'];

export function createFormat(options: FormatOptions, input: InputModel): OutputFormat {
  const { format = input.container.kind === 'gguf' ? 'gguf' : input.container.kind === 'onnx' ? 'onnx' : 'hqq', gguf, onnx, split, ...rest } = options;
  if (onnx !== undefined && format !== 'onnx') throw new HQQError('INVALID_ARGUMENT', `onnx options were given but the output format is ${format}; ONNX output is made from an .onnx model`);
  if (input.container.kind === 'onnx' && format !== 'onnx') {
    throw new HQQError('UNSUPPORTED', `${input.fileNames[0]} is an ONNX model; it is quantized to ONNX (MatMulNBits), not to ${format}; drop the format option (CLI: --format, or a .gguf output path)`);
  }
  const given = HQQ_ONLY.filter((k) => rest[k] !== undefined);
  switch (format) {
    case 'hqq':
      if (gguf !== undefined) throw new HQQError('INVALID_ARGUMENT', 'gguf options were given but the output format is hqq; pass format: "gguf" (CLI: -o model.gguf or --format gguf)');
      return createHQQFormat(rest, checkSplitCount(split ?? 1, 'split'));
    case 'onnx':
      if (gguf !== undefined || given.length > 0) {
        throw new HQQError('INVALID_ARGUMENT', `${gguf !== undefined ? 'gguf options' : given.join(', ')} do not apply to ONNX output; it takes onnx: { bits, blockSize, zeroPoints } (CLI: --bits, --block-size, --zero-points)`);
      }
      if ((split ?? 1) !== 1) throw new HQQError('UNSUPPORTED', `split = ${shown(split)}: ONNX output is one .onnx file (+ its external data file); drop split`);
      return createONNXFormat(onnx);
    case 'gguf': {
      if (given.length > 0) {
        throw new HQQError('INVALID_ARGUMENT', `${given.join(', ')} ${given.length === 1 ? 'is an HQQ option' : 'are HQQ options'}; GGUF output takes a llama-quantize preset and its flags instead (gguf: { preset: 'Q4_K_M', tensorTypes: ['attn_v=q8_0'] }; CLI: --type Q4_K_M, --tensor-type)`);
      }
      return createGGUFFormat(gguf, testHooksOf(options)?.maxJobWeights, split ?? 1);
    }
    default:
      throw new HQQError('INVALID_ARGUMENT', `format = ${JSON.stringify(format)} is not an output format; use one of ${FORMAT_NAMES.join(', ')}`);
  }
}
