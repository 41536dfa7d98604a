// makeFolders: mkdir -p one level at a time (Node's recursive mkdir never returns on procfs).
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeFolders } from '../../../web/src/io/node-folders.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-folders-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('makeFolders', () => {
  it('creates the missing levels and returns the outermost created, like mkdir -p', async () => {
    expect(await makeFolders(join(dir, 'a', 'b', 'c'))).toBe(join(dir, 'a'));
    expect((await stat(join(dir, 'a', 'b', 'c'))).isDirectory()).toBe(true);
    expect(await makeFolders(join(dir, 'a', 'b'))).toBeUndefined();
  });

  it('fails with the fs error: a file in the way, or a file system that creates nothing', async () => {
    await writeFile(join(dir, 'file'), 'x');
    await expect(makeFolders(join(dir, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(makeFolders('/proc/hqq-wasm-no-such/x')).rejects.toHaveProperty('code');
  });
});
