// npm run bench:gguf: the GGML block types, ours against llama.cpp's quantizer, per type, on the
// same matrices in one run.
//   ours:      hqq.quantizeGGUF (Method::Optimized unless --reference), wasm SIMD build in Node, one
//              thread, the whole API call (copy in, quantize, statistics, copy out);
//   llama.cpp: ggml_quantize_chunk without importance matrix (what llama-quantize runs without
//              --imatrix), native, one thread, through tests/runtimes/llama-harness (built by
//              scripts/llama-harness.sh; its build flags are listed there).
// Times are medians of >= 5 runs after a warm-up, in ns per weight. Errors are ours / llama.cpp's
// mean |err| and relative Frobenius error (below 1: ours is better), mean and worst over the
// matrices. The whole-model target (a 7B-shaped F16 GGUF to Q4_K_M in <= 2 minutes and
// <= 1.5 GB) is measured by `npm run bench:model -- --preset 7b --format gguf`.
//   node bench/bench-gguf.mjs [--rows N] [--cols N] [--runs N] [--types Q4_0,Q4_K] [--reference]
import { cpus } from 'node:os';

import { loadHQQ, GGUF_TYPES } from '../web/dist/node.js';
import { buildHarness, errorMetrics, llamaQuantize, llamaTime } from '../tests/runtimes/llama-harness/llama.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROWS = Number(option('--rows', 512)), COLS = Number(option('--cols', 4096));
const RUNS = Math.max(5, Number(option('--runs', 5)));
const METHOD = args.includes('--reference') ? 'reference' : 'optimized';
const TYPES = option('--types', GGUF_TYPES.map((t) => t.name).join(',')).split(',');
const LEGACY = new Set(['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1']);
const KQUANTS = new Set(['Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K']);

// The matrices: Gaussian N(0, 0.02) and Student-t (3 degrees of freedom, heavy tails), seeded.
function matrices(n) {
  let x = 20261201;
  const u = () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return (x + 0.5) / 4294967296;
  };
  const g = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const normal = new Float32Array(n), t = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    normal[i] = 0.02 * g();
    t[i] = (0.02 * g()) / Math.sqrt((g() ** 2 + g() ** 2 + g() ** 2) / 3);
  }
  return [{ name: 'normal', w: normal }, { name: 'student-t', w: t }];
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

const harness = buildHarness();
const hqq = await loadHQQ({ simd: true });
const mats = matrices(ROWS * COLS);
console.log(`GGML block types: ours (wasm ${hqq.kernel}, Node ${process.version}, method ${METHOD}) vs llama.cpp (native, ggml-base -O3, no -march)`);
console.log(`${mats.length} matrices of ${ROWS}x${COLS} (${mats.map((m) => m.name).join(', ')}), ${RUNS} runs each, one thread; CPU: ${cpus()[0]?.model ?? 'unknown'}\n`);
console.log('| type | ours ns/weight | llama.cpp ns/weight | time ratio | mean |err| ratio (mean, worst) | rel. Frobenius ratio (mean, worst) |');
console.log('|---|---|---|---|---|---|');

const goals = [];
for (const type of TYPES) {
  const ours = [], theirs = [], abs = [], frob = [];
  for (const { w } of mats) {
    hqq.quantizeGGUF(w, [ROWS, COLS], type, { method: METHOD });  // warm-up (V8 tiers up the wasm)
    const times = [];
    let q;
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      q = hqq.quantizeGGUF(w, [ROWS, COLS], type, { method: METHOD });
      times.push(performance.now() - t0);
    }
    ours.push((median(times) * 1e6) / w.length);
    theirs.push(llamaTime(harness, type, ROWS, COLS, w, 1));
    const mo = errorMetrics(w, hqq.dequantizeGGUF(q.bytes, [ROWS, COLS], type));
    const ml = errorMetrics(w, hqq.dequantizeGGUF(llamaQuantize(harness, type, ROWS, COLS, w), [ROWS, COLS], type));
    abs.push(ml.meanAbs > 0 ? mo.meanAbs / ml.meanAbs : 1);
    frob.push(ml.relFrobenius > 0 ? mo.relFrobenius / ml.relFrobenius : 1);
  }
  const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
  const o = mean(ours), l = mean(theirs);
  console.log(`| ${type} | ${o.toFixed(2)} | ${l.toFixed(2)} | ${(o / l).toFixed(2)} | ${mean(abs).toFixed(4)}, ${Math.max(...abs).toFixed(4)} | ${mean(frob).toFixed(4)}, ${Math.max(...frob).toFixed(4)} |`);
  const errorOk = Math.max(...abs) <= 1 + 1e-12 && Math.max(...frob) <= 1 + 1e-12;
  goals.push(`${type}: error <= 1.0x on every matrix: ${errorOk ? 'met' : 'NOT met'}`);
  if (LEGACY.has(type) && METHOD === 'optimized') goals.push(`${type}: time <= 15 ns/weight: ${o.toFixed(1)} ${o <= 15 ? 'met' : 'NOT met'}`);
  if (KQUANTS.has(type)) goals.push(`${type}: time within 2x of llama.cpp: ${(o / l).toFixed(2)}x ${o <= 2 * l ? 'met' : 'NOT met'}`);
}
console.log('\nGoals (issue 8):');
for (const g of goals) console.log(`  ${g}`);
