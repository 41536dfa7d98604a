// Packaging test: `npm pack` the repository and consume the tarball the ways users do, one fixture
// per bundler and environment (tests/package/fixtures/*, each installing the tarball with npm):
//   contents of the tarball; Node ESM, require(), worker_threads pool, out-of-memory and no-SIMD
//   messages; strict TypeScript (Node without DOM, browser) plus every README/docs snippet;
//   Vite (build and dev server), webpack 5, esbuild (with the documented copy), Rollup, Parcel and
//   Next.js, each built and run in headless Chromium (single-tensor checks and a 2-worker pool,
//   the same bytes as the repository's own build); a plain page with an import map; and the
//   failure messages when the files are missing, served with the wrong MIME type or blocked by CSP.
// The bundlers come from the repository's devDependencies (the fixtures live under build/, so
// Node's resolution finds them); hqq-wasm comes from the tarball only.
// Prints `N passed, M failed` and each step's time; exits non-zero on any failure. Needs
// `bash scripts/build.sh` first. KEEP_FIXTURES=1 keeps build/package-fixtures; ONLY=vite,next runs
// only those browser fixtures.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { launchChromium, runPage } from '../browser/chromium.mjs';
import { startServer } from '../browser/server.mjs';
import { checkContents } from './contents.mjs';
import { codeBlocks, compilableSnippets } from './snippets.mjs';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures');
const root = resolve(here, '../..');
const work = join(root, 'build/package-fixtures');
const only = process.env.ONLY ? new Set(process.env.ONLY.split(',')) : undefined;

