#!/usr/bin/env node
/**
 * Whole-model benchmark (npm run bench:model): generates synthetic Llama-shaped F16 models (1B
 * single file, 7B sharded like Hugging Face) into a temp dir, streaming them to disk, quantizes each
 * with the default config (4-bit g64, optimize) on all cores, and prints wall time, parameters/s,
 * peak RSS and the throughput relative to workers x the single-thread kernel speed.
 *
 *   node scripts/bench-model.mjs [--preset tiny|1b|7b] [--format hqq|gguf] [--keep] [--workers N] [--dir DIR] [--max-in-flight N]
 *
 * --format gguf (issue 8): the same shapes as a llama.cpp F16 GGUF (GGUF names, F32 norms), to
 * Q4_K_M as the CLI runs it (llama.cpp's own blocks compared on every tensor). Target for 7b:
 * <= 2 minutes and <= 1.5 GB peak RSS.
 *
 * The machine may be shared: besides the wall time every run prints its CPU time (user + system,
 * every thread of the child), and CPU / (workers x wall), the share of the workers' cores it got.
 *
 * Every measurement runs in its own child process, so that the memory numbers belong to it alone:
 * RSS is sampled every 100 ms, and VmHWM (/proc/<pid>/status) is the kernel's high-water mark of
 * the whole process, worker threads included. Needs web/dist (npm run build).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { mkdtemp, mkdir, open, rm, writeFile, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'web/dist');
const SELF = fileURLToPath(import.meta.url);
/** Seconds each kernel measurement repeats its call for (one call takes ~0.2 s). */
const KERNEL_SECONDS = 3;

// ---------------------------------------------------------------------------------------------
// Generation worker: produces chunks of a tensor.
if (!isMainThread) {
  const { generateTensorChunk } = await import(join(DIST, 'model/synthetic.js'));
  parentPort.on('message', ({ id, entry, seed, offset, count }) => {
    const bytes = generateTensorChunk(entry, seed, offset, count);
    parentPort.postMessage({ id, bytes }, [bytes.buffer]);
  });
} else {
  await mainThread();
}

