/**
 * `--json` output of a report whose `tensors` list may hold millions of entries (finding 16):
 * the same bytes as `JSON.stringify(value, null, 2) + '\n'`, written in pieces, so the process
 * never holds the whole document (hundreds of MB for 1.4M tensors) as one string.
 */
import type { Out } from './io.js';

const BATCH = 4096;

/** Writes `value` (an object with an array field `key`) as indented JSON, the array in batches. */
export function writeJsonStreamed(io: Out, value: Record<string, unknown>, key: string): void {
  const items = value[key];
  if (!Array.isArray(items) || items.length === 0) {
    io.out(JSON.stringify(value, null, 2) + '\n');
    return;
  }
  // A placeholder no field can hold (checked: it must occur exactly once), replaced by the array.
  const marker = `\u0000${key}:${Math.random().toString(36).slice(2)}\u0000`;
  const text = JSON.stringify({ ...value, [key]: marker }, null, 2);
  const quoted = JSON.stringify(marker);
  const at = text.indexOf(quoted);
  if (at < 0 || text.indexOf(quoted, at + 1) >= 0) {
    io.out(JSON.stringify(value, null, 2) + '\n');
    return;
  }
  // `key` is a member of the top-level object: its array items sit at depth 2 (4 spaces).
  io.out(text.slice(0, at) + '[\n');
  for (let i = 0; i < items.length; i += BATCH) {
    const end = Math.min(items.length, i + BATCH);
    let chunk = '';
    for (let k = i; k < end; k++) {
      const item = JSON.stringify(items[k], null, 2) ?? 'null';
      chunk += `    ${item.replaceAll('\n', '\n    ')}${k + 1 < items.length ? ',\n' : '\n'}`;
    }
    io.out(chunk);
  }
  io.out('  ]' + text.slice(at + quoted.length) + '\n');
}
