#!/usr/bin/env node
// Writes the demo's built-in sample model, deterministically, into demo/public/sample/ (or the
// directory given as the first argument): a tiny Llama-shaped checkpoint (hidden 256, 2 layers,
// vocab 1024, F16, heavy-tailed Student-t(5) weights) split into shards with an index, exactly as
// Hugging Face lays out a sharded model. Also writes sample.json (what the page and the tests
// expect: file names, tensors, sizes). Uses the built package (run scripts/build.sh first).
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'web', 'dist');
const load = (p) => import(join(dist, p)).catch((e) => {
  console.error(`make-sample-model: cannot import web/dist/${p} (${e.message}); run "bash scripts/build.sh" first`);
  process.exit(1);
});
const { syntheticPreset, syntheticLlamaSpec, generateTensorData, shardPlan, countParameters } = await load('model/synthetic.js');
const { planSafetensors } = await load('io/writer.js');
const { buildIndexJson } = await load('io/index-json.js');

const SEED = 20240501;
const MAX_SHARD_BYTES = 2_000_000;
const outDir = resolve(process.argv[2] ?? join(root, 'demo', 'public', 'sample'));

const config = syntheticPreset('tiny', 'F16');
const spec = syntheticLlamaSpec(config);
const plan = shardPlan(spec, MAX_SHARD_BYTES);

await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
const files = [];
for (const shard of plan.shards) {
  const layout = planSafetensors(
    shard.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
    { format: 'pt', generator: 'hqq-wasm scripts/make-sample-model.mjs', seed: String(SEED) },
  );
  const bytes = new Uint8Array(layout.totalSize);
  bytes.set(layout.headerBytes, 0);
  for (const t of shard.tensors) bytes.set(generateTensorData(t, SEED), layout.offsets.get(t.name).begin);
  await writeFile(join(outDir, shard.fileName), bytes);
  files.push({ name: shard.fileName, size: bytes.byteLength });
}
const indexName = 'model.safetensors.index.json';
const indexText = buildIndexJson(plan.weightMap, plan.totalSize);
await writeFile(join(outDir, indexName), indexText);
files.push({ name: indexName, size: Buffer.byteLength(indexText) });

const manifest = {
  description: 'Synthetic Llama-shaped model (tiny preset: hidden 256, 2 layers, vocab 1024), F16, Student-t(5) weights, std 0.02',
  seed: SEED,
  parameters: countParameters(spec),
  files,
  tensors: spec.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, kind: t.kind, shard: plan.weightMap.get(t.name) })),
};
await writeFile(join(outDir, 'sample.json'), JSON.stringify(manifest, null, 2) + '\n');
const total = files.reduce((a, f) => a + f.size, 0);
console.log(`make-sample-model: ${spec.length} tensors, ${manifest.parameters.toLocaleString('en-US')} parameters, ${plan.shards.length} shards, ${(total / 1e6).toFixed(2)} MB -> ${outDir}`);
