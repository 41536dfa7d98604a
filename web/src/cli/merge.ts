/** `hqq-wasm merge <output>`: completes a sharded run's output once every part is done (docs/sharding.md). */
import type { Command } from 'commander';
import { mergeParts } from '../node-merge.js';
import { UsageError, type Out } from './io.js';

export interface MergeFlags {
  json?: boolean;
}

export function defineMerge(cmd: Command): Command {
  return cmd
    .summary('complete the output of a sharded run (quantize --shard I/N) once every part is done')
    .usage('<output> [--json]')
    .description(
      'Checks the parts written by "hqq-wasm quantize ... --shard I/N -o <output>": every part present, all from the same run ' +
        '(same input, options and version: their plan fingerprints match), every file with its planned size and header. Then ' +
        'it writes what no part writes: an HQQ folder\'s model.safetensors.index.json and config.json; a GGUF split set is ' +
        'checked as llama.cpp loads it (split numbers, counts, every tensor once). A missing or stale part is named with the ' +
        'command that re-runs it.',
    )
    .argument('[output...]', 'the -o of the quantize --shard runs: the output folder, or the .gguf name')
    .option('--json', 'print a machine-readable JSON report');
}

export async function runMerge(outputs: string[], flags: MergeFlags, io: Out): Promise<number> {
  if (outputs.length !== 1) throw new UsageError('merge takes one output: the -o of the quantize --shard runs (a folder, or the .gguf name)');
  const r = await mergeParts(outputs[0]!);
  if (flags.json) {
    io.out(JSON.stringify({ command: 'merge', output: outputs[0], ...r }, null, 2) + '\n');
    return 0;
  }
  const what = r.format === 'gguf' ? `${r.files.length} GGUF split file${r.files.length === 1 ? '' : 's'}, ${r.tensors} tensors` : `${r.files.length} file${r.files.length === 1 ? '' : 's'}`;
  io.out(`merged ${r.count} part${r.count === 1 ? '' : 's'} in ${r.folder}: ${what}, all from one run (fingerprint ${r.fingerprint.slice(0, 12)})\n`);
  for (const w of r.written) io.out(`wrote ${w}\n`);
  if (r.format === 'gguf') io.out(`load it from the first split: ${r.files[0]}\n`);
  return 0;
}
