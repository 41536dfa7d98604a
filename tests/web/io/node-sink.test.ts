/**
 * The crash-consistent Node output protocol (web/src/io/node-sink.ts, docs/outputs.md), driven
 * directly with small planned files: file and folder outputs, what may be replaced, stale
 * temporaries of dead runs, the interrupted switch, free space, aborts around the switch.
 * The kill-at-random-moments test of the CLI is tests/faults/kill-points.mjs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileLayout } from '../../../web/src/io/layout.js';
import { resolveOutputTarget } from '../../../web/src/io/node-output-target.js';
import { nodeFileSink, nodeOutputSink, OUTPUT_MARKER, type NodeOutputSink, type NodeOutputSinkOptions, type OutputTarget } from '../../../web/src/io/node-sink.js';
import { cleanStaleTemporaries, hostTag, parseTemporaryName, temporaryName } from '../../../web/src/io/node-temporaries.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { rejectsWithHQQError } from '../helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hqq-node-sink-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function fresh(): Promise<string> {
  const d = join(dir, `case-${++n}`);
  await mkdir(d);
  return d;
}

/** A one-tensor file whose bytes are all `fill`. */
function fileOf(fill: number, size = 64): { layout: FileLayout; bytes: Uint8Array } {
  const layout = planSafetensors([{ name: 't', dtype: 'U8', shape: [size] }], { fill: String(fill) });
  return { layout, bytes: new Uint8Array(size).fill(fill) };
}

/** Writes shards (name -> fill) and small files through `sink`, then finish(). */
async function writeAll(sink: NodeOutputSink, shards: Record<string, number>, small: Record<string, string> = {}): Promise<void> {
  const writers = [];
  for (const [name, fill] of Object.entries(shards)) {
    const f = fileOf(fill);
    const w = await sink.createShard(name, f.layout);
    writers.push({ w, f });
  }
  for (const { w, f } of writers) {
    await w.writeTensor('t', f.bytes, 0);
    await w.commit();
  }
  for (const [name, text] of Object.entries(small)) await sink.writeFile(name, text);
  await sink.finish();
}

/** Every entry of `folder` (recursively, with bytes) as name -> base64. */
async function snapshot(folder: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of (await readdir(folder, { recursive: true })).sort()) {
    const p = join(folder, e);
    if ((await lstat(p)).isFile()) out[e] = (await readFile(p)).toString('base64');
  }
  return out;
}

async function temporaries(folder: string): Promise<string[]> {
  return (await readdir(folder)).filter((e) => parseTemporaryName(e) !== undefined);
}

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

function folderSinkAt(path: string, options: NodeOutputSinkOptions = {}): NodeOutputSink {
  return nodeOutputSink({ kind: 'folder', path }, options);
}

