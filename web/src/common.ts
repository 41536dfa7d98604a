/** Everything both entry points export besides `loadHQQ`. */
export { GGUF_TYPES, HQQ, MAX_TENSOR_ELEMENTS, SUPPORTED_NBITS, normalizeOptions } from './engine.js';
export type {
  EarlyStop, ErrorStatistics, GGUFQuantizedTensor, GGUFQuantizeOptions, GGUFTypeInfo, GGUFTypeName, InputDtype, Nbits,
  PackingName, QuantizeOptions, QuantizedTensor,
} from './engine.js';
export { HQQError } from './errors.js';
export type { HQQErrorCode } from './errors.js';
export { simdSupported } from './wasm-loader.js';
export type { LoadOptions, WasmSource } from './wasm-loader.js';
// Whole-model quantization (browser-safe core; see docs/models.md).
export { quantizeModel, planModelInput, DEFAULT_COPY_CHUNK } from './model/quantize-model.js';
export type {
  ModelInput, ModelSink, ShardWriter, QuantizeModelOptions, QuantizeModelReport, TensorReport, ModelProgressEvent,
  ModelProgressType, PlannedModel, TestHooks,
} from './model/quantize-model.js';
export { planModel, resolveModelConfig, parseTensorOverride, tensorConfigFor, HQQ_WASM_VERSION } from './model/plan.js';
export type { ModelPlan, ModelQuantConfig, PlannedShard, PlannedTensor, ResolvedModelConfig, TensorOverride, SolverOptions } from './model/plan.js';
export { hqqLinearEntries, readHQQLayers } from './model/hqqlinear.js';
export type { ComputeDtype, HQQLayerInfo, LayerQuantConfig } from './model/hqqlinear.js';
export { createInlinePool } from './pool/inline-pool.js';
export { createWebPool, defaultWebWorkers } from './pool/web-pool.js';
export type { WorkerPool, QuantizeTask, QuantizeTaskResult } from './pool/types.js';
