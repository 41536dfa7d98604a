// The check every consumer of the packed package runs (Node script, Vite app, plain page): quantize a
// deterministic 256x512 matrix at 4 bits, group 64, and verify packing, levels, dequantization and
// error; optionally that the packed bytes have a given SHA-256 (what the repo's own build produced).
// Plain ES module without imports: it is copied next to each consumer.

export function normalMatrix(n, seed, sd = 0.02) {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand())) * sd, v = 2 * Math.PI * rand();
    out[i] = r * Math.cos(v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(v);
  }
  return out;
}

export async function sha256Hex(view) {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const d = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * `pkg` is the imported package namespace ({loadHQQ, HQQError, ...}). Resolves to
 * {passed, failed, failures, packedSha256, flavour, meanAbs}.
 */
export async function runChecks(pkg, { expectSha256, expectFlavour = 'simd', log = console.log } = {}) {
  const failures = [];
  let passed = 0;
  const check = (ok, what) => {
    if (ok) passed++;
    else failures.push(what);
  };
  const out = {};
  try {
    check(typeof pkg.loadHQQ === 'function' && typeof pkg.HQQError === 'function', 'package exports loadHQQ and HQQError');
    const hqq = await pkg.loadHQQ();
    out.flavour = hqq.flavour;
    check(hqq.flavour === expectFlavour, `flavour ${hqq.flavour}, expected ${expectFlavour}`);
    const [rows, cols] = [256, 512];
    const w = normalMatrix(rows * cols, 2024);
    const q = hqq.quantize(w, [rows, cols], { nbits: 4, groupSize: 64 });
    check(q.packing === '4bit_u8', `packing ${q.packing}`);
    check(q.packed.length === rows * cols / 2, `packed length ${q.packed.length}`);
    check(q.packedShape[0] === 1024 && q.packedShape[1] === 64, `packedShape ${q.packedShape}`);
    check(q.groupedShape[0] === 2048 && q.groupedShape[1] === 64, `groupedShape ${q.groupedShape}`);
    check(q.scale.length === 2048 && q.zero.length === 2048, 'scale/zero lengths');
    check(q.iterations > 0 && q.iterations <= 20 && q.errorTrace.length === q.iterations, `iterations ${q.iterations}`);
    const levels = hqq.unpack(q);
    let lo = 255, hi = 0;
    for (const v of levels) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    check(levels.length === rows * cols && lo === 0 && hi === 15, `levels: ${levels.length} in [${lo}, ${hi}]`);
    // 4bit_u8 packing: byte (r, c) holds row r in the high nibble and row r + rows/2 in the low one.
    let packOk = true;
    for (let i = 0; i < 1024 * 64 && packOk; i += 97) {
      const b = q.packed[i];
      packOk = b >> 4 === levels[i] && (b & 15) === levels[i + 1024 * 64];
    }
    check(packOk, '4bit_u8 nibble layout matches the unpacked levels');
    const r = hqq.dequantize(q);
    let sum = 0, dqOk = true;
    for (let i = 0; i < r.length; i++) {
      const g = i >> 6;
      if (r[i] !== Math.fround(Math.fround(levels[i] - q.zero[g]) * q.scale[g])) dqOk = false;
      sum += Math.abs(w[i] - r[i]);
    }
    check(dqOk, 'dequantize = (level - zero) * scale in float32');
    check(Math.abs(sum / r.length - q.stats.meanAbs) < 1e-9, `meanAbs ${q.stats.meanAbs} vs recomputed ${sum / r.length}`);
    check(q.stats.relFrobenius > 0.05 && q.stats.relFrobenius < 0.15, `relFrobenius ${q.stats.relFrobenius}`);
    out.meanAbs = q.stats.meanAbs;
    out.packedSha256 = await sha256Hex(q.packed);
    if (expectSha256) check(out.packedSha256 === expectSha256, `packed SHA-256 ${out.packedSha256}, expected ${expectSha256}`);
    let err;
    try {
      hqq.quantize(w, [rows, cols], { group_size: 64 });
    } catch (e) {
      err = e;
    }
    check(err instanceof pkg.HQQError && err.code === 'INVALID_ARGUMENT' && /did you mean groupSize/.test(err.message), `HQQError for a snake_case option: ${err}`);
  } catch (e) {
    failures.push(`threw: ${e?.stack ?? e}`);
  }
  log(`checks: ${passed} passed, ${failures.length} failed${failures.length ? `: ${failures.join('; ')}` : ''}`);
  return { passed, failed: failures.length, failures, ...out };
}

function sameBytes(a, b) {
  const x = a instanceof Uint8Array ? a : new Uint8Array(a.buffer ?? a, a.byteOffset ?? 0, a.byteLength);
  const y = b instanceof Uint8Array ? b : new Uint8Array(b.buffer ?? b, b.byteOffset ?? 0, b.byteLength);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * The worker-pool check: `createPool(module)` makes a 2-worker pool (createWebPool / createNodePool),
 * four tensors run through it at once and each result must equal the in-thread quantization byte
 * for byte. Resolves to {passed, failed, failures}.
 */
export async function runPoolCheck(pkg, createPool, { log = console.log } = {}) {
  const failures = [];
  let passed = 0;
  const check = (ok, what) => {
    if (ok) passed++;
    else failures.push(what);
  };
  let pool;
  try {
    const hqq = await pkg.loadHQQ();
    pool = createPool(hqq.module);
    check(pool.size === 2, `pool.size ${pool.size}, expected 2`);
    const shapes = [[128, 256], [64, 512], [256, 128], [128, 128]];
    const tensors = shapes.map(([r, c], i) => ({ name: `layers.${i}.weight`, shape: [r, c], w: normalMatrix(r * c, 7 + i) }));
    const results = await Promise.all(tensors.map((t) => pool.run({
      kind: 'hqq', name: t.name, dtype: 'F32', shape: t.shape, data: t.w.slice().buffer, options: { nbits: 4, groupSize: 64 }, computeDtype: 'float32',
    })));
    results.forEach((r, i) => {
      const t = tensors[i];
      const q = hqq.quantize(t.w, t.shape, { nbits: 4, groupSize: 64 });
      check(r.name === t.name, `result ${i} is for ${r.name}, expected ${t.name}`);
      check(sameBytes(new Uint8Array(r.buffers.wq), q.packed), `${t.name}: the pool's W_q differs from the in-thread quantization`);
      check(sameBytes(new Uint8Array(r.buffers.scale), q.scale) && sameBytes(new Uint8Array(r.buffers.zero), q.zero), `${t.name}: the pool's scale/zero differ`);
      check(r.stats?.count === t.shape[0] * t.shape[1], `${t.name}: stats.count ${r.stats?.count}, expected ${t.shape[0] * t.shape[1]}`);
    });
    // A task without a kind (the 0.1.0 shape) is refused on the caller's side, saying what to set.
    const old = await pool.run({ name: 'old', dtype: 'F32', shape: [8, 64], data: new ArrayBuffer(2048), options: { nbits: 4, groupSize: 64 } }).then(() => undefined, (e) => e);
    check(old?.code === 'INVALID_ARGUMENT' && /kind/.test(old.message), `a task without kind: expected INVALID_ARGUMENT naming kind, got ${old?.code} ${old?.message}`);
  } catch (e) {
    failures.push(`pool threw: ${e?.stack ?? e}`);
  } finally {
    await pool?.terminate();
  }
  log(`pool checks: ${passed} passed, ${failures.length} failed${failures.length ? `: ${failures.join('; ')}` : ''}`);
  return { passed, failed: failures.length, failures };
}

/** Both checks, merged into one result (what every browser fixture publishes as window.__hqqResult). */
export async function runAllChecks(pkg, createPool, options = {}) {
  const single = await runChecks(pkg, options);
  const pool = await runPoolCheck(pkg, createPool, options);
  return { ...single, passed: single.passed + pool.passed, failed: single.failed + pool.failed, failures: [...single.failures, ...pool.failures] };
}
