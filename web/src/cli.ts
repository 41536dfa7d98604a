/**
 * The `hqq-wasm` command line (Node). `main(argv)` returns the exit code:
 *   0 success, 1 failure, 2 usage error, 128 + N stopped by signal N (130 SIGINT/Ctrl-C, 143 SIGTERM,
 *   129 SIGHUP, 141 stdout closed): the output was left as it was (docs/outputs.md).
 */
import { SUPPORTED_NBITS, type Nbits } from './engine.js';
import { HQQError } from './errors.js';
import { COMPUTE_DTYPES, type ComputeDtype } from './model/hqqlinear.js';
import { HQQ_WASM_VERSION, parseTensorOverride, resolveModelConfig, type ModelQuantConfig } from './model/plan.js';
import { TEST_HOOKS, type ModelProgressEvent, type QuantizeModelReport, type TensorReport } from './model/quantize-model.js';
import {
  dequantizeModelFile, inspectModelFile, quantizeModelFiles, type DequantizeDtype, type InspectReport,
} from './node-model.js';
import { terminationExitCode } from './node-signals.js';

class UsageError extends Error {}

interface Out {
  out(s: string): void;
  err(s: string): void;
  isTTY: boolean;
}

const MAIN_HELP = `hqq-wasm ${HQQ_WASM_VERSION}: Half-Quadratic Quantization of safetensors models (WebAssembly)

Usage:
  hqq-wasm quantize <model.safetensors | model.safetensors.index.json> -o <output> [options]
  hqq-wasm inspect <file.safetensors | index.json> [--json]
  hqq-wasm dequantize <file.safetensors> -o <out.safetensors> [--dtype float32|float16|bfloat16]

Run "hqq-wasm <command> --help" for the options of a command.
Exit codes: 0 success, 1 failure, 2 usage error, 128+N stopped by signal N (130 Ctrl-C, 143 SIGTERM,
129 SIGHUP, 141 stdout closed): the output is left as it was, no temporary stays behind.
`;

const QUANTIZE_HELP = `Usage: hqq-wasm quantize <model.safetensors | model.safetensors.index.json> -o <output> [options]

Quantizes every linear weight into the reference HQQLinear layout. Single file: -o is the output
file, an existing folder, or dir/ (a new folder). Sharded (index.json): -o is the output folder (new,
empty, or made by hqq-wasm; shards keep their names, a new index.json is written) or the new
index.json path. The output appears at once when complete; an interrupted run leaves the previous
output as it was (docs/outputs.md).

Options:
  -o, --output <path>          output file / folder (not needed with --dry-run)
  --nbits <n>                  bits per weight: ${SUPPORTED_NBITS.join(', ')} (default 4)
  --group-size <n>             values per group (default 64)
  --axis <0|1>                 grouping axis (default 1)
  --no-optimize                plain round-to-nearest (no HQQ solver)
  --round-zero                 round the initial zero point (default: on for 4-bit, as the reference)
  --no-round-zero              do not round the zero point
  --compute-dtype <dtype>      scale/zero dtype: float16 (default), bfloat16, float32
  --include <regex>            quantize only matching tensors (also overrides the built-in skips)
  --exclude <regex>            never quantize matching tensors
  --tensor-config <RE=BITS:GROUP>  per-tensor bits/group size; repeatable; first match wins
  --workers <n>                worker threads (default: all cores)
  --compare-rtn                also report plain round-to-nearest errors
  --dry-run                    print the plan (sizes, bits per weight) without quantizing
  --json                       print a machine-readable JSON report instead of text
  -h, --help                   this help
`;

const INSPECT_HELP = `Usage: hqq-wasm inspect <file.safetensors | model.safetensors.index.json> [--json]

Lists tensors with dtype, shape and size; for quantized files the HQQ config of every layer.

Options:
  --json       machine-readable output
  -h, --help   this help
`;

const DEQUANTIZE_HELP = `Usage: hqq-wasm dequantize <file.safetensors> -o <out.safetensors> [--dtype float32|float16|bfloat16]

Turns every HQQLinear layer (<name>.W_q, scale, zero, ...) back into <name>.weight; other tensors
are copied unchanged.

Options:
  -o, --output <path>   output file
  --dtype <dtype>       float32, float16 or bfloat16 (default: each layer's compute dtype)
  --json                print a JSON report
  -h, --help            this help
`;

interface FlagSpec {
  [flag: string]: 'value' | 'bool' | 'multi';
}