let passed = 0;
const failures = [];
const timings = [];
function record(name, ok, detail = '') {
  if (ok) passed++;
  else failures.push(`${name}${detail ? `: ${detail}` : ''}`);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail && !ok ? `: ${detail}` : ''}`);
}
/** Runs one named step; fn returns nothing (pass), or {passed, failed, failures}; throwing fails. */
async function step(name, fn) {
  const t0 = performance.now();
  try {
    const r = await fn();
    if (r && typeof r === 'object' && 'failed' in r) record(name, r.failed === 0 && r.passed > 0, r.failures?.join('; '));
    else record(name, true);
    return r ?? true;
  } catch (e) {
    record(name, false, (e.stderr || e.stdout || e.message || String(e)).toString().trim().split('\n').slice(-12).join('\n'));
    return undefined;
  } finally {
    timings.push([name, (performance.now() - t0) / 1000]);
  }
}
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false', FORCE_COLOR: '0', NO_COLOR: '1' };
const sh = (cmd, args, cwd, extra = {}) => run(cmd, args, { cwd, env: { ...env, ...extra }, maxBuffer: 64 << 20 });
const stripAnsi = (s) => s.replace(/\u001b\[[0-9;]*m/g, '');

/** Copies fixture `name` into the work folder and installs the tarball into it, as a user would. */
async function prepareFixture(name, tarball, extraFiles = []) {
  const dir = join(work, name);
  cpSync(join(fixtures, name), dir, { recursive: true });
  for (const [from, to] of extraFiles) cpSync(from, join(dir, to));
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', tarball], dir);
  return dir;
}

/**
 * Build output lines that warn or complain. Webpack's performance hints (the two wasm binaries are
 * above its 244 KiB advice) are the one accepted kind: they are reported, not failed.
 */
function buildWarnings(output) {
  const text = stripAnsi(output);
  const accepted = [];
  const blocks = text.split(/\n(?=WARNING in |ERROR in )/);
  const rest = [];
  for (const b of blocks) {
    if (/^WARNING in (asset size limit|entrypoint size limit|webpack performance recommendations)/.test(b)) accepted.push(b.split('\n')[0]);
    else rest.push(b);
  }
  const bad = rest.join('\n').split('\n').filter((l) => /warn|error|doesn't exist|can't resolve|could not|cannot|not found|ENOENT/i.test(l) && !/^\s*$/.test(l));
  return { bad, accepted };
}

async function buildFixture(dir) {
  const { stdout, stderr } = await sh('npm', ['run', '--silent', 'build'], dir);
  const { bad, accepted } = buildWarnings(`${stdout}\n${stderr}`);
  if (accepted.length) console.log(`     accepted bundler notes: ${accepted.join('; ')}`);
  if (bad.length) throw new Error(`the build printed warnings:\n${bad.join('\n')}`);
}

async function main() {
  for (const f of ['web/dist/index.js', 'web/dist/node.js', 'web/wasm/hqq-simd.wasm', 'web/wasm/hqq-scalar.wasm', 'web/wasm/hqq.mjs', 'web/wasm/hqq-worker.js']) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run bash scripts/build.sh first`);
  }
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'hqq-package-fixtures', private: true }, null, 2));

  // The answer the repository's own build gives, which every consumer must reproduce bit for bit.
  const { runChecks } = await import(pathToFileURL(join(here, 'check.js')).href);
  const reference = await runChecks(await import(pathToFileURL(join(root, 'web/dist/node.js')).href), { log: () => {} });
  if (reference.failed) throw new Error(`the repository build itself fails the checks: ${reference.failures.join('; ')}`);
  const sha = reference.packedSha256;
  console.log(`reference (repo build, Node, ${reference.flavour}): packed SHA-256 ${sha}`);

  // ---- npm pack (the build already ran: --ignore-scripts skips the prepack rebuild) ----
  let tarball;
  await step('npm pack: the tarball holds the runtime files only; imports, source maps and doc links resolve inside it', async () => {
    const { stdout } = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root);
    const info = JSON.parse(stdout)[0];
    tarball = join(work, info.filename);
    console.log(`     ${info.filename}: ${info.files.length} files, ${(info.size / 1024).toFixed(0)} KiB packed, ${(info.unpackedSize / 1024).toFixed(0)} KiB unpacked`);
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    await sh('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1'], work);
    const problems = checkContents(info.files.map((f) => f.path).sort(), unpacked);
    return { passed: problems.length ? 0 : 1, failed: problems.length, failures: problems };
  });
  if (!tarball) return;
  const check = join(here, 'check.js');
  const app = join(fixtures, 'browser-app.js');

  // ---- Node ----
  const nodeDir = await step('node fixture: npm install <tarball>', () => prepareFixture('node', tarball, [[check, 'check.js']]));
  if (nodeDir) {
    const dir = join(work, 'node');
    const lastJson = (stdout) => JSON.parse(stdout.trim().split('\n').pop());
    await step('node: ESM import, same bytes as the repo build, 2-worker worker_threads pool, export map', async () => lastJson((await sh(process.execPath, ['main.mjs', sha], dir)).stdout));
    await step('node: require(\'hqq-wasm\') from CommonJS', async () => lastJson((await sh(process.execPath, ['require.cjs'], dir)).stdout));
    await step('node: out of address space (ulimit -v): OUT_OF_MEMORY with the way out', async () => lastJson((await sh('bash', ['-c', `ulimit -v 6000000 && exec "${process.execPath}" oom.mjs`], dir)).stdout));
    await step('node: an engine without SIMD (simulated): scalar fallback, explained refusals', async () => lastJson((await sh(process.execPath, ['no-simd.mjs'], dir)).stdout));
    await step('node: the installed bin runs (node_modules/.bin/hqq-wasm --version)', async () => {
      const { stdout } = await sh(join(dir, 'node_modules/.bin/hqq-wasm'), ['--version'], dir);
      if (!/^\d+\.\d+\.\d+/.test(stdout.trim())) throw new Error(`--version printed ${JSON.stringify(stdout)}`);
    });
  }

  // ---- TypeScript: strict declarations, and every snippet of the README and docs ----
  const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const blocks = docs.flatMap((d) => codeBlocks(join(root, d)));
  await step('docs: every recipe block marked <!-- fixture: ... --> is the tested fixture file, byte for byte; json blocks parse', async () => {
    const problems = [];
    for (const b of blocks) {
      if (b.fixture) {
        const path = join(fixtures, b.fixture);
        if (!existsSync(path)) problems.push(`${b.name}:${b.line}: fixture ${b.fixture} does not exist`);
        else if (readFileSync(path, 'utf8') !== b.code) problems.push(`${b.name}:${b.line}: differs from tests/package/fixtures/${b.fixture}`);
      } else if (b.lang === 'json') {
        try {
          JSON.parse(b.code);
        } catch (e) {
          problems.push(`${b.name}:${b.line}: json block does not parse (${e.message})`);
        }
      }
    }
    const marked = blocks.filter((b) => b.fixture).length;
    console.log(`     ${blocks.length} code blocks in ${docs.length} files, ${marked} fixture recipes`);
    return { passed: problems.length ? 0 : 1, failed: problems.length, failures: problems };
  });
  const tsDir = await step('typescript fixture: npm install <tarball>', () => prepareFixture('typescript', tarball));
  if (tsDir) {
    const dir = join(work, 'typescript');
    const snippets = compilableSnippets(blocks);
    for (const s of snippets) {
      mkdirSync(join(dir, 'snippets', s.env), { recursive: true });
      writeFileSync(join(dir, 'snippets', s.env, s.fileName), s.code);
    }
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    for (const [project, what] of [['tsconfig.node.json', 'Node: lib es2022 only, no DOM, nodenext'], ['tsconfig.browser.json', 'browser: DOM, moduleResolution bundler']]) {
      const count = snippets.filter((s) => s.env === (project.includes('node') ? 'node' : 'browser')).length;
      await step(`typescript (${what}, strict, skipLibCheck false): the declarations and ${count} README/docs snippets compile`, async () => {
        await sh(process.execPath, [tsc, '-p', project], dir).catch((e) => {
          throw new Error(`tsc -p ${project}:\n${e.stdout || e.stderr}`);
        });
      });
    }
  }

  // ---- browser fixtures ----
  const browserFixtures = [
    { name: 'vite', out: 'dist', what: 'Vite, zero config (vite build)' },
    { name: 'webpack', out: 'dist', page: true, what: 'webpack 5, zero config (webpack --mode production)' },
    { name: 'esbuild', out: 'dist', page: true, what: 'esbuild plus the documented copy of the runtime files' },
    { name: 'rollup', out: 'dist', page: true, what: 'Rollup with node-resolve and import-meta-assets' },
    { name: 'parcel', out: 'dist', what: 'Parcel, zero config (parcel build index.html)' },
    { name: 'next', out: 'out', dir: 'app', what: 'Next.js client component, zero config (next build)' },
  ].filter((f) => !only || only.has(f.name));
  const browser = await launchChromium();
  try {
    for (const f of browserFixtures) {
      const src = f.dir ?? 'src';
      const dir = await step(`${f.name}: npm install <tarball>`, () => prepareFixture(f.name, tarball, [[check, `${src}/check.js`], [app, `${src}/browser-app.js`]]));
      if (!dir) continue;
      const built = await step(`${f.name}: ${f.what} builds with no warning about the package`, () => buildFixture(join(work, f.name)));
      if (!built) continue;
      const out = join(work, f.name, f.out);
      if (f.page) cpSync(join(work, f.name, 'page.html'), join(out, 'index.html'));
      const server = await startServer({ '/': out });
      try {
        await step(`${f.name}: runs in headless Chromium (quantize, same bytes as the repo build; 2-worker pool)`, () =>
          runPage(browser, `${server.url}/index.html?sha=${sha}`, { prefix: `     [${f.name}]` }));
      } finally {
        await server.close();
      }
      if (f.name === 'vite') await viteDevServer(browser, join(work, 'vite'), sha);
    }

    if (!only || only.has('static')) {
      await step('static page (no bundler, an import map): runs in headless Chromium', async () => {
        const dir = await prepareFixture('static', tarball, [[check, 'check.js'], [app, 'browser-app.js']]);
        const server = await startServer({ '/': dir });
        try {
          return await runPage(browser, `${server.url}/index.html?sha=${sha}`, { prefix: '     [static]' });
        } finally {
          await server.close();
        }
      });
    }

    if (!only || only.has('diagnostics')) await diagnostics(browser, tarball);
  } finally {
    await browser.close();
  }
}

