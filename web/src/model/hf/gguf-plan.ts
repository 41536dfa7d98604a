/**
 * A Hugging Face folder -> what its GGUF holds: the metadata (general.*, the architecture's
 * hyper-parameters, tokenizer.*) in llama.cpp's converter order, every tensor's GGUF name (with
 * its q/k permutation where the architecture needs one), the dropped tensors, and the tensors the
 * converter generates (Llama 3's rope_freqs). The GGUF format module turns this into a file.
 * Browser-safe.
 */
import { HQQError } from '../../errors.js';
import { ggufValue, type GGUFMetadata, type GGUFValue } from '../../io/gguf-metadata.js';
import type { ArchitectureSpec } from './architectures.js';
import type { HFFolder } from './folder.js';
import { hyperParameterEntries, llama3RopeFactors, type HyperParameters } from './hparams.js';
import type { JsonObject } from './json.js';
import { generalNaming, type GeneralNaming } from './naming.js';
import { mapTensors, type DroppedTensor, type MappedTensor, type TensorInput } from './tensors.js';
import { tokenizerToGGUF, type TokenizerGGUF } from './tokenizer/index.js';

/** A tensor the converter makes itself (not read from the safetensors). */
export interface GeneratedTensor {
  ggufName: string;
  dtype: 'F32';
  shape: number[];
  ne: number[];
  data: Float32Array;
  reason: string;
}

export interface GGUFPlanOptions {
  /** Overrides general.name (the converter's --model-name). */
  modelName?: string;
  /** The folder's name, when the caller knows it better than the file paths (general.* heuristics). */
  folderName?: string;
  /** `general.file_type` (a llama_ftype number, e.g. 15 for Q4_K_M); written where the converter writes it. */
  fileType?: number;
  /** Forces tokenizer.ggml.pre (see tokenizerToGGUF). */
  pre?: string;
}

export interface HFGGUFPlan {
  architecture: ArchitectureSpec;
  hparams: HyperParameters;
  metadata: GGUFMetadata;
  /** Input tensors that go into the GGUF, in input order. */
  tensors: MappedTensor[];
  /** Input tensors that do not, with the reason. */
  dropped: DroppedTensor[];
  /** Tensors to add that no input holds; they come first in the converter's files. */
  generated: GeneratedTensor[];
  naming: GeneralNaming;
  tokenizer: TokenizerGGUF;
  /** Parameters counted for the size label (everything written). */
  totalParameters: number;
  warnings: string[];
}

/** GGML_QUANT_VERSION (ggml.h), written as general.quantization_version. */
export const GGML_QUANT_VERSION = 2;

const SAMPLING_KEYS: readonly [string, string, 'i32' | 'f32' | 'string'][] = [
  ['sequence', 'sequence', 'string'],
  ['top_k', 'top_k', 'i32'],
  ['top_p', 'top_p', 'f32'],
  ['min_p', 'min_p', 'f32'],
  ['xtc_probability', 'xtc_probability', 'f32'],
  ['xtc_threshold', 'xtc_threshold', 'f32'],
  ['temperature', 'temp', 'f32'],
  ['penalty_last_n', 'penalty_last_n', 'i32'],
  ['penalty_repeat', 'penalty_repeat', 'f32'],
  ['mirostat', 'mirostat', 'i32'],
  ['mirostat_tau', 'mirostat_tau', 'f32'],
  ['mirostat_eta', 'mirostat_eta', 'f32'],
];

/** general.sampling.* from generation_config.json, as gguf-py's Metadata.load reads it. */
function samplingEntries(gen: JsonObject | undefined, warnings: string[]): [string, GGUFValue][] {
  if (!gen) return [];
  const out: [string, GGUFValue][] = [];
  for (const [from, to, type] of SAMPLING_KEYS) {
    let v = gen[from];
    if (from === 'penalty_repeat' && (v === undefined || v === null)) v = gen.repetition_penalty;
    if (v === undefined || v === null) continue;
    const key = `general.sampling.${to}`;
    if (type === 'string' ? typeof v !== 'string' : typeof v !== 'number' || !Number.isFinite(v) || (type === 'i32' && !Number.isSafeInteger(v))) {
      warnings.push(`generation_config.json: "${from}" is ${JSON.stringify(v)}, not a ${type === 'string' ? 'string' : type === 'i32' ? 'integer' : 'number'}; ${key} is not written`);
      continue;
    }
    out.push([key, type === 'string' ? ggufValue.string(v as string) : type === 'i32' ? ggufValue.i32(v as number) : ggufValue.f32(v as number)]);
  }
  return out;
}

