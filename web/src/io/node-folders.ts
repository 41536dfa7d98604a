/**
 * Folders on disk (Node-only): listing an input folder, and creating output folders one level at
 * a time. Node's `mkdir(dir, { recursive: true })` never returns on a file system that answers
 * ENOENT to every create (procfs: `-o /proc/x/` spun at full CPU, deaf to Ctrl-C); here each
 * missing level is created once and any error is final.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** Whether `path` is a folder (symlinks followed); false when it is absent or unreadable. */
export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * The entries of `dir` (not recursive), sorted by name: its files and its sub-folders. A symlink
 * counts as what it points to (the Hugging Face cache's snapshots/<hash>/ folders are made of
 * links into ../../blobs); a dangling one is neither.
 * Throws the fs error of listing `dir`.
 */
export async function listFolder(dir: string): Promise<{ files: string[]; folders: string[] }> {
  const files: string[] = [];
  const folders: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const st = e.isSymbolicLink() ? await stat(join(dir, e.name)).catch(() => undefined) : e;
    if (st?.isFile()) files.push(e.name);
    else if (st?.isDirectory()) folders.push(e.name);
  }
  return { files, folders };
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
