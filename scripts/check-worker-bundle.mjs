// Checks that the pool's worker bundle (web/wasm/hqq-worker.js) is self-contained: no imports, no
// module-relative URLs. A bundler may copy it as a plain asset, so nothing in it may point elsewhere.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const code = readFileSync(file, 'utf8');
const problems = [
  [/^\s*import[\s{*"']/m, 'a static import'],
  [/\bimport\s*\(/, 'a dynamic import()'],
  [/import\.meta/, 'import.meta'],
  [/new\s+URL\s*\(/, 'new URL(...)'],
  [/^\s*export\s/m, 'an export'],
].filter(([re]) => re.test(code)).map(([, what]) => what);
if (problems.length) {
  console.error(`check-worker-bundle: ${file} contains ${problems.join(', ')}; it must be one self-contained worker script`);
  process.exit(1);
}
