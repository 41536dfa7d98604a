// Turns the Emscripten glue of one wasm build into the package's web/wasm/hqq.mjs, and checks the
// result stays bundler-neutral.
//
// The loader always hands the glue a compiled WebAssembly.Module (instantiateWasm), so the glue
// never locates, fetches or reads a .wasm file itself. Emscripten 3.1.6 still writes a default
// `new URL("<name>.wasm", import.meta.url)` and keeps `import.meta.url` for its script directory.
// Bundlers follow such references: webpack fails on the missing file, Vite warns, Rollup's asset
// plugins error, esbuild keeps a URL that names a file the package does not ship. Both go here.
//
// usage: node scripts/patch-glue.mjs <build glue .mjs> <base name in the glue> <output .mjs>
import { readFileSync, writeFileSync } from 'node:fs';

const [input, baseName, output] = process.argv.slice(2);
if (!input || !baseName || !output) {
  console.error('usage: node scripts/patch-glue.mjs <glue.mjs> <base name, e.g. hqq-simd> <out.mjs>');
  process.exit(2);
}

let glue = readFileSync(input, 'utf8').replaceAll(baseName, 'hqq');

/** Replaces `from` exactly once; a glue whose shape changed fails the build instead of shipping. */
function replaceOnce(from, to, why) {
  const count = glue.split(from).length - 1;
  if (count !== 1) {
    console.error(`patch-glue: expected exactly one ${JSON.stringify(from)} in ${input} (${why}), found ${count}.`);
    console.error('  The Emscripten glue changed shape: update scripts/patch-glue.mjs for it.');
    process.exit(1);
  }
  glue = glue.replace(from, to);
}

// The default wasm location (used only when no instantiateWasm is given, which never happens).
replaceOnce('wasmBinaryFile=new URL("hqq.wasm",import.meta.url).toString()', 'wasmBinaryFile=""', 'the default wasm URL');
// The script directory only feeds locateFile, for that same default.
replaceOnce('var _scriptDir = import.meta.url;', 'var _scriptDir = "";', 'the script directory');

// What must stay gone: anything a bundler treats as a file reference or a module-relative URL.
const leftovers = [/new\s+URL\s*\(/, /import\.meta/, /\bimport\s*\(/, /new\s+Worker\s*\(/];
const found = leftovers.filter((re) => re.test(glue));
if (found.length) {
  console.error(`patch-glue: ${output} still contains ${found.map(String).join(', ')}; bundlers would follow it. Fix scripts/patch-glue.mjs.`);
  process.exit(1);
}
writeFileSync(output, glue);
