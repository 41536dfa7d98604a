// What `npm pack` must hold, checked on its file list and the packed files themselves: the runtime
// files and nothing else (no sources, tests, test helpers, synthetic-model generator), every relative
// import resolving inside the tarball, every source map comment pointing at a shipped map that
// carries its sources, README/doc links resolving inside the tarball, and the manifest fields npm
// shows.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

export const REQUIRED = [
  'package.json', 'README.md', 'LICENSE', 'bin/hqq-wasm.mjs', 'docs/bundlers.md', 'docs/models.md',
  'web/dist/index.js', 'web/dist/index.d.ts', 'web/dist/node.js', 'web/dist/node.d.ts', 'web/dist/worker.d.ts', 'web/dist/common.js',
  'web/dist/engine.js', 'web/dist/errors.js', 'web/dist/wasm-loader.js', 'web/dist/cli.js',
  'web/wasm/hqq-simd.wasm', 'web/wasm/hqq-scalar.wasm', 'web/wasm/hqq.mjs', 'web/wasm/hqq.d.mts', 'web/wasm/assets.mjs', 'web/wasm/hqq-worker.js',
];
const ALLOWED = /^(package\.json|README\.md|CHANGELOG\.md|LICENSE|bin\/hqq-wasm\.mjs|docs\/[a-z-]+\.md|web\/dist\/.+\.(js|js\.map|d\.ts)|web\/wasm\/(hqq-(simd|scalar)\.wasm|hqq\.mjs|hqq\.d\.mts|assets\.mjs|assets\.d\.mts|hqq-worker\.js))$/;
const FORBIDDEN = [
  [/^web\/src\//, 'TypeScript sources'], [/synthetic/, 'the synthetic-model generator (a test helper)'],
  [/\.test\.|\.spec\.|^tests\//, 'tests'], [/^web\/dist\/worker\.js/, 'the unbundled worker (hqq-wasm/worker is web/wasm/hqq-worker.js)'],
  [/^(cpp|build|scripts|cmake|bench|demo|node_modules)\//, 'repository files'], [/\.png$/, 'images'],
];

/** Problems with the tarball's file list and files (`root` is the unpacked package). */
export function checkContents(files, root) {
  const problems = [];
  const set = new Set(files);
  for (const f of REQUIRED) if (!set.has(f)) problems.push(`missing ${f}`);
  for (const f of files) {
    if (!ALLOWED.test(f)) problems.push(`unexpected file ${f}`);
    for (const [re, what] of FORBIDDEN) if (re.test(f)) problems.push(`${f}: ${what} must not ship`);
  }
  for (const f of files.filter((x) => /\.(m?js)$/.test(x))) {
    const code = readFileSync(join(root, f), 'utf8');
    for (const m of code.matchAll(/(?:^|[;\s])(?:import|export)\b[^'"`;]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|new URL\(\s*['"](\.[^'"]+)['"]\s*,\s*import\.meta\.url/gm)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const target = normalize(join(dirname(f), spec));
      if (!set.has(target)) problems.push(`${f} refers to ${spec}, which the tarball lacks`);
    }
    const map = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(code)?.[1];
    if (map) {
      const mapFile = normalize(join(dirname(f), map));
      if (!set.has(mapFile)) problems.push(`${f} points at the source map ${map}, which the tarball lacks`);
      else {
        const json = JSON.parse(readFileSync(join(root, mapFile), 'utf8'));
        if (!Array.isArray(json.sourcesContent) || json.sourcesContent.length !== json.sources.length || json.sourcesContent.some((s) => typeof s !== 'string')) {
          problems.push(`${mapFile} does not carry its sources (sourcesContent), and the sources do not ship`);
        }
      }
    }
  }
  for (const doc of files.filter((x) => x.endsWith('.md'))) {
    let text = readFileSync(join(root, doc), 'utf8');
    // The contributor section may link repository files (it is about the repository).
    if (doc === 'README.md') text = text.replace(/^## Contributing[\s\S]*?(?=^## |$(?![\s\S]))/m, '');
    for (const m of text.matchAll(/\]\((?!https?:|#|mailto:)([^)\s#]+)(#[^)\s]*)?\)/g)) {
      const target = normalize(join(dirname(doc), m[1]));
      if (!set.has(target)) problems.push(`${doc} links ${m[1]}, which the tarball lacks`);
    }
  }
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const key of ['repository', 'homepage', 'keywords', 'engines', 'license', 'description', 'types', 'exports']) {
    if (manifest[key] === undefined) problems.push(`package.json has no ${key}`);
  }
  if (!manifest.scripts?.prepack) problems.push('package.json has no prepack script (a pack from a fresh checkout would miss web/dist)');
  if (!existsSync(join(root, 'web/wasm/hqq-worker.js'))) problems.push('no worker bundle');
  return problems;
}
