/** `hqq-wasm quantize`: a whole model into the reference HQQLinear layout. */
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { SUPPORTED_NBITS, type Nbits } from '../engine.js';
import { HQQError } from '../errors.js';
import { COMPUTE_DTYPES, type ComputeDtype } from '../model/hqqlinear.js';
import { parseTensorOverride, resolveModelConfig, type ModelQuantConfig } from '../model/plan.js';
import { TEST_HOOKS, type QuantizeModelReport } from '../model/quantize-model.js';
import { quantizeModelFiles } from '../node-model.js';
import { GGUF_PRESETS } from '../formats/gguf/tensor-types.js';
import { resolveGGUFConfig, type GGUFModelConfig } from '../formats/gguf/config.js';
import type { FormatOptions } from '../formats/registry.js';
import { compileUserRegex } from '../util/user-regex.js';
import { summaryLines, tensorLine } from './format.js';
import { printWarnings, strictExit, UsageError, type CliWarning, type Out } from './io.js';
import { choiceOption, intOption, repeatable, stringOption } from './options.js';
import { quantizeProgress } from './progress.js';

export interface QuantizeFlags {
  output?: string;
  format?: 'hqq' | 'gguf';
  type?: string;
  tensorType?: string[];
  pure?: boolean;
  outputTensorType?: string;
  tokenEmbeddingType?: string;
  leaveOutputTensor?: boolean;
  allowRequantize?: boolean;
  nbits?: Nbits;
  groupSize?: number;
  axis?: 0 | 1;
  optimize: boolean;
  roundZero?: boolean;
  computeDtype?: ComputeDtype;
  include?: string;
  exclude?: string;
  tensorConfig?: string[];
  workers?: number;
  compareRtn?: boolean;
  dryRun?: boolean;
  json?: boolean;
  strict?: boolean;
}

