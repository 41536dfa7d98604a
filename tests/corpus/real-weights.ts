// Real trained weights for quantization tests and benchmarks: the 2-D float matrices of the
// TensorFlow.js graph models that the npm package @vladmandic/human ships in its models/ folder
// (face, hand, body and iris models; weights stored as float32 or float16). It is a pinned
// devDependency, so `npm ci` installs exactly these bytes on every machine.
//
// Each weight tensor is viewed the way a quantizer sees a linear layer: the last axis of a
// TensorFlow kernel is its output channel ([kh, kw, in, out] for convolutions, [in, out] for dense
// layers), so the matrix is [out, prod(other axes)], rows along the input dimension. When that
// row length is not a multiple of `rowMultiple` (256 for the GGUF K-quants), the flattened
// matrix is cut into rows of exactly `rowMultiple` weights instead, dropping the remainder.
// Weights stored 8-bit or 16-bit quantized (tfjs uint8/uint16 affine quantization) are already
// quantized and are skipped.
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REAL_WEIGHTS_PACKAGE = '@vladmandic/human';
export const REAL_WEIGHTS_VERSION = '3.3.6';

export interface RealMatrix {
  name: string;  // "<model>/<tensor name>"
  model: string;
  storedAs: 'float32' | 'float16';
  rows: number;
  cols: number;
  data: Float32Array;  // rows * cols, row-major
}

export interface LoadOptions {
  rowMultiple?: number;  // default 256
  minElements?: number;  // smaller tensors are skipped; default 16384
  maxElements?: number;  // larger matrices keep only their first rows; default unlimited
  models?: string[];     // model names (file stems under models/); default all
}

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}
interface ManifestGroup {
  paths: string[];
  weights: ManifestWeight[];
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function realWeightsDir(): string {
  const dir = join(repoRoot, 'node_modules', ...REAL_WEIGHTS_PACKAGE.split('/'));
  const pkgPath = join(dir, 'package.json');
  if (!existsSync(pkgPath)) {
    throw new Error(`real-weights corpus: ${REAL_WEIGHTS_PACKAGE} is not installed; run npm ci (it is a pinned devDependency)`);
  }
  const version = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string }).version;
  if (version !== REAL_WEIGHTS_VERSION) {
    throw new Error(`real-weights corpus: ${REAL_WEIGHTS_PACKAGE} ${version} is installed, the corpus is defined on ${REAL_WEIGHTS_VERSION}; run npm ci`);
  }
  return join(dir, 'models');
}

// IEEE binary16 -> binary32, exact.
function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

let f16Table: Float32Array | undefined;

// The stored little-endian values (copied to an aligned buffer; hosts are little-endian).
function decode(raw: Buffer, storedAs: 'float32' | 'float16', n: number): Float32Array {
  const aligned = new Uint8Array(raw).buffer;
  if (storedAs === 'float32') return new Float32Array(aligned, 0, n);
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; ++h) f16Table[h] = f16ToF32(h);
  }
  const halves = new Uint16Array(aligned, 0, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; ++i) out[i] = f16Table[halves[i]];
  return out;
}

// [..., out] -> [out, K]: element (k, o) of the input, k over the leading axes, goes to o * K + k.
function outputMajor(values: Float32Array, shape: number[]): { rows: number; cols: number; data: Float32Array } {
  const out = shape[shape.length - 1];
  const k = values.length / out;
  const data = new Float32Array(values.length);
  for (let i = 0; i < k; ++i) {
    for (let o = 0; o < out; ++o) data[o * k + i] = values[i * out + o];
  }
  return { rows: out, cols: k, data };
}

export function loadRealWeights(options: LoadOptions = {}): RealMatrix[] {
  const rowMultiple = options.rowMultiple ?? 256;
  const minElements = options.minElements ?? 16384;
  const maxElements = options.maxElements ?? Number.POSITIVE_INFINITY;
  const dir = realWeightsDir();
  const models = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && f !== 'models.json')
    .map((f) => f.slice(0, -5))
    .filter((m) => !options.models || options.models.includes(m))
    .sort();
  const result: RealMatrix[] = [];
  for (const model of models) {
    const json = JSON.parse(readFileSync(join(dir, `${model}.json`), 'utf8')) as { weightsManifest?: ManifestGroup[] };
    for (const group of json.weightsManifest ?? []) {
      const buffer = Buffer.concat(group.paths.map((p) => readFileSync(join(dir, p))));
      let offset = 0;
      for (const w of group.weights) {
        const n = w.shape.reduce((a, b) => a * b, 1);
        const stored = w.quantization?.dtype ?? w.dtype;
        const size = BYTES[stored];
        if (size === undefined) throw new Error(`real-weights corpus: ${model}/${w.name} has unknown dtype ${stored}`);
        const raw = buffer.subarray(offset, offset + n * size);
        offset += n * size;
        const isFloat = w.dtype === 'float32' && (stored === 'float32' || stored === 'float16');
        if (!isFloat || w.shape.length < 2 || n < minElements) continue;
        const storedAs = stored as 'float32' | 'float16';
        let { rows, cols, data } = outputMajor(decode(raw, storedAs, n), w.shape);
        if (cols % rowMultiple !== 0) {
          cols = rowMultiple;
          rows = Math.floor(n / rowMultiple);
          data = data.subarray(0, rows * cols);
        }
        if (rows * cols > maxElements) {
          rows = Math.max(1, Math.floor(maxElements / cols));
          data = data.subarray(0, rows * cols);
        }
        if (!data.every(Number.isFinite)) continue;
        result.push({ name: `${model}/${w.name}`, model, storedAs, rows, cols, data: data.slice() });
      }
      if (offset !== buffer.length) {
        throw new Error(`real-weights corpus: ${model} manifest describes ${offset} bytes, its shards hold ${buffer.length}`);
      }
    }
  }
  return result;
}

// Writes a matrix as raw little-endian float32 (the IN.f32 of the native tools), returns the path.
export function writeF32(matrix: RealMatrix, path: string): string {
  writeFileSync(path, Buffer.from(matrix.data.buffer, matrix.data.byteOffset, matrix.data.byteLength));
  return path;
}
