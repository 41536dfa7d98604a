// The llama.cpp side of the GGUF block-type tests and benchmarks: the harness binary built by
// scripts/llama-harness.sh (llama.cpp's own quantizers and dequantizers), our native command-line
// build (build/native/gguf_native), the synthetic matrices both run on, and the error metrics.
// Plain JavaScript so that the Vitest tests and the bench drivers share it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const NATIVE_TOOL = join(REPO_ROOT, 'build/native/gguf_native');

/** Builds the harness if needed (minutes the first time, instant after) and returns its path. */
export function buildHarness() {
  const out = execFileSync('bash', [join(REPO_ROOT, 'scripts/llama-harness.sh')], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20,
  });
  const bin = out.trim().split('\n').pop();
  if (!bin || !existsSync(bin)) throw new Error(`scripts/llama-harness.sh printed no harness path (got ${JSON.stringify(out)})`);
  return bin;
}

/** Runs `fn(dir)` with a fresh temporary directory, removed afterwards. */
export function withTempDir(fn) {
  const dir = mkdtempSync(join(tmpdir(), 'hqq-gguf-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(bin, args) {
  return execFileSync(bin, args.map(String), { encoding: 'utf8', maxBuffer: 1 << 24 });
}

const asBytes = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const asFloats = (buf) => new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));

/** llama.cpp's quantizer (ggml_quantize_chunk, no importance matrix): the block bytes. */
export function llamaQuantize(harness, type, rows, cols, weights) {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'w.f32'), asBytes(weights));
    run(harness, ['quantize', type, rows, cols, join(dir, 'w.f32'), join(dir, 'q.bin')]);
    return new Uint8Array(readFileSync(join(dir, 'q.bin')));
  });
}

/** llama.cpp's dequantization (the type's to_float) of block bytes. */
export function llamaDequantize(harness, type, rows, cols, bytes) {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'q.bin'), bytes);
    run(harness, ['dequantize', type, rows, cols, join(dir, 'q.bin'), join(dir, 'w.f32')]);
    return asFloats(readFileSync(join(dir, 'w.f32')));
  });
}

/** Median ns per weight of llama.cpp's quantizer on one thread, over >= 3 runs and `seconds`. */
export function llamaTime(harness, type, rows, cols, weights, seconds = 1) {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'w.f32'), asBytes(weights));
    return JSON.parse(run(harness, ['time', type, rows, cols, join(dir, 'w.f32'), seconds])).ns_per_weight;
  });
}

/** Our native build: block bytes and statistics (ours and Reference's). */
export function nativeQuantize(type, method, rows, cols, weights) {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'w.f32'), asBytes(weights));
    const stats = JSON.parse(run(NATIVE_TOOL, ['quantize', type, method, rows, cols, join(dir, 'w.f32'), join(dir, 'q.bin')]));
    return { bytes: new Uint8Array(readFileSync(join(dir, 'q.bin'))), ...stats };
  });
}

export function nativeDequantize(type, rows, cols, bytes) {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'q.bin'), bytes);
    run(NATIVE_TOOL, ['dequantize', type, rows, cols, join(dir, 'q.bin'), join(dir, 'w.f32')]);
    return asFloats(readFileSync(join(dir, 'w.f32')));
  });
}

// ---- synthetic matrices ---------------------------------------------------------------------

/** A seeded xorshift32 generator of uniforms in (0, 1). */
export function uniforms(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return (x + 0.5) / 4294967296;
  };
}

function gaussians(seed) {
  const u = uniforms(seed);
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

/**
 * The matrices every type is checked on (rows x cols float32, deterministic), each with a name:
 * Gaussian, Student-t (3 degrees of freedom: heavy tails), Gaussian with 1 in 64 weights x 20,
 * rows and blocks of zeros, constant blocks, values on a coarse grid (rounding ties), signed zeros, and tiny,
 * denormal and huge magnitudes.
 */
export function syntheticMatrices(rows, cols, seed = 1) {
  const n = rows * cols;
  const make = (name, f) => {
    const g = gaussians(seed + name.length * 7919);
    const u = uniforms(seed * 31 + name.length);
    const w = new Float32Array(n);
    for (let i = 0; i < n; ++i) w[i] = f(g, u, i);
    return { name, weights: w };
  };
  const studentT = (g) => {
    const z = g(), c = g() ** 2 + g() ** 2 + g() ** 2;
    return z / Math.sqrt(c / 3);
  };
  return [
    make('normal', (g) => 0.02 * g()),
    make('student-t', (g) => 0.02 * studentT(g)),
    make('outliers', (g, u) => 0.02 * g() * (u() < 1 / 64 ? 20 : 1)),
    make('zero rows and blocks', (g, u, i) => (Math.floor(i / cols) % 3 === 0 || Math.floor(i / 32) % 5 === 0 ? 0 : 0.05 * g())),
    make('constant blocks', (g, u, i) => 0.01 * (Math.floor(i / 32) % 9 - 4)),
    make('grid (ties)', (g) => Math.round(g() * 8) / 16),
    // -0 and +0 mixed, and blocks whose minimum or maximum is a zero of either sign.
    make('signed zeros', (g, u, i) => {
      const r = u();
      if (r < 0.3) return -0;
      if (r < 0.6) return 0;
      return (Math.floor(i / 32) % 2 ? 1 : -1) * Math.abs(0.01 * g());
    }),
    make('tiny (1e-6)', (g) => 1e-6 * g()),
    make('tiny (1e-30)', (g) => 1e-30 * studentT(g)),
    make('denormal (1e-39)', (g) => 1e-39 * g()),
    make('huge (1e3)', (g) => 1e3 * g()),
  ];
}

/** Mean |W - W_r| and ||W - W_r||_F / ||W||_F, in double. */
export function errorMetrics(w, r) {
  let sa = 0, sq = 0, ww = 0;
  for (let i = 0; i < w.length; ++i) {
    const d = w[i] - r[i];
    sa += Math.abs(d);
    sq += d * d;
    ww += w[i] * w[i];
  }
  return { meanAbs: sa / w.length, relFrobenius: ww > 0 ? Math.sqrt(sq / ww) : 0, sumAbs: sa, sumSq: sq };
}
