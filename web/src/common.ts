/**
 * Everything both entry points export besides `loadHQQ`: the browser-safe API. `hqq-wasm` (browser,
 * bundlers) and `hqq-wasm/node` export all of it, so code written against the browser entry also
 * builds where a bundler resolves the Node entry (server-side rendering of a client component).
 */

declare global {
  // The declarations name WebAssembly.Module, which TypeScript's DOM library (and recent @types/node)
  // declare. A Node project compiled with lib: ["es2022"] has neither: this empty interface, which
  // merges with theirs where they exist, lets the declarations compile there too.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace WebAssembly {
    /** A compiled WebAssembly module (the DOM library's or @types/node's, where present). */
    // eslint-disable-next-line @typescript-eslint/no-empty-interface
    interface Module {}
  }
}

// The quantizer over one wasm instance.
export { GGUF_TYPES, HQQ, MAX_TENSOR_ELEMENTS, SUPPORTED_NBITS, normalizeOptions } from './engine.js';
export type {
  EarlyStop, ErrorStatistics, GGUFQuantizedTensor, GGUFQuantizeOptions, GGUFTypeInfo, GGUFTypeName, InputDtype, Nbits,
  PackingName, QuantizeOptions, QuantizedTensor,
} from './engine.js';
// onnxruntime MatMulNBits (HQQ.quantizeNBits / dequantizeNBits).
export type { NBitsDequantizeOptions, NBitsOptions, NBitsResult, NBitsStats } from './engine.js';
export { HQQError } from './errors.js';
export type { HQQErrorCode } from './errors.js';
export { simdSupported } from './wasm-loader.js';
export type { LoadOptions, WasmSource } from './wasm-loader.js';

// Whole-model quantization (see docs/models.md).
export { quantizeModel, planModelInput, DEFAULT_COPY_CHUNK } from './model/quantize-model.js';
export type { StrictError } from './model/quantize-model.js';
export type {
  ModelInput, ModelSink, ShardWriter, QuantizeModelOptions, QuantizeModelReport, TensorReport, ModelProgressEvent,
  ModelProgressType, PlannedModel, ErrorSummary, ShardOption, PlanPart, PartRecord,
} from './model/quantize-model.js';
export { planModel, resolveModelConfig, parseTensorOverride, tensorConfigFor, HQQ_WASM_VERSION } from './model/plan.js';
export type { ModelPlan, ModelQuantConfig, PlannedShard, PlannedTensor, ResolvedModelConfig, TensorOverride, SolverOptions } from './model/plan.js';
export { hqqLinearEntries, readHQQLayers } from './model/hqqlinear.js';
export type { ComputeDtype, HQQLayerInfo, LayerQuantConfig } from './model/hqqlinear.js';

// Reading inputs: byte sources, safetensors files, sharded-model indexes.
export { blobSource, bytesSource } from './io/source.js';
export type { ByteSource } from './io/source.js';
export { openSafetensors, parseSafetensorsHeader, DTYPE_SIZES, dtypeSize, isDType } from './io/safetensors.js';
export type { DType, SafetensorsFile, SafetensorsHeader, TensorInfo } from './io/safetensors.js';
export { parseIndexJson, buildIndexJson } from './io/index-json.js';
export type { IndexJson } from './io/index-json.js';
export { planSafetensors } from './io/writer.js';
export type { PlanEntry, SafetensorsPlan } from './io/writer.js';

// Writing outputs in a browser: Blobs in memory, or files through the File System Access API.
export { memorySink, directorySink, fileSink, pickOutput, fileSystemAccess, downloadBlob } from './io/browser-sink.js';
export type { BrowserSink, OutputSink, OutputFile, FileHandleLike, DirectoryHandleLike } from './io/browser-sink.js';

// Worker pools: in-thread, and Web Workers (the script is `hqq-wasm/worker`, found by itself).
export { createInlinePool } from './pool/inline-pool.js';
export { createWebPool, defaultWebWorkers } from './pool/web-pool.js';
export type { WebPoolOptions } from './pool/web-pool.js';
export type { WorkerPool, WorkerTask, HQQTask, GGUFTask, ConvertTask, WorkerResult, TaskStats, TaskInputDtype, QuantizeTask, QuantizeTaskResult } from './pool/types.js';
export { summarizeSums } from './model/report.js';
export type { FormatName, FormatPlan, PlanWarning, PlanTotals } from './formats/types.js';
export type { FormatOptions } from './formats/registry.js';

// Model folders (a dropped folder, selected files, a Node directory listing) as one input.
export { modelInputFromFolder } from './model/folder-input.js';
export type { FolderModelInput } from './model/folder-input.js';
export { SUPPORTED_HF_ARCHITECTURES, parseHFFolder, describeFolderFiles, hqqQuantizationConfig, withQuantizationConfig, runtimeSupport } from './model/hf/index.js';
export type { HFFolder, FolderReport, HQQLinearLayer } from './model/hf/index.js';

// The GGUF container: read and validate a header, lay out a file, typed metadata values.
export { openGGUF, parseGGUFHeader, planGGUF, ggufValue, withMetadata, GGML_TYPES, GGUF_LIMITS } from './io/gguf.js';
export type { GGUFFile, GGUFHeader, GGUFTensorInfo, GGUFMetadata, GGUFValue, GGUFPlan, GGUFPlanInput, GGUFPlanTensor, GGMLTypeName, GGMLTypeInfo } from './io/gguf.js';
export type { FileLayout, LayoutTensor } from './io/layout.js';

// The GGUF presets (llama-quantize's names), for pages that offer them.
export { GGUF_PRESETS } from './formats/gguf/tensor-types.js';
export type { GGUFPreset, GGUFPresetName } from './formats/gguf/tensor-types.js';
export type { GGUFModelConfig } from './formats/gguf/config.js';
