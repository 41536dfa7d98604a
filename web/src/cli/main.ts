/**
 * The `hqq-wasm` command line (Node), on commander. `main(argv, io)` returns the exit code:
 *   0 success, 1 failure (or a warning with --strict), 2 usage error, 128 + N stopped by signal N
 *   (130 SIGINT/Ctrl-C, 143 SIGTERM, 129 SIGHUP, 141 stdout closed): the output was left as it was.
 * One file per command (quantize.ts, merge.ts, inspect.ts, dequantize.ts); a command declares its flags in
 * its define*() function, one line each.
 */
import { terminationExitCode } from '../node-signals.js';
import { Command, CommanderError } from 'commander';
import { HQQError } from '../errors.js';
import { HQQ_WASM_VERSION } from '../model/plan.js';
import { defineDequantize, runDequantize, type DequantizeFlags } from './dequantize.js';
import { defineInspect, runInspect, type InspectFlags } from './inspect.js';
import { defineMerge, runMerge, type MergeFlags } from './merge.js';
import { UsageError, type Out } from './io.js';
import { defineQuantize, runQuantize, type QuantizeFlags } from './quantize.js';

export type { Out } from './io.js';

const COMMANDS = ['quantize', 'merge', 'inspect', 'dequantize'] as const;

const EXAMPLES = `
Examples:
  hqq-wasm quantize model.safetensors -o model-hqq4.safetensors --nbits 4 --group-size 64
  hqq-wasm quantize model.safetensors.index.json -o out/ --tensor-config 'mlp\\..*=2:16'
  hqq-wasm quantize ./Llama-folder -o out/ --shard 2/4      (part 2 of 4; then: hqq-wasm merge out/)
  hqq-wasm inspect model-hqq4.safetensors
  hqq-wasm dequantize model-hqq4.safetensors -o restored.safetensors --dtype float32

Run "hqq-wasm <command> --help" for the options of a command.
Exit codes: 0 success, 1 failure (with --strict also a warning), 2 usage error, 128+N stopped by
signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP, 141 stdout closed): the output is left as it was,
no temporary stays behind (docs/outputs.md).
`;

function program(io: Out, args: readonly string[], result: { code: number }): Command {
  const root = new Command('hqq-wasm')
    .description(`hqq-wasm ${HQQ_WASM_VERSION}: Half-Quadratic Quantization of safetensors models (WebAssembly)`)
    .version(HQQ_WASM_VERSION, '-v, --version', 'print the version')
    .helpOption('-h, --help', 'this help')
    .addHelpText('after', EXAMPLES);
  const configure = (c: Command) =>
    c.exitOverride()
      .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s), outputError: () => {} })
      .showSuggestionAfterError(true)
      .configureHelp({ helpWidth: 110 });
  configure(root);
  const sub = (name: string) => configure(root.command(name)).helpOption('-h, --help', 'this help');
  defineQuantize(sub('quantize')).action(async (inputs: string[], flags: QuantizeFlags) => {
    result.code = await runQuantize(inputs, flags, io, args);
  });
  defineMerge(sub('merge')).action(async (outputs: string[], flags: MergeFlags) => {
    result.code = await runMerge(outputs, flags, io);
  });
  defineInspect(sub('inspect')).action(async (files: string[], flags: InspectFlags) => {
    result.code = await runInspect(files, flags, io);
  });
  defineDequantize(sub('dequantize')).action(async (inputs: string[], flags: DequantizeFlags) => {
    result.code = await runDequantize(inputs, flags, io);
  });
  return root;
}

/** commander's messages in this CLI's wording ("--nbits needs a value", ...). */
function usageText(e: CommanderError): string {
  const m = e.message.replace(/^error: /, '');
  switch (e.code) {
    case 'commander.unknownOption':
      return m.replace(/^unknown option '([^']+)'/, 'unknown option $1');
    case 'commander.optionMissingArgument':
      return m.replace(/^option '(?:-\w, )?(--?[\w-]+)[^']*' argument missing$/, '$1 needs a value');
    case 'commander.unknownCommand':
      return m.replace(/^unknown command '([^']+)'/, `unknown command "$1"; use ${COMMANDS.join(', ').replace(/, (\w+)$/, ' or $1')}`);
    default:
      return m;
  }
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: Out = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stdout.isTTY),
}): Promise<number> {
  const result = { code: 0 };
  const root = program(io, argv, result);
  if (argv.length === 0) {
    io.err(root.helpInformation() + EXAMPLES);
    return 2;
  }
  const cmd = (COMMANDS as readonly string[]).includes(argv[0]!) ? argv[0] : undefined;
  try {
    await root.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      e = new UsageError(usageText(e));
    }
    if (e instanceof UsageError) {
      io.err(`hqq-wasm: usage error: ${e.message}\nRun "hqq-wasm ${cmd ? `${cmd} ` : ''}--help" for usage.\n`);
      return 2;
    }
    if (e instanceof HQQError && e.code === 'ABORTED') {
      io.err(`hqq-wasm: interrupted: ${e.message}\n`);
      return terminationExitCode() ?? 130;
    }
    if (e instanceof HQQError) {
      io.err(`hqq-wasm: error [${e.code}]: ${e.message}\n`);
      return 1;
    }
    io.err(`hqq-wasm: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}
