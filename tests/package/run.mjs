// Packaging test: npm pack the repository, install the tarball into an empty temp project and use it
// the three ways users do: (a) a Node ESM script, (b) a Vite app built with this repo's vite and run
// in headless Chromium, (c) a plain static page importing node_modules/hqq-wasm/web/dist/index.js.
// Prints `N passed, M failed`; exits non-zero on any failure. Needs `bash scripts/build.sh` first.
// Set KEEP_TMP=1 to keep the temp directory.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { launchChromium, runPage } from '../browser/chromium.mjs';
import { startServer } from '../browser/server.mjs';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'hqq-package-'));
const app = join(tmp, 'app');

let passed = 0;
const failures = [];
function record(name, ok, detail = '') {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failures.push(`${name}${detail ? `: ${detail}` : ''}`);
    console.log(`FAIL ${name}${detail ? `: ${detail}` : ''}`);
  }
}
async function step(name, fn) {
  try {
    const r = await fn();
    if (r && typeof r === 'object' && 'failed' in r) {
      record(name, r.failed === 0 && r.passed > 0, r.failures?.join('; '));
    } else {
      record(name, true);
    }
    return r;
  } catch (e) {
    record(name, false, (e.stderr || e.stdout || e.message || String(e)).toString().trim().split('\n').slice(-8).join('\n'));
    return undefined;
  }
}
const sh = (cmd, args, cwd, env = {}) => run(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 64 << 20 });

