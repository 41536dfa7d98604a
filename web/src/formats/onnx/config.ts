/**
 * Options of the ONNX output (MatMulNBits), validated (browser-safe). Bits 2/4/8, a block size
 * of 16, 32, 64, 128 or 256, the sizes onnxruntime runs (default 32), uint8 or float zero points (default uint8: every
 * onnxruntime execution provider runs it, WebGPU included), and where the weights go.
 */
import { shown } from '../../arguments.js';
import { HQQError } from '../../errors.js';

/** Options of the ONNX output (`onnx: { ... }` of quantizeModel; CLI --bits, --block-size, --zero-points, --external-data). */
export interface ONNXModelConfig {
  /** Bits per weight: 4 (default), 8 or 2. */
  bits?: number;
  /** Weights per block along K: 16, 32, 64, 128 or 256 (default 32; onnxruntime refuses other sizes). */
  blockSize?: number;
  /**
   * 'uint8' (default): integer zero points packed like the weights (every execution provider,
   * WebGPU included); 'float': exact HQQ with float zero points (CPU/wasm EPs, 4-bit only).
   */
  zeroPoints?: 'uint8' | 'float';
  /** HQQ optimisation (default true); false writes onnxruntime-style round-to-nearest. */
  optimize?: boolean;
  /**
   * Where the weights go: 'auto' (default: an external data file when the input had one or when
   * the model would pass protobuf's 2 GB limit), 'always', 'never'.
   */
  externalData?: 'auto' | 'always' | 'never';
  /** Matrices with fewer weights are left alone (default 1024). */
  minWeights?: number;
}

export interface ResolvedONNXConfig {
  bits: 2 | 4 | 8;
  blockSize: number;
  zeroPoints: 'uint8' | 'float';
  optimize: boolean;
  externalData: 'auto' | 'always' | 'never';
  minWeights: number;
}

/** What a report records of an ONNX run. */
export interface ONNXConfigRecord {
  /** Always `'onnx'`. */
  format: 'onnx';
  /** Bits per weight: 2, 4 or 8 (MatMulNBits' bits attribute). */
  bits: number;
  /** Weights per block along K (MatMulNBits' block_size attribute). */
  block_size: number;
  /** Zero-point storage: 'uint8' (packed integers) or 'float' (in the scale type). */
  zero_points: 'uint8' | 'float';
  /** Whether the HQQ solver ran (false: round-to-nearest). */
  optimize: boolean;
}

const KEYS: readonly (keyof ONNXModelConfig)[] = ['bits', 'blockSize', 'zeroPoints', 'optimize', 'externalData', 'minWeights'];

function invalid(message: string): never {
  throw new HQQError('INVALID_ARGUMENT', message);
}

export function resolveONNXConfig(c: ONNXModelConfig = {}): ResolvedONNXConfig {
  if (c === null || typeof c !== 'object') invalid('onnx options must be an object ({ bits, blockSize, zeroPoints })');
  for (const k of Object.keys(c)) if (!KEYS.includes(k as keyof ONNXModelConfig)) invalid(`onnx.${k} is not an ONNX option; use ${KEYS.join(', ')}`);
  const bits = c.bits ?? 4;
  if (bits !== 2 && bits !== 4 && bits !== 8) invalid(`bits = ${shown(bits)} is not supported by MatMulNBits here; use 4 (default), 8 or 2`);
  const blockSize = c.blockSize ?? 32;
  if (!Number.isSafeInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0 || blockSize > 256) {
    invalid(`block size = ${shown(blockSize)} is invalid; onnxruntime's MatMulNBits takes 16, 32, 64, 128 or 256 (default 32)`);
  }
  const zeroPoints = c.zeroPoints ?? 'uint8';
  if (zeroPoints !== 'uint8' && zeroPoints !== 'float') invalid(`zero points = ${JSON.stringify(zeroPoints)} is invalid; use uint8 (default, every execution provider) or float`);
  if (zeroPoints === 'float' && bits !== 4) {
    invalid(`float zero points with ${bits}-bit weights do not run: onnxruntime's CPU/wasm MatMulNBits takes float zero points for 4-bit weights only; use --zero-points uint8, or --bits 4`);
  }
  const optimize = c.optimize ?? true;
  if (typeof optimize !== 'boolean') invalid(`optimize = ${shown(optimize)} must be true or false`);
  const externalData = c.externalData ?? 'auto';
  if (!['auto', 'always', 'never'].includes(externalData)) invalid(`externalData = ${JSON.stringify(externalData)} is invalid; use auto, always or never`);
  const minWeights = c.minWeights ?? 1024;
  if (!Number.isSafeInteger(minWeights) || minWeights < 1) invalid(`minWeights = ${shown(minWeights)} must be a positive integer`);
  return { bits, blockSize, zeroPoints, optimize, externalData, minWeights };
}

export function describeONNXConfig(c: ResolvedONNXConfig): ONNXConfigRecord {
  return { format: 'onnx', bits: c.bits, block_size: c.blockSize, zero_points: c.zeroPoints, optimize: c.optimize };
}
