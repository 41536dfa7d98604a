/**
 * Picks the output format of a run from its options and input (browser-safe). `format` names it;
 * omitted, a GGUF input gives GGUF output (llama-quantize's job) and anything else HQQ. Each
 * format validates its own options, and options of another format are refused.
 */
import { HQQError } from '../errors.js';
import type { InputModel } from '../model/input.js';
import { testHooksOf } from '../model/test-hooks.js';
import { createGGUFFormat } from './gguf/format.js';
import type { GGUFModelConfig } from './gguf/config.js';
import type { ModelQuantConfig } from './hqq/config.js';
import { createHQQFormat } from './hqq/format.js';
import type { FormatName, OutputFormat } from './types.js';

export const FORMAT_NAMES: readonly FormatName[] = ['hqq', 'gguf'];

/** The output options of a run: the format, and its options (HQQ's `ModelQuantConfig` fields, or `gguf`). */
export interface FormatOptions extends ModelQuantConfig {
  /** The output format: 'hqq' (HQQLinear layers in safetensors) or 'gguf' (llama.cpp). Default: GGUF for a GGUF input, else HQQ. */
  format?: FormatName;
  /** GGUF output: the llama-quantize preset and flags. */
  gguf?: GGUFModelConfig;
}

const HQQ_ONLY: readonly (keyof ModelQuantConfig)[] = ['nbits', 'groupSize', 'axis', 'optimize', 'roundZero', 'computeDtype', 'tensorConfig', 'solver', 'include', 'exclude'];

export function createFormat(options: FormatOptions, input: InputModel): OutputFormat {
  const { format = input.container.kind === 'gguf' ? 'gguf' : 'hqq', gguf, ...rest } = options;
  switch (format) {
    case 'hqq':
      if (gguf !== undefined) throw new HQQError('INVALID_ARGUMENT', 'gguf options were given but the output format is hqq; pass format: "gguf" (CLI: -o model.gguf or --format gguf)');
      return createHQQFormat(rest);
    case 'gguf': {
      const given = HQQ_ONLY.filter((k) => rest[k] !== undefined);
      if (given.length > 0) {
        throw new HQQError('INVALID_ARGUMENT', `${given.join(', ')} ${given.length === 1 ? 'is an HQQ option' : 'are HQQ options'}; GGUF output takes a llama-quantize preset and its flags instead (gguf: { preset: 'Q4_K_M', tensorTypes: ['attn_v=q8_0'] }; CLI: --type Q4_K_M, --tensor-type)`);
      }
      return createGGUFFormat(gguf, testHooksOf(options)?.maxJobWeights);
    }
    default:
      throw new HQQError('INVALID_ARGUMENT', `format = ${JSON.stringify(format)} is not an output format; use one of ${FORMAT_NAMES.join(', ')}`);
  }
}