function parseFlags(args: string[], spec: FlagSpec, aliases: Record<string, string> = {}): { positional: string[]; flags: Map<string, string | true | string[]> } {
  const positional: string[] = [];
  const flags = new Map<string, string | true | string[]>();
  for (let i = 0; i < args.length; i++) {
    let a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const name = aliases[a] ?? a;
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option ${a}`);
    if (kind === 'bool') {
      if (inline !== undefined) throw new UsageError(`${a} takes no value`);
      flags.set(name, true);
      continue;
    }
    let v = inline;
    if (v === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
      v = args[++i]!;
    }
    if (kind === 'multi') {
      const prev = flags.get(name);
      flags.set(name, [...(Array.isArray(prev) ? prev : []), v]);
    } else {
      if (flags.has(name)) throw new UsageError(`${a} is given twice`);
      flags.set(name, v);
    }
  }
  return { positional, flags };
}

function str(flags: Map<string, unknown>, name: string): string | undefined {
  const v = flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

function intFlag(flags: Map<string, unknown>, name: string, min: number): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new UsageError(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return Number(v);
}

// ------------------------------------------------------------------------------------------------
// formatting

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(2)} KiB`;
  return `${n} B`;
}

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}

function qLabel(r: { nbits?: number; groupSize?: number }): string {
  return `q${r.nbits} g${r.groupSize}`;
}

/** One llama-quantize-like line per tensor. */
export function tensorLine(r: TensorReport, index: number, total: number, planned = false): string {
  const w = String(total).length;
  const head = `[${String(index).padStart(w + 1)}/${String(total).padStart(w + 1)}] ${r.name}  [${r.shape.join(', ')}]  ${r.dtype}`;
  if (r.action === 'copy') return `${head} -> copy  ${formatBytes(r.bytesBefore)}  (${r.reason})`;
  const sizes = `${formatBytes(r.bytesBefore)} -> ${formatBytes(r.bytesAfter)}  ${r.bitsPerWeight.toFixed(2)} bpw`;
  if (planned || r.meanAbs === undefined) return `${head} -> ${qLabel(r)}  ${sizes}`;
  const rtn = r.rtn ? `  (rtn ${r.rtn.meanAbs.toExponential(1)})` : '';
  return `${head} -> ${qLabel(r)}  ${sizes}  mean|err| ${r.meanAbs.toExponential(1)}${rtn}`;
}

function summaryLines(r: QuantizeModelReport, outputs: string[]): string[] {
  const t = r.totals;
  const lines = [
    `${r.dryRun ? 'plan: would quantize' : 'quantized'} ${t.quantized} of ${t.tensors} tensors (${formatCount(t.quantizedParameters)} of ${formatCount(t.parameters)} parameters), ${t.copied} copied`,
    `size: ${formatBytes(t.bytesBefore)} -> ${formatBytes(t.fileBytes)} (quantized weights ${formatBytes(t.quantizedBytesBefore)} -> ${formatBytes(t.quantizedBytesAfter)}, ${t.bitsPerWeight.toFixed(3)} bits per weight)`,
  ];
  if (!r.dryRun) {
    lines.push(`time: ${r.seconds.toFixed(1)} s with ${r.workers} worker${r.workers === 1 ? '' : 's'} (${formatCount(t.quantizedParameters / Math.max(r.seconds, 1e-9))} params/s)`);
    if (t.quantized > 0) {
      lines.push(`error: mean|err| ${r.meanAbs.toExponential(3)}, relative Frobenius ${r.relFrobenius.toFixed(4)}${r.rtn ? ` (round-to-nearest: ${r.rtn.meanAbs.toExponential(3)}, ${r.rtn.relFrobenius.toFixed(4)})` : ''}`);
    }
    for (const o of outputs) lines.push(`wrote ${o}`);
  }
  return lines;
}

function progressBar(e: ModelProgressEvent): string {
  const frac = e.bytesTotal > 0 ? e.bytesDone / e.bytesTotal : 1;
  const width = 30;
  const fill = Math.round(frac * width);
  return `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${formatBytes(e.bytesDone)} / ${formatBytes(e.bytesTotal)}  ETA ${formatSeconds(e.etaSeconds)}`;
}

// ------------------------------------------------------------------------------------------------
// commands

