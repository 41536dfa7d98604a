/**
 * HQQ model config and planning, at their former import path (they live in `formats/hqq/` now).
 */
export {
  describeConfig, parseTensorOverride, resolveModelConfig, tensorConfigFor,
  type ModelQuantConfig, type ResolvedModelConfig, type SolverOptions, type TensorOverride,
} from '../formats/hqq/config.js';
export {
  layerPrefix, outputMetadata, planModel, suggestGroupSize,
  type HQQPlannedTensor as PlannedTensor, type ModelInputFile, type ModelPlan, type ModelPlanTotals, type PlanModelOptions, type PlannedShard,
} from '../formats/hqq/plan.js';
export { HQQ_WASM_TOOL, HQQ_WASM_VERSION } from '../version.js';
