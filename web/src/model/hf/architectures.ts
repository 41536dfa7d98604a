/**
 * The Hugging Face architectures hqq-wasm turns into GGUF, and what llama.cpp calls them.
 * Browser-safe.
 *
 * Facts (llama.cpp, read from its source): `conversion/llama.py` registers LlamaForCausalLM,
 * LLaMAForCausalLM and MistralForCausalLM as the `llama` architecture, with `undo_permute = True`
 * (the q/k rows are permuted from Hugging Face's rotate-half layout to GGML's interleaved RoPE)
 * and `vocab_size` / `rope.dimension_count` written; `conversion/qwen.py` registers
 * Qwen2ForCausalLM as `qwen2` and Qwen3ForCausalLM as `qwen3` (NEOX RoPE: no permutation; no
 * vocab_size key). `gguf-py/gguf/constants.py` (MODEL_TENSORS) lists the tensors each
 * architecture has; `src/models/{llama,qwen2,qwen3}.cpp` are what llama.cpp loads.
 */
import { HQQError } from '../../errors.js';
import { isObject, type JsonObject } from './json.js';

/** The llama.cpp architectures a Hugging Face folder converts to. */
export type GGUFArchName = 'llama' | 'qwen2' | 'qwen3';

/** How one supported Hugging Face architecture maps to llama.cpp's. */
export interface ArchitectureSpec {
  /** The `architectures[0]` value in config.json. */
  readonly hfName: string;
  /** `general.architecture` and the prefix of the hyper-parameter keys. */
  readonly gguf: GGUFArchName;
  /** Permute q/k rows for GGML's interleaved RoPE (llama's converter `undo_permute`). */
  readonly permuteQK: boolean;
  /** The converter writes `<arch>.vocab_size` and `<arch>.rope.dimension_count` (LlamaModel). */
  readonly writesVocabAndRopeDims: boolean;
  /** Per-head RMS norms on q and k (`self_attn.q_norm` / `k_norm`, Qwen3). */
  readonly qkNorm: boolean;
  /** GGUF tensors (without `.bias`) whose bias llama.cpp loads for this architecture. */
  readonly biases: ReadonlySet<string>;
  /** `tie_word_embeddings` when config.json does not say (the config class's own default). */
  readonly tieDefault: boolean;
}

// Optional biases llama.cpp creates (TENSOR_NOT_REQUIRED): models/llama.cpp loads q/k/v (via
// create_tensor_qkv), attn_output and the three FFN biases; models/qwen2.cpp and qwen3.cpp only
// q/k/v. A bias outside these sets would make llama.cpp refuse the file (wrong tensor count).
const LLAMA_BIASES: ReadonlySet<string> = new Set(['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down']);
const QKV_BIASES: ReadonlySet<string> = new Set(['attn_q', 'attn_k', 'attn_v']);

const SPECS: readonly ArchitectureSpec[] = [
  { hfName: 'LlamaForCausalLM', gguf: 'llama', permuteQK: true, writesVocabAndRopeDims: true, qkNorm: false, biases: LLAMA_BIASES, tieDefault: false },
  { hfName: 'LLaMAForCausalLM', gguf: 'llama', permuteQK: true, writesVocabAndRopeDims: true, qkNorm: false, biases: LLAMA_BIASES, tieDefault: false },
  { hfName: 'MistralForCausalLM', gguf: 'llama', permuteQK: true, writesVocabAndRopeDims: true, qkNorm: false, biases: LLAMA_BIASES, tieDefault: false },
  { hfName: 'Qwen2ForCausalLM', gguf: 'qwen2', permuteQK: false, writesVocabAndRopeDims: false, qkNorm: false, biases: QKV_BIASES, tieDefault: false },
  { hfName: 'Qwen3ForCausalLM', gguf: 'qwen3', permuteQK: false, writesVocabAndRopeDims: false, qkNorm: true, biases: QKV_BIASES, tieDefault: false },
];

/** The Hugging Face architectures that map to GGUF, in a stable order. */
export const SUPPORTED_HF_ARCHITECTURES: readonly string[] = Object.freeze(SPECS.map((s) => s.hfName));

const BY_NAME = new Map(SPECS.map((s) => [s.hfName, s]));

/** The spec of `hfName`, or undefined. */
export function architectureSpec(hfName: string): ArchitectureSpec | undefined {
  return BY_NAME.get(hfName);
}

/**
 * The architecture of a parsed config.json: `architectures[0]` (what transformers and the converter
 * use). UNSUPPORTED, naming it and listing the supported ones, when it is not one of them.
 */
export function resolveArchitecture(config: JsonObject, fileName = 'config.json'): ArchitectureSpec {
  const archs = config.architectures;
  if (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== 'string') {
    const modelType = typeof config.model_type === 'string' ? ` (model_type ${JSON.stringify(config.model_type)})` : '';
    throw new HQQError(
      'BAD_FILE',
      `${fileName}: no "architectures" list${modelType}; a Hugging Face model config names its class there, e.g. "architectures": ["LlamaForCausalLM"]. Supported: ${SUPPORTED_HF_ARCHITECTURES.join(', ')}`,
    );
  }
  const name = archs[0];
  const spec = BY_NAME.get(name);
  if (!spec) {
    const multimodal = isObject(config.text_config) ? ' (a multimodal model: only text-only causal LMs are converted)' : '';
    throw new HQQError(
      'UNSUPPORTED',
      `${fileName}: architecture ${JSON.stringify(name)} is not supported for GGUF output${multimodal}; supported architectures: ${SUPPORTED_HF_ARCHITECTURES.join(', ')}. Convert other models with llama.cpp's convert_hf_to_gguf.py, or write HQQ safetensors instead`,
    );
  }
  return spec;
}
