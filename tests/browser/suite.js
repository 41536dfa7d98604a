// Browser test suite (runs in Chromium, loaded by index.html as a module). Imports the built
// package entry web/dist/index.js the way a browser would, fetches the reference data over HTTP
// (?ref=<url prefix>, default /ref/) and checks both wasm builds. ?bench=0 skips the 4096x4096 timing.
import { HQQError, loadHQQ, simdSupported } from '/web/dist/index.js';
// The deterministic matrix generator of the packaging check (served from the repo root).
import { normalMatrix } from '/tests/package/check.js';

const params = new URLSearchParams(location.search);
const REF = new URL(params.get('ref') ?? '/ref/', location.href);
const BENCH = params.get('bench') !== '0';
const N_OPTIMIZED = Number(params.get('optimized') ?? 4);

const result = { passed: 0, failed: 0, failures: [] };

async function test(name, fn) {
  try {
    await fn();
    result.passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    result.failed++;
    result.failures.push(`${name}: ${e?.message ?? e}`);
    console.error(`FAIL ${name}: ${e?.stack ?? e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}


// ---- reference data over HTTP (missing data fails, never skips) ----
const fileCache = new Map();
async function fetchBytes(rel) {
  if (!fileCache.has(rel)) {
    fileCache.set(rel, (async () => {
      const url = new URL(rel, REF);
      const r = await fetch(url);
      if (!r.ok) throw new Error(`reference data missing: ${url.href} (HTTP ${r.status})`);
      return new Uint8Array(await r.arrayBuffer());
    })());
  }
  return fileCache.get(rel);
}

async function sha256Hex(view) {
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function sameAsReference(ref, ours) {
  const bytes = new Uint8Array(ours.buffer, ours.byteOffset, ours.byteLength);
  if (ref.file) {
    const file = await fetchBytes(ref.file);
    if (file.length !== bytes.length) return false;
    for (let i = 0; i < file.length; i++) if (file[i] !== bytes[i]) return false;
    return true;
  }
  return (await sha256Hex(bytes)) === ref.sha256;
}

async function loadInput(manifest, id) {
  const input = manifest.inputs.find((i) => i.id === id);
  assert(input, `manifest has no input ${id}`);
  const b = await fetchBytes(input.file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

function caseOptions(c) {
  const o = { nbits: c.nbits, groupSize: c.group_size, axis: c.axis, optimize: c.optimize, roundZero: c.round_zero ?? false };
  if ((c.variant ?? 'latest').startsWith('v0.2.8')) o.kappa = 1;
  return o;
}

async function referenceLevels(hqq, c) {
  if (c.wq.file) return fetchBytes(c.wq.file);
  assert(c.packed.file, `case ${c.id} stores neither wq nor packed`);
  return hqq.unpack({ packed: await fetchBytes(c.packed.file), nbits: c.nbits, groupedShape: c.grouped_shape });
}

function expectError(fn, code, fragment) {
  try {
    fn();
  } catch (e) {
    assert(e instanceof HQQError, `expected HQQError, got ${e?.constructor?.name}: ${e?.message}`);
    assert(e.name === 'HQQError' && e.code === code, `expected code ${code}, got ${e.code}: ${e.message}`);
    assert(e.message.includes(fragment), `message "${e.message}" lacks "${fragment}"`);
    return;
  }
  throw new Error(`expected HQQError ${code}, nothing thrown`);
}

// ---- the suite ----
async function main() {
  const manifestResponse = await fetch(new URL('manifest.json', REF));
  if (!manifestResponse.ok) throw new Error(`reference data missing: ${new URL('manifest.json', REF).href} (HTTP ${manifestResponse.status})`);
  const manifest = await manifestResponse.json();
  console.log(`${navigator.userAgent}; SIMD supported: ${simdSupported()}; ${manifest.cases.length} reference cases`);

  await test('simdSupported() is true in Chromium', () => assert(simdSupported() === true, 'no SIMD'));

  for (const simd of [true, false]) {
    const label = simd ? 'simd' : 'scalar';
    let hqq;
    await test(`[${label}] loadHQQ({simd: ${simd}})`, async () => {
      hqq = await loadHQQ({ simd });
      assert(hqq.flavour === label, `flavour ${hqq.flavour}`);
      assert(hqq.kernel === (simd ? 'wasm-simd128' : 'scalar'), `kernel ${hqq.kernel}`);
    });
    if (!hqq) continue;

    await test(`[${label}] API smoke: quantize, unpack, dequantize, dtype, errors`, () => {
      const w = normalMatrix(256 * 512, 5);
      const q = hqq.quantize(w, [256, 512], { nbits: 4, groupSize: 64 });
      assert(q.packing === '4bit_u8' && q.packed.length === 256 * 512 / 2, `packing ${q.packing} ${q.packed.length}`);
      assert(q.groupedShape[0] === 2048 && q.groupedShape[1] === 64, `groupedShape ${q.groupedShape}`);
      assert(q.scale.length === 2048 && q.zero.length === 2048, 'scale/zero length');
      assert(q.iterations > 0 && q.errorTrace.length === q.iterations, `iterations ${q.iterations}`);
      const levels = hqq.unpack(q);
      const r = hqq.dequantize(q);
      let sum = 0, maxLevel = 0;
      for (let i = 0; i < r.length; i++) {
        const g = i >> 6;
        maxLevel = Math.max(maxLevel, levels[i]);
        assert(r[i] === Math.fround(Math.fround(levels[i] - q.zero[g]) * q.scale[g]), `dequantize at ${i}`);
        sum += Math.abs(w[i] - r[i]);
      }
      assert(maxLevel === 15, `max level ${maxLevel}`);
      assert(Math.abs(sum / r.length - q.stats.meanAbs) < 1e-9, `meanAbs ${q.stats.meanAbs} vs ${sum / r.length}`);
      assert(q.stats.relFrobenius < 0.15, `relFrobenius ${q.stats.relFrobenius}`);
      for (const kind of ['f16', 'bf16']) {
        const bits = hqq.encode16(w, kind);
        const a = hqq.quantize(bits, [256, 512], { dtype: kind });
        const b = hqq.quantize(hqq.decode16(bits, kind), [256, 512]);
        assert(a.packed.every((v, i) => v === b.packed[i]) && a.zero.every((v, i) => Object.is(v, b.zero[i])), `${kind} input differs from decoded floats`);
      }
      expectError(() => hqq.quantize(w, [256, 512], { group_size: 64 }), 'INVALID_ARGUMENT', 'did you mean groupSize?');
      expectError(() => hqq.quantize(w, [256, 511]), 'INVALID_ARGUMENT', 'has 130816 elements');
      const bad = w.slice(0, 4096);
      bad[70] = NaN;
      expectError(() => hqq.quantize(bad, [64, 64]), 'INVALID_VALUE', 'flat index 70 (row 1, column 6)');
      expectError(() => hqq.quantize(w, [256, 512], { lpNorm: 2 }), 'INVALID_ARGUMENT', 'out of range');
    });

    await test(`[${label}] RTN cases bit-identical to the reference`, async () => {
      const cases = manifest.cases.filter((c) => !c.optimize);
      assert(cases.length > 0, 'no RTN cases');
      const failures = [];
      for (const c of cases) {
        const q = hqq.quantize(await loadInput(manifest, c.input), c.shape, caseOptions(c));
        const checks = {
          packed: await sameAsReference(c.packed, q.packed),
          levels: await sameAsReference(c.wq, hqq.unpack(q)),
          scale: await sameAsReference(c.scale, q.scale),
          zero: await sameAsReference(c.zero, q.zero),
          dequant: (await sha256Hex(hqq.dequantize(q))) === c.dequant.sha256,
          packing: q.packing === c.packing,
        };
        const bad = Object.keys(checks).filter((k) => !checks[k]);
        if (bad.length) failures.push(`${c.id}: ${bad.join(', ')}`);
      }
      console.log(`[conformance chromium ${label}] RTN: ${cases.length - failures.length} of ${cases.length} cases bit-identical`);
      assert(failures.length === 0, failures.join('; '));
    });

    await test(`[${label}] ${N_OPTIMIZED} optimized cases within tolerance`, async () => {
      // A diverse subset: each pick has a new bit width and a new (input, axis, variant), while possible.
      const all = manifest.cases.filter((c) => c.optimize);
      const bits = new Set(), kinds = new Set(), cases = [];
      const kind = (c) => `${c.input}/${c.axis}/${c.variant}`;
      for (const c of all) {
        if (cases.length < N_OPTIMIZED && !bits.has(c.nbits) && !kinds.has(kind(c))) {
          cases.push(c);
          bits.add(c.nbits);
          kinds.add(kind(c));
        }
      }
      for (const c of all) if (cases.length < N_OPTIMIZED && !cases.includes(c)) cases.push(c);
      assert(cases.length === N_OPTIMIZED, `only ${cases.length} optimized cases`);
      const failures = [];
      let worstAgreement = 1, worstRatio = 0, maxIterDiff = 0;
      for (const c of cases) {
        const q = hqq.quantize(await loadInput(manifest, c.input), c.shape, caseOptions(c));
        const ours = hqq.unpack(q);
        const ref = await referenceLevels(hqq, c);
        let same = 0;
        for (let i = 0; i < ours.length; i++) same += ours[i] === ref[i] ? 1 : 0;
        const agreement = same / ours.length;
        const iterDiff = Math.abs(q.iterations - c.optimizer.n_iters);
        const ratio = q.stats.meanAbs / c.errors.mean_abs;
        worstAgreement = Math.min(worstAgreement, agreement);
        worstRatio = Math.max(worstRatio, ratio);
        maxIterDiff = Math.max(maxIterDiff, iterDiff);
        const checks = {
          [`agreement ${agreement}`]: ours.length === ref.length && agreement >= 0.999,
          [`iterations ${q.iterations} vs ${c.optimizer.n_iters}`]: iterDiff <= 1,
          [`error ratio ${ratio}`]: ratio <= 1.001,
          scale: await sameAsReference(c.scale, q.scale),
        };
        const bad = Object.keys(checks).filter((k) => !checks[k]);
        if (bad.length) failures.push(`${c.id}: ${bad.join(', ')}`);
      }
      console.log(`[conformance chromium ${label}] optimized: ${cases.length} cases (${cases.map((c) => c.id).join(', ')}); worst level agreement ${worstAgreement.toFixed(6)}; worst error ratio ${worstRatio.toFixed(6)}; max iteration diff ${maxIterDiff}`);
      assert(failures.length === 0, failures.join('; '));
    });
  }

  await test('loadHQQ({wasm: URL of hqq-scalar.wasm}) reports scalar; bad options reject', async () => {
    const h = await loadHQQ({ wasm: new URL('/web/wasm/hqq-scalar.wasm', location.href) });
    assert(h.flavour === 'scalar' && h.kernel === 'scalar', `flavour ${h.flavour}`);
    for (const [opts, fragment] of [[{ simd: 'yes' }, 'simd must be'], [{ foo: 1 }, 'unknown loadHQQ option'], [{ wasm: new Uint8Array([1, 2, 3]) }, 'not a valid WebAssembly module']]) {
      let err;
      await loadHQQ(opts).catch((e) => (err = e));
      assert(err instanceof HQQError && err.code === 'INVALID_ARGUMENT' && err.message.includes(fragment), `loadHQQ(${JSON.stringify(opts)}): ${err}`);
    }
    let err;
    await loadHQQ({ wasm: '/web/wasm/missing.wasm' }).catch((e) => (err = e));
    assert(err instanceof HQQError && err.code === 'IO_ERROR' && err.message.includes('HTTP 404'), `missing wasm: ${err}`);
  });

  await test('a module Worker instantiates the shared compiled module and quantizes', async () => {
    const main = await loadHQQ();
    const w = normalMatrix(128 * 256, 9);
    const expected = main.quantize(w, [128, 256], { nbits: 3 });
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    try {
      const answer = await new Promise((ok, fail) => {
        worker.onmessage = (e) => ok(e.data);
        worker.onerror = (e) => fail(new Error(`worker error: ${e.message}`));
        worker.postMessage({ module: main.module, w, shape: [128, 256], options: { nbits: 3 } });
      });
      assert(!answer.error, answer.error);
      assert(answer.flavour === 'simd', `worker flavour ${answer.flavour}`);
      assert(answer.packed.length === expected.packed.length && answer.packed.every((v, i) => v === expected.packed[i]), 'worker result differs');
      assert(answer.meanAbs === expected.stats.meanAbs, 'worker meanAbs differs');
    } finally {
      worker.terminate();
    }
  });

  if (BENCH) {
    await test('[bench] 4096x4096 4-bit g64 quantize with the SIMD build', async () => {
      const hqq = await loadHQQ({ simd: true });
      const w = normalMatrix(4096 * 4096, 42);
      hqq.quantize(w.subarray(0, 1024 * 1024), [1024, 1024], { nbits: 4, groupSize: 64 }); // warm-up (V8 tier-up)
      const times = [];
      let q;
      for (let run = 0; run < 2; run++) {
        const t0 = performance.now();
        q = hqq.quantize(w, [4096, 4096], { nbits: 4, groupSize: 64 });
        times.push(performance.now() - t0);
      }
      const best = Math.min(...times);
      console.log(`[bench] chromium ${hqq.kernel} 4096x4096 4-bit g64: ${best.toFixed(0)} ms best of ${times.map((t) => t.toFixed(0)).join('/')} ms (${(best * 1e6 / (4096 * 4096)).toFixed(2)} ns/element, ${q.iterations} iterations, meanAbs ${q.stats.meanAbs.toExponential(4)})`);
      assert(q.stats.relFrobenius < 0.15, `relFrobenius ${q.stats.relFrobenius}`);
    });
  }
}

main().then(
  () => {
    console.log(`${result.passed} passed, ${result.failed} failed`);
    window.__hqqResult = result;
  },
  (e) => {
    console.error(`suite aborted: ${e?.stack ?? e}`);
    window.__hqqError = String(e?.message ?? e);
  },
);
