/**
 * Creating output folders (Node-only), one level at a time. Node's `mkdir(dir, { recursive: true })`
 * never returns on a file system that answers ENOENT to every create (procfs: `-o /proc/x/` spun
 * at full CPU, deaf to Ctrl-C); here each missing level is created once and any error is final.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/**
 * Creates `dir` and its missing parents; returns the first folder created (the outermost), or
 * undefined when `dir` existed, as `mkdir(dir, { recursive: true })` does. Throws the fs error.
 */
export async function makeFolders(dir: string): Promise<string | undefined> {
  const missing: string[] = [];
  for (let p = resolve(dir); ; ) {
    try {
      await stat(p);
      break; // exists (a file here makes the mkdir below fail with ENOTDIR)
    } catch (e) {
      if (code(e) !== 'ENOENT') throw e;
    }
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  missing.reverse();
  for (const m of missing) {
    try {
      await mkdir(m);
    } catch (e) {
      // Made meanwhile by another process (parts of a sharded run start together): fine if a folder.
      if (code(e) === 'EEXIST' && (await stat(m)).isDirectory()) continue;
      throw e;
    }
  }
  return missing[0];
}