async function main() {
  for (const f of ['web/dist/index.js', 'web/dist/node.js', 'web/wasm/hqq-simd.wasm', 'web/wasm/hqq-scalar.wasm', 'web/wasm/hqq.mjs']) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run bash scripts/build.sh first`);
  }

  // The answer the repository's own build gives, which every consumer must reproduce bit for bit.
  const { runChecks } = await import(pathToFileURL(join(here, 'check.js')).href);
  const repoPkg = await import(pathToFileURL(join(root, 'web/dist/node.js')).href);
  const reference = await runChecks(repoPkg, { log: () => {} });
  if (reference.failed) throw new Error(`the repository build itself fails the checks: ${reference.failures.join('; ')}`);
  const expectSha256 = reference.packedSha256;
  console.log(`reference (repo build, Node, ${reference.flavour}): packed SHA-256 ${expectSha256}, meanAbs ${reference.meanAbs}`);

  // ---- npm pack ----
  const packed = await step('npm pack: tarball holds exactly the runtime files', async () => {
    const { stdout } = await sh('npm', ['pack', '--json', '--pack-destination', tmp], root);
    const info = JSON.parse(stdout)[0];
    const files = info.files.map((f) => f.path).sort();
    const required = ['package.json', 'web/dist/index.js', 'web/dist/index.d.ts', 'web/dist/node.js', 'web/dist/node.d.ts', 'web/dist/engine.js',
      'web/dist/errors.js', 'web/dist/wasm-loader.js', 'web/dist/common.js', 'web/wasm/hqq-simd.wasm', 'web/wasm/hqq-scalar.wasm', 'web/wasm/hqq.mjs', 'web/wasm/hqq.d.mts'];
    const missing = required.filter((f) => !files.includes(f));
    const junk = files.filter((f) => /\.map$|\.test\.|\.spec\.|^(cpp|tests|build|scripts|cmake|bench|demo|node_modules|docs)\/|^web\/src\/|\.ts$(?<!\.d\.ts)|CMakeLists|tsconfig|vitest/.test(f));
    const unexpected = files.filter((f) => !/^(package\.json|README\.md|LICENSE|bin\/.*|web\/dist\/.*\.(js|d\.ts)|web\/wasm\/(.*\.wasm|hqq\.mjs|hqq\.d\.mts))$/.test(f));
    console.log(`     ${info.filename}: ${files.length} files, ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked`);
    if (missing.length || junk.length || unexpected.length) {
      return { passed: 0, failed: 1, failures: [`missing ${JSON.stringify(missing)}, junk ${JSON.stringify(junk)}, unexpected ${JSON.stringify(unexpected)}`] };
    }
    return { passed: 1, failed: 0, file: join(tmp, info.filename) };
  });
  if (!packed?.file) return;

  // ---- install into an empty project ----
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'hqq-consumer', version: '0.0.0', private: true, type: 'module' }, null, 2));
  const installed = await step('npm install <tarball> into an empty project', async () => {
    await sh('npm', ['install', '--no-audit', '--no-fund', '--offline', '--no-package-lock', packed.file], app);
    const pkgDir = join(app, 'node_modules/hqq-wasm');
    if (!existsSync(join(pkgDir, 'web/wasm/hqq-simd.wasm'))) throw new Error('installed package has no web/wasm/hqq-simd.wasm');
    if (existsSync(join(pkgDir, 'web/src')) || existsSync(join(pkgDir, 'cpp'))) throw new Error('installed package contains sources');
  });
  if (installed === undefined && failures.length) return;
  copyFileSync(join(here, 'check.js'), join(app, 'check.js'));

  // ---- (a) Node ESM ----
  writeFileSync(join(app, 'node-consumer.mjs'), `
import * as pkg from 'hqq-wasm';
import * as nodeEntry from 'hqq-wasm/node';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runChecks } from './check.js';
const extra = [];
const resolved = import.meta.resolve('hqq-wasm');
if (!resolved.endsWith('/node_modules/hqq-wasm/web/dist/node.js')) extra.push('hqq-wasm resolves to ' + resolved + ' in Node, expected web/dist/node.js');
if (pkg.loadHQQ !== nodeEntry.loadHQQ) extra.push('hqq-wasm and hqq-wasm/node export different loadHQQ');
for (const [spec, file] of [['hqq-wasm/hqq.wasm', 'web/wasm/hqq-simd.wasm'], ['hqq-wasm/hqq-scalar.wasm', 'web/wasm/hqq-scalar.wasm']]) {
  const url = import.meta.resolve(spec);
  if (!url.endsWith('/hqq-wasm/' + file) || !existsSync(fileURLToPath(url))) extra.push(spec + ' resolves to ' + url);
}
const require = createRequire(import.meta.url);
if (require('hqq-wasm/package.json').name !== 'hqq-wasm') extra.push('hqq-wasm/package.json not importable');
try { import.meta.resolve('hqq-wasm/web/dist/engine.js'); extra.push('deep import hqq-wasm/web/dist/engine.js is exposed'); } catch {}
const r = await runChecks(pkg, { expectSha256: process.argv[2] });
const scalar = await pkg.loadHQQ({ wasm: fileURLToPath(import.meta.resolve('hqq-wasm/hqq-scalar.wasm')) });
if (scalar.flavour !== 'scalar') extra.push('loadHQQ({wasm: hqq-wasm/hqq-scalar.wasm}) flavour ' + scalar.flavour);
console.log(JSON.stringify({ ...r, failed: r.failed + extra.length, failures: [...r.failures, ...extra] }));
`);
  await step('(a) Node ESM script imports hqq-wasm, quantizes 256x512, same bytes as the repo build', async () => {
    const { stdout } = await sh(process.execPath, ['node-consumer.mjs', expectSha256], app);
    const lines = stdout.trim().split('\n');
    return JSON.parse(lines[lines.length - 1]);
  });

  const manifestBin = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin;
  if (manifestBin) {
    await step('(a) the installed bin runs (node_modules/.bin/hqq-wasm --version)', async () => {
      const { stdout } = await sh(join(app, 'node_modules/.bin/hqq-wasm'), ['--version'], app);
      if (!/^\d+\.\d+\.\d+/.test(stdout.trim())) throw new Error(`--version printed ${JSON.stringify(stdout)}`);
    });
  }

  await step('(a) TypeScript resolves the package types (moduleResolution nodenext and bundler)', async () => {
    writeFileSync(join(app, 'types-check.mts'), `
