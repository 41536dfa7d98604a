// Header parsing at scale (issue 9, finding 16): generates a safetensors file whose header lists
// N tiny tensors (default 1,400,000: a 97 MB header) and times parseSafetensorsHeader on it,
// with peak RSS and CPU time; then (unless --no-cli) runs `hqq-wasm quantize FILE --dry-run` on
// it, the case of the finding (61 s and 3.3 GB then), and prints its wall time, CPU time and
// peak RSS (from /usr/bin/time when present; CPU time is what other jobs on the machine do not
// inflate). Then the target of the fix: the dry run's CPU time at most 3x the parse's, and its
// peak RSS at most 1.5 GiB, each printed "met" or "NOT met" (RSS and the CLI's CPU need
// /usr/bin/time). Needs web/dist (npm run build).
//   node bench/bench-header.mjs [--tensors N] [--reader path/to/safetensors.js] [--no-cli]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const n = Number(opt('--tensors', 1_400_000));
const reader = resolve(opt('--reader', join(root, 'web/dist/io/safetensors.js')));

const parts = [];
for (let i = 0; i < n; i++) parts.push(`"t${i}":{"dtype":"F16","shape":[1],"data_offsets":[${2 * i},${2 * i + 2}]}`);
const json = Buffer.from(`{${parts.join(',')}}`);
parts.length = 0;
const len = Math.ceil(json.length / 8) * 8;
const file = Buffer.alloc(8 + len + 2 * n, 0x20);
file.writeBigUInt64LE(BigInt(len), 0);
json.copy(file, 8);
file.fill(0x3c, 8 + len);
const dir = mkdtempSync(join(tmpdir(), 'hqq-bench-header-'));
const path = join(dir, 'many.safetensors');
writeFileSync(path, file);

try {
  const { parseSafetensorsHeader } = await import(reader);
  const bytes = new Uint8Array(readFileSync(path));
  globalThis.gc?.();
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const h = parseSafetensorsHeader(bytes, bytes.byteLength, 'many.safetensors');
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log(`${h.tensors.length} tensors, header ${(len / 2 ** 20).toFixed(0)} MiB: parsed in ${(ms / 1000).toFixed(2)} s ` +
    `(CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s), peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (the file itself is ${(bytes.length / 2 ** 20).toFixed(0)} MiB)`);
  if (!args.includes('--no-cli')) target(cliDryRun(path), (cpu.user + cpu.system) / 1e6);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** The CLI's dry run on the file: wall, CPU and peak RSS of the whole process. */
function cliDryRun(path) {
  const cli = [join(root, 'bin/hqq-wasm.mjs'), 'quantize', path, '--dry-run'];
  const timed = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const r = timed
    ? spawnSync('/usr/bin/time', ['-f', '%U %S %M', process.execPath, ...cli], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 })
    : spawnSync(process.execPath, cli, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`the dry run failed (exit ${r.status}): ${String(r.stderr).slice(-500)}`);
  let extra = '';
  let measured;
  if (timed) {
    const [user, sys, kb] = String(r.stderr).trim().split('\n').pop().split(' ').map(Number);
    measured = { cpu: user + sys, rssMiB: kb / 1024 };
    extra = `, CPU ${measured.cpu.toFixed(1)} s, peak RSS ${measured.rssMiB.toFixed(0)} MiB`;
  }
  console.log(`hqq-wasm quantize --dry-run on it (every tensor planned and listed): ${wall.toFixed(1)} s wall${extra} (finding 16: 61 s and 3.3 GB)`);
  return measured;
}

/** The fix's target (issue 9): dry-run CPU <= 3x the parse's CPU, peak RSS <= 1.5 GiB. */
function target(dry, parseCpu) {
  if (!dry) {
    console.log('target: not checked (no /usr/bin/time for the dry run\'s CPU time and peak RSS)');
    return;
  }
  const ratio = dry.cpu / parseCpu;
  const say = (ok) => (ok ? 'met' : 'NOT met');
  console.log(`target: dry-run CPU <= 3x the parse's: ${ratio.toFixed(1)}x, ${say(ratio <= 3)}; peak RSS <= 1536 MiB: ${dry.rssMiB.toFixed(0)} MiB, ${say(dry.rssMiB <= 1536)}`);
}