/** The Vite dev server (dependency pre-bundling on, as by default) serves a working app, quietly. */
async function viteDevServer(browser, dir, sha) {
  await step('vite: the dev server (npm run dev) serves a working app with no warning or missing source map', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = spawn('npm', ['run', '--silent', 'dev', '--', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    try {
      for (let i = 0; i < 300 && !/Local:/.test(output); i++) await new Promise((r) => setTimeout(r, 100));
      if (!/Local:/.test(output)) throw new Error(`the dev server did not start:\n${output}`);
      const r = await runPage(browser, `http://127.0.0.1:${port}/index.html?sha=${sha}`, { prefix: '     [vite dev]' });
      await new Promise((res) => setTimeout(res, 500)); // late log lines (source map lookups)
      const { bad } = buildWarnings(output);
      return bad.length ? { ...r, failed: r.failed + bad.length, failures: [...r.failures, ...bad.map((l) => `dev server: ${l}`)] } : r;
    } finally {
      child.kill('SIGTERM');
    }
  });
}

/** A bundle whose runtime files were not copied, a wrong MIME type, a CSP without 'wasm-unsafe-eval'. */
async function diagnostics(browser, tarball) {
  const dir = await step('diagnostics: esbuild without the copy step builds', async () => {
    const d = await prepareFixture('diagnostics', tarball);
    await buildFixture(d);
    return d;
  });
  if (!dir) return;
  const out = join(dir, 'dist');
  cpSync(join(dir, 'page.html'), join(out, 'page.html'));
  cpSync(join(dir, 'page.html'), join(out, 'index.html'));
  cpSync(join(dir, 'csp.html'), join(out, 'csp.html'));
  cpSync(join(dir, 'csp-onnx.html'), join(out, 'csp-onnx.html'));
  const onnx = await step('diagnostics: the ONNX model for the strict-CSP page and its output from the repo build', () => onnxReference(out));
  const server = await startServer({ '/': out, '/assets/': join(dir, 'node_modules/hqq-wasm/web/wasm') });
  try {
    const missing = [/\/hqq-simd\.wasm$/, /\/hqq-worker\.js$/];
    await step('diagnostics: a missing wasm or worker script, or a wrong MIME type, fails naming the URL and the fix', () =>
      runPage(browser, `${server.url}/index.html`, { prefix: '     [diagnostics]', allowMissing: missing }));
    await step("diagnostics: a CSP without 'wasm-unsafe-eval' fails saying to add it to script-src", () =>
      runPage(browser, `${server.url}/csp.html?csp=1`, { prefix: '     [csp]' }));
    if (onnx) {
      await step("diagnostics: under a CSP with only 'wasm-unsafe-eval', an ONNX model is read and quantized (no 'unsafe-eval' needed)", () =>
        runPage(browser, `${server.url}/csp-onnx.html?onnx=${onnx.sha}`, { prefix: '     [csp onnx]' }));
    }
  } finally {
    await server.close();
  }
}

/**
 * Writes `out/mlp.onnx` (the MLP of tests/web/onnx/models.ts, bundled from TypeScript) and returns
 * the SHA-256 of its 4-bit ONNX output from the repository's own build, which the page must match.
 */
async function onnxReference(out) {
  const { build } = await import('esbuild');
  const bundled = await build({
    stdin: { contents: "export { mlpModel } from './tests/web/onnx/models.ts';", resolveDir: root, loader: 'ts', sourcefile: 'onnx-model.ts' },
    bundle: true, platform: 'node', format: 'esm', write: false, logLevel: 'error',
  });
  const helper = join(work, 'onnx-model.mjs');
  writeFileSync(helper, bundled.outputFiles[0].contents);
  const { mlpModel } = await import(pathToFileURL(helper).href);
  const { bytes } = mlpModel();
  writeFileSync(join(out, 'mlp.onnx'), bytes);
  const pkg = await import(pathToFileURL(join(root, 'web/dist/node.js')).href);
  const hqq = await pkg.loadHQQ({ simd: true });
  const sink = pkg.memorySink();
  await pkg.quantizeModel({ sources: [pkg.bytesSource(bytes, 'mlp.onnx')], outputFileName: 'mlp_q4.onnx' }, sink, {
    onnx: { bits: 4, blockSize: 32 }, workers: 1, createPool: () => pkg.createInlinePool(hqq),
  });
  const output = new Uint8Array(await sink.files()[0].blob.arrayBuffer());
  const sha = createHash('sha256').update(output).digest('hex');
  console.log(`     mlp.onnx: ${bytes.byteLength} bytes; repo build output ${output.byteLength} bytes, SHA-256 ${sha}`);
  return { sha };
}

const t0 = performance.now();
try {
  await main();
} catch (e) {
  record('package test setup', false, e.message);
} finally {
  if (!process.env.KEEP_FIXTURES) rmSync(work, { recursive: true, force: true });
}
console.log('\ntime per step (s):');
for (const [name, s] of timings) console.log(`${s.toFixed(1).padStart(7)}  ${name}`);
console.log(`${((performance.now() - t0) / 1000).toFixed(1).padStart(7)}  total`);
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length === 0 && passed > 0 ? 0 : 1);
