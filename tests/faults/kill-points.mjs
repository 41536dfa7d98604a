#!/usr/bin/env node
/**
 * Fault injection: kills the hqq-wasm CLI (SIGKILL, SIGTERM, SIGINT) at random moments of a
 * multi-shard quantization into a folder that already holds an output of other settings, and
 * checks after every kill that the folder holds exactly the old output or exactly the new one
 * (file sets and SHA-256 of every file), that nothing but named temporaries is left, and that a
 * later run removes every temporary (docs/outputs.md).
 *
 * Kill moments: half at a uniformly random time after the start, half when a named point of the
 * output protocol is printed (test-only hook HQQ_WASM_TEST_OUTPUT_POINTS, which also pauses briefly
 * at that point so that the kill lands inside the phase that follows it), weighted towards the
 * final phase. Two lanes run in parallel, each on its own output folder; each lane swaps between the
 * two settings, so every kill has an old output in place. The table at the end counts the kills per
 * phase (from the last point the killed process printed).
 *
 * Speed: a quarter of the runs start the launcher bin/hqq-wasm.mjs; the others go to a CLI process
 * that runs several commands in a row (tests/faults/cli-driver.mjs: the same `main()`, the same
 * signal handling), so a handled SIGINT/SIGTERM does not cost a process start; SIGKILL ends it.
 *
 * Usage: node tests/faults/kill-points.mjs [--kills 200] [--lanes 2] [--seed N]   (after the build)
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/hqq-wasm.mjs');
const DIST = join(ROOT, 'web/dist');
if (!existsSync(join(DIST, 'cli.js'))) {
  console.error('kill-points: web/dist is missing; run `bash scripts/build.sh` first');
  process.exit(1);
}
const { generateTensorData, shardPlan, syntheticLlamaSpec, syntheticPreset } = await import(join(DIST, 'model/synthetic.js'));
const { planSafetensors } = await import(join(DIST, 'io/writer.js'));
const { buildIndexJson } = await import(join(DIST, 'io/index-json.js'));
const { cleanStaleTemporaries, parseTemporaryName } = await import(join(DIST, 'io/node-temporaries.js'));

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const KILLS = option('--kills', 200);
const LANES = option('--lanes', 2);
let seed = option('--seed', Date.now() % 1_000_000);
console.log(`kill-points: ${KILLS} kills, ${LANES} lanes, seed ${seed} (rerun with --seed ${seed})`);

/** xorshift32: the run is reproducible from the seed (up to process timing). */
function random() {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return ((seed >>> 0) % 1_000_000) / 1_000_000;
}
const pick = (items) => items[Math.floor(random() * items.length)];
function weighted(pairs) {
  let r = random() * pairs.reduce((a, [, w]) => a + w, 0);
  for (const [v, w] of pairs) if ((r -= w) < 0) return v;
  return pairs.at(-1)[0];
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------
// the model and the two reference outputs

const work = await mkdtemp(join(tmpdir(), 'hqq-kill-points-'));
const inDir = join(work, 'in');
await mkdir(inDir);
const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F16', { hiddenSize: 64, intermediateSize: 128, vocabSize: 128, numLayers: 2, numHeads: 2, numKvHeads: 1 }));
const sp = shardPlan(spec, 50_000);
const SHARDS = sp.shards.map((s) => s.fileName);
for (const s of sp.shards) {
  const plan = planSafetensors(s.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })), { format: 'pt' });
  const bytes = new Uint8Array(plan.totalSize);
  bytes.set(plan.headerBytes);
  for (const t of s.tensors) bytes.set(generateTensorData(t, 9), plan.offsets.get(t.name).begin);
  await writeFile(join(inDir, s.fileName), bytes);
}
const INDEX = join(inDir, 'model.safetensors.index.json');
await writeFile(INDEX, buildIndexJson(sp.weightMap, sp.totalSize));

// Three settings, three different outputs. A and B copy every tensor (the output protocol is the
// same; no worker pool: a run costs ~30 ms of CPU instead of ~400); Q quantizes, in a fifth of the
// runs, so that kills also land while workers are busy.
const SETTINGS = {
  A: ['--exclude', '.*', '--nbits', '8'],
  B: ['--exclude', '.*', '--nbits', '4', '--group-size', '32'],
  Q: ['--nbits', '4', '--no-optimize'],
};
const args = (out, which) => ['quantize', INDEX, '-o', out, '--workers', '1', ...SETTINGS[which]];
/** The settings of the next run from `state`: always different, Q a fifth of the time. */
function nextSettings(state) {
  if (state === 'Q') return pick(['A', 'B']);
  return random() < 0.2 ? 'Q' : state === 'A' ? 'B' : 'A';
}