function gib(n) {
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
function mib(n) {
  return `${(n / 1024 ** 2).toFixed(0)} MiB`;
}

/** CPU time of the children this process has waited for (Linux: /proc/self/stat cutime + cstime), in seconds. */
function childrenCpuSeconds() {
  try {
    const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return (Number(f[13]) + Number(f[14])) / 100; // fields 16 and 17, in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** CPU time of this process so far, every thread (user + system), in seconds. */
function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** System CPU of this process so far (every thread), in seconds. */
function systemSeconds() {
  return process.cpuUsage().system / 1e6;
}

/** Minor page faults of this process so far: first touches of fresh memory pages. */
function minorFaults() {
  return process.resourceUsage().minorPageFault;
}

function pageSize() {
  try {
    return Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
  } catch {
    return 4096;
  }
}

function vmHWM(pid = 'self') {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function mainThread() {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args.slice(1));
  const opt = { presets: ['tiny', '1b', '7b'], format: 'hqq', keep: false, workers: availableParallelism(), dir: tmpdir() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--preset') {
      const v = args[++i];
      if (v !== '1b' && v !== '7b' && v !== 'tiny') usage(`--preset must be 1b, 7b or tiny, got ${JSON.stringify(v)}`);
      opt.presets = [v];
    } else if (a === '--format') {
      opt.format = args[++i];
      if (opt.format !== 'hqq' && opt.format !== 'gguf') usage(`--format must be hqq or gguf, got ${JSON.stringify(opt.format)}`);
    } else if (a === '--keep') opt.keep = true;
    else if (a === '--workers') {
      opt.workers = Number(args[++i]);
      if (!Number.isInteger(opt.workers) || opt.workers < 1) usage('--workers must be a positive integer');
    } else if (a === '--dir') opt.dir = args[++i];
    else if (a === '--max-in-flight') {
      opt.maxInFlight = Number(args[++i]);
      if (!Number.isInteger(opt.maxInFlight) || opt.maxInFlight < 1) usage('--max-in-flight must be a positive integer');
    }
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: node scripts/bench-model.mjs [--preset tiny|1b|7b] [--format hqq|gguf] [--keep] [--workers N] [--dir DIR] [--max-in-flight N]\n');
      return;
    } else usage(`unknown option ${a}`);
  }
  if (!existsSync(join(DIST, 'node.js'))) {
    process.stderr.write('bench-model: web/dist is missing; run npm run build first\n');
    process.exit(1);
  }
  const { syntheticLlamaSpec, syntheticPreset, countParameters, shardPlan } = await import(join(DIST, 'model/synthetic.js'));
  await mkdir(opt.dir, { recursive: true });
  const base = await mkdtemp(join(opt.dir, 'hqq-bench-model-'));
  const cleanup = async () => {
    if (!opt.keep) await rm(base, { recursive: true, force: true });
    else process.stdout.write(`kept ${base}\n`);
  };
  process.once('SIGINT', () => {
    cleanup().finally(() => process.exit(130));
  });
  const rows = [];
  try {
    // The kernel speeds are the denominators of the model presets' ratios (tiny needs none).
    let { k, ceiling } = opt.presets.some((p) => p !== 'tiny') ? await measureKernels(opt.workers) : {};
    const touch = opt.presets.some((p) => p !== 'tiny') ? await measureFirstTouch() : undefined;
    for (const preset of opt.presets) {
      if (preset === 'tiny') {
        await benchTinyTensors(base, opt.workers);
        continue;
      }
      const spec = syntheticLlamaSpec(syntheticPreset(preset, 'F16'));
      const params = countParameters(spec);
      const inputBytes = spec.reduce((a, t) => a + t.byteLength, 0);
      const need = inputBytes * 1.35 + 512 * 1024 ** 2; // input + ~30% output + slack
      const fs = statfsSync(base);
      const free = fs.bavail * fs.bsize;
      if (free < need) {
        process.stderr.write(`bench-model: ${preset}: needs about ${gib(need)} free in ${base} (input ${gib(inputBytes)} + output), only ${gib(free)} available; free space or pass --dir on a larger disk\n`);
        process.exitCode = 1;
        continue;
      }
      const dir = join(base, preset);
      await mkdir(dir);
      process.stdout.write(`== ${preset}: generating ${(params / 1e9).toFixed(2)} B parameters (${gib(inputBytes)} F16) into ${dir} ==\n`);
      const g0 = performance.now();
      let input;
      const gguf = opt.format === 'gguf';
      if (gguf) {
        input = join(dir, 'model-f16.gguf');
        await writeGGUFModel(input, spec, syntheticPreset(preset, 'F16'), opt.workers);
      } else if (preset === '7b') {
        const sp = shardPlan(spec, 10 * 1024 ** 3);
        for (const s of sp.shards) await writeModel(join(dir, s.fileName), s.tensors, opt.workers);
        const { buildIndexJson } = await import(join(DIST, 'io/index-json.js'));
        input = join(dir, 'model.safetensors.index.json');
        await writeFile(input, buildIndexJson(sp.weightMap, sp.totalSize));
      } else {
        input = join(dir, 'model.safetensors');
        await writeModel(input, spec, opt.workers);
      }
      process.stdout.write(`generated in ${((performance.now() - g0) / 1000).toFixed(1)} s\n`);
      const outDir = join(dir, 'out');
      await mkdir(outDir);
      const output = gguf ? join(outDir, 'model-Q4_K_M.gguf') : preset === '7b' ? outDir : join(outDir, 'model-hqq4.safetensors');
      process.stdout.write(`== ${preset}: quantizing${gguf ? ' to GGUF Q4_K_M' : ''} with ${opt.workers} workers ==\n`);
      const r = await runChild(['quantize', input, output, String(opt.workers), String(opt.maxInFlight ?? ''), opt.format]);
      let outBytes = 0;
      for (const p of r.outputPaths) outBytes += (await stat(p)).size;
      const row = {
        preset, params, quantizedParams: r.quantizedParams, inputBytes, outBytes, seconds: r.seconds,
        paramsPerSecond: r.quantizedParams / r.seconds, workers: r.workers,
        peakRss: r.peakRss, vmHWM: r.vmHWM, relFrobenius: r.relFrobenius, meanAbs: r.meanAbs, bitsPerWeight: r.bitsPerWeight,
        cpuSeconds: r.cpuSeconds, systemSeconds: r.systemSeconds, minorFaults: r.minorFaults, format: opt.format, baselineRelFrobenius: r.baselineRelFrobenius,
      };
      rows.push(row);
      process.stdout.write(`${JSON.stringify(row)}\n`);
      if (!gguf && preset === '1b') {
        // The same run with the file I/O taken out: the input held in memory, the output discarded.
        // It measures the package's own pipeline (scheduling, transfers, bindings, stats) apart
        // from the operating system's page-cache copies, which are slow on some VMs.
        process.stdout.write(`== ${preset}: the same run from memory into a null sink (no file I/O) ==\n`);
        const m = await runChild(['quantize-memory', input, '', String(opt.workers), String(opt.maxInFlight ?? '')]);
        const mrow = {
          ...row, io: 'memory', outBytes: m.outBytes, seconds: m.seconds, paramsPerSecond: m.quantizedParams / m.seconds,
          peakRss: m.peakRss, vmHWM: m.vmHWM, relFrobenius: m.relFrobenius, meanAbs: m.meanAbs, cpuSeconds: m.cpuSeconds,
          systemSeconds: m.systemSeconds, minorFaults: m.minorFaults,
        };
        rows.push(mrow);
        process.stdout.write(`${JSON.stringify(mrow)}\n`);
      }
      if (!opt.keep) await rm(dir, { recursive: true, force: true }).catch(() => {});
    }
    // The kernel speeds are the ratios' denominators, and this machine's speed drifts: measure them
    // again after the runs and divide by the faster of the two measurements, so that a slow phase
    // at the start cannot make the pipeline look better than it is.
    const hqqRows = rows.filter((r) => r.format !== 'gguf');
    if (hqqRows.length) {
      process.stdout.write('== the kernel speeds again, after the runs ==\n');
      const again = await measureKernels(opt.workers);
      k = again.k.medianParamsPerSecond > k.medianParamsPerSecond ? again.k : k;
      if (again.ceiling && ceiling && again.ceiling.total > ceiling.total) ceiling = again.ceiling;
      process.stdout.write(`denominators: 1-thread median ${(k.medianParamsPerSecond / 1e6).toFixed(1)} M/s (best call ${(k.paramsPerSecond / 1e6).toFixed(1)}), ` +
        `${opt.workers} at once ${ceiling ? `${(ceiling.total / 1e6).toFixed(1)} M/s` : 'n/a'}: the faster of before and after\n`);
      for (const r of hqqRows) {
        r.efficiency = r.quantizedParams / r.seconds / (r.workers * k.medianParamsPerSecond);
        r.efficiencyVsBestCall = r.quantizedParams / r.seconds / (r.workers * k.paramsPerSecond);
        r.vsCeiling = ceiling ? r.quantizedParams / r.seconds / ceiling.total : undefined;
        // load-independent: the CPU the kernel alone would need for these parameters / the CPU the run used
        r.cpuEfficiency = r.quantizedParams / k.medianParamsPerCpuSecond / r.cpuSeconds;
      }
    }
    if (rows.length) {
      process.stdout.write(`\n| model | params (quantized) | input -> output | wall | CPU (share of the workers' cores) | quantized params/s | workers | vs workers x 1-thread kernel | peak RSS sampled / VmHWM | rel. Frobenius |\n|---|---|---|---|---|---|---|---|---|---|\n`);
      for (const r of rows) {
        const name = (r.format === 'gguf' ? `${r.preset} GGUF Q4_K_M` : r.preset) + (r.io === 'memory' ? ' from memory, null sink (RSS includes the held input)' : '');
        const eff = r.format === 'gguf' ? 'n/a (GGUF)' : `${(r.efficiency * 100).toFixed(0)}% (1-thread ${(k.medianParamsPerSecond / 1e6).toFixed(1)} M/s median)`;
        const rel = r.format === 'gguf' && r.baselineRelFrobenius ? `${r.relFrobenius.toFixed(4)} (llama.cpp ${r.baselineRelFrobenius.toFixed(4)})` : r.relFrobenius.toFixed(4);
        process.stdout.write(`| ${name} | ${(r.params / 1e9).toFixed(2)} B (${(r.quantizedParams / 1e9).toFixed(2)} B) | ${gib(r.inputBytes)} -> ${gib(r.outBytes)} | ${r.seconds.toFixed(1)} s | ${r.cpuSeconds.toFixed(1)} s (${((100 * r.cpuSeconds) / (r.workers * r.seconds)).toFixed(0)}%) | ${(r.paramsPerSecond / 1e6).toFixed(1)} M | ${r.workers} | ${eff} | ${mib(r.peakRss)} / ${r.vmHWM ? mib(r.vmHWM) : 'n/a'} | ${rel} |\n`);
      }
      for (const r of rows) {
        if (r.format === 'gguf' && r.preset === '7b') {
          const gb = (r.vmHWM ?? r.peakRss) / 1e9;
          process.stdout.write(`7b GGUF Q4_K_M targets (issue 8): wall ${r.seconds.toFixed(1)} s <= 120 s: ${r.seconds <= 120 ? 'met' : 'NOT met'}; ` +
            `CPU ${r.cpuSeconds.toFixed(1)} s / ${r.workers} cores = ${(r.cpuSeconds / r.workers).toFixed(1)} s (the wall time on idle cores, at best) <= 120 s: ${r.cpuSeconds / r.workers <= 120 ? 'met' : 'NOT met'}; ` +
            `peak RSS ${gb.toFixed(2)} GB <= 1.5 GB: ${gb <= 1.5 ? 'met' : 'NOT met'}\n`);
        }
        if (r.format !== 'gguf') {
          process.stdout.write(`${r.preset}${r.io === 'memory' ? ' without file I/O' : ''}: pipeline vs workers x 1-thread kernel (median call) = ${(r.efficiency * 100).toFixed(0)}% (target >= 90%: ${r.efficiency >= 0.9 ? 'met' : 'NOT met'}; vs the best call ${(r.efficiencyVsBestCall * 100).toFixed(0)}%); ` +
            `CPU efficiency (kernel CPU for these parameters / the run's CPU, independent of other load) = ${(r.cpuEfficiency * 100).toFixed(0)}%` +
            (r.vsCeiling ? `; vs ${r.workers} kernels running at once with no pipeline (median calls) = ${(r.vsCeiling * 100).toFixed(0)}%` : '') + '\n');
          process.stdout.write(`${r.preset}${r.io === 'memory' ? ' without file I/O' : ''}: ${cpuBeyondKernel(r, k, touch)}\n`);
        }
      }
    }
  } finally {
    await cleanup();
  }
}

/**
 * The denominators of the pipeline ratios: the kernel alone on one thread, then `workers` copies
 * of it running at once in separate processes, with no pipeline at all (no file I/O, no
 * transfers, no main thread). The second is the ceiling this
 * machine puts on any pipeline: when the cores slow each other down (shared caches and memory
 * bandwidth, the host), workers x the 1-thread figure is out of reach for every design.
 *
 * The target's "1-thread kernel throughput" is the median call: a throughput is a sustained rate,
 * and on this VM the best of 13 calls runs 10-16% above the median (the old best-of-3 sat in
 * between). Both ratios are printed.
 */
async function measureKernels(workers) {
  process.stdout.write(`== single-thread kernel speed (4096 x 4096 F16, 4-bit g64, optimize; calls repeated for ${KERNEL_SECONDS} s) ==\n`);
  const k = await runChild(['kernel']);
  process.stdout.write(`${(k.paramsPerSecond / 1e6).toFixed(1)} M params/s best call (${k.seconds.toFixed(3)} s), median ${(k.medianParamsPerSecond / 1e6).toFixed(1)} M/s over ${k.calls} calls, ` +
    `${k.iterations} iterations, kernel ${k.kernel}; per CPU second ${(k.medianParamsPerCpuSecond / 1e6).toFixed(1)} M (median)\n`);
  if (workers < 2) return { k };
  process.stdout.write(`== ${workers} single-thread kernels at once, each in its own process (the machine's ceiling for ${workers} workers) ==\n`);
  const each = (await Promise.all(Array.from({ length: workers }, () => runChild(['kernel'])))).map((r) => r.medianParamsPerSecond);
  const total = each.reduce((a, b) => a + b, 0);
  process.stdout.write(`median ${each.map((v) => (v / 1e6).toFixed(1)).join(' + ')} = ${(total / 1e6).toFixed(1)} M/s: each at ${((100 * total) / workers / k.medianParamsPerSecond).toFixed(0)}% of the kernel alone (median)\n`);
  return { k, ceiling: { each, total } };
}

/** How fast this machine first touches fresh memory, and touches it again (see the child). */
async function measureFirstTouch() {
  const t = await runChild(['first-touch']);
  process.stdout.write(`== memory: fresh pages written at ${(t.firstTouchBytesPerSecond / 1e9).toFixed(2)} GB/s, the same pages again at ${(t.againBytesPerSecond / 1e9).toFixed(1)} GB/s ==\n`);
  return t;
}

/**
 * Where a run's CPU beyond the kernel's own went: its system time (read, write, fdatasync, page
 * faults where the platform bills them there) and its first touches of fresh memory (minor
 * faults: worker heaps, recycled buffers, the page cache a read maps), priced at the rate
 * measured by `measureFirstTouch`. The kernel measurement reuses warm memory, so a one-off cost
 * per page is part of the pipeline, not of the denominator.
 */
function cpuBeyondKernel(r, k, touch) {
  const kernelCpu = r.quantizedParams / k.medianParamsPerCpuSecond;
  const parts = [`run CPU ${r.cpuSeconds.toFixed(1)} s = the kernel's own ${kernelCpu.toFixed(1)} s + ${(r.cpuSeconds - kernelCpu).toFixed(1)} s more`];
  if (r.systemSeconds !== undefined) parts.push(`system CPU ${r.systemSeconds.toFixed(1)} s`);
  if (r.minorFaults !== undefined && touch) {
    const bytes = r.minorFaults * touch.pageSize;
    const cost = bytes / touch.firstTouchBytesPerSecond - bytes / touch.againBytesPerSecond;
    parts.push(`${mib(bytes)} of fresh memory first touched (${r.minorFaults} minor faults), about ${cost.toFixed(1)} s at this machine's first-touch rate`);
  }
  return parts.join('; ');
}

/**
 * Per-tensor overhead (issue 9): 5000 tensors of 8 x 64 F16 through the CLI, end to end (process
 * start, plan, workers, writing). Target: <= 6 s.
 */
async function benchTinyTensors(base, workers) {
  const { planSafetensors } = await import(join(DIST, 'io/writer.js'));
  const COUNT = 5000;
  const entries = Array.from({ length: COUNT }, (_, i) => ({ name: `model.layers.${i}.mlp.up_proj.weight`, dtype: 'F16', shape: [8, 64] }));
  const plan = planSafetensors(entries, { format: 'pt' });
  const bytes = new Uint8Array(plan.totalSize);
  bytes.set(plan.headerBytes);
  const u16 = new Uint16Array(bytes.buffer, plan.dataOffset, (plan.totalSize - plan.dataOffset) / 2);
  let x = 12345;
  for (let i = 0; i < u16.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    u16[i] = 0x2000 + (x >>> 20); // small positive and varied float16 values
  }
  const dir = join(base, 'tiny');
  await mkdir(dir);
  const input = join(dir, 'tiny.safetensors');
  await writeFile(input, bytes);
  process.stdout.write(`== tiny: ${COUNT} tensors of [8, 64] F16 through the CLI with ${workers} workers ==\n`);
  const c0 = childrenCpuSeconds();
  const t0 = performance.now();
  const code = await new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/hqq-wasm.mjs'), 'quantize', input, '-o', join(dir, 'out.safetensors'), '--workers', String(workers), '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('error', reject);
    p.on('close', resolve);
  });
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`tiny-tensor CLI run failed with exit code ${code}`);
  const c1 = childrenCpuSeconds();
  const cpu = c0 !== undefined && c1 !== undefined ? `; CPU ${(c1 - c0).toFixed(1)} s, every thread of the CLI process` : '';
  process.stdout.write(`${COUNT} tiny tensors: ${seconds.toFixed(1)} s end to end (${((seconds * 1000) / COUNT).toFixed(2)} ms per tensor; target <= 6 s: ${seconds <= 6 ? 'met' : 'NOT met'}${cpu})\n`);
  await rm(dir, { recursive: true, force: true });
}