function regexFlag(flag: string) {
  return stringOption(flag, (v) => {
    try {
      compileUserRegex(v, flag);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
}

/** Declares the command's options: one line per flag. */
export function defineQuantize(cmd: Command): Command {
  return cmd
    .summary('quantize a model (a .safetensors, a sharded index.json, a .gguf, or a Hugging Face folder)')
    .usage('<model.safetensors | model.safetensors.index.json | model.gguf | model-folder/> -o <output> [options]')
    .description(
      'Two output formats. GGUF (llama.cpp, Ollama, wllama): chosen by -o <file>.gguf, --format gguf or a .gguf ' +
        'input; --type picks a llama-quantize preset (default Q4_K_M) with llama.cpp\'s per-tensor type rules; ' +
        'the input is a GGUF (F32/F16/BF16; its metadata and tokenizer are kept) or a Hugging Face folder ' +
        '(config.json, tokenizer.json and the safetensors weights; converted as convert_hf_to_gguf.py does). ' +
        'HQQ (transformers, vLLM, the hqq library), the default otherwise: ' +
        'quantizes every linear weight into the reference HQQLinear layout; a Hugging Face folder becomes a ' +
        'folder with config.json\'s quantization_config and every other file copied. Single file: -o is the output ' +
        'file, an existing folder, or dir/ (a new folder). Sharded (index.json): -o is the output folder (new, ' +
        'empty, or made by hqq-wasm; shards keep their names, a new index.json is written) or the new ' +
        'index.json path. The output appears at once when complete; an interrupted run leaves the previous ' +
        'output as it was (docs/outputs.md).',
    )
    .argument('[input...]', 'model.safetensors, model.safetensors.index.json, model.gguf or a model folder')
    .option('--format <hqq|gguf>', 'output format (default: gguf for a .gguf output or input, else hqq)', choiceOption('--format', ['hqq', 'gguf'] as const))
    .option('--type <preset>', `GGUF: llama-quantize preset: ${GGUF_PRESETS.map((p) => p.name).join(', ')} (default Q4_K_M)`, stringOption('--type'))
    .option('--tensor-type <NAME_RE=TYPE>', 'GGUF: the type of matching tensors, e.g. attn_v=q8_0; repeatable; first match wins', repeatable())
    .option('--pure', 'GGUF: every quantized tensor gets the preset\'s type (no mixture)')
    .option('--output-tensor-type <type>', 'GGUF: the type of output.weight', stringOption('--output-tensor-type'))
    .option('--token-embedding-type <type>', 'GGUF: the type of token_embd.weight', stringOption('--token-embedding-type'))
    .option('--leave-output-tensor', 'GGUF: keep output.weight as it is')
    .option('--allow-requantize', 'GGUF: requantize tensors that already are (their error compounds)')
    .option('-o, --output <path>', 'output file / folder (not needed with --dry-run)', stringOption('--output'))
    .option('--nbits <n>', `bits per weight: ${SUPPORTED_NBITS.join(', ')} (default 4)`, choiceOption('--nbits', SUPPORTED_NBITS))
    .option('--group-size <n>', 'values per group (default 64)', intOption('--group-size', 1))
    .option('--axis <0|1>', 'grouping axis (default 1)', choiceOption('--axis', [0, 1] as const, String, '0 or 1'))
    .option('--no-optimize', 'plain round-to-nearest (no HQQ solver)')
    .option('--round-zero', 'round the initial zero point (default: on for 4-bit, as the reference)')
    .option('--no-round-zero', 'do not round the zero point')
    .option('--compute-dtype <dtype>', 'scale/zero dtype: float16 (default), bfloat16, float32', choiceOption('--compute-dtype', COMPUTE_DTYPES))
    .option('--include <regex>', 'quantize only matching tensors (also overrides the built-in skips)', regexFlag('--include'))
    .option('--exclude <regex>', 'never quantize matching tensors', regexFlag('--exclude'))
    .option('--tensor-config <RE=BITS:GROUP>', 'per-tensor bits/group size; repeatable; first match wins', repeatable())
    .option('--workers <n>', 'worker threads (default: all cores; capped at the core count)', intOption('--workers', 1))
    .option('--compare-rtn', 'HQQ: also report plain round-to-nearest errors (GGUF always reports llama.cpp\'s own quantizer next to ours)')
    .option('--dry-run', 'print the plan (sizes, bits per weight) without quantizing')
    .option('--json', 'print a machine-readable JSON report instead of text')
    .option('--strict', 'treat warnings (nothing quantized, a pattern that matches nothing, ...) as errors: exit 1');
}

const GGUF_FLAGS = ['--type', '--tensor-type', '--pure', '--output-tensor-type', '--token-embedding-type', '--leave-output-tensor', '--allow-requantize'];
const HQQ_FLAGS = ['--nbits', '--group-size', '--axis', '--no-optimize', '--round-zero', '--no-round-zero', '--compute-dtype', '--include', '--exclude', '--tensor-config', '--compare-rtn'];

/** The flags given, by name (commander merges the values; usage errors need the names). */
function given(args: readonly string[], names: readonly string[]): string[] {
  return names.filter((n) => args.some((a) => a === n || a.startsWith(`${n}=`)));
}

/** GGUF output: chosen by --format, a .gguf output or input, or a GGUF-only flag. */
function isGGUF(flags: QuantizeFlags, input: string, args: readonly string[]): boolean {
  if (flags.format) return flags.format === 'gguf';
  return Boolean(flags.output?.toLowerCase().endsWith('.gguf')) || input.toLowerCase().endsWith('.gguf') || given(args, GGUF_FLAGS).length > 0;
}

/** The GGUF options from the flags (usage errors for bad values or HQQ flags). */
function ggufOptionsOf(flags: QuantizeFlags, args: readonly string[]): FormatOptions {
  const hqqFlags = given(args, HQQ_FLAGS);
  if (hqqFlags.length > 0) throw new UsageError(`${hqqFlags.join(', ')} ${hqqFlags.length === 1 ? 'is an HQQ flag' : 'are HQQ flags'}; GGUF output takes --type (a llama-quantize preset) and --tensor-type instead`);
  const gguf: GGUFModelConfig = {
    preset: flags.type, tensorTypes: flags.tensorType, pure: flags.pure, outputTensorType: flags.outputTensorType,
    tokenEmbeddingType: flags.tokenEmbeddingType, leaveOutputTensor: flags.leaveOutputTensor, allowRequantize: flags.allowRequantize,
  };
  for (const k of Object.keys(gguf) as (keyof GGUFModelConfig)[]) if (gguf[k] === undefined) delete gguf[k];
  try {
    resolveGGUFConfig(gguf);
  } catch (e) {
    if (e instanceof HQQError && e.code === 'INVALID_ARGUMENT') throw new UsageError(e.message);
    throw e;
  }
  return { format: 'gguf', gguf };
}

/** The model config from the flags (usage errors for bad values). */
function configOf(flags: QuantizeFlags, args: readonly string[]): ModelQuantConfig {
  const ggufFlags = given(args, GGUF_FLAGS);
  if (ggufFlags.length > 0) throw new UsageError(`${ggufFlags.join(', ')} ${ggufFlags.length === 1 ? 'is a GGUF flag' : 'are GGUF flags'}, but the output is HQQ; write to a .gguf file or pass --format gguf`);
  if (args.includes('--round-zero') && args.includes('--no-round-zero')) throw new UsageError('--round-zero and --no-round-zero contradict each other');
  const cfg: ModelQuantConfig = {
    nbits: flags.nbits, groupSize: flags.groupSize, axis: flags.axis, roundZero: flags.roundZero,
    computeDtype: flags.computeDtype, include: flags.include, exclude: flags.exclude,
  };
  if (flags.optimize === false) cfg.optimize = false;
  if (flags.tensorConfig) {
    cfg.tensorConfig = flags.tensorConfig.map((t) => {
      try {
        return parseTensorOverride(t, flags.groupSize ?? 64);
      } catch (e) {
        throw new UsageError(`--tensor-config: ${(e as Error).message}`);
      }
    });
  }
  for (const k of Object.keys(cfg) as (keyof ModelQuantConfig)[]) if (cfg[k] === undefined) delete cfg[k];
  try {
    resolveModelConfig(cfg);
  } catch (e) {
    if (e instanceof HQQError) throw new UsageError(e.message);
    throw e;
  }
  return cfg;
}

/** --workers above the core count only adds memory (a wasm instance and a tensor each): capped, with a warning. */
export function capWorkers(requested: number | undefined, cores = availableParallelism()): { workers?: number; warning?: CliWarning } {
  if (requested === undefined || requested <= cores) return { workers: requested };
  return {
    workers: cores,
    warning: {
      code: 'WORKERS_CAPPED',
      message: `--workers ${requested} is more than the ${cores} core${cores === 1 ? '' : 's'} of this machine; using ${cores} (extra workers only add memory: each holds a wasm instance and a tensor in flight)`,
    },
  };
}

/** Warnings the run reported (the orchestrator lists them in `report.warnings`). */
function reportWarnings(report: QuantizeModelReport): CliWarning[] {
  const w = (report as { warnings?: unknown }).warnings;
  return Array.isArray(w) ? w.filter((x): x is CliWarning => typeof x?.code === 'string' && typeof x?.message === 'string') : [];
}

export async function runQuantize(inputs: string[], flags: QuantizeFlags, io: Out, args: readonly string[]): Promise<number> {
  if (inputs.length === 0) throw new UsageError('quantize needs an input: model.safetensors, model.safetensors.index.json, model.gguf or a model folder');
  if (inputs.length > 1) throw new UsageError(`quantize takes one input, got ${inputs.length}: ${inputs.join(' ')}`);
  const input = inputs[0]!;
  const gguf = isGGUF(flags, input, args);
  const cfg: FormatOptions = gguf ? ggufOptionsOf(flags, args) : { format: 'hqq', ...configOf(flags, args) };
  const dryRun = Boolean(flags.dryRun);
  if (!flags.output && !dryRun) throw new UsageError('quantize needs -o <output> (or --dry-run)');
  const strict = Boolean(flags.strict);
  const pre: CliWarning[] = [];
  const { workers, warning } = capWorkers(flags.workers);
  if (warning) pre.push(warning);
  printWarnings(io, pre);
  if (strictExit(io, pre, strict, 'before writing anything')) return 1;

  const crash = process.env.HQQ_WASM_TEST_CRASH_ON; // test-only failure injection: NAME or NAME:exit
  const testHooks = crash ? { crashOn: crash.replace(/:exit$/, ''), crashMode: crash.endsWith(':exit') ? ('exit' as const) : ('throw' as const) } : undefined;
  const progress = flags.json ? undefined : quantizeProgress(io, (e) => (e.result ? tensorLine(e.result, e.index, e.total) : undefined));
  const runOptions = {
    ...cfg, workers, dryRun, compareRtn: gguf || Boolean(flags.compareRtn), onProgress: progress?.onProgress, handleSignals: true,
    onNotice: (m: string) => io.err(`hqq-wasm: ${m}\n`),
  };
  if (testHooks) Object.assign(runOptions, { [TEST_HOOKS]: testHooks });
  let report;
  try {
    report = await quantizeModelFiles(input, flags.output, runOptions);
  } finally {
    progress?.done();
  }
  const warnings = reportWarnings(report);
  if (flags.json) {
    io.out(JSON.stringify({ command: 'quantize', input, output: flags.output ?? null, ...report, warnings: [...pre, ...warnings] }, null, 2) + '\n');
  } else {
    if (dryRun) {
      // in batches: one write per line was 1.4M writes for a 1.4M-tensor model
      const n = report.tensors.length;
      for (let i = 0; i < n; i += 4096) {
        io.out(report.tensors.slice(i, i + 4096).map((r, k) => tensorLine(r, i + k + 1, n, true) + '\n').join(''));
      }
    }
    for (const l of summaryLines(report, report.outputPaths)) io.out(l + '\n');
  }
  printWarnings(io, warnings);
  return strictExit(io, warnings, strict, dryRun ? '(dry run)' : '(the output above was written)');
}
