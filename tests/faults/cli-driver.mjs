#!/usr/bin/env node
/**
 * A CLI process that runs several commands in a row, for tests/faults/kill-points.mjs: each line on
 * stdin is a JSON `{ argv, env }`; the driver sets `env`, runs the compiled CLI's `main(argv)` (the
 * code bin/hqq-wasm.mjs runs, with the same process-wide signal handling), and reports on stderr
 *
 *     hqq-wasm-driver-start
 *     ... the CLI's own stderr ...
 *     hqq-wasm-driver-exit <code>
 *
 * A handled SIGINT/SIGTERM ends the current command (exit 130/143) and the driver takes the next
 * one: several kills per process start. SIGKILL, or a signal that arrives while no command runs its
 * handlers, ends the driver like any CLI process.
 */
import { writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

const cli = await import(new URL('../../web/dist/cli.js', import.meta.url).href);
const err = (s) => {
  try {
    writeSync(2, s);
  } catch {
    /* the test went away */
  }
};
const io = { out() {}, err, isTTY: false };
err('hqq-wasm-driver-ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { argv, env } = JSON.parse(line);
  for (const [k, v] of Object.entries(env ?? {})) process.env[k] = v;
  err('hqq-wasm-driver-start\n');
  const code = await cli.main(argv, io);
  err(`hqq-wasm-driver-exit ${code}\n`);
}
