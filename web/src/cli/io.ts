/** What every command gets: where to write, whether stdout is a terminal, and the usage error type. */
export interface Out {
  out(s: string): void;
  err(s: string): void;
  isTTY: boolean;
}

/** A bad command line: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

/** A warning a command collected; with --strict any warning makes the exit code 1. */
export interface CliWarning {
  code: string;
  message: string;
}

export function printWarnings(io: Out, warnings: readonly CliWarning[]): void {
  for (const w of warnings) io.err(`hqq-wasm: warning [${w.code}]: ${w.message}\n`);
}

/**
 * Exit code after warnings: 0, or 1 with --strict (saying so on stderr). `when` says what happens
 * to the output, e.g. "before writing anything".
 */
export function strictExit(io: Out, warnings: readonly CliWarning[], strict: boolean, when: string): number {
  if (!strict || warnings.length === 0) return 0;
  io.err(`hqq-wasm: --strict: ${warnings.length} warning(s) count as errors; failing ${when}\n`);
  return 1;
}
