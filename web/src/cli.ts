/**
 * The `hqq-wasm` command line (bin/hqq-wasm.mjs imports this file's compiled form). The commands
 * live in cli/: main.ts (dispatch, exit codes), one file per command, format.ts and progress.ts.
 */
export { main, type Out } from './cli/main.js';
export { formatBytes, tensorLine } from './cli/format.js';