/** One run of the launcher in its own process. */
function runCli(argv, env = {}) {
  const child = spawn(process.execPath, [BIN, ...argv], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const run = { pid: child.pid, kill: (sig) => child.kill(sig), stderr: '', started: performance.now(), onStderr: undefined, closed: false };
  child.stderr.on('data', (d) => {
    run.stderr += d;
    run.onStderr?.();
  });
  child.on('exit', () => (run.closed = true));
  run.done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, ms: performance.now() - run.started })));
  return run;
}

/** A CLI process that runs commands one after another (cli-driver.mjs). */
class Driver {
  constructor() {
    this.child = spawn(process.execPath, [join(ROOT, 'tests/faults/cli-driver.mjs')], { cwd: ROOT, stdio: ['pipe', 'ignore', 'pipe'] });
    this.dead = false;
    this.current = undefined;
    this.buffer = '';
    this.ready = new Promise((resolve) => (this.onReady = resolve));
    this.child.stderr.on('data', (d) => this.data(String(d)));
    this.child.on('exit', () => {
      this.dead = true;
      if (this.current) this.current.closed = true;
    });
    this.child.on('close', (code, signal) => {
      this.onReady();
      const run = this.current;
      this.current = undefined;
      run?.resolve({ code: null, signal: signal ?? `exit ${code}`, ms: performance.now() - run.started });
    });
  }

  data(text) {
    this.buffer += text;
    if (this.buffer.includes('hqq-wasm-driver-ready\n')) this.onReady();
    const run = this.current;
    if (!run) return;
    const at = this.buffer.indexOf('hqq-wasm-driver-start\n');
    if (at < 0) return;
    run.stderr = this.buffer.slice(at + 'hqq-wasm-driver-start\n'.length);
    const m = /hqq-wasm-driver-exit (\d+)\n/.exec(run.stderr);
    if (m) {
      run.stderr = run.stderr.slice(0, m.index);
      this.buffer = '';
      this.current = undefined;
      run.closed = true;
      run.resolve({ code: Number(m[1]), signal: null, ms: performance.now() - run.started });
      return;
    }
    run.onStderr?.();
  }

  run(argv, env) {
    const run = { pid: this.child.pid, kill: (sig) => this.child.kill(sig), stderr: '', started: performance.now(), onStderr: undefined, closed: false };
    run.done = new Promise((resolve) => (run.resolve = resolve));
    this.current = run;
    this.buffer = '';
    this.child.stdin.write(JSON.stringify({ argv, env: { HQQ_WASM_TEST_OUTPUT_POINTS: '', ...env } }) + '\n');
    return run;
  }
}

/** Relative path -> sha256 of every file under `folder` (undefined when it does not exist). */
async function snapshot(folder) {
  if (!existsSync(folder)) return undefined;
  const out = {};
  for (const e of (await readdir(folder, { recursive: true })).sort()) {
    const p = join(folder, e);
    if ((await lstat(p)).isFile()) out[e] = createHash('sha256').update(await readFile(p)).digest('hex');
  }
  return out;
}
const same = (a, b) => a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);