import { loadHQQ, HQQError, type QuantizedTensor, type HQQ } from 'hqq-wasm';
import { loadHQQ as loadNode } from 'hqq-wasm/node';
const h: HQQ = await loadHQQ({ simd: true });
const q: QuantizedTensor = h.quantize(new Float32Array(64 * 64), [64, 64], { nbits: 4, groupSize: 64 });
const n: number = q.stats.meanAbs + (await loadNode()).heapInUse();
const e: HQQError = new HQQError('INTERNAL', String(n));
export { e };
`);
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    for (const [module, resolution] of [['nodenext', 'nodenext'], ['esnext', 'bundler']]) {
      await sh(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', 'false', '--target', 'es2022', '--module', module, '--moduleResolution', resolution,
        '--lib', 'es2022,dom', 'types-check.mts'], app).catch((e) => {
        throw new Error(`tsc (${resolution}): ${e.stdout || e.stderr}`);
      });
    }
  });

  // ---- (b) Vite app and (c) static page, both in Chromium ----
  const viteDir = join(app, 'vite-app');
  mkdirSync(viteDir);
  copyFileSync(join(here, 'check.js'), join(viteDir, 'check.js'));
  writeFileSync(join(viteDir, 'index.html'), `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>hqq-wasm in Vite</title></head>
<body><script type="module" src="./main.js"></script></body></html>
`);
  writeFileSync(join(viteDir, 'main.js'), `import * as pkg from 'hqq-wasm';
import { runChecks } from './check.js';
const expectSha256 = new URLSearchParams(location.search).get('sha') ?? undefined;
runChecks(pkg, { expectSha256 }).then((r) => { window.__hqqResult = r; }, (e) => { window.__hqqError = String(e); });
`);
  writeFileSync(join(viteDir, 'vite.config.mjs'), `// Plain object: vite itself is not installed in this project (the build uses the repo's vite).
export default {
  logLevel: 'warn',
  optimizeDeps: { exclude: ['hqq-wasm'] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
};
`);
  const built = await step('(b) vite build of an app importing hqq-wasm emits the wasm assets', async () => {
    await sh(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'vite.config.mjs'], viteDir);
    const assets = readdirSync(join(viteDir, 'dist/assets'));
    const wasm = assets.filter((f) => f.endsWith('.wasm'));
    console.log(`     dist/assets: ${assets.join(', ')}`);
    if (!wasm.some((f) => f.startsWith('hqq-simd')) || !wasm.some((f) => f.startsWith('hqq-scalar'))) throw new Error(`wasm assets missing: ${assets.join(', ')}`);
    return true;
  });

  writeFileSync(join(app, 'static.html'), `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>hqq-wasm, no bundler</title></head>
<body><script type="module">
import * as pkg from './node_modules/hqq-wasm/web/dist/index.js';
import { runChecks } from './check.js';
const expectSha256 = new URLSearchParams(location.search).get('sha') ?? undefined;
runChecks(pkg, { expectSha256 }).then((r) => { window.__hqqResult = r; }, (e) => { window.__hqqError = String(e); });
</script></body></html>
`);

  const browser = await launchChromium();
  try {
    if (built) {
      const server = await startServer({ '/': join(viteDir, 'dist') });
      try {
        await step('(b) the Vite build runs in headless Chromium, same bytes as the repo build', () =>
          runPage(browser, `${server.url}/index.html?sha=${expectSha256}`, { prefix: '     [vite page]' }));
      } finally {
        await server.close();
      }
    }
    const server = await startServer({ '/': app });
    try {
      await step('(c) a plain static page imports node_modules/hqq-wasm/web/dist/index.js, same bytes', () =>
        runPage(browser, `${server.url}/static.html?sha=${expectSha256}`, { prefix: '     [static page]' }));
    } finally {
      await server.close();
    }
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (e) {
  record('package test setup', false, e.message);
} finally {
  if (process.env.KEEP_TMP) console.log(`kept ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length === 0 && passed > 0 ? 0 : 1);
