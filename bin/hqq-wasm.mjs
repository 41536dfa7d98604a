#!/usr/bin/env node
// Launcher for the hqq-wasm CLI (compiled TypeScript in web/dist; build with `npm run build`).
let cli;
try {
  cli = await import('../web/dist/cli.js');
} catch (e) {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist')) {
    process.stderr.write('hqq-wasm: web/dist/cli.js is missing; build the package first (npm run build)\n');
    process.exit(1);
  }
  throw e;
}
// `hqq-wasm inspect big.safetensors | head`: a closed pipe ends the output, it is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e && e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
process.exitCode = await cli.main(process.argv.slice(2));
