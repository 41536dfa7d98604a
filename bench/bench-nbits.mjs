// MatMulNBits (onnxruntime com.microsoft), through hqq.quantizeNBits: onnxruntime-style RTN, the
// integer-zero HQQ solver (uint8 zero points) and float-zero HQQ on the same [K, N] weight, per bit
// width, wasm SIMD build in Node, one thread, the whole API call (copy in, quantize, statistics,
// copy out). Times are process CPU time (robust to a busy machine), medians of >= 3 runs after a
// warm-up, in ns per weight, and as ratios to RTN's time; errors are relative Frobenius errors and
// their ratio to RTN's (below 1: better than onnxruntime's RTN).
//   node bench/bench-nbits.mjs [--k N] [--n N] [--block N] [--runs N]
import { loadHQQ } from '../web/dist/node.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const LAYOUT = args.includes('--nk') ? 'NK' : 'KN';
const K = option('--k', 2048), N = option('--n', 1024), BLOCK = option('--block', 32), RUNS = Math.max(3, option('--runs', 3));

let x = 20261202;
const u = () => {
  x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
  return (x + 0.5) / 4294967296;
};
const w = new Float32Array(K * N).map(() => 0.02 * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));

const hqq = await loadHQQ({ simd: true });
const MODES = [
  ['RTN (onnxruntime)', { zeroPoints: 'uint8', optimize: false }],
  ['uint8-zero HQQ', { zeroPoints: 'uint8' }],
  ['float-zero HQQ', { zeroPoints: 'float' }],
];
const median = (a) => a.slice().sort((p, q) => p - q)[Math.floor(a.length / 2)];
console.log(`MatMulNBits [K=${K}, N=${N}] block ${BLOCK}, ${hqq.kernel}, CPU time per weight:`);
for (const bits of [2, 4, 8]) {
  let rtnNs = 0, rtnErr = 0;
  for (const [name, o] of MODES) {
    const opts = { bits, blockSize: BLOCK, layout: LAYOUT, ...o };
    hqq.quantizeNBits(w, [K, N], opts);  // warm-up
    const ns = [];
    let rel = 0;
    for (let r = 0; r < RUNS; r++) {
      const c0 = process.cpuUsage();
      const q = hqq.quantizeNBits(w, [K, N], opts);
      const c = process.cpuUsage(c0);
      ns.push(((c.user + c.system) * 1000) / (K * N));
      rel = Math.sqrt(q.stats.sumSq / q.stats.sumWSq);
    }
    const t = median(ns);
    if (!rtnNs) rtnNs = t, rtnErr = rel;
    console.log(`  ${bits}-bit  ${name.padEnd(18)} ${t.toFixed(1).padStart(6)} ns/weight  ${(t / rtnNs).toFixed(2)}x RTN time   rel. Frobenius ${rel.toFixed(5)} (${(rel / rtnErr).toFixed(3)}x RTN)`);
  }
}