describe('a folder output', () => {
  it('appears at once with a completion record; a second run replaces it as a whole (files of the old one that the new one lacks go too)', async () => {
    const root = await fresh();
    const out = join(root, 'out');
    const points: string[] = [];
    const sink = folderSinkAt(out, { onPoint: (p) => { points.push(p); } });
    await writeAll(sink, { 'a.safetensors': 1, 'b.safetensors': 2, 'c.safetensors': 3 }, { 'index.json': '{"old":1}' });
    expect(sink.published).toBe(true);
    expect(sink.replaced).toBe(false);
    expect(sink.written).toEqual(['a.safetensors', 'b.safetensors', 'c.safetensors', 'index.json'].map((f) => join(out, f)));
    expect(JSON.parse(await readFile(join(out, OUTPUT_MARKER), 'utf8'))).toMatchObject({ tool: 'hqq-wasm', files: ['a.safetensors', 'b.safetensors', 'c.safetensors', 'index.json'] });
    expect(points).toEqual(['prepare', 'create:a.safetensors', 'create:b.safetensors', 'create:c.safetensors', 'commit:a.safetensors', 'commit:b.safetensors', 'commit:c.safetensors', 'file:index.json', 'finish:ready', 'switch:done', 'finish:done']);
    expect(await readdir(root)).toEqual(['out']); // no temporary left

    const second = folderSinkAt(out, { onPoint: (p) => { points.push(p); } });
    points.length = 0;
    await writeAll(second, { 'a.safetensors': 7, 'b.safetensors': 8 }, { 'index.json': '{"new":1}', 'sub/config.json': '{}' });
    expect(second.replaced).toBe(true);
    expect(points).toContain('switch:old-moved');
    expect(Object.keys(await snapshot(out))).toEqual([OUTPUT_MARKER, 'a.safetensors', 'b.safetensors', 'index.json', 'sub/config.json']);
    expect(await readFile(join(out, 'index.json'), 'utf8')).toBe('{"new":1}');
    expect(await readdir(root)).toEqual(['out']);
  });

  it('a run that fails or is aborted at any step before the switch leaves the previous output byte for byte and no temporary', async () => {
    const root = await fresh();
    const out = join(root, 'out');
    await writeAll(folderSinkAt(out), { 'a.safetensors': 1, 'b.safetensors': 2 }, { 'index.json': 'old' });
    const before = await snapshot(out);
    const steps = ['prepare', 'create:b.safetensors', 'commit:a.safetensors', 'file:index.json', 'finish:ready'];
    for (const step of steps) {
      const ctl = new AbortController();
      const sink = folderSinkAt(out, { signal: ctl.signal, onPoint: (p) => { if (p === step) ctl.abort(new Error(`stop at ${step}`)); } });
      // The orchestrator checks the signal between steps; here only finish() does (before the switch).
      const err = await rejectsWithHQQError(writeAll(sink, { 'a.safetensors': 5, 'b.safetensors': 6 }, { 'index.json': 'new' }));
      expect(err.code, step).toBe('ABORTED');
      expect(err.message, step).toMatch(/before the output was switched into place; .*out was left as it was/);
      expect(sink.published).toBe(false);
      await sink.dispose();
      expect(await snapshot(out), step).toEqual(before);
      expect(await readdir(root), step).toEqual(['out']);
    }
    // A failure of one file: the orchestrator aborts the writers and discards.
    const sink = folderSinkAt(out);
    const a = await sink.createShard('a.safetensors', fileOf(1).layout);
    await sink.createShard('b.safetensors', fileOf(2).layout);
    expect((await rejectsWithHQQError(a.commit())).message).toContain('not completely written');
    await sink.discard();
    expect(await snapshot(out)).toEqual(before);
    expect(await readdir(root)).toEqual(['out']);
  });

  it('an abort that arrives after the switch does not undo or fail the run; it is reported as a notice', async () => {
    const root = await fresh();
    const out = join(root, 'out');
    await writeAll(folderSinkAt(out), { 'a.safetensors': 1 });
    const ctl = new AbortController();
    const notices: string[] = [];
    const sink = folderSinkAt(out, {
      signal: ctl.signal, onNotice: (m) => notices.push(m),
      onPoint: (p) => { if (p === 'switch:old-moved') ctl.abort(new Error('received SIGINT')); },
    });
    await writeAll(sink, { 'a.safetensors': 9 });
    expect(sink.published).toBe(true);
    expect((await readFile(join(out, 'a.safetensors'))).at(-1)).toBe(9);
    expect(notices.join('\n')).toMatch(/received SIGINT after the new output was in place: .*out is complete and the run succeeded/);
    expect(await readdir(root)).toEqual(['out']);
  });

  it('creates missing parent folders only when writing starts, and removes them again when the run fails', async () => {
    const root = await fresh();
    const out = join(root, 'x', 'y', 'out');
    const sink = folderSinkAt(out);
    expect(existsSync(join(root, 'x'))).toBe(false);
    const w = await sink.createShard('a.safetensors', fileOf(1).layout);
    expect(existsSync(join(root, 'x', 'y'))).toBe(true);
    expect(existsSync(out)).toBe(false); // only the temporary folder next to it
    await w.abort(); // the last live file: the run left nothing
    expect(await readdir(root)).toEqual([]);
    await sink.dispose();
    // ...and a successful one keeps them.
    await writeAll(folderSinkAt(out), { 'a.safetensors': 1 });
    expect(await readdir(out)).toEqual([OUTPUT_MARKER, 'a.safetensors']);
  });

  it('refuses, before creating anything, a folder it did not make, one with files added since, a file, or one holding the input', async () => {
    const root = await fresh();
    const user = join(root, 'user');
    await mkdir(user);
    await writeFile(join(user, 'notes.txt'), 'mine');
    let err = await rejectsWithHQQError(folderSinkAt(user).createShard('a.safetensors', fileOf(1).layout));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(/user: is a folder that hqq-wasm did not make \(it has no \.hqq-wasm-output\.json\) and it is not empty; .*choose another output folder, or empty this one/);

    const ours = join(root, 'ours');
    await writeAll(folderSinkAt(ours), { 'a.safetensors': 1 });
    await writeFile(join(ours, 'README.md'), 'added by hand');
    err = await rejectsWithHQQError(folderSinkAt(ours).createShard('a.safetensors', fileOf(2).layout));
    expect(err.message).toMatch(/ours: holds files that are not part of the previous hqq-wasm output \(README\.md\); .*will not delete them/);

    await writeFile(join(root, 'file'), 'x');
    err = await rejectsWithHQQError(folderSinkAt(join(root, 'file')).createShard('a.safetensors', fileOf(1).layout));
    expect(err.message).toMatch(/file: exists and is not a folder/);

    const input = join(ours, 'a.safetensors');
    err = await rejectsWithHQQError(nodeOutputSink({ kind: 'folder', path: ours }, { inputPaths: [input] }).createShard('a.safetensors', fileOf(1).layout));
    expect(err.message).toMatch(/the output folder holds the input .*a\.safetensors; the output replaces that folder, which would overwrite the input/);
    expect((await readdir(root)).sort()).toEqual(['file', 'ours', 'user']);
    expect(await readFile(join(user, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('an empty folder (made by the user) is taken; a symlink to a folder is followed and stays a symlink', async () => {
    const root = await fresh();
    const empty = join(root, 'empty');
    await mkdir(empty);
    await writeAll(folderSinkAt(empty), { 'a.safetensors': 1 });
    expect(await readdir(empty)).toEqual([OUTPUT_MARKER, 'a.safetensors']);
    const realDir = join(root, 'disk', 'real');
    await mkdir(realDir, { recursive: true });
    const link = join(root, 'link');
    await symlink(realDir, link);
    await writeAll(folderSinkAt(link), { 'a.safetensors': 3 });
    await writeAll(folderSinkAt(link), { 'a.safetensors': 4 });
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect((await readFile(join(realDir, 'a.safetensors'))).at(-1)).toBe(4);
    expect(await temporaries(join(root, 'disk'))).toEqual([]);
  });

  it('refuses bad file names and a file written twice', async () => {
    const sink = folderSinkAt(join(await fresh(), 'out'));
    for (const bad of ['../x', '/abs', 'a/../b', '', 'a\\b', OUTPUT_MARKER]) {
      expect((await rejectsWithHQQError(sink.createShard(bad, fileOf(1).layout))).code, bad).toBe('INVALID_ARGUMENT');
    }
    await sink.createShard('a.safetensors', fileOf(1).layout);
    expect((await rejectsWithHQQError(sink.writeFile('a.safetensors', 'x'))).message).toContain('written twice');
    await sink.dispose();
  });
});

describe('a file output', () => {
  it('is renamed into place on finish(); a failure before leaves the previous file', async () => {
    const root = await fresh();
    const target = join(root, 'model.gguf');
    await writeFile(target, 'previous');
    const t: OutputTarget = { kind: 'file', path: target };
    const ctl = new AbortController();
    const sink = nodeOutputSink(t, { signal: ctl.signal });
    const f = fileOf(5);
    const w = await sink.createShard('whatever.gguf', f.layout);
    expect((await readdir(root)).filter((e) => e !== 'model.gguf')[0]).toMatch(new RegExp(`^\\.model\\.gguf\\.hqq-${process.pid}-${hostTag()}-[0-9a-f]{12}\\.partial$`));
    await w.writeTensor('t', f.bytes, 0);
    await w.commit();
    expect((await rejectsWithHQQError(sink.createShard('second', f.layout))).message).toMatch(/the output is one file, but it has several .*pass a folder/);
    expect((await rejectsWithHQQError(sink.writeFile('index.json', '{}'))).message).toMatch(/the output is one file, but it needs another one/);
    ctl.abort(new Error('received SIGTERM'));
    expect((await rejectsWithHQQError(sink.finish())).code).toBe('ABORTED');
    await sink.dispose();
    expect(await readdir(root)).toEqual(['model.gguf']);
    expect(await readFile(target, 'utf8')).toBe('previous');

    const ok = nodeOutputSink(t);
    await writeAll(ok, { x: 6 });
    expect(ok.replaced).toBe(true);
    expect(ok.written).toEqual([target]);
    expect((await readFile(target)).at(-1)).toBe(6);
    expect(await readdir(root)).toEqual(['model.gguf']);
  });
});

describe('free space is checked against the planned size before anything is written', () => {
  it('a planned output larger than the disk fails with IO_ERROR naming the folder, the bytes needed and free; nothing stays', async () => {
    const root = await fresh();
    const huge = planSafetensors([{ name: 't', dtype: 'U8', shape: [2 ** 50] }]); // 1 PiB: nothing is allocated before the check
    for (const target of [{ kind: 'folder', path: join(root, 'new', 'out') }, { kind: 'file', path: join(root, 'x.safetensors') }] as OutputTarget[]) {
      const err = await rejectsWithHQQError(nodeOutputSink(target).createShard('a.safetensors', huge));
      expect(err.code).toBe('IO_ERROR');
      expect(err.message).toMatch(/not enough free space in .*: the output( \(1 file so far\))? needs 1\.00 PiB \(1125899906842\d+ bytes\) more and the file system has .* \(\d+ bytes\) free; free some space/);
      expect(await readdir(root)).toEqual([]);
    }
  });

  it('counts every file of a folder output (a file system that tells 1 MB free)', async () => {
    const root = await fresh();
    const sink = folderSinkAt(join(root, 'out'), { freeSpace: async () => 1_000_000 });
    await sink.createShard('a.safetensors', fileOf(1, 400_000).layout); // sparse: only its header is allocated
    const err = await rejectsWithHQQError(sink.createShard('b.safetensors', fileOf(1, 700_000).layout));
    expect(err.message).toMatch(/the output \(2 files so far\) needs 1\.0\d MiB \(\d+ bytes\) more and the file system has 976\.56 KiB \(1000000 bytes\) free/);
    await sink.dispose();
    expect(await readdir(root)).toEqual([]);
  });
});

describe('temporaries of dead runs', () => {
  it('are removed by the next run and reported; those of live runs, other hosts and recent ones of earlier versions are left', async () => {
    const root = await fresh();
    const dead = deadPid();
    const id = 'abcdef012345';
    const mk = (target: string, pid: number, host: string, kind: string) => `.${target}.hqq-${pid}-${host}-${id}.${kind}`;
    const staleFile = mk('model.gguf', dead, hostTag(), 'partial');
    const staleDir = mk('out', dead, hostTag(), 'new');
    const liveFile = mk('model.gguf', process.ppid, hostTag(), 'partial'); // our parent is running
    const otherHost = mk('model.gguf', dead, 'ffffffff' === hostTag() ? 'eeeeeeee' : 'ffffffff', 'partial');
    const legacyOld = '.model.gguf.0123456789ab.partial';
    const legacyNew = '.model.gguf.ba9876543210.partial';
    for (const f of [staleFile, liveFile, otherHost, legacyOld, legacyNew]) await writeFile(join(root, f), 'x');
    await mkdir(join(root, staleDir));
    await writeFile(join(root, staleDir, 'a.safetensors'), 'x');
    const hourAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(root, legacyOld), hourAgo, hourAgo);
    const notices: string[] = [];
    const sink = nodeOutputSink({ kind: 'file', path: join(root, 'model.gguf') }, { onNotice: (m) => notices.push(m) });
    await writeAll(sink, { x: 1 });
    expect((await readdir(root)).sort()).toEqual(['model.gguf', liveFile, otherHost, legacyNew].sort());
    expect(notices).toHaveLength(3);
    expect(notices.join('\n')).toContain(`removed ${join(root, staleFile)}: an unfinished file of a run (pid ${dead}) that ended without cleaning up`);
    expect(notices.join('\n')).toContain(`removed ${join(root, staleDir)}: an unfinished output folder of a run (pid ${dead})`);
    expect(notices.join('\n')).toContain(`removed ${join(root, legacyOld)}: a temporary file of an earlier hqq-wasm version`);
    expect(sink.notices).toEqual(notices);
  });

  it('a temporary named with this process id but not registered by it is a dead earlier process (pid reuse)', async () => {
    const root = await fresh();
    await writeFile(join(root, temporaryName('a.bin', 'partial')), 'x');
    const res = await cleanStaleTemporaries(root);
    expect(res.removed).toHaveLength(1);
    expect(await readdir(root)).toEqual([]);
  });

  it('a switch killed between its two renames is completed by the next run (the new output moves into place)', async () => {
    const root = await fresh();
    const dead = deadPid();
    const id = '0123456789ab';
    const oldDir = join(root, `.out.hqq-${dead}-${hostTag()}-${id}.old`);
    const newDir = join(root, `.out.hqq-${dead}-${hostTag()}-${id}.new`);
    await mkdir(oldDir);
    await writeFile(join(oldDir, 'a.safetensors'), 'old');
    await writeFile(join(oldDir, OUTPUT_MARKER), JSON.stringify({ tool: 'hqq-wasm', version: '0', files: ['a.safetensors'] }));
    await mkdir(newDir);
    await writeFile(join(newDir, 'a.safetensors'), 'new');
    await writeFile(join(newDir, OUTPUT_MARKER), JSON.stringify({ tool: 'hqq-wasm', version: '0', files: ['a.safetensors'] }));
    const res = await cleanStaleTemporaries(root);
    expect(res.completed).toEqual([join(root, 'out')]);
    expect(res.notices[0]).toMatch(/completed the switch to the new output .*out that a killed run \(pid \d+\) had left half done/);
    expect(await readdir(root)).toEqual(['out']);
    expect(await readFile(join(root, 'out', 'a.safetensors'), 'utf8')).toBe('new');
  });
});

describe('resolveOutputTarget: what -o means', () => {
  it('a trailing slash is a folder (finding 11), an existing folder gets the file, a folder hqq-wasm made is replaced whole', async () => {
    const root = await fresh();
    const opts = { multiFile: false, defaultFileName: 'm.safetensors' };
    expect(await resolveOutputTarget(join(root, 'newdir') + '/', opts)).toEqual({ target: { kind: 'folder', path: join(root, 'newdir') }, fileName: 'm.safetensors' });
    expect(existsSync(join(root, 'newdir'))).toBe(false); // nothing created by resolving
    expect(await resolveOutputTarget(join(root, 'f.gguf'), opts)).toEqual({ target: { kind: 'file', path: join(root, 'f.gguf') }, fileName: 'f.gguf' });
    expect(await resolveOutputTarget(root, opts)).toEqual({ target: { kind: 'file', path: join(root, 'm.safetensors') }, fileName: 'm.safetensors' });
    const ours = join(root, 'ours');
    await writeAll(folderSinkAt(ours), { 'm.safetensors': 1 });
    expect((await resolveOutputTarget(ours, opts)).target).toEqual({ kind: 'folder', path: ours });
    await writeFile(join(root, 'file'), 'x');
    expect((await rejectsWithHQQError(resolveOutputTarget(join(root, 'file') + '/', opts))).message).toMatch(/ends in "\/" \(a folder\), but it is a file/);
    const multi = { multiFile: true, defaultFileName: 'model.safetensors.index.json' };
    expect(await resolveOutputTarget(join(root, 'sharded'), multi)).toEqual({ target: { kind: 'folder', path: join(root, 'sharded') } });
    expect(await resolveOutputTarget(join(root, 'sharded', 'my.index.json'), multi)).toEqual({ target: { kind: 'folder', path: join(root, 'sharded') }, fileName: 'my.index.json' });
    expect((await rejectsWithHQQError(resolveOutputTarget(root, multi))).message).toMatch(/is a folder that hqq-wasm did not make/);
    expect((await rejectsWithHQQError(resolveOutputTarget(join(ours, 'm.safetensors'), { ...opts, inputPaths: [join(ours, 'm.safetensors')] }))).message).toMatch(/the output is the input file/);
  });
});

describe('nodeFileSink (the former constructor)', () => {
  it('maps pathOf into a folder output', async () => {
    const out = join(await fresh(), 'out');
    const sink = nodeFileSink((f) => join(out, f));
    await writeAll(sink, { 'a.safetensors': 1 }, { 'index.json': '{}' });
    expect(sink.written).toEqual([join(out, 'a.safetensors'), join(out, 'index.json')]);
    expect(await readdir(out)).toEqual([OUTPUT_MARKER, 'a.safetensors', 'index.json']);
    const bad = nodeFileSink((f) => join(out, 'sub', f.toUpperCase()));
    expect((await rejectsWithHQQError(bad.createShard('a', fileOf(1).layout))).message).toContain('is not <folder>/a');
  });
});