const ref = {};
/** How long a whole run takes, by process kind (a new launcher, or the next command of a warm driver) and settings. */
const fullMs = {};
const durationKey = (kind, which) => `${kind}-${which === 'Q' ? 'Q' : 'copy'}`;
{
  const check = async (run, which, out) => {
    const r = await run.done;
    if (r.code !== 0) throw new Error(`reference run ${which} failed (${r.code}): ${run.stderr}`);
    fullMs[durationKey(run.kind, which)] = Math.max(fullMs[durationKey(run.kind, which)] ?? 0, r.ms);
    return snapshot(out);
  };
  const driver = new Driver();
  await driver.ready;
  for (const which of ['A', 'B', 'Q']) {
    const cold = runCli(args(join(work, `ref-${which}`), which));
    cold.kind = 'cold';
    ref[which] = await check(cold, which, join(work, `ref-${which}`));
    const warm = driver.run(args(join(work, `ref-${which}-warm`), which));
    warm.kind = 'warm';
    if (!same(ref[which], await check(warm, which, join(work, `ref-${which}-warm`)))) {
      throw new Error(`the launcher and the driver wrote different bytes for settings ${which}`);
    }
  }
  driver.child.stdin.end();
}
if (same(ref.A, ref.B) || same(ref.A, ref.Q) || same(ref.B, ref.Q)) throw new Error('two settings gave the same output: the test could not tell old from new');
console.log(`${SHARDS.length} shards + index; a whole run takes (ms, here): ${Object.entries(fullMs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);

// ------------------------------------------------------------------------------------------------
// kills

const POINTS = [
  ['prepare', 1], ['create', 1], ['commit', 1], ['file', 1],
  ['finish:ready', 3], ['switch:old-moved', 5], ['switch:done', 3], ['finish:done', 1],
];
const PAUSE_MS = 40;

/** The phase a process was in, from the last point it printed. */
function phaseOf(stderr, exitedByItself) {
  const points = [...stderr.matchAll(/^hqq-wasm-test-point (\S+)$/gm)].map((m) => m[1]);
  const last = points.at(-1);
  if (exitedByItself) return 'ran to the end (kill too late)';
  if (!last) return '1 start, plan (before the sink)';
  if (last === 'prepare' || last.startsWith('create:')) return '2 writing tensors';
  if (last.startsWith('commit:') || last.startsWith('file:')) return '3 committing files';
  if (last === 'finish:ready') return '4 final: ready, before the switch';
  if (last === 'switch:old-moved') return '5 final: between the two renames';
  if (last === 'switch:done') return '6 final: switched, removing the old';
  return '7 final: done, exiting';
}

const phases = new Map();
const outcomes = new Map();
const failures = [];
let killsLeft = KILLS;
let tooLate = 0;
const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);

async function temporariesIn(dir) {
  return (await readdir(dir)).filter((e) => e !== 'out');
}

async function lane(index) {
  const dir = join(work, `lane-${index}`);
  const out = join(dir, 'out');
  await mkdir(dir);
  await cp(join(work, 'ref-A'), out, { recursive: true }); // an output of other settings
  let state = 'A';
  let sinceCleanRun = 0;
  let driver;
  let spare = new Driver(); // booting in the background, to replace a driver that was killed
  /** Starts a run: a quarter in a new launcher process, the rest as the next command of the lane's driver. */
  const launch = async (argv, env) => {
    let run;
    if (random() < 0.25) {
      run = runCli(argv, env);
      run.kind = 'cold';
    } else {
      if (!driver || driver.dead) {
        driver = spare;
        spare = new Driver();
      }
      await driver.ready;
      run = driver.run(argv, env);
      run.kind = 'warm';
    }
    return run;
  };
  while (killsLeft > 0) {
    const target = nextSettings(state);
    const signal = weighted([['SIGKILL', 2], ['SIGTERM', 1], ['SIGINT', 1]]);
    const byPoint = random() < 0.5;
    const point = byPoint ? weighted(POINTS) : undefined;
    const pointName = point === 'create' || point === 'commit' ? `${point}:${pick(SHARDS)}` : point === 'file' ? 'file:model.safetensors.index.json' : point;
    const env = { HQQ_WASM_TEST_OUTPUT_POINTS: byPoint ? `${pointName}:${PAUSE_MS}` : '1' };
    const r = await launch(args(out, target), env);
    let killed = false;
    const kill = () => {
      if (killed || r.closed) return;
      killed = true;
      r.kill(signal);
    };
    if (byPoint) {
      r.onStderr = () => {
        if (r.stderr.includes(`hqq-wasm-test-point ${pointName}\n`)) {
          r.onStderr = undefined;
          setTimeout(kill, random() * PAUSE_MS);
        }
      };
    } else {
      setTimeout(kill, random() * fullMs[durationKey(r.kind, target)]);
    }
    const { code, signal: bySignal } = await r.done;
    if (killed) killsLeft--;
    else tooLate++;
    const phase = phaseOf(r.stderr, !killed);
    count(phases, phase);
    const where = `lane ${index} (${r.kind} process), ${signal} ${byPoint ? `at ${pointName}` : 'at a random time'}, phase "${phase}", exit ${code ?? bySignal}`;
    const fail = (why) => failures.push(`${where}: ${why}\n  stderr: ${r.stderr.split('\n').filter((l) => !l.startsWith('hqq-wasm-test-point')).slice(-5).join('\n          ')}`);

    // What is on disk: exactly the old output or exactly the new one.
    const now = await snapshot(out);
    let outcome;
    if (same(now, ref[state])) outcome = 'old output';
    else if (same(now, ref[target])) outcome = 'new output';
    else if (now === undefined && signal === 'SIGKILL') {
      // Killed between the two renames: both outputs must be there, complete, under named temporaries.
      const left = await temporariesIn(dir);
      const mine = left.map(parseTemporaryName).filter((t) => t && t.pid === r.pid);
      const oldT = mine.find((t) => t.kind === 'old');
      const newT = mine.find((t) => t.kind === 'new');
      if (!oldT || !newT || !same(await snapshot(join(dir, oldT.entry)), ref[state]) || !same(await snapshot(join(dir, newT.entry)), ref[target])) {
        fail(`the output folder is missing and the named temporaries are not the complete old and new outputs: ${left.join(', ')}`);
        break;
      }
      await cleanStaleTemporaries(dir); // what the next run does first
      if (!same(await snapshot(out), ref[target])) {
        fail('the interrupted switch was not completed into the new output');
        break;
      }
      outcome = 'switch completed by the next run';
    } else {
      fail(`the output is neither the old nor the new one (${now === undefined ? 'missing' : Object.keys(now).join(', ')})`);
      break;
    }
    count(outcomes, outcome);
    state = outcome === 'old output' ? state : target;

    // Handled signals: exit 128+N with the old output (or 0 once switched), and nothing left behind.
    const left = await temporariesIn(dir);
    const unnamed = left.filter((e) => !parseTemporaryName(e));
    if (unnamed.length) fail(`entries that are not named temporaries: ${unnamed.join(', ')}`);
    if (signal !== 'SIGKILL') {
      const mine = left.filter((e) => parseTemporaryName(e)?.pid === r.pid);
      if (mine.length) fail(`a handled ${signal} left temporaries: ${mine.join(', ')}`);
      // (null: killed by the default action, before the handlers were installed or after they were removed)
      const expected = outcome === 'new output' ? [0, null] : [signal === 'SIGINT' ? 130 : 143, null];
      if (!expected.includes(code)) fail(`exit code ${code} with the ${outcome}`);
    }

    // Now and then (and at the end) a run to completion: it removes every stale temporary, and says so.
    if (++sinceCleanRun >= 10 || killsLeft <= 0) {
      sinceCleanRun = 0;
      const before = await temporariesIn(dir);
      const next = nextSettings(state);
      const c = await launch(args(out, next));
      const { code: cc, ms } = await c.done;
      fullMs[durationKey(c.kind, next)] = Math.max(fullMs[durationKey(c.kind, next)], ms);
      if (cc !== 0) fail(`the clean run failed (${cc}): ${c.stderr}`);
      else if (!same(await snapshot(out), ref[next])) fail('the clean run did not produce the new output');
      const after = await temporariesIn(dir);
      if (after.length) fail(`stale temporaries survived a later run: ${after.join(', ')}`);
      for (const t of before) if (!c.stderr.includes(join(dir, t))) fail(`the later run removed ${t} without saying so`);
      state = next;
    }
    if (failures.length) break;
  }
  for (const d of [driver, spare]) if (d && !d.dead) d.child.stdin.end();
}

const t0 = performance.now();
await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
const seconds = (performance.now() - t0) / 1000;

console.log('\nkills per phase (from the last point the killed process printed):');
for (const [p, n] of [...phases].sort()) console.log(`  ${String(n).padStart(4)}  ${p}`);
console.log('outcomes:');
for (const [o, n] of [...outcomes].sort()) console.log(`  ${String(n).padStart(4)}  ${o}`);
const finalPhase = [...phases].filter(([p]) => /final/.test(p)).reduce((a, [, n]) => a + n, 0);
const total = [...phases].filter(([p]) => !/too late/.test(p)).reduce((a, [, n]) => a + n, 0);
console.log(`${total} kills (and ${tooLate} runs that ended before their kill) in ${seconds.toFixed(1)} s; ${finalPhase} in the final phase`);
await rm(work, { recursive: true, force: true });
if (failures.length) {
  console.error(`\nFAILED (${failures.length}):\n${failures.join('\n')}`);
  process.exit(1);
}
if (total < KILLS) {
  console.error(`FAILED: only ${total} of ${KILLS} kills ran`);
  process.exit(1);
}
if (finalPhase < total / 5) {
  console.error(`FAILED: only ${finalPhase} kills landed in the final phase (want at least a fifth)`);
  process.exit(1);
}
console.log('kill-points: every kill left exactly the old or the new output; later runs removed every temporary');
