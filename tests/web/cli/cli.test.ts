/**
 * The hqq-wasm CLI as a child process: `node bin/hqq-wasm.mjs ...`. The launcher imports the
 * COMPILED CLI (web/dist/cli.js), so build first with `bash scripts/build.sh`; these tests fail
 * with that message when web/dist is missing.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BIN, ROOT, requireBuiltCli, runCli as run } from './run-cli.js';
import { normalMatrix } from '../../package/check.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { generateTensorData, syntheticLlamaSpec, syntheticPreset } from '../../../web/src/model/synthetic.js';

let dir: string;
let model: string;

beforeAll(async () => {
  requireBuiltCli();
  dir = await mkdtemp(join(tmpdir(), 'hqq-cli-'));
  model = join(dir, 'tiny.safetensors');
  const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F16', { numLayers: 1 }));
  const entries = spec.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape }));
  const plan = planSafetensors(entries.concat([{ name: 'step', dtype: 'I64', shape: [] }]), { format: 'pt' });
  const bytes = new Uint8Array(plan.totalSize);
  bytes.set(plan.headerBytes);
  for (const t of spec) bytes.set(generateTensorData(t, 11), plan.offsets.get(t.name)!.begin);
  await writeFile(model, bytes);
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('hqq-wasm CLI', () => {
  it('--help everywhere, exit 0', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/hqq-wasm quantize/);
    for (const cmd of ['quantize', 'inspect', 'dequantize']) {
      const r = await run([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toMatch(new RegExp(`Usage: hqq-wasm ${cmd}`));
    }
    expect((await run(['quantize', '-h'])).stdout).toMatch(/--tensor-config/);
  });

  it('usage errors exit 2 and name the flag', async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['quantize', model, '-o', join(dir, 'x.safetensors'), '--nbits', '7'], /--nbits must be one of/],
      [['quantize', model, '-o', join(dir, 'x.safetensors'), '--group-size', 'abc'], /--group-size must be an integer/],
      [['quantize', model, '-o', join(dir, 'x.safetensors'), '--axis', '2'], /--axis must be 0 or 1/],
      [['quantize', model, '-o', join(dir, 'x.safetensors'), '--frob'], /unknown option --frob/],
      [['quantize', model, '-o', join(dir, 'x.safetensors'), '--tensor-config', 'mlp=4'], /./],
      [['quantize', model, '-o', join(dir, 'x.safetensors'), '--tensor-config', 'mlp'], /--tensor-config: .*RE=BITS:GROUP/],
      [['quantize', model, '-o', join(dir, 'x.safetensors'), '--include', '('], /--include: .*not a valid regular expression/],
      [['quantize', model, '-o', join(dir, 'x.safetensors'), '--compute-dtype', 'float64'], /--compute-dtype must be one of/],
      [['quantize', model, '-o', join(dir, 'x.safetensors'), '--workers', '0'], /--workers must be an integer >= 1/],
      [['quantize', model], /needs -o/],
      [['quantize', model, '--nbits'], /--nbits needs a value/],
      [['dequantize', model], /needs -o/],
      [['dequantize', model, '-o', join(dir, 'd.safetensors'), '--dtype', 'int8'], /--dtype must be/],
      [['inspect'], /exactly one file/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      if (args.includes('mlp=4')) {
        expect(r.code, args.join(' ')).toBe(0); // RE=BITS keeps the group size: valid
        continue;
      }
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
    }
  });

  it('quantize prints one line per tensor and a summary; --json is machine-readable; inspect and dequantize work', async () => {
    const out = join(dir, 'tiny-q.safetensors');
    const r = await run(['quantize', model, '-o', out, '--workers', '2']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const tensorLines = lines.filter((l) => /^\[\s*\d+\/\s*\d+\] /.test(l));
    expect(tensorLines).toHaveLength(13);
    expect(r.stdout).toMatch(/\] model\.layers\.0\.mlp\.up_proj\.weight \[688, 256\] F16 -> q4 g64 344\.00 KiB -> \d+\.\d\d KiB \d\.\d\d bpw \|err\| \d\.\de-\d/);
    // In tensor order although two workers and the copy lane finish out of order; under 120 columns.
    const indices = tensorLines.map((l) => Number(/^\[\s*(\d+)\//.exec(l)![1]));
    expect(indices).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    for (const l of lines) expect(l.length, l).toBeLessThan(120);
    expect(r.stdout).toMatch(/model\.embed_tokens\.weight .*-> copy .*embedding/);
    expect(r.stdout).toMatch(/^quantized 7 of 13 tensors/m);
    expect(r.stdout).toMatch(/bits per weight/);
    expect(r.stdout).not.toMatch(/\r/); // no progress bar when stdout is not a TTY

    const j = await run(['quantize', model, '-o', join(dir, 'tiny-q2.safetensors'), '--json', '--nbits', '2', '--group-size', '32', '--exclude', 'down_proj']);
    expect(j.code, j.stderr).toBe(0);
    const rep = JSON.parse(j.stdout);
    expect(rep.command).toBe('quantize');
    expect(rep.totals.quantized).toBe(6);
    expect(rep.config).toMatchObject({ nbits: 2, group_size: 32, exclude: 'down_proj' });
    expect(rep.tensors.find((t: { name: string }) => t.name.endsWith('down_proj.weight')).reason).toMatch(/exclude/);
    expect(rep.outputPaths).toEqual([join(dir, 'tiny-q2.safetensors')]);

    const dry = await run(['quantize', model, '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout).dryRun).toBe(true);

    // inspect: a summary by default (not 19 lines per layer), every key with --keys.
    const ins = await run(['inspect', out]);
    expect(ins.code, ins.stderr).toBe(0);
    expect(ins.stdout).toMatch(/HQQ layers: 7 \(133 tensors\), 6 other tensors/);
    expect(ins.stdout).toMatch(/q4 g64 axis 1 4bit_u8 torch\.float16: 7 layers/);
    expect(ins.stdout).not.toMatch(/W_q/);
    expect(ins.stdout.trim().split('\n').length).toBeLessThan(20);
    const keys = await run(['inspect', out, '--keys']);
    expect(keys.stdout).toMatch(/model\.layers\.0\.mlp\.up_proj\.W_q +U8 +\[1376, 64\]/);
    expect(keys.stdout).toMatch(/HQQ layers: 7/);
    expect(keys.stdout).toMatch(/model\.layers\.0\.mlp\.up_proj +q4 g64 axis 1 +\[688, 256\] +4bit_u8 +torch\.float16/);
    const insJ = JSON.parse((await run(['inspect', out, '--json'])).stdout);
    expect(insJ.files[0].layers).toHaveLength(7);

    const deq = join(dir, 'tiny-deq.safetensors');
    const d = await run(['dequantize', out, '-o', deq, '--dtype', 'float32']);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/dequantized 7 layers, copied 6 tensors/);
    const insD = JSON.parse((await run(['inspect', deq, '--json'])).stdout);
    const up = insD.files[0].tensors.find((t: { name: string }) => t.name === 'model.layers.0.mlp.up_proj.weight');
    expect(up).toMatchObject({ dtype: 'F32', shape: [688, 256] });
  });

  it('failures exit 1 with a message and leave no file', async () => {
    const missing = await run(['quantize', join(dir, 'nope.safetensors'), '-o', join(dir, 'n.safetensors')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/IO_ERROR.*nope\.safetensors/);
    expect(missing.stderr.match(/ENOENT/g)).toHaveLength(1); // one errno code per message
    const self = await run(['quantize', model, '-o', model]);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/refusing to overwrite/);
    const outDir = await mkdtemp(join(dir, 'crash-'));
    const crash = await run(['quantize', model, '-o', join(outDir, 'c.safetensors')], { HQQ_WASM_TEST_CRASH_ON: 'model.layers.0.mlp.gate_proj.weight:exit' });
    expect(crash.code).toBe(1);
    expect(crash.stderr).toMatch(/WORKER_FAILED.*model\.layers\.0\.mlp\.gate_proj\.weight/);
    expect(await readdir(outDir)).toEqual([]);
  });

  it('Ctrl-C (SIGINT) aborts cleanly: exit 130, no output, no temp file', async () => {
    const big = join(dir, 'mid.safetensors');
    const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F16', { hiddenSize: 1024, intermediateSize: 2816, numLayers: 2, vocabSize: 256 }));
    const plan = planSafetensors(spec.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })));
    const bytes = new Uint8Array(plan.totalSize);
    bytes.set(plan.headerBytes);
    for (const t of spec) bytes.set(generateTensorData(t, 2), plan.offsets.get(t.name)!.begin);
    await writeFile(big, bytes);
    const outDir = await mkdtemp(join(dir, 'sigint-'));
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(process.execPath, [BIN, 'quantize', big, '-o', join(outDir, 'o.safetensors'), '--workers', '1'], { cwd: ROOT });
      let stdout = '';
      let stderr = '';
      let sent = false;
      p.stdout.on('data', (d) => {
        stdout += d;
        if (!sent && / -> q4 /.test(stdout)) {
          sent = true;
          p.kill('SIGINT');
        }
      });
      p.stderr.on('data', (d) => (stderr += d));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/interrupted/);
    expect(r.stdout).not.toMatch(/^wrote /m);
    expect(await readdir(outDir)).toEqual([]);
  });
});

describe('hqq-wasm CLI hardening (issue 9)', () => {
  it('--workers beyond the core count is capped with a warning; --strict fails before writing', async () => {
    const out = join(dir, 'w.safetensors');
    const r = await run(['quantize', model, '-o', out, '--workers', '1000', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning \[WORKERS_CAPPED\]: --workers 1000 is more than the \d+ cores?/);
    const rep = JSON.parse(r.stdout);
    expect(rep.workers).toBeLessThanOrEqual(availableParallelism());
    expect(rep.warnings.map((w: { code: string }) => w.code)).toContain('WORKERS_CAPPED');
    const strictOut = join(dir, 'w-strict.safetensors');
    const s = await run(['quantize', model, '-o', strictOut, '--workers', '1000', '--strict']);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/--strict: 1 warning\(s\) count as errors; failing before writing anything/);
    expect(existsSync(strictOut)).toBe(false);
  });

  it('--strict with a plan warning (a pattern that matches nothing) fails before writing: the previous output stays', async () => {
    const out = join(dir, 'strict-keep.safetensors');
    await writeFile(out, 'OLD');
    for (const flags of [['--include', 'no_such_tensor'], ['--tensor-config', 'no_such=8'], ['--exclude', '.*']]) {
      const s = await run(['quantize', model, '-o', out, ...flags, '--strict']);
      expect(s.code, s.stderr).toBe(1);
      expect(s.stderr).toMatch(/warning \[(PATTERN_UNUSED|OVERRIDE_UNUSED|NOTHING_QUANTIZED)\]/);
      expect(s.stderr).toMatch(/--strict: \d warning\(s\) count as errors; failing before writing anything/);
      expect(await readFile(out, 'utf8')).toBe('OLD');
      expect((await readdir(dir)).filter((n) => n.includes('strict-keep') && n !== 'strict-keep.safetensors')).toEqual([]);
    }
    // Without --strict the same run warns and writes.
    const w = await run(['quantize', model, '-o', out, '--include', 'no_such_tensor']);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/PATTERN_UNUSED/);
    expect(await readFile(out, 'utf8')).not.toBe('OLD');
  });

  it('dequantize of a file without HQQ layers warns (exit 0), and fails with --strict writing nothing', async () => {
    const o = join(dir, 'plain-copy.safetensors');
    const r = await run(['dequantize', model, '-o', o]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning \[NOTHING_TO_DEQUANTIZE\]: .*tiny\.safetensors holds no HQQ layer/);
    expect(r.stdout).toMatch(/dequantized 0 layers/);
    const o2 = join(dir, 'plain-copy-strict.safetensors');
    const s = await run(['dequantize', model, '-o', o2, '--strict']);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/NOTHING_TO_DEQUANTIZE/);
    expect(existsSync(o2)).toBe(false);
  });

  it('weights too small for the scale limits warn (SMALL_WEIGHTS, counted per tensor); --strict discards the output and keeps the previous one', async () => {
    const p = join(dir, 'small-weights.safetensors');
    const shape = [64, 128];
    const plan = planSafetensors([{ name: 'small.weight', dtype: 'F32', shape }, { name: 'usual.weight', dtype: 'F32', shape }]);
    const bytes = new Uint8Array(plan.totalSize);
    bytes.set(plan.headerBytes);
    bytes.set(new Uint8Array(normalMatrix(64 * 128, 5, 1e-5).buffer), plan.offsets.get('small.weight')!.begin);
    bytes.set(new Uint8Array(normalMatrix(64 * 128, 6, 0.02).buffer), plan.offsets.get('usual.weight')!.begin);
    await writeFile(p, bytes);
    const out = join(dir, 'small-weights-q.safetensors');
    const r = await run(['quantize', p, '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning \[SMALL_WEIGHTS\]: 1 tensor\(s\) .*small\.weight \(128 of 128 groups\)/);
    const rep = JSON.parse(r.stdout);
    const byName = new Map(rep.tensors.map((t: { name: string }) => [t.name, t]));
    const small = byName.get('small.weight') as { limitedGroups?: number; relFrobenius: number };
    const usual = byName.get('usual.weight') as { limitedGroups?: number; relFrobenius: number };
    expect(small.limitedGroups).toBe(128);
    expect(usual.limitedGroups).toBeUndefined();
    expect(small.relFrobenius).toBeGreaterThan(2 * usual.relFrobenius); // what the warning is about
    expect(rep.warnings.map((w: { code: string }) => w.code)).toContain('SMALL_WEIGHTS');
    const before = await readFile(out);
    const s = await run(['quantize', p, '-o', out, '--nbits', '8', '--strict']);
    expect(s.code, s.stderr).toBe(1);
    expect(s.stderr).toMatch(/SMALL_WEIGHTS/);
    expect(s.stderr).toMatch(/failing before publishing the output \(the previous one stays\)/);
    expect(Buffer.compare(await readFile(out), before)).toBe(0);
    expect((await readdir(dir)).filter((n) => n.includes('small-weights-q') && n !== 'small-weights-q.safetensors')).toEqual([]);
  });

  it('inspect prints a summary of a file with 120,000 tensors (Math.max(...spread) crashed above ~110k)', async () => {
    const n = 120_000;
    const p = join(dir, 'many.safetensors');
    const plan = planSafetensors(Array.from({ length: n }, (_, i) => ({ name: `t.${i}`, dtype: 'U8' as const, shape: [1] })));
    const bytes = new Uint8Array(plan.totalSize);
    bytes.set(plan.headerBytes);
    await writeFile(p, bytes);
    const r = await run(['inspect', p]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/120000 tensors/);
    expect(r.stdout).toMatch(/dtypes: U8 120000/);
    const k = await run(['inspect', p, '--keys']);
    expect(k.code, k.stderr).toBe(0);
    expect(k.stdout.split('\n').filter((l) => /^ {2}t\.\d+ /.test(l))).toHaveLength(n);
  });

  it('a catastrophic --exclude pattern is refused (exit 2) instead of hanging the run', async () => {
    const bad = await run(['quantize', model, '--dry-run', '--exclude', '(a+)+$']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--exclude: "\(a\+\)\+\$" could take exponential time .*nested repetition/);
    const ok = await run(['quantize', model, '--dry-run', '--json', '--exclude', 'mlp\\.(up|down)_proj']);
    expect(ok.code, ok.stderr).toBe(0);
  });
});
