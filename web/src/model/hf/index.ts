/**
 * Hugging Face model folders: reading them (config, tokenizer, index), planning their GGUF
 * (llama.cpp names, hyper-parameters, tokenizer metadata, q/k permutation), and describing HQQ
 * folders for transformers and vLLM. Pure and browser-safe: no file access, no `node:` imports.
 *
 *   const report = describeFolderFiles(names);                  // what the page shows
 *   const folder = parseHFFolder(files, { target: 'gguf' });    // { name, text } of the JSON files
 *   const plan = hfToGGUFPlan(folder, headers);                 // [{ name, shape }] of every tensor
 *   // plan.metadata -> planGGUF; plan.tensors[i].permute -> applyRopePermutation before quantizing;
 *   // plan.generated -> extra F32 tensors (rope_freqs); plan.dropped -> not written.
 *
 *   const { config } = hqqQuantizationConfig(layers);           // config.json's quantization_config
 *   runtimeSupport(config, layers).warnings;                    // what transformers / vLLM accept
 */
export { SUPPORTED_HF_ARCHITECTURES, architectureSpec, resolveArchitecture, type ArchitectureSpec, type GGUFArchName } from './architectures.js';
export { describeFolderFiles, parseHFFolder, HF_TEXT_FILES, type FolderReport, type FolderFile, type FileRole, type FolderTarget, type HFFolder, type HFFolderInputFile } from './folder.js';
export { readHyperParameters, hyperParameterEntries, llama3RopeFactors, type HyperParameters, type RopeScaling } from './hparams.js';
export { generalNaming, modelIdComponents, idToTitle, sizeLabel, type GeneralNaming, type ModelIdComponents } from './naming.js';
export { mapTensors, type MappedTensor, type DroppedTensor, type TensorInput, type TensorMapping, type TensorRole } from './tensors.js';
export { applyRopePermutation, permutedRowSource, type RopePermutation } from './permute.js';
export { hfToGGUFPlan, GGML_QUANT_VERSION, type HFGGUFPlan, type GGUFPlanOptions, type GeneratedTensor } from './gguf-plan.js';
export {
  tokenizerToGGUF,
  parseTokenizerJson,
  classifyTokenizer,
  KNOWN_BPE_PRE_TYPES,
  TOKEN_TYPE,
  type TokenizerFiles,
  type TokenizerGGUF,
  type TokenizerGGUFOptions,
  type TokenizerKind,
  type HFTokenizer,
  type ChatTemplate,
  type SpecialRole,
} from './tokenizer/index.js';
export {
  hqqQuantizationConfig,
  withQuantizationConfig,
  runtimeSupport,
  baseQuantizeConfig,
  linearTag,
  hqqLayerKeyProblems,
  TRANSFORMERS_HQQ_KEYS,
  VLLM_HQQ_KEYS,
  type HQQLayerParams,
  type HQQLinearLayer,
  type HQQQuantizationConfig,
  type HQQBaseQuantizeConfig,
  type RuntimeSupport,
  type RuntimeVerdict,
} from './hqq-config.js';