function usage(msg) {
  process.stderr.write(`bench-model: ${msg}\nusage: node scripts/bench-model.mjs [--preset tiny|1b|7b] [--keep] [--workers N] [--dir DIR] [--max-in-flight N]\n`);
  process.exit(2);
}

/** Streams a safetensors file of synthetic tensors to disk, generating chunks on worker threads. */
async function writeModel(path, tensors, nWorkers) {
  const { planSafetensors } = await import(join(DIST, 'io/writer.js'));
  const plan = planSafetensors(tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })), { format: 'pt' });
  await writeLayout(path, plan, tensors, nWorkers);
}

/** The GGUF name of a synthetic (Hugging Face named) Llama tensor, as convert_hf_to_gguf.py names it. */
function ggufName(name) {
  const fixed = { 'model.embed_tokens.weight': 'token_embd.weight', 'model.norm.weight': 'output_norm.weight', 'lm_head.weight': 'output.weight' };
  if (fixed[name]) return fixed[name];
  const m = /^model\.layers\.(\d+)\.(.+)\.weight$/.exec(name);
  const parts = { 'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
    'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down', input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm' };
  if (!m || !parts[m[2]]) throw new Error(`bench-model: no GGUF name for ${name}`);
  return `blk.${m[1]}.${parts[m[2]]}.weight`;
}

/** The same synthetic model as a llama.cpp F16 GGUF (F32 norms, llama metadata, no tokenizer). */
async function writeGGUFModel(path, spec, config, nWorkers) {
  const { planGGUF, ggufValue } = await import(join(DIST, 'io/gguf.js'));
  const tensors = spec.map((t) => (t.kind === 'norm' ? { ...t, dtype: 'F32', byteLength: t.numel * 4 } : t)).map((t) => ({ ...t, name: ggufName(t.name), sourceName: t.name }));
  const u32 = ggufValue.u32;
  const metadata = new Map([
    ['general.architecture', ggufValue.string('llama')],
    ['general.name', ggufValue.string('hqq-wasm synthetic llama')],
    ['general.file_type', u32(1)],
    ['llama.block_count', u32(config.numLayers)],
    ['llama.context_length', u32(4096)],
    ['llama.embedding_length', u32(config.hiddenSize)],
    ['llama.feed_forward_length', u32(config.intermediateSize)],
    ['llama.attention.head_count', u32(config.numHeads)],
    ['llama.attention.head_count_kv', u32(config.numKvHeads)],
    ['llama.rope.dimension_count', u32(config.hiddenSize / config.numHeads)],
    ['llama.attention.layer_norm_rms_epsilon', ggufValue.f32(1e-5)],
  ]);
  const plan = planGGUF({ metadata, tensors: tensors.map((t) => ({ name: t.name, type: t.dtype, ne: [...t.shape].reverse() })) });
  await writeLayout(path, plan, tensors, nWorkers);
}

/** Writes `plan.headerBytes` and every tensor's generated bytes at its planned offset. */
async function writeLayout(path, plan, tensors, nWorkers) {
  const fh = await open(path, 'w');
  const workers = Array.from({ length: Math.max(1, nWorkers) }, () => new Worker(SELF));
  try {
    await fh.truncate(plan.totalSize); // padding (GGUF aligns every tensor) reads as zeros
    await fh.write(plan.headerBytes, 0, plan.headerBytes.byteLength, 0);
    const CHUNK = 4 * 1024 * 1024; // elements per job
    const jobs = [];
    for (const t of tensors) for (let o = 0; o < t.numel; o += CHUNK) jobs.push({ t, o, n: Math.min(CHUNK, t.numel - o) });
    let next = 0;
    let id = 0;
    const run = (w, job) =>
      new Promise((resolve) => {
        const myId = ++id;
        const onMsg = (m) => {
          if (m.id !== myId) return;
          w.off('message', onMsg);
          resolve(m.bytes);
        };
        w.on('message', onMsg);
        w.postMessage({ id: myId, entry: job.t, seed: 1, offset: job.o, count: job.n });
      });
    // Keep every worker busy, write in order (at most 2 chunks per worker outstanding).
    const inflight = [];
    const launch = () => {
      while (next < jobs.length && inflight.length < workers.length * 2) {
        const job = jobs[next];
        const w = workers[next % workers.length];
        inflight.push({ job, p: run(w, job) });
        next++;
      }
    };
    launch();
    while (inflight.length) {
      const { job, p } = inflight.shift();
      const bytes = await p;
      const pos = plan.offsets.get(job.t.name).begin + job.o * (job.t.byteLength / job.t.numel);
      await fh.write(bytes, 0, bytes.byteLength, pos);
      launch();
    }
    // A model is normally on disk long before it is quantized. Without this the kernel would still
    // be writing the generated gigabytes back during the timed run (Linux starts only past 10% of
    // memory dirty), competing with the run's own output for the disk and a core.
    await fh.sync();
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    await fh.close();
  }
}

/** Runs `node bench-model.mjs --child ...`, returns its JSON result (last stdout line) plus VmHWM. */
function runChild(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SELF, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      out = lines.pop();
      for (const l of lines) {
        if (l.startsWith('{')) p.result = JSON.parse(l);
        else process.stdout.write(`  ${l}\n`);
      }
    });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0 || !p.result) reject(new Error(`bench child ${args[0]} failed with exit code ${code}`));
      else resolve(p.result);
    });
  });
}

