/**
 * `--shard I/N` (quantize): which part of a run spread over N machines this is, and the command
 * line recorded in the part so that `merge` can say how to re-run a missing part.
 */
import { UsageError } from './io.js';

/** Parses `I/N` (1-based, 1 <= I <= N); refuses the flag twice. */
export function shardFlag(): (value: string, previous: { index: number; count: number } | undefined) => { index: number; count: number } {
  return (value, previous) => {
    if (previous !== undefined) throw new UsageError('--shard is given twice');
    const m = /^(\d+)\/(\d+)$/.exec(value.trim());
    const how = 'use --shard I/N with whole numbers 1 <= I <= N, e.g. --shard 2/4 for the second of 4 parts';
    if (!m) throw new UsageError(`--shard must be I/N, got ${JSON.stringify(value)}; ${how}`);
    const index = Number(m[1]);
    const count = Number(m[2]);
    if (!Number.isSafeInteger(count) || count < 1) throw new UsageError(`--shard ${value}: the number of parts must be at least 1; ${how}`);
    if (!Number.isSafeInteger(index) || index < 1 || index > count) {
      const zero = index === 0 ? ' (parts are numbered from 1: a 0-based batch index such as JOB_COMPLETION_INDEX needs + 1, see docs/sharding.md)' : '';
      throw new UsageError(`--shard ${value}: part ${index} is not one of the ${count} parts 1..${count}${zero}`);
    }
    return { index, count };
  };
}

/** A word as a POSIX shell reads it back. */
function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** The command line of this run with the part number replaced by `{I}` (as `ShardOption.rerun` wants). */
export function rerunCommand(args: readonly string[]): string {
  const out: string[] = ['hqq-wasm'];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--shard' && i + 1 < args.length) {
      out.push('--shard', args[i + 1]!.replace(/^\s*\d+\//, '{I}/'));
      i++;
    } else if (a.startsWith('--shard=')) out.push(`--shard=${a.slice(8).replace(/^\s*\d+\//, '{I}/')}`);
    else out.push(quote(a));
  }
  return out.join(' ');
}
