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
import { resolveONNXConfig, type ONNXModelConfig } from '../formats/onnx/config.js';
import { isTransformersJsFolder } from '../node-onnx.js';
import { compileUserRegex } from '../util/user-regex.js';
import { summaryLines, tensorLine } from './format.js';
import { writeJsonStreamed } from './json-out.js';
import { printWarnings, strictExit, UsageError, type CliWarning, type Out } from './io.js';
import { choiceOption, intOption, repeatable, stringOption } from './options.js';
import { quantizeProgress } from './progress.js';
import { rerunCommand, shardFlag } from './shard-flags.js';
import type { ShardOption } from '../model/shard.js';

export interface QuantizeFlags {
  output?: string;
  format?: 'hqq' | 'gguf' | 'onnx';
  bits?: 2 | 4 | 8;
  blockSize?: number;
  zeroPoints?: 'uint8' | 'float';
  externalData?: 'auto' | 'always' | 'never';
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
  shard?: ShardOption;
  split?: number;
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
    .summary('quantize a model (a .safetensors, a sharded index.json, a .gguf, an .onnx, or a model folder)')
    .usage('<model.safetensors | model.safetensors.index.json | model.gguf | model.onnx | model-folder/> -o <output> [options]')
    .description(
      'ONNX (onnxruntime, transformers.js): an .onnx input (or a transformers.js folder with onnx/model.onnx) ' +
        'gets its MatMul/Gemm weights as com.microsoft MatMulNBits with HQQ-optimised blocks (--bits, --block-size, ' +
        '--zero-points); everything else is kept (docs/onnx.md). ' +
        'GGUF and HQQ: GGUF (llama.cpp, Ollama, wllama): chosen by -o <file>.gguf, --format gguf or a .gguf ' +
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
    .argument('[input...]', 'model.safetensors, model.safetensors.index.json, model.gguf, model.onnx or a model folder')
    .option('--format <hqq|gguf|onnx>', 'output format (default: gguf for a .gguf output or input, onnx for an .onnx input, else hqq)', choiceOption('--format', ['hqq', 'gguf', 'onnx'] as const))
    .option('--bits <2|4|8>', 'ONNX: bits per weight of MatMulNBits (default 4)', choiceOption('--bits', [2, 4, 8] as const, String, '2, 4 or 8'))
    .option('--block-size <n>', 'ONNX: weights per block along K: 16, 32, 64, 128 or 256 (default 32)', intOption('--block-size', 16))
    .option('--zero-points <uint8|float>', 'ONNX: uint8 (default; every execution provider, WebGPU included) or float (exact HQQ; CPU/wasm, 4-bit)', choiceOption('--zero-points', ['uint8', 'float'] as const))
    .option('--external-data <auto|always|never>', 'ONNX: weights in <out>.onnx_data: auto (default: when the input had external data or the model passes 2 GB), always, never', choiceOption('--external-data', ['auto', 'always', 'never'] as const))
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
    .option('--shard <I/N>', 'write only part I of N (1-based; for N machines; then hqq-wasm merge <output>); docs/sharding.md', shardFlag())
    .option('--split <n>', 'write N files: GGUF, a gguf-split set <name>-0000I-of-0000N.gguf; HQQ, model-0000I-of-0000N.safetensors + index', intOption('--split', 1))
    .option('--workers <n>', 'worker threads (default: all cores; capped at the core count)', intOption('--workers', 1))
    .option('--compare-rtn', 'HQQ: also report plain round-to-nearest errors (GGUF always reports llama.cpp\'s own quantizer next to ours)')
    .option('--dry-run', 'print the plan (sizes, bits per weight) without quantizing')
    .option('--json', 'print a machine-readable JSON report instead of text')
    .option('--strict', 'treat warnings (nothing quantized, a pattern that matches nothing, ...) as errors: exit 1');
}

const GGUF_FLAGS = ['--type', '--tensor-type', '--pure', '--output-tensor-type', '--token-embedding-type', '--leave-output-tensor', '--allow-requantize'];
const ONNX_FLAGS = ['--bits', '--block-size', '--zero-points', '--external-data'];
const HQQ_FLAGS = ['--nbits', '--group-size', '--axis', '--no-optimize', '--round-zero', '--no-round-zero', '--compute-dtype', '--include', '--exclude', '--tensor-config', '--compare-rtn'];

const FORMAT_NAMES = { hqq: 'HQQ safetensors', gguf: 'GGUF', onnx: 'ONNX' } as const;
const EXTENSION_FORMAT: Record<string, keyof typeof FORMAT_NAMES> = { '.safetensors': 'hqq', '.gguf': 'gguf', '.onnx': 'onnx' };

/**
 * An output file whose extension names another format than the one written (a .gguf input with
 * -o out.safetensors writes GGUF): a usage error, since every reader would take the file for
 * what its name says; a warning when --format chose the format on purpose.
 */
function extensionMismatch(format: keyof typeof FORMAT_NAMES, output: string | undefined, explicit: boolean): CliWarning | undefined {
  const ext = /\.[^./\\]+$/.exec(output ?? '')?.[0]?.toLowerCase();
  const named = ext === undefined ? undefined : EXTENSION_FORMAT[ext];
  if (named === undefined || named === format) return undefined;
  const message = `-o ${output} names ${ext === '.onnx' ? 'an' : 'a'} ${ext} file, but the output is ${FORMAT_NAMES[format]}`;
  if (!explicit) {
    const how = format === 'gguf' && named === 'hqq' ? '; a GGUF input quantizes to GGUF (to get float safetensors of its tensors: hqq-wasm dequantize)' : '';
    throw new UsageError(`${message}: name the output ${format === 'hqq' ? '.safetensors' : `.${format}`}${how}`);
  }
  return { code: 'OUTPUT_EXTENSION', message: `${message} (--format ${format}); readers that go by the name will take it for ${ext}` };
}

/** The flags given, by name (commander merges the values; usage errors need the names). */
function given(args: readonly string[], names: readonly string[]): string[] {
  return names.filter((n) => args.some((a) => a === n || a.startsWith(`${n}=`)));
}

/** GGUF output: chosen by --format, a .gguf output or input, or a GGUF-only flag. */
function isGGUF(flags: QuantizeFlags, input: string, args: readonly string[]): boolean {
  if (flags.format) return flags.format === 'gguf';
  return Boolean(flags.output?.toLowerCase().endsWith('.gguf')) || input.toLowerCase().endsWith('.gguf') || given(args, GGUF_FLAGS).length > 0;
}

/** ONNX output: chosen by --format, an .onnx input or output, or a transformers.js folder (onnx/model.onnx). */
function isONNX(flags: QuantizeFlags, input: string): boolean {
  if (flags.format) return flags.format === 'onnx';
  if (/\.gguf$/i.test(flags.output ?? '')) return false; // the registry says why an ONNX model does not become GGUF
  // ONNX-only flags do not pick ONNX output: only an ONNX model becomes one, so on another input
  // they are a slip (e.g. --bits for --nbits) that configOf or ggufOptionsOf names.
  return /\.onnx$/i.test(input) || /\.onnx$/i.test(flags.output ?? '') || isTransformersJsFolder(input);
}

/** "X is an ONNX flag" / "X, Y are ONNX flags", and how HQQ output sets bits when --bits is one of them. */
function onnxFlagsMessage(onnxFlags: readonly string[], output: string): string {
  const what = `${onnxFlags.join(', ')} ${onnxFlags.length === 1 ? 'is an ONNX flag' : 'are ONNX flags'}, but the output is ${output}`;
  const bits = onnxFlags.includes('--bits') ? (output === 'HQQ' ? '; HQQ output sets bits per weight with --nbits' : '; GGUF output sets bits per weight with --type (a llama-quantize preset)') : '';
  return `${what}${bits}; for ONNX output quantize an .onnx model (or pass --format onnx)`;
}

/** The ONNX options from the flags (usage errors for bad values, or flags of the other formats). */
function onnxOptionsOf(flags: QuantizeFlags, args: readonly string[]): FormatOptions {
  const other = [...given(args, GGUF_FLAGS), ...given(args, HQQ_FLAGS).filter((f) => f !== '--no-optimize' && f !== '--compare-rtn')];
  if (other.length > 0) throw new UsageError(`${other.join(', ')} ${other.length === 1 ? 'does' : 'do'} not apply to ONNX output; it takes --bits, --block-size, --zero-points, --external-data and --no-optimize`);
  const onnx: ONNXModelConfig = { bits: flags.bits, blockSize: flags.blockSize, zeroPoints: flags.zeroPoints, externalData: flags.externalData };
  if (flags.optimize === false) onnx.optimize = false;
  for (const k of Object.keys(onnx) as (keyof ONNXModelConfig)[]) if (onnx[k] === undefined) delete onnx[k];
  try {
    resolveONNXConfig(onnx);
  } catch (e) {
    if (e instanceof HQQError && e.code === 'INVALID_ARGUMENT') throw new UsageError(e.message);
    throw e;
  }
  return { format: 'onnx', onnx };
}

/** The GGUF options from the flags (usage errors for bad values or HQQ flags). */
function ggufOptionsOf(flags: QuantizeFlags, args: readonly string[]): FormatOptions {
  const hqqFlags = given(args, HQQ_FLAGS);
  if (hqqFlags.length > 0) throw new UsageError(`${hqqFlags.join(', ')} ${hqqFlags.length === 1 ? 'is an HQQ flag' : 'are HQQ flags'}; GGUF output takes --type (a llama-quantize preset) and --tensor-type instead`);
  const onnxFlags = given(args, ONNX_FLAGS);
  if (onnxFlags.length > 0) throw new UsageError(onnxFlagsMessage(onnxFlags, 'GGUF'));
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
  const onnxFlags = given(args, ONNX_FLAGS);
  if (onnxFlags.length > 0) throw new UsageError(onnxFlagsMessage(onnxFlags, 'HQQ'));
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
  if (inputs.length === 0) throw new UsageError('quantize needs an input: model.safetensors, model.safetensors.index.json, model.gguf, model.onnx or a model folder');
  if (inputs.length > 1) throw new UsageError(`quantize takes one input, got ${inputs.length}: ${inputs.join(' ')}`);
  const input = inputs[0]!;
  const onnx = isONNX(flags, input);
  const gguf = !onnx && isGGUF(flags, input, args);
  const cfg: FormatOptions = onnx ? onnxOptionsOf(flags, args) : gguf ? ggufOptionsOf(flags, args) : { format: 'hqq', ...configOf(flags, args) };
  const dryRun = Boolean(flags.dryRun);
  if (!flags.output && !dryRun && !(onnx && isTransformersJsFolder(input))) throw new UsageError('quantize needs -o <output> (or --dry-run)');
  const strict = Boolean(flags.strict);
  const pre: CliWarning[] = [];
  const mismatch = dryRun ? undefined : extensionMismatch(onnx ? 'onnx' : gguf ? 'gguf' : 'hqq', flags.output, flags.format !== undefined);
  if (mismatch) pre.push(mismatch);
  const { workers, warning } = capWorkers(flags.workers);
  if (warning) pre.push(warning);
  printWarnings(io, pre);
  if (strictExit(io, pre, strict, 'before writing anything')) return 1;

  const crash = process.env.HQQ_WASM_TEST_CRASH_ON; // test-only failure injection: NAME or NAME:exit
  const testHooks = crash ? { crashOn: crash.replace(/:exit$/, ''), crashMode: crash.endsWith(':exit') ? ('exit' as const) : ('throw' as const) } : undefined;
  const progress = flags.json ? undefined : quantizeProgress(io, (e) => (e.result ? tensorLine(e.result, e.index, e.total) : undefined));
  if (flags.split !== undefined && flags.shard && flags.shard.count > 1 && flags.split !== flags.shard.count) {
    throw new UsageError(`--split ${flags.split} contradicts --shard ${flags.shard.index}/${flags.shard.count}: a sharded GGUF run writes one split file per part (N = ${flags.shard.count}); drop --split`);
  }
  const sharding = {
    ...(flags.shard ? { shard: { ...flags.shard, rerun: rerunCommand(args) } } : {}),
    ...(flags.split !== undefined ? { split: flags.split } : {}),
  };
  const runOptions = {
    ...cfg, ...sharding, workers, dryRun, compareRtn: gguf || onnx || Boolean(flags.compareRtn), onProgress: progress?.onProgress, handleSignals: true,
    onNotice: (m: string) => io.err(`hqq-wasm: ${m}\n`),
  };
  if (testHooks) Object.assign(runOptions, { [TEST_HOOKS]: testHooks });
  let report;
  try {
    report = await quantizeModelFiles(input, flags.output, { ...runOptions, strict });
  } catch (e) {
    // --strict: warnings stopped the run, before anything was written (plan) or before the output was published (run).
    const { warnings: found, stage } = e as { warnings?: unknown; stage?: string };
    if (!(e instanceof HQQError) || !Array.isArray(found)) throw e;
    printWarnings(io, found as CliWarning[]);
    return strictExit(io, found as CliWarning[], true, stage === 'run' ? 'before publishing the output (the previous one stays)' : 'before writing anything');
  } finally {
    progress?.done();
  }
  const warnings = reportWarnings(report);
  if (flags.json) {
    writeJsonStreamed(io, { command: 'quantize', input, output: flags.output ?? null, ...report, warnings: [...pre, ...warnings] }, 'tensors');
  } else {
    if (dryRun) {
      // in batches: one write per line was 1.4M writes for a 1.4M-tensor model
      const n = report.tensors.length;
      for (let i = 0; i < n; i += 4096) {
        io.out(report.tensors.slice(i, i + 4096).map((r, k) => tensorLine(r, i + k + 1, n, true) + '\n').join(''));
      }
    }
    for (const l of summaryLines(report, report.outputPaths)) io.out(l + '\n');
    if (report.part && !dryRun) {
      const p = report.part;
      io.out(p.count > 1 ? `part ${p.index} of ${p.count} done; once every part is: hqq-wasm merge ${flags.output}\n` : `part 1 of 1 done; complete it with: hqq-wasm merge ${flags.output}\n`);
    }
  }
  printWarnings(io, warnings);
  return strictExit(io, warnings, strict, dryRun ? '(dry run)' : '(the output above was written)');
}