async function cmdQuantize(args: string[], io: Out): Promise<number> {
  const { positional, flags } = parseFlags(args, {
    '--output': 'value', '--nbits': 'value', '--group-size': 'value', '--axis': 'value', '--no-optimize': 'bool',
    '--round-zero': 'bool', '--no-round-zero': 'bool', '--compute-dtype': 'value', '--include': 'value', '--exclude': 'value',
    '--tensor-config': 'multi', '--workers': 'value', '--dry-run': 'bool', '--json': 'bool', '--compare-rtn': 'bool', '--help': 'bool',
  }, { '-o': '--output', '-h': '--help' });
  if (flags.has('--help')) {
    io.out(QUANTIZE_HELP);
    return 0;
  }
  if (positional.length === 0) throw new UsageError('quantize needs an input file (model.safetensors or model.safetensors.index.json)');
  if (positional.length > 1) throw new UsageError(`quantize takes one input, got ${positional.length}: ${positional.join(' ')}`);
  const dryRun = flags.has('--dry-run');
  const output = str(flags, '--output');
  const cfg: ModelQuantConfig = {};
  const nb = str(flags, '--nbits');
  if (nb !== undefined) {
    if (!SUPPORTED_NBITS.includes(Number(nb) as Nbits) || nb.trim() === '') throw new UsageError(`--nbits must be one of ${SUPPORTED_NBITS.join(', ')}, got ${JSON.stringify(nb)}`);
    cfg.nbits = Number(nb) as Nbits;
  }
  cfg.groupSize = intFlag(flags, '--group-size', 1);
  const axis = str(flags, '--axis');
  if (axis !== undefined) {
    if (axis !== '0' && axis !== '1') throw new UsageError(`--axis must be 0 or 1, got ${JSON.stringify(axis)}`);
    cfg.axis = Number(axis) as 0 | 1;
  }
  if (flags.has('--no-optimize')) cfg.optimize = false;
  if (flags.has('--round-zero') && flags.has('--no-round-zero')) throw new UsageError('--round-zero and --no-round-zero contradict each other');
  if (flags.has('--round-zero')) cfg.roundZero = true;
  if (flags.has('--no-round-zero')) cfg.roundZero = false;
  const cd = str(flags, '--compute-dtype');
  if (cd !== undefined) {
    if (!COMPUTE_DTYPES.includes(cd as ComputeDtype)) throw new UsageError(`--compute-dtype must be one of ${COMPUTE_DTYPES.join(', ')}, got ${JSON.stringify(cd)}`);
    cfg.computeDtype = cd as ComputeDtype;
  }
  for (const [flag, key] of [['--include', 'include'], ['--exclude', 'exclude']] as const) {
    const v = str(flags, flag);
    if (v === undefined) continue;
    try {
      new RegExp(v);
    } catch (e) {
      throw new UsageError(`${flag}: ${JSON.stringify(v)} is not a valid regular expression (${(e as Error).message})`);
    }
    cfg[key] = v;
  }
  const tc = flags.get('--tensor-config');
  if (Array.isArray(tc)) {
    cfg.tensorConfig = tc.map((t) => {
      try {
        return parseTensorOverride(t, cfg.groupSize ?? 64);
      } catch (e) {
        throw new UsageError(`--tensor-config: ${(e as Error).message}`);
      }
    });
  }
  const workers = intFlag(flags, '--workers', 1);
  try {
    resolveModelConfig(cfg);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!output && !dryRun) throw new UsageError('quantize needs -o <output> (or --dry-run)');
  const json = flags.has('--json');
  const crash = process.env.HQQ_WASM_TEST_CRASH_ON; // test-only failure injection: NAME or NAME:exit
  const testHooks = crash ? { crashOn: crash.replace(/:exit$/, ''), crashMode: crash.endsWith(':exit') ? ('exit' as const) : ('throw' as const) } : undefined;

  let barShown = false;
  let lastBar = 0;
  const clearBar = () => {
    if (barShown) {
      io.out('\r\x1b[K');
      barShown = false;
    }
  };
  const onProgress = json
    ? undefined
    : (e: ModelProgressEvent) => {
        if (e.type === 'tensor-done' && e.result) {
          clearBar();
          io.out(tensorLine(e.result, e.index, e.total) + '\n');
        }
        const now = performance.now();
        if (io.isTTY && e.type !== 'tensor-start' && (e.type === 'tensor-done' || now - lastBar > 100)) {
          lastBar = now;
          clearBar();
          io.out(progressBar(e));
          barShown = true;
        }
      };
  const runOptions = {
    ...cfg, workers, dryRun, compareRtn: flags.has('--compare-rtn'), onProgress, handleSignals: true,
    onNotice: (m: string) => io.err(`hqq-wasm: ${m}\n`),
  };
  if (testHooks) Object.assign(runOptions, { [TEST_HOOKS]: testHooks });
  const report = await quantizeModelFiles(positional[0]!, output, runOptions).finally(clearBar);
  if (json) {
    io.out(JSON.stringify({ command: 'quantize', input: positional[0], output: output ?? null, ...report }, null, 2) + '\n');
    return 0;
  }
  if (dryRun) report.tensors.forEach((r, i) => io.out(tensorLine(r, i + 1, report.tensors.length, true) + '\n'));
  for (const l of summaryLines(report, report.outputPaths)) io.out(l + '\n');
  return 0;
}

