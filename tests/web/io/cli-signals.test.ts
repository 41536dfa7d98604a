/**
 * Signals and a closed stdout, on the real CLI (`node bin/hqq-wasm.mjs`, compiled web/dist: build
 * first): SIGINT, SIGTERM and SIGHUP abort cleanly with 128 + N and leave the previous output and no
 * temporary (finding 3); a second signal exits at once and removes the temporaries, but never in
 * the middle of a switch; `quantize ... | head -2` stops the run with 141 instead of exiting 0 with
 * a `.partial` left behind (finding 17). Deterministic: the test-only hook
 * HQQ_WASM_TEST_OUTPUT_POINTS pauses at a named point and the signal is sent when it is printed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndexJson } from '../../../web/src/io/index-json.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { generateTensorData, shardPlan, syntheticLlamaSpec, syntheticPreset } from '../../../web/src/model/synthetic.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/hqq-wasm.mjs');
let dir: string;
let index: string;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'web/dist/cli.js'))) throw new Error('web/dist/cli.js is missing: run `bash scripts/build.sh` first');
  dir = await mkdtemp(join(tmpdir(), 'hqq-cli-signals-'));
  const inDir = join(dir, 'in');
  await mkdir(inDir);
  const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F16', { hiddenSize: 128, intermediateSize: 256, vocabSize: 256 }));
  const sp = shardPlan(spec, 200_000);
  for (const s of sp.shards) {
    const plan = planSafetensors(s.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })), { format: 'pt' });
    const bytes = new Uint8Array(plan.totalSize);
    bytes.set(plan.headerBytes);
    for (const t of s.tensors) bytes.set(generateTensorData(t, 3), plan.offsets.get(t.name)!.begin);
    await writeFile(join(inDir, s.fileName), bytes);
  }
  index = join(inDir, 'model.safetensors.index.json');
  await writeFile(index, buildIndexJson(sp.weightMap, sp.totalSize));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: string;
  stderr: string;
  /** Resolves when `text` has appeared on stderr. */
  waitFor(text: string): Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  const waiters: { text: string; resolve(): void }[] = [];
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    waitFor: (text) => new Promise<void>((resolve) => {
      if (run.stderr.includes(text)) resolve();
      else waiters.push({ text, resolve });
    }),
    done: new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal }))),
  };
  child.stdout.on('data', (d) => (run.stdout += d));
  child.stderr.on('data', (d) => {
    run.stderr += d;
    for (const w of waiters.splice(0)) if (run.stderr.includes(w.text)) w.resolve(); else waiters.push(w);
  });
  return run;
}

async function snapshot(folder: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of (await readdir(folder)).sort()) out.set(f, (await readFile(join(folder, f))).toString('base64'));
  return out;
}

const quantize = (out: string, nbits: number) => ['quantize', index, '-o', out, '--workers', '1', '--nbits', String(nbits)];
const temporaries = async (folder: string) => (await readdir(folder)).filter((e) => e.includes('.hqq-') || e.endsWith('.partial'));

let template: string | undefined;

/** A fresh copy of an 8-bit output made by the CLI (once), in its own folder. */
async function oldOutput(name: string): Promise<{ root: string; out: string; before: Map<string, string> }> {
  if (!template) {
    const t = join(dir, 'template');
    const r = start(quantize(t, 8));
    expect((await r.done).code, r.stderr).toBe(0);
    template = t;
  }
  const root = await mkdtemp(join(dir, `${name}-`));
  const out = join(root, 'out');
  await cp(template, out, { recursive: true });
  return { root, out, before: await snapshot(out) };
}

