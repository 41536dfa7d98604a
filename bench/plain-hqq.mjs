// A straightforward plain-JavaScript port of the reference HQQ quantizer (HQQ-SPEC sections 2-4,
// axis 1), written as one would port the PyTorch code: one full pass over the tensor per
// operation of every iteration, Math.pow in the shrink, Math.fround for float32 rounding. It is
// the "no wasm" baseline of the benchmark, not part of the package.
function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function quantizePlain(W, { nbits = 4, groupSize = 64, optimize = true, lpNorm = 0.7, beta = 10, kappa = 1.01, iters = 20 } = {}) {
  const f = Math.fround;
  const n = W.length, g = groupSize, groups = n / g;
  const maxQ = Math.round(2 ** nbits - 1);
  const s = new Float32Array(groups), zero = new Float32Array(groups);
  for (let grp = 0; grp < groups; grp++) {
    let mn = Infinity, mx = -Infinity;
    for (let k = 0; k < g; k++) {
      const v = W[grp * g + k];
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    const d = f(mx - mn);
    let si = f(f(1 / d) * maxQ);
    if (Math.abs(d) <= f(1e-4)) si = 1;
    s[grp] = Math.min(si, 2e4);
    zero[grp] = f(-mn * s[grp]);
  }
  const q = new Float32Array(n);
  const quantizeAll = () => {
    for (let i = 0; i < n; i++) {
      const grp = (i / g) | 0;
      const v = roundHalfEven(f(f(W[i] * s[grp]) + zero[grp]));
      q[i] = v < 0 ? 0 : v > maxQ ? maxQ : v;
    }
  };
  let iterations = 0;
  if (optimize) {
    const Wr = new Float32Array(n), We = new Float32Array(n), zsum = new Float64Array(groups);
    let best = Infinity, b = beta;
    for (let it = 0; it < iters; it++) {
      iterations++;
      quantizeAll();
      for (let i = 0; i < n; i++) {
        const grp = (i / g) | 0;
        Wr[i] = f(f(q[i] - zero[grp]) / s[grp]);
      }
      for (let i = 0; i < n; i++) {
        const x = f(W[i] - Wr[i]);
        const ax = Math.abs(x);
        const r = f(ax - f(f(1 / b) * f(Math.pow(ax, lpNorm - 1))));
        We[i] = r > 0 ? Math.sign(x) * r : 0;
      }
      zsum.fill(0);
      for (let i = 0; i < n; i++) {
        const grp = (i / g) | 0;
        zsum[grp] += f(q[i] - f(f(W[i] - We[i]) * s[grp]));
      }
      let err = 0;
      for (let i = 0; i < n; i++) err += Math.abs(W[i] - Wr[i]);
      err = f(err / n);
      for (let grp = 0; grp < groups; grp++) zero[grp] = f(zsum[grp] / g);
      if (err < best) best = err;
      else break;
      b *= kappa;
    }
  }
  quantizeAll();
  // 4-bit / 2-bit / 8-bit packing of the grouped matrix [groups, g] (the benchmark's cases).
  const rows = groups, cols = g;
  const per = nbits === 4 ? 2 : nbits === 2 ? 4 : 1;
  const bits = 8 / per, step = rows / per;
  const packed = new Uint8Array(step * cols);
  for (let k = 0; k < per; k++) {
    const shift = 8 - bits * (k + 1);
    for (let i = 0; i < step; i++) for (let c = 0; c < cols; c++) packed[i * cols + c] |= q[(k * step + i) * cols + c] << shift;
  }
  const scale = new Float32Array(groups);
  for (let grp = 0; grp < groups; grp++) scale[grp] = f(1 / s[grp]);
  return { packed, scale, zero, iterations };
}
