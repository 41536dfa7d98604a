// Browser test driver: serves the repository (and the reference data under /ref/) on 127.0.0.1,
// opens tests/browser/index.html in headless Chromium and reports `N passed, M failed`.
// Usage: node tests/browser/run.mjs [--no-bench]
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchChromium, runPage } from './chromium.mjs';
import { startServer } from './server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const refDir = process.env.HQQ_REF_DIR ? resolve(process.env.HQQ_REF_DIR) : resolve(root, '../shared/testdata/hqq-ref');
const bench = !process.argv.includes('--no-bench');

for (const [what, path] of [['reference data', resolve(refDir, 'manifest.json')], ['built package (run bash scripts/build.sh)', resolve(root, 'web/dist/index.js')],
  ['SIMD wasm (run bash scripts/build.sh)', resolve(root, 'web/wasm/hqq-simd.wasm')], ['scalar wasm (run bash scripts/build.sh)', resolve(root, 'web/wasm/hqq-scalar.wasm')]]) {
  if (!existsSync(path)) {
    console.error(`missing ${what}: ${path}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const server = await startServer({ '/': root, '/ref/': refDir });
const browser = await launchChromium();
let result;
try {
  console.log(`Chromium ${browser.version()}, serving ${root} at ${server.url}`);
  result = await runPage(browser, `${server.url}/tests/browser/index.html?ref=/ref/&bench=${bench ? 1 : 0}`, { prefix: '[chromium]', allowMissing: [/\/web\/wasm\/missing\.wasm$/] });
} finally {
  await browser.close();
  await server.close();
}
for (const f of result.failures) console.log(`FAILED: ${f}`);
console.log(`${result.passed} passed, ${result.failed} failed`);
process.exit(result.failed === 0 && result.passed > 0 ? 0 : 1);