describe('signals (findings 2, 3)', () => {
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`${sig} before the switch: exit ${code}, the previous output byte for byte, no temporary`, async () => {
      const { root, out, before } = await oldOutput(sig);
      const r = start(quantize(out, 4), { HQQ_WASM_TEST_OUTPUT_POINTS: 'finish:ready:300' });
      await r.waitFor('hqq-wasm-test-point finish:ready');
      r.child.kill(sig);
      const { code: got } = await r.done;
      expect(got, r.stderr).toBe(code);
      expect(r.stderr).toMatch(new RegExp(`interrupted: .*received ${sig}`));
      expect(r.stdout).not.toMatch(/^wrote /m);
      expect(await snapshot(out)).toEqual(before);
      expect(await temporaries(root)).toEqual([]);
    });
  }

  it('a signal during the switch lets it finish: exit 0, the new output, a notice', async () => {
    const { root, out, before } = await oldOutput('late');
    const r = start(quantize(out, 4), { HQQ_WASM_TEST_OUTPUT_POINTS: 'switch:old-moved:300' });
    await r.waitFor('hqq-wasm-test-point switch:old-moved');
    r.child.kill('SIGINT');
    expect((await r.done).code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/received SIGINT after the new output was in place: .* is complete and the run succeeded/);
    expect(r.stdout).toMatch(/^wrote .*model\.safetensors\.index\.json$/m);
    const after = await snapshot(out);
    expect([...after.keys()]).toEqual([...before.keys()]);
    expect(after).not.toEqual(before);
    expect(await temporaries(root)).toEqual([]);
  });

  it('a second signal exits at once and removes the temporaries; during a switch it waits for the switch', async () => {
    const { root, out, before } = await oldOutput('twice');
    let r = start(quantize(out, 4), { HQQ_WASM_TEST_OUTPUT_POINTS: 'finish:ready:1500' });
    await r.waitFor('hqq-wasm-test-point finish:ready');
    r.child.kill('SIGINT');
    await new Promise((res) => setTimeout(res, 50));
    r.child.kill('SIGTERM');
    expect((await r.done).code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM again: stopping without waiting for the cleanup\n.*exiting now \(removed 1 temporary\)/);
    expect(await snapshot(out)).toEqual(before);
    expect(await temporaries(root)).toEqual([]);

    r = start(quantize(out, 4), { HQQ_WASM_TEST_OUTPUT_POINTS: 'switch:old-moved:1000' });
    await r.waitFor('hqq-wasm-test-point switch:old-moved');
    r.child.kill('SIGINT');
    await new Promise((res) => setTimeout(res, 100)); // two signals at once are delivered as one
    r.child.kill('SIGINT');
    expect((await r.done).code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/SIGINT again: exiting as soon as the output switch in progress is done\n.*the new output is in place\n.*exiting now \(removed 1 temporary\)/);
    expect([...(await snapshot(out)).keys()]).toEqual([...before.keys()]);
    expect(await snapshot(out)).not.toEqual(before);
    expect(await temporaries(root)).toEqual([]);
  });

  it('after SIGKILL the next run removes the dead run\'s temporaries and says so on stderr', async () => {
    const { root, out } = await oldOutput('kill');
    let r = start(quantize(out, 4), { HQQ_WASM_TEST_OUTPUT_POINTS: 'finish:ready:20000' });
    await r.waitFor('hqq-wasm-test-point finish:ready');
    r.child.kill('SIGKILL');
    await r.done;
    const killed = r.child.pid!;
    const left = await temporaries(root);
    expect(left).toEqual([expect.stringMatching(new RegExp(`^\\.out\\.hqq-${killed}-[0-9a-f]{8}-[0-9a-f]{12}\\.new$`))]);
    r = start(quantize(out, 2));
    expect((await r.done).code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`hqq-wasm: removed ${join(root, left[0]!)}: an unfinished output folder of a run (pid ${killed}) that ended without cleaning up`);
    expect(await temporaries(root)).toEqual([]);
  });
});

describe('a closed stdout (finding 17)', () => {
  it('stdout closed while the run writes: it stops with 141, the previous output stays, no temporary', async () => {
    const { root, out, before } = await oldOutput('pipe');
    // Closed before the first tensor line: that line's write fails with EPIPE.
    const r = start(quantize(out, 4), { HQQ_WASM_TEST_OUTPUT_POINTS: 'prepare:200' });
    await r.waitFor('hqq-wasm-test-point prepare');
    r.child.stdout.destroy();
    const { code } = await r.done;
    expect(code, r.stderr).toBe(141);
    expect(r.stderr).toMatch(/interrupted: .*stdout was closed/);
    expect(await snapshot(out)).toEqual(before);
    expect(await temporaries(root)).toEqual([]);
  });

  it('a real `| head -2`: either stopped (141, previous output) or finished (0, new output), never a temporary left', async () => {
    const { root, out, before } = await oldOutput('head');
    const cmd = `set -o pipefail; "${process.execPath}" "${BIN}" ${quantize(out, 4).map((a) => `'${a}'`).join(' ')} | head -2 > /dev/null`;
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn('bash', ['-c', cmd], { cwd: ROOT });
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      c.on('close', (code) => resolve({ code, stderr }));
    });
    const after = await snapshot(out);
    if (r.code === 141) {
      expect(r.stderr).toMatch(/stdout was closed/);
      expect(after).toEqual(before);
    } else {
      expect(r.code, r.stderr).toBe(0);
      expect(after).not.toEqual(before);
    }
    expect(await temporaries(root)).toEqual([]);
  });

  it('inspect | head: a closed pipe just ends the output, exit 0', async () => {
    const r = start(['inspect', index]);
    r.child.stdout.once('data', () => r.child.stdout.destroy());
    expect((await r.done).code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});
