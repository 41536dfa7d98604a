#!/usr/bin/env node
// Launcher for the hqq-wasm CLI (compiled TypeScript in web/dist; build with `npm run build`).
let cli;
let signals;
try {
  cli = await import('../web/dist/cli.js');
  signals = await import('../web/dist/node-signals.js');
} catch (e) {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes('dist')) {
    process.stderr.write('hqq-wasm: web/dist/cli.js is missing; build the package first (npm run build)\n');
    process.exit(1);
  }
  throw e;
}
// A closed stdout/stderr (`hqq-wasm ... | head`): Node ignores SIGPIPE, so writes fail with EPIPE.
// While a run is writing an output, that aborts it like a signal (SIGPIPE: it cleans up, leaves
// the output as it was, and exits 141; docs/outputs.md). Otherwise (inspect, help, a finished
// run's summary) the closed pipe just ends the output. Once stopping, later write errors on closed
// streams are expected and ignored: the exit code comes from main().
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (!e || (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED')) throw e;
    if (signals.terminationExitCode() !== undefined) return;
    if (signals.hasActiveRuns()) signals.terminate('SIGPIPE');
    else process.exit(process.exitCode ?? 0);
  });
}
process.exitCode = await cli.main(process.argv.slice(2));