function namingEntries(n: GeneralNaming): [string, GGUFValue][] {
  const out: [string, GGUFValue][] = [['general.name', ggufValue.string(n.name)]];
  const opt = (k: string, v: string | undefined) => v !== undefined && out.push([k, ggufValue.string(v)]);
  opt('general.version', n.version);
  opt('general.organization', n.organization);
  opt('general.finetune', n.finetune);
  opt('general.basename', n.basename);
  opt('general.size_label', n.sizeLabel);
  return out;
}

function generatedTensors(arch: ArchitectureSpec, hp: HyperParameters): GeneratedTensor[] {
  if (hp.ropeScaling.type !== 'llama3') return [];
  if (arch.gguf !== 'llama') {
    throw new HQQError('UNSUPPORTED', `config.json: rope scaling "llama3" on ${arch.hfName}; llama.cpp's converter only makes rope_freqs for the llama architecture`);
  }
  const data = llama3RopeFactors(hp);
  return [{ ggufName: 'rope_freqs.weight', dtype: 'F32', shape: [data.length], ne: [data.length], data, reason: 'Llama 3 RoPE frequency factors (rope_scaling type llama3)' }];
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Plans the GGUF of a parsed folder (`parseHFFolder(files, { target: 'gguf' })`) for the given
 * input tensors (names and shapes from the safetensors headers).
 */
export function hfToGGUFPlan(folder: HFFolder, inputs: readonly TensorInput[], options: GGUFPlanOptions = {}): HFGGUFPlan {
  const arch = folder.architecture;
  const hp = folder.hparams;
  if (!arch || !hp || !folder.tokenizer) {
    throw new HQQError('INVALID_ARGUMENT', "hfToGGUFPlan: parse the folder with parseHFFolder(files, { target: 'gguf' }) first (it resolves the architecture and reads the tokenizer)");
  }
  if (options.fileType !== undefined && !(Number.isSafeInteger(options.fileType) && options.fileType >= 0)) {
    throw new HQQError('INVALID_ARGUMENT', `hfToGGUFPlan: fileType ${options.fileType} must be a llama_ftype number (0 = F32, 1 = F16, 15 = Q4_K_M...)`);
  }
  const warnings = [...folder.warnings];
  const mapping = mapTensors(inputs, arch, hp);
  warnings.push(...mapping.warnings);
  const generated = generatedTensors(arch, hp);
  const tokenizer = tokenizerToGGUF(
    {
      tokenizer: folder.tokenizer,
      tokenizerConfig: folder.tokenizerConfig,
      specialTokensMap: folder.specialTokensMap,
      config: folder.config,
      chatTemplateJinja: folder.chatTemplateJinja,
      chatTemplateJson: folder.chatTemplateJson,
    },
    { vocabSize: hp.vocabSize, pre: options.pre },
  );
  if (tokenizer.tokenCount !== hp.vocabSize) {
    throw new HQQError('INTERNAL', `hfToGGUFPlan: ${tokenizer.tokenCount} tokens for a ${hp.vocabSize}-row embedding`);
  }
  warnings.push(...tokenizer.notes);
  const totalParameters = mapping.tensors.reduce((a, t) => a + numel(t.shape), 0) + generated.reduce((a, t) => a + t.data.length, 0);
  const naming = generalNaming({ nameOrPath: folder.config._name_or_path, folderName: options.folderName ?? folder.folderName, totalParams: totalParameters, name: options.modelName });
  const metadata: GGUFMetadata = new Map<string, GGUFValue>([
    ['general.architecture', ggufValue.string(arch.gguf)],
    ['general.type', ggufValue.string('model')],
  ]);
  const add = (entries: [string, GGUFValue][]) => {
    for (const [k, v] of entries) metadata.set(k, v);
  };
  add(samplingEntries(folder.generationConfig, warnings));
  add(namingEntries(naming));
  const hparams = hyperParameterEntries(arch, hp);
  // The converter writes general.file_type at the end of the base hyper-parameters, before
  // LlamaModel's vocab_size / rope.dimension_count.
  const tail = arch.writesVocabAndRopeDims ? 2 : 0;
  add(hparams.slice(0, hparams.length - tail));
  if (options.fileType !== undefined) metadata.set('general.file_type', ggufValue.u32(options.fileType));
  add(hparams.slice(hparams.length - tail));
  metadata.set('general.quantization_version', ggufValue.u32(GGML_QUANT_VERSION));
  add(tokenizer.metadata);
  return { architecture: arch, hparams: hp, metadata, tensors: mapping.tensors, dropped: mapping.dropped, generated, naming, tokenizer, totalParameters, warnings };
}
