/**
 * The GGUF output options (browser-safe): a llama-quantize preset and its flags. The per-tensor
 * rules that turn them into types are in `tensor-types.ts`.
 */
import { HQQError } from '../../errors.js';
import { ggufPreset, parseTensorTypeOverride, type GGUFPreset, type TensorTypeOptions } from './tensor-types.js';

/** GGUF output options: a llama-quantize preset and the flags that adjust it (`QuantizeModelOptions.gguf`). */
export interface GGUFModelConfig {
  /** llama-quantize's preset name: Q4_K_M (default), Q8_0, Q6_K, Q5_K_M, ..., Q2_K. */
  preset?: string;
  /** `NAME_RE=TYPE` overrides (llama-quantize --tensor-type), first match wins. */
  tensorTypes?: readonly string[];
  /** Every quantized tensor gets the preset's type (no mixture); overrides still apply. */
  pure?: boolean;
  /** The type of `output.weight`. */
  outputTensorType?: string;
  /** The type of `token_embd.weight`. */
  tokenEmbeddingType?: string;
  /** Keep `output.weight` as it is. */
  leaveOutputTensor?: boolean;
  /** Requantize tensors that already are quantized (their error compounds). */
  allowRequantize?: boolean;
}

export interface ResolvedGGUFConfig {
  preset: GGUFPreset;
  options: TensorTypeOptions;
}

const KEYS = new Set(['preset', 'tensorTypes', 'pure', 'outputTensorType', 'tokenEmbeddingType', 'leaveOutputTensor', 'allowRequantize']);

function invalid(message: string): never {
  throw new HQQError('INVALID_ARGUMENT', message);
}

export function resolveGGUFConfig(config: GGUFModelConfig = {}): ResolvedGGUFConfig {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) invalid('the gguf options must be an object such as { preset: "Q4_K_M" }');
  for (const k of Object.keys(config)) {
    if (!KEYS.has(k) && (config as Record<string, unknown>)[k] !== undefined) invalid(`unknown gguf option "${k}"; known options: ${[...KEYS].join(', ')}`);
  }
  for (const k of ['pure', 'leaveOutputTensor', 'allowRequantize'] as const) {
    if (config[k] !== undefined && typeof config[k] !== 'boolean') invalid(`gguf option ${k} must be true or false`);
  }
  if (config.tensorTypes !== undefined && (!Array.isArray(config.tensorTypes) || config.tensorTypes.some((t) => typeof t !== 'string'))) {
    invalid('gguf option tensorTypes must be an array of "NAME_RE=TYPE" strings');
  }
  const preset = ggufPreset(config.preset ?? 'Q4_K_M');
  const tensorTypes = (config.tensorTypes ?? []).map((t) => parseTensorTypeOverride(t));
  return {
    preset,
    options: {
      preset, tensorTypes, pure: config.pure ?? false, outputTensorType: config.outputTensorType,
      tokenEmbeddingType: config.tokenEmbeddingType, leaveOutputTensor: config.leaveOutputTensor ?? false,
      allowRequantize: config.allowRequantize ?? false,
    },
  };
}

/** The GGUF config as reports record it. */
export interface GGUFConfigRecord {
  /** llama-quantize preset name, e.g. "Q4_K_M". */
  preset: string;
  /** Its llama_ftype, written as general.file_type. */
  file_type: number;
  /** The `tensorTypes` overrides, as `NAME_RE=TYPE`. */
  tensor_types: string[];
  /** `pure` (false unless set). */
  pure: boolean;
  /** `outputTensorType`, null when not set. */
  output_tensor_type: string | null;
  /** `tokenEmbeddingType`, null when not set. */
  token_embedding_type: string | null;
  /** `leaveOutputTensor` (false unless set). */
  leave_output_tensor: boolean;
  /** `allowRequantize` (false unless set). */
  allow_requantize: boolean;
  /** Hugging Face folder input: its architecture (config.json `architectures[0]`). */
  architecture?: string;
}

/** The config as JSON-friendly data (reports). */
export function describeGGUFConfig(c: ResolvedGGUFConfig): GGUFConfigRecord {
  const o = c.options;
  return {
    preset: c.preset.name,
    file_type: c.preset.ftype,
    tensor_types: (o.tensorTypes ?? []).map((t) => (typeof t === 'string' ? t : `${(t.pattern as RegExp).source ?? String(t.pattern)}=${t.type}`)),
    pure: o.pure ?? false,
    output_tensor_type: o.outputTensorType ?? null,
    token_embedding_type: o.tokenEmbeddingType ?? null,
    leave_output_tensor: o.leaveOutputTensor ?? false,
    allow_requantize: o.allowRequantize ?? false,
  };
}
