// Header parsing at scale (issue 9, finding 16): generates a safetensors file whose header lists
// N tiny tensors (default 1,400,000: a 97 MB header) and times parseSafetensorsHeader on it,
// with peak RSS and CPU time. Needs web/dist (npm run build).
//   node bench/bench-header.mjs [--tensors N] [--reader path/to/safetensors.js]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
} finally {
  rmSync(dir, { recursive: true, force: true });
}
