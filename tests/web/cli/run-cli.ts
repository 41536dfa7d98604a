/** Runs the built CLI (bin/hqq-wasm.mjs over web/dist) as a child process, as users run it. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'bin/hqq-wasm.mjs');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `hqq-wasm ...args` from the repository root; `env` is added to this process's environment. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Fails a suite early, saying what to do, when the package has not been built. */
export function requireBuiltCli(): void {
  if (!existsSync(join(ROOT, 'web/dist/cli.js'))) {
    throw new Error('web/dist/cli.js is missing: run `bash scripts/build.sh` first (the CLI runs the compiled package)');
  }
}