function printInspect(r: InspectReport, io: Out): void {
  for (const f of r.files) {
    io.out(`${f.path}  ${formatBytes(f.size)}  ${f.tensors.length} tensors  ${formatCount(f.parameters)} elements\n`);
    const meta = Object.entries(f.metadata);
    for (const [k, v] of meta) io.out(`  metadata ${k} = ${v.length > 200 ? v.slice(0, 200) + '...' : v}\n`);
    const w = Math.max(...f.tensors.map((t) => t.name.length), 4);
    for (const t of f.tensors) {
      io.out(`  ${t.name.padEnd(w)}  ${t.dtype.padEnd(4)}  ${`[${t.shape.join(', ')}]`.padEnd(16)}  ${formatBytes(t.bytes)}\n`);
    }
    if (f.layers.length > 0) {
      io.out(`  HQQ layers: ${f.layers.length}\n`);
      for (const l of f.layers) {
        io.out(`  ${l.prefix.slice(0, -1).padEnd(w)}  q${l.nbits} g${l.groupSize} axis ${l.axis}  [${l.shape.join(', ')}]  ${l.packing}  ${l.computeDtype}${l.optimize !== undefined ? `  optimize ${l.optimize ? 1 : 0}` : ''}${l.roundZero !== undefined ? `  round_zero ${l.roundZero ? 1 : 0}` : ''}\n`);
      }
    }
  }
}

async function cmdInspect(args: string[], io: Out): Promise<number> {
  const { positional, flags } = parseFlags(args, { '--json': 'bool', '--help': 'bool' }, { '-h': '--help' });
  if (flags.has('--help')) {
    io.out(INSPECT_HELP);
    return 0;
  }
  if (positional.length !== 1) throw new UsageError(`inspect takes exactly one file, got ${positional.length}`);
  const r = await inspectModelFile(positional[0]!);
  if (flags.has('--json')) io.out(JSON.stringify({ command: 'inspect', ...r }, null, 2) + '\n');
  else printInspect(r, io);
  return 0;
}

async function cmdDequantize(args: string[], io: Out): Promise<number> {
  const { positional, flags } = parseFlags(args, { '--output': 'value', '--dtype': 'value', '--json': 'bool', '--help': 'bool' }, { '-o': '--output', '-h': '--help' });
  if (flags.has('--help')) {
    io.out(DEQUANTIZE_HELP);
    return 0;
  }
  if (positional.length !== 1) throw new UsageError(`dequantize takes exactly one input file, got ${positional.length}`);
  const output = str(flags, '--output');
  if (!output) throw new UsageError('dequantize needs -o <out.safetensors>');
  const dtype = str(flags, '--dtype');
  if (dtype !== undefined && !['float32', 'float16', 'bfloat16'].includes(dtype)) throw new UsageError(`--dtype must be float32, float16 or bfloat16, got ${JSON.stringify(dtype)}`);
  const json = flags.has('--json');
  const r = await dequantizeModelFile(positional[0]!, output, {
    dtype: dtype as DequantizeDtype | undefined,
    handleSigint: true,
    onTensor: json ? undefined : (e) => {
      const w = String(e.total).length;
      io.out(`[${String(e.index).padStart(w + 1)}/${String(e.total).padStart(w + 1)}] ${e.name}  [${e.shape.join(', ')}]  ${e.action === 'dequantize' ? `-> ${e.dtype}` : `${e.dtype} copy`}\n`);
    },
  });
  if (json) io.out(JSON.stringify({ command: 'dequantize', input: positional[0], ...r }, null, 2) + '\n');
  else io.out(`dequantized ${r.layers} layers, copied ${r.copied} tensors, ${formatBytes(r.bytes)} in ${r.seconds.toFixed(1)} s\nwrote ${r.outputPath}\n`);
  return 0;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], io: Out = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stdout.isTTY),
}): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
        io.err(MAIN_HELP);
        return 2;
      case '-h':
      case '--help':
      case 'help':
        io.out(MAIN_HELP);
        return 0;
      case '-v':
      case '--version':
        io.out(`${HQQ_WASM_VERSION}\n`);
        return 0;
      case 'quantize':
        return await cmdQuantize(rest, io);
      case 'inspect':
        return await cmdInspect(rest, io);
      case 'dequantize':
        return await cmdDequantize(rest, io);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(cmd)}; use quantize, inspect or dequantize`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`hqq-wasm: usage error: ${e.message}\nRun "hqq-wasm ${cmd && ['quantize', 'inspect', 'dequantize'].includes(cmd) ? `${cmd} ` : ''}--help" for usage.\n`);
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