async function child([what, ...rest]) {
  const hqqMod = await import(join(DIST, 'node.js'));
  let peakRss = 0;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  const timer = setInterval(sample, 100);
  try {
    if (what === 'first-touch') {
      // Fresh pages (a new ArrayBuffer, untouched) against the same pages written again: what a
      // first touch of memory costs here, since a pipeline run touches a few hundred MiB fresh.
      const N = 64 * 1024 ** 2;
      const fresh = [];
      const again = [];
      for (let i = 0; i < 3; i++) {
        const a = new Uint8Array(new ArrayBuffer(N));
        const t0 = performance.now();
        a.fill(1);
        const t1 = performance.now();
        a.fill(2);
        const t2 = performance.now();
        fresh.push(N / ((t1 - t0) / 1000));
        again.push(N / ((t2 - t1) / 1000));
      }
      const median = (v) => v.sort((x, y) => x - y)[v.length >> 1];
      process.stdout.write(JSON.stringify({ firstTouchBytesPerSecond: median(fresh), againBytesPerSecond: median(again), pageSize: pageSize() }) + '\n');
      return;
    }
    if (what === 'kernel') {
      const { generateTensorChunk } = await import(join(DIST, 'model/synthetic.js'));
      const hqq = await hqqMod.loadHQQ();
      const entry = { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F16', shape: [4096, 4096], kind: 'linear', numel: 4096 * 4096, byteLength: 4096 * 4096 * 2 };
      const u16 = new Uint16Array(generateTensorChunk(entry, 1, 0, entry.numel).buffer);
      // One call takes ~0.2 s and this machine's speed drifts by 10-20% from one second to the
      // next: repeat for KERNEL_SECONDS and report the best call and the median one.
      const minSeconds = Number(rest[0] ?? KERNEL_SECONDS);
      const times = [];
      const cpus = [];
      let q;
      const start = performance.now();
      while (times.length < 3 || (performance.now() - start) / 1000 < minSeconds) {
        const t0 = performance.now();
        const c0 = cpuSeconds();
        q = hqq.quantize(u16, [4096, 4096], { dtype: 'f16', nbits: 4, groupSize: 64, axis: 1, optimize: true, roundZero: true });
        times.push((performance.now() - t0) / 1000);
        cpus.push(cpuSeconds() - c0);
      }
      const best = Math.min(...times);
      const median = times.slice().sort((a, b) => a - b)[times.length >> 1];
      const bestCpu = Math.min(...cpus);
      const medianCpu = cpus.slice().sort((a, b) => a - b)[cpus.length >> 1];
      process.stdout.write(JSON.stringify({
        seconds: best, cpuSeconds: bestCpu, paramsPerSecond: entry.numel / best, paramsPerCpuSecond: entry.numel / bestCpu,
        medianParamsPerSecond: entry.numel / median, medianParamsPerCpuSecond: entry.numel / medianCpu, calls: times.length, iterations: q.iterations, kernel: hqq.kernel,
      }) + '\n');
      return;
    }
    const [input, output, workers, maxInFlight, format] = rest;
    if (what === 'quantize-memory') {
      const m = await quantizeFromMemory(hqqMod, input, Number(workers), maxInFlight ? Number(maxInFlight) : undefined, sample);
      sample();
      process.stdout.write(JSON.stringify({ ...m, peakRss }) + '\n');
      return;
    }
    let lastPct = -10;
    const t0 = performance.now();
    const cpu0 = cpuSeconds();
    const sys0 = systemSeconds();
    const faults0 = minorFaults();
    const r = await hqqMod.quantizeModelFiles(input, output, {
      workers: Number(workers),
      maxInFlight: maxInFlight ? Number(maxInFlight) : undefined,
      // as the CLI runs GGUF: Q4_K_M, with llama.cpp's own blocks measured on every tensor
      ...(format === 'gguf' ? { gguf: { preset: 'Q4_K_M' }, compareRtn: true } : {}),
      handleSigint: true,
      onProgress: (e) => {
        sample();
        const pct = Math.floor((100 * e.bytesDone) / e.bytesTotal);
        if (e.type === 'tensor-done' && pct >= lastPct + 10) {
          lastPct = pct - (pct % 10);
          process.stdout.write(`${String(pct).padStart(3)}%  ${((performance.now() - t0) / 1000).toFixed(1)} s  rss ${mib(process.memoryUsage().rss)}  eta ${Number.isFinite(e.etaSeconds) ? e.etaSeconds.toFixed(0) : '?'} s\n`);
        }
      },
    });
    sample();
    process.stdout.write(JSON.stringify({
      seconds: r.seconds, workers: r.workers, quantizedParams: r.totals.quantizedParameters, outputPaths: r.outputPaths,
      cpuSeconds: cpuSeconds() - cpu0, systemSeconds: systemSeconds() - sys0, minorFaults: minorFaults() - faults0, baselineRelFrobenius: r.baseline?.relFrobenius,
      peakRss, vmHWM: vmHWM(), relFrobenius: r.relFrobenius, meanAbs: r.meanAbs, bitsPerWeight: r.totals.bitsPerWeight,
    }) + '\n');
  } finally {
    clearInterval(timer);
  }
}

/**
 * `quantizeModel` on a safetensors file held in memory (read before the clock starts, in 256 MiB
 * pieces), into a sink that discards every byte: the pipeline without the operating system's file
 * copies. Reads copy from the held bytes into the buffer the pipeline offers, as a file read does.
 */
async function quantizeFromMemory(hqqMod, path, workers, maxInFlight, sample) {
  const PIECE = 256 * 1024 ** 2;
  const fh = await open(path, 'r');
  const size = (await fh.stat()).size;
  const pieces = [];
  const scratch = new Uint8Array(8 * 1024 ** 2);
  for (let pos = 0; pos < size; pos += PIECE) {
    const piece = Buffer.allocUnsafe(Math.min(PIECE, size - pos));
    const { bytesRead } = await fh.read(piece, 0, piece.length, pos);
    if (bytesRead !== piece.length) throw new Error(`short read of ${path} at ${pos}`);
    // Memory the kernel's read() filled is slow on its first access from user space on this VM
    // (0.4 GB/s, then 13-17 GB/s): one pass over it here keeps that out of the timed run.
    for (let at = 0; at < piece.length; at += scratch.length) scratch.set(piece.subarray(at, at + scratch.length));
    pieces.push(piece);
  }
  await fh.close();
  const source = {
    size,
    name: path.split('/').pop(),
    async read(offset, length, into) {
      const out = into && into.length === length ? into : new Uint8Array(length);
      for (let done = 0; done < length; ) {
        const at = offset + done;
        const piece = pieces[Math.floor(at / PIECE)];
        const from = at % PIECE;
        const n = Math.min(length - done, piece.length - from);
        out.set(piece.subarray(from, from + n), done);
        done += n;
      }
      return out;
    },
  };
  let outBytes = 0;
  const sink = {
    async createShard(_fileName, layout) {
      outBytes += layout.totalSize;
      return { writeTensor: async () => {}, commit: async () => {}, abort: async () => {} };
    },
    writeFile: async (_fileName, data) => {
      outBytes += data.length;
    },
    finish: async () => {},
  };
  const hqq = await hqqMod.loadHQQ();
  const t0 = performance.now();
  const cpu0 = cpuSeconds();
  const sys0 = systemSeconds();
  const faults0 = minorFaults();
  const r = await hqqMod.quantizeModel({ sources: [source] }, sink, {
    workers, maxInFlight, createPool: (n) => hqqMod.createNodePool({ size: n, module: hqq.module }), onProgress: () => sample(),
  });
  return {
    seconds: (performance.now() - t0) / 1000, workers: r.workers, quantizedParams: r.totals.quantizedParameters, outBytes,
    cpuSeconds: cpuSeconds() - cpu0, systemSeconds: systemSeconds() - sys0, minorFaults: minorFaults() - faults0,
    vmHWM: vmHWM(), relFrobenius: r.relFrobenius, meanAbs: r.meanAbs,
  };
}
