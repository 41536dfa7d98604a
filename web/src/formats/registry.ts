/**
 * Picks the output format of a run from its options (browser-safe). `format` names it; omitted,
 * it is HQQ. Each format validates its own options.
 */
import { HQQError } from '../errors.js';
import type { InputModel } from '../model/input.js';
import type { ModelQuantConfig } from './hqq/config.js';
import { createHQQFormat } from './hqq/format.js';
import type { FormatName, OutputFormat } from './types.js';

export const FORMAT_NAMES: readonly FormatName[] = ['hqq', 'gguf'];

export interface FormatOptions extends ModelQuantConfig {
  /** The output format: 'hqq' (HQQLinear layers in safetensors, default) or 'gguf' (llama.cpp). */
  format?: FormatName;
}

export function createFormat(options: FormatOptions, _input: InputModel): OutputFormat {
  const { format = 'hqq', ...rest } = options;
  switch (format) {
    case 'hqq':
      return createHQQFormat(rest);
    default:
      throw new HQQError('INVALID_ARGUMENT', `format = ${JSON.stringify(format)} is not an output format; use one of ${FORMAT_NAMES.join(', ')}`);
  }
}
