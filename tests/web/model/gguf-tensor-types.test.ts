// llama-quantize's per-tensor type rules (web/src/formats/gguf/tensor-types.ts):
//  - against llama.cpp's own expected results: tests/snapshots/*.schema of the llama.cpp source
//    node-llama-cpp ships (written by its test-quant-type-selection from llama-quant.cpp), for
//    Llama-3.1-70B, Qwen3-0.6B, Qwen3-14B and Gemma-3-4B (tied embeddings), every preset we write;
//  - table-driven, per preset, on a Llama-7B-like model (32 layers), a GQA model, a model whose
//    rows are not multiples of 256, and an 8-expert MoE, with the expectations written from
//    reading llama-quant.cpp;
//  - the flags (--tensor-type, --pure, --output-tensor-type, --token-embedding-type,
//    --leave-output-tensor, --allow-requantize) and the selection of tensors to quantize.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import {
  GGUF_PRESETS,
  chooseTensorType,
  chooseTensorTypes,
  ggufModelFacts,
  ggufPreset,
  is70B,
  parseTensorTypeOverride,
  quantizedMetadataChanges,
  type GGUFModelFacts,
  type TensorTypeChoice,
  type TensorTypeInput,
  type TensorTypeOptions,
} from '../../../web/src/formats/gguf/tensor-types.js';
import { ggmlTypeByName, ggufValue, withMetadata, type GGUFValue } from '../../../web/src/io/gguf.js';

const ROOT = resolve(__dirname, '../../..');

function catchErr(fn: () => unknown): HQQError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof HQQError)) throw new Error(`expected an HQQError, got ${String(e)}`);
    return e;
  }
  throw new Error('expected an HQQError, nothing was thrown');
}

interface ModelShape {
  arch?: string;
  nLayer: number;
  nEmbd: number;
  nFf: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nVocab: number;
  tied?: boolean;
  /** Qwen3/Gemma: per-head q/k norms; Gemma: post norms too. */
  qkNorm?: boolean;
  postNorms?: boolean;
  nExpert?: number;
  ropeFreqs?: boolean;
}

/** The tensor list of a Llama-architecture GGUF (llama.cpp's names), F16 weights and F32 norms. */
function llamaTensors(m: ModelShape): TensorTypeInput[] {
  const t: TensorTypeInput[] = [];
  const w = (name: string, ne: number[]) => t.push({ name, ne, type: 'F16' });
  const norm = (name: string, n: number) => t.push({ name, ne: [n], type: 'F32' });
  w('token_embd.weight', [m.nEmbd, m.nVocab]);
  norm('output_norm.weight', m.nEmbd);
  if (!m.tied) w('output.weight', [m.nEmbd, m.nVocab]);
  if (m.ropeFreqs) norm('rope_freqs.weight', m.headDim / 2);
  const q = m.nHead * m.headDim;
  const kv = m.nHeadKv * m.headDim;
  for (let i = 0; i < m.nLayer; i++) {
    const b = `blk.${i}.`;
    norm(`${b}attn_norm.weight`, m.nEmbd);
    w(`${b}attn_q.weight`, [m.nEmbd, q]);
    w(`${b}attn_k.weight`, [m.nEmbd, kv]);
    w(`${b}attn_v.weight`, [m.nEmbd, kv]);
    w(`${b}attn_output.weight`, [q, m.nEmbd]);
    if (m.qkNorm) {
      norm(`${b}attn_q_norm.weight`, m.headDim);
      norm(`${b}attn_k_norm.weight`, m.headDim);
    }
    if (m.postNorms) {
      norm(`${b}post_attention_norm.weight`, m.nEmbd);
      norm(`${b}post_ffw_norm.weight`, m.nEmbd);
    }
    norm(`${b}ffn_norm.weight`, m.nEmbd);
    if (m.nExpert) {
      w(`${b}ffn_gate_inp.weight`, [m.nEmbd, m.nExpert]);
      w(`${b}ffn_gate_exps.weight`, [m.nEmbd, m.nFf, m.nExpert]);
      w(`${b}ffn_up_exps.weight`, [m.nEmbd, m.nFf, m.nExpert]);
      w(`${b}ffn_down_exps.weight`, [m.nFf, m.nEmbd, m.nExpert]);
    } else {
      w(`${b}ffn_gate.weight`, [m.nEmbd, m.nFf]);
      w(`${b}ffn_up.weight`, [m.nEmbd, m.nFf]);
      w(`${b}ffn_down.weight`, [m.nFf, m.nEmbd]);
    }
  }
  return t;
}

function factsOf(m: ModelShape): GGUFModelFacts {
  return { architecture: m.arch ?? 'llama', nLayer: m.nLayer, nHead: m.nHead, nHeadKv: m.nHeadKv, nExpert: m.nExpert ?? 0 };
}

const byName = (choices: TensorTypeChoice[]) => new Map(choices.map((c) => [c.name, c]));

// -------------------------------------------------------------------------------------------------
// llama.cpp's own snapshots

interface SnapshotSection {
  preset: string;
  defaultType: string;
  overrides: Map<string, string>;
}

function parseSnapshot(text: string): SnapshotSection[] {
  const sections: SnapshotSection[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const head = /^\[([A-Z0-9_]+)\] (\S+)$/.exec(line);
    if (head) {
      sections.push({ preset: head[1]!, defaultType: head[2]!, overrides: new Map() });
      continue;
    }
    const sp = line.lastIndexOf(' ');
    sections[sections.length - 1]!.overrides.set(line.slice(0, sp), line.slice(sp + 1));
  }
  return sections;
}

const SNAPSHOT_MODELS: [string, ModelShape][] = [
  // Shapes from the snapshots' headers and the models' configs (head_dim 128 unless noted).
  ['meta-llama-3.1-70b-instruct', { nLayer: 80, nEmbd: 8192, nFf: 28672, nHead: 64, nHeadKv: 8, headDim: 128, nVocab: 128256, ropeFreqs: true }],
  ['qwen3-0.6b', { arch: 'qwen3', nLayer: 28, nEmbd: 1024, nFf: 3072, nHead: 16, nHeadKv: 8, headDim: 128, nVocab: 151936, qkNorm: true }],
  ['qwen3-14b', { arch: 'qwen3', nLayer: 40, nEmbd: 5120, nFf: 17408, nHead: 40, nHeadKv: 8, headDim: 128, nVocab: 151936, qkNorm: true }],
  ['gemma-3-4b-it', { arch: 'gemma3', nLayer: 34, nEmbd: 2560, nFf: 10240, nHead: 8, nHeadKv: 4, headDim: 256, nVocab: 262144, tied: true, qkNorm: true, postNorms: true }],
];

describe("llama.cpp's own expected types (tests/snapshots, from llama-quant.cpp)", () => {
  const dir = execFileSync('bash', [join(ROOT, 'scripts/llama-cpp-source.sh'), ':(glob)tests/snapshots/*.schema'], { encoding: 'utf8', timeout: 300_000 }).trim();
  for (const [file, shape] of SNAPSHOT_MODELS) {
    it(`${file}: every tensor, every preset`, () => {
      const sections = parseSnapshot(readFileSync(join(dir, 'tests/snapshots', `${file}.schema`), 'utf8'));
      const tensors = llamaTensors(shape);
      const names = new Set(tensors.map((t) => t.name));
      let checked = 0;
      for (const preset of GGUF_PRESETS) {
        const section = sections.find((s) => s.preset === preset.name);
        expect(section, `${file} has a [${preset.name}] section`).toBeDefined();
        expect(section!.defaultType).toBe(ggmlTypeByName(preset.defaultType)!.ggmlName);
        for (const name of section!.overrides.keys()) expect(names.has(name), `${file} [${preset.name}] names ${name}, which the synthetic model lacks`).toBe(true);
        const choices = chooseTensorTypes(tensors, factsOf(shape), { preset: preset.name });
        for (const c of choices) {
          if (c.inputType === 'F32') continue; // 1-D tensors are not in the snapshot (not quantized)
          const expected = section!.overrides.get(c.name) ?? section!.defaultType;
          expect(ggmlTypeByName(c.type)!.ggmlName, `${file} [${preset.name}] ${c.name} (${c.reason})`).toBe(expected);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(14 * shape.nLayer * 7);
    });
  }
});

// -------------------------------------------------------------------------------------------------
// Table-driven, from reading llama-quant.cpp

/** use_more_bits for 32 layers: i < 4, i >= 28, or (i - 4) % 3 == 2. */
const MORE_BITS_32 = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31];
const ALL_32 = Array.from({ length: 32 }, (_, i) => i);

/** Per preset: default, output type, and per category a type or [layers, type, else type]. */
type Rule = string | [number[], string, string];
interface PresetTable {
  default: string;
  output: string;
  attn_v?: Rule;
  ffn_down?: Rule;
  attn_output?: Rule;
}

const LLAMA_7B: ModelShape = { nLayer: 32, nEmbd: 4096, nFf: 11008, nHead: 32, nHeadKv: 32, headDim: 128, nVocab: 32000 };
const TABLE_7B: Record<string, PresetTable> = {
  Q8_0: { default: 'Q8_0', output: 'Q8_0' },
  Q6_K: { default: 'Q6_K', output: 'Q6_K' },
  Q5_K_M: { default: 'Q5_K', output: 'Q6_K', attn_v: [MORE_BITS_32, 'Q6_K', 'Q5_K'], ffn_down: [MORE_BITS_32, 'Q6_K', 'Q5_K'] },
  Q5_K_S: { default: 'Q5_K', output: 'Q6_K' },
  Q5_1: { default: 'Q5_1', output: 'Q6_K' },
  Q5_0: { default: 'Q5_0', output: 'Q6_K' },
  Q4_K_M: { default: 'Q4_K', output: 'Q6_K', attn_v: [MORE_BITS_32, 'Q6_K', 'Q4_K'], ffn_down: [MORE_BITS_32, 'Q6_K', 'Q4_K'] },
  Q4_K_S: { default: 'Q4_K', output: 'Q6_K', attn_v: [[0, 1, 2, 3], 'Q5_K', 'Q4_K'], ffn_down: [[0, 1, 2, 3], 'Q5_K', 'Q4_K'] },
  Q4_1: { default: 'Q4_1', output: 'Q6_K' },
  Q4_0: { default: 'Q4_0', output: 'Q6_K' },
  Q3_K_L: { default: 'Q3_K', output: 'Q6_K', attn_v: 'Q5_K', ffn_down: 'Q5_K', attn_output: 'Q5_K' },
  Q3_K_M: { default: 'Q3_K', output: 'Q6_K', attn_v: [[0, 1], 'Q5_K', 'Q4_K'], ffn_down: [[0, 1], 'Q5_K', 'Q4_K'], attn_output: 'Q4_K' },
  Q3_K_S: { default: 'Q3_K', output: 'Q6_K' },
  Q2_K: { default: 'Q2_K', output: 'Q6_K', attn_v: 'Q3_K', ffn_down: 'Q3_K', attn_output: 'Q3_K' },
};

function expectedType(rule: Rule | undefined, layer: number, fallback: string): string {
  if (rule === undefined) return fallback;
  if (typeof rule === 'string') return rule;
  return rule[0].includes(layer) ? rule[1] : rule[2];
}

function checkTable(shape: ModelShape, table: Record<string, PresetTable>, tweak: (name: string, type: string) => string = (_, t) => t) {
  const tensors = llamaTensors(shape);
  for (const [preset, row] of Object.entries(table)) {
    const got = chooseTensorTypes(tensors, factsOf(shape), { preset });
    for (const c of got) {
      const layer = Number(/^blk\.(\d+)\./.exec(c.name)?.[1] ?? -1);
      let want: string;
      if (c.inputType === 'F32') want = 'F32';
      else if (c.name === 'output.weight' || (shape.tied && c.name === 'token_embd.weight')) want = row.output;
      else if (c.name.includes('attn_v.')) want = expectedType(row.attn_v, layer, row.default);
      else if (c.name.includes('ffn_down')) want = expectedType(row.ffn_down, layer, row.default);
      else if (c.name.includes('attn_output.')) want = expectedType(row.attn_output, layer, row.default);
      else want = row.default;
      want = tweak(c.name, want);
      expect(c.type, `${preset} ${c.name} (${c.reason})`).toBe(want);
      expect(c.action).toBe(c.type === c.inputType ? 'copy' : 'quantize');
    }
  }
}

describe('per-preset tables (rules as read in llama_tensor_get_type_impl)', () => {
  it('Llama-7B-like (32 layers, MHA, 4096/11008, untied)', () => {
    expect(Object.keys(TABLE_7B).sort()).toEqual(GGUF_PRESETS.map((p) => p.name).sort());
    checkTable(LLAMA_7B, TABLE_7B);
  });

  it('Llama-3-8B-like (GQA 4): Q2_K gives attn_v Q4_K', () => {
    const shape = { ...LLAMA_7B, nHeadKv: 8, nVocab: 128256, nFf: 14336 };
    checkTable(shape, { ...TABLE_7B, Q2_K: { ...TABLE_7B.Q2_K!, attn_v: 'Q4_K' } });
  });

  it('tied embeddings (no output.weight): the token embedding takes the output type', () => {
    const shape = { ...LLAMA_7B, tied: true };
    checkTable(shape, TABLE_7B);
    const c = byName(chooseTensorTypes(llamaTensors(shape), factsOf(shape), { preset: 'Q4_K_M' })).get('token_embd.weight')!;
    expect(c.reason).toContain('tied token embedding');
  });

  it('rows that are not multiples of 256 fall back (Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, else F16)', () => {
    // n_embd 1600 (= 50 x 32, not a multiple of 256), n_ff 4300 (not even a multiple of 32), GQA 5.
    const shape: ModelShape = { nLayer: 32, nEmbd: 1600, nFf: 4300, nHead: 25, nHeadKv: 5, headDim: 64, nVocab: 32000 };
    const fb: Record<string, string> = { Q2_K: 'Q4_0', Q3_K: 'Q4_0', Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' };
    const table: Record<string, PresetTable> = {};
    for (const [p, row] of Object.entries(TABLE_7B)) {
      // The output: the row does not divide into 256-blocks, so K presets give Q8_0; 32-block presets still give Q6_K, which falls back to Q8_0.
      table[p] = { ...row, output: 'Q8_0', attn_v: p === 'Q2_K' ? 'Q4_K' : row.attn_v };
    }
    checkTable(shape, table, (name, t) => {
      if (name.includes('ffn_down')) return t === 'F32' ? t : 'F16'; // 4300 fits no block type
      return fb[t] ?? t;
    });
    const c = byName(chooseTensorTypes(llamaTensors(shape), factsOf(shape), { preset: 'Q4_K_M' }));
    expect(c.get('blk.5.attn_q.weight')!.reason).toBe("Q4_K_M default; row of 1600 does not divide into Q4_K's 256-weight blocks: Q5_0");
    expect(c.get('blk.0.ffn_down.weight')!.reason).toBe("ffn_down layer 0 of 32: more bits; row of 4300 does not divide into Q6_K's 256-weight blocks: F16");
  });

  it('70B (80 layers, GQA): attn_v Q3_K/Q4_K become Q5_K', () => {
    const shape: ModelShape = { nLayer: 80, nEmbd: 8192, nFf: 28672, nHead: 64, nHeadKv: 8, headDim: 128, nVocab: 128256 };
    expect(is70B(factsOf(shape))).toBe(true);
    expect(is70B({ ...factsOf(shape), nHeadKv: 64 })).toBe(false); // 65B
    expect(is70B({ ...factsOf(shape), architecture: 'qwen2', nHeadKv: 64 })).toBe(true);
    const got = byName(chooseTensorTypes(llamaTensors(shape), factsOf(shape), { preset: 'Q4_K_S' }));
    expect(got.get('blk.0.attn_v.weight')!.type).toBe('Q5_K');
    expect(got.get('blk.40.attn_v.weight')!.type).toBe('Q5_K');
    expect(got.get('blk.40.attn_v.weight')!.reason).toContain('70B');
  });

  it('8 experts (Mixtral-like): attn_v and attn_k Q8_0, attn_output Q5_K, experts by layer, router untouched', () => {
    const shape: ModelShape = { nLayer: 32, nEmbd: 4096, nFf: 14336, nHead: 32, nHeadKv: 8, headDim: 128, nVocab: 32000, nExpert: 8 };
    const got = byName(chooseTensorTypes(llamaTensors(shape), factsOf(shape), { preset: 'Q4_K_M' }));
    expect(got.get('blk.3.attn_v.weight')!.type).toBe('Q8_0');
    expect(got.get('blk.3.attn_k.weight')!.type).toBe('Q8_0');
    expect(got.get('blk.3.attn_output.weight')!.type).toBe('Q5_K');
    expect(got.get('blk.3.attn_q.weight')!.type).toBe('Q4_K');
    expect(got.get('blk.3.ffn_gate_inp.weight')!.action).toBe('copy');
    expect(got.get('blk.3.ffn_down_exps.weight')!.type).toBe('Q6_K'); // layer 3 < 32/8: more bits
    expect(got.get('blk.4.ffn_down_exps.weight')!.type).toBe('Q4_K');
    expect(got.get('blk.6.ffn_down_exps.weight')!.type).toBe('Q6_K');
    expect(byName(chooseTensorTypes(llamaTensors(shape), factsOf(shape), { preset: 'Q5_K_M' })).get('blk.3.attn_output.weight')!.type).toBe('Q5_K');
    // With experts the layer comes from the name; a tensor without one is refused like llama.cpp.
    const e = catchErr(() => chooseTensorTypes([{ name: 'x.ffn_down_exps.weight', ne: [256, 256, 8], type: 'F16' }], factsOf(shape), { preset: 'Q4_K_M' }));
    expect(e.message).toContain('cannot tell its layer');
  });
});

// -------------------------------------------------------------------------------------------------
// Selection and flags

const F = factsOf(LLAMA_7B);
const T7 = llamaTensors(LLAMA_7B);
const pick = (opts: TensorTypeOptions, tensors = T7) => byName(chooseTensorTypes(tensors, F, opts));

describe('which tensors are quantized (tensor_allows_quantization)', () => {
  it('copies 1-D tensors, norms, routers, positional embeddings and non-weights; quantizes 2-D and 3-D weights', () => {
    const tensors: TensorTypeInput[] = [
      { name: 'blk.0.attn_norm.weight', ne: [4096], type: 'F32' },
      { name: 'blk.0.attn_q.weight', ne: [4096, 4096], type: 'F16' },
      { name: 'blk.0.ffn_gate_inp.weight', ne: [4096, 8], type: 'F16' },
      { name: 'position_embd.weight', ne: [4096, 2048], type: 'F16' },
      { name: 'token_types.weight', ne: [4096, 2], type: 'F32' },
      { name: 'blk.0.attn_q.bias', ne: [4096, 2], type: 'F32' },
      { name: 'blk.0.column.weight', ne: [4096, 1], type: 'F16' }, // ggml_n_dims = 1
      { name: 'blk.0.ssm_conv1d.weight', ne: [4, 1536], type: 'F32' },
      { name: 'v.patch_embd.weight', ne: [14, 14, 3, 1024], type: 'F16' },
      { name: 'blk.0.attn_rel_b.weight', ne: [32, 64], type: 'F16' },
      { name: 'blk.0.ffn_up_exps.weight', ne: [4096, 256, 4], type: 'BF16' },
      { name: 'blk.0.weird_norm.weight', ne: [64, 64], type: 'F16' },
    ];
    const got = chooseTensorTypes(tensors, F, { preset: 'Q4_K_M' }).map((c) => [c.name, c.type, c.action]);
    expect(got).toEqual([
      ['blk.0.attn_norm.weight', 'F32', 'copy'],
      ['blk.0.attn_q.weight', 'Q4_K', 'quantize'],
      ['blk.0.ffn_gate_inp.weight', 'F16', 'copy'],
      ['position_embd.weight', 'F16', 'copy'],
      ['token_types.weight', 'F32', 'copy'],
      ['blk.0.attn_q.bias', 'F32', 'copy'],
      ['blk.0.column.weight', 'F16', 'copy'],
      ['blk.0.ssm_conv1d.weight', 'F32', 'copy'],
      ['v.patch_embd.weight', 'F16', 'copy'],
      ['blk.0.attn_rel_b.weight', 'F16', 'copy'],
      ['blk.0.ffn_up_exps.weight', 'Q4_K', 'quantize'],
      ['blk.0.weird_norm.weight', 'F16', 'copy'],
    ]);
    expect(chooseTensorTypes(tensors.slice(0, 1), F, { preset: 'Q4_K_M' })[0]!.reason).toBe('not quantized: fewer than 2 dims');
    expect(chooseTensorTypes([tensors[11]!], F, { preset: 'Q4_K_M' })[0]!.reason).toBe('not quantized: a norm');
  });
});

describe('flags', () => {
  it('--tensor-type: the first matching regex wins (a search, pattern lowercased), the mixture is skipped, the fallback still applies', () => {
    const got = pick({ preset: 'Q4_K_M', tensorTypes: ['ATTN_V=q8_0', 'blk\\.1\\.=Q5_K', 'attn_v=f16'] });
    expect(got.get('blk.7.attn_v.weight')!.type).toBe('Q8_0');
    expect(got.get('blk.7.attn_v.weight')!.reason).toBe('--tensor-type ATTN_V=q8_0');
    expect(got.get('blk.1.attn_v.weight')!.type).toBe('Q8_0'); // first match wins
    expect(got.get('blk.1.ffn_down.weight')!.type).toBe('Q5_K'); // instead of the Q6_K bump
    // blk.1.ffn_down was matched, so llama.cpp's ffn_down counter skips it: blk.10 is counter 9,
    // a "more bits" layer ((9 - 4) % 3 == 2), and blk.11 is counter 10, not one.
    expect(got.get('blk.10.ffn_down.weight')!.type).toBe('Q6_K');
    expect(got.get('blk.11.ffn_down.weight')!.type).toBe('Q4_K');
    const odd = chooseTensorTypes([{ name: 'blk.0.attn_q.weight', ne: [1600, 1600], type: 'F16' }], F, { preset: 'Q4_0', tensorTypes: [{ pattern: /attn_q/, type: 'q6_k' }] });
    expect(odd[0]!.type).toBe('Q8_0');
    expect(parseTensorTypeOverride('Attn_Q=Q4_k')).toEqual({ pattern: /attn_q/, type: 'Q4_K' });
  });

  it('--tensor-type on attn_v shifts llama.cpp\'s attn_v counter (matched tensors do not count), as llama-quantize does', () => {
    const got = pick({ preset: 'Q3_K_M', tensorTypes: ['blk\\.0\\.attn_v=q8_0'] });
    // Without the override attn_v 0 and 1 get Q5_K; with it, blk.1 and blk.2 are counters 0 and 1.
    expect(['blk.0', 'blk.1', 'blk.2', 'blk.3'].map((b) => got.get(`${b}.attn_v.weight`)!.type)).toEqual(['Q8_0', 'Q5_K', 'Q5_K', 'Q4_K']);
    // The per-tensor call takes the counter as given (default: the layer).
    expect(chooseTensorType({ name: 'blk.2.attn_v.weight', ne: [4096, 4096], type: 'F16' }, F, { preset: 'Q3_K_M' }).type).toBe('Q4_K');
    expect(chooseTensorType({ name: 'blk.2.attn_v.weight', ne: [4096, 4096], type: 'F16' }, F, { preset: 'Q3_K_M' }, { attnVIndex: 1 }).type).toBe('Q5_K');
  });

  it('--pure: every quantized tensor gets the preset type, output included; overrides still apply', () => {
    const got = pick({ preset: 'Q4_K_M', pure: true, tensorTypes: ['output=q8_0'] });
    expect(got.get('blk.0.attn_v.weight')!.type).toBe('Q4_K');
    expect(got.get('blk.0.attn_v.weight')!.reason).toBe('--pure: Q4_K');
    expect(got.get('token_embd.weight')!.type).toBe('Q4_K');
    expect(got.get('output.weight')!.type).toBe('Q8_0');
    expect(got.get('output_norm.weight')!.type).toBe('F32');
  });

  it('--output-tensor-type and --token-embedding-type set those tensors as given (and refuse types whose blocks do not fit)', () => {
    const got = pick({ preset: 'Q4_K_M', outputTensorType: 'q8_0', tokenEmbeddingType: 'Q5_K', tensorTypes: ['token_embd=q2_k', 'output=q2_k'] });
    expect([got.get('output.weight')!.type, got.get('output.weight')!.reason]).toEqual(['Q8_0', '--output-tensor-type']);
    expect([got.get('token_embd.weight')!.type, got.get('token_embd.weight')!.reason]).toEqual(['Q5_K', '--token-embedding-type']);
    const tied = llamaTensors({ ...LLAMA_7B, tied: true });
    expect(pick({ preset: 'Q4_K_M', outputTensorType: 'Q8_0' }, tied).get('token_embd.weight')!.type).toBe('Q8_0');
    const odd = [{ name: 'output.weight', ne: [1600, 32000], type: 'F16' }];
    expect(catchErr(() => chooseTensorTypes(odd, F, { preset: 'Q4_0', outputTensorType: 'Q4_K' })).message).toContain(
      "--output-tensor-type Q4_K: tensor \"output.weight\" has rows of 1600 weights, not a multiple of Q4_K's 256-weight blocks",
    );
  });

  it('--leave-output-tensor copies output.weight', () => {
    const got = pick({ preset: 'Q4_K_M', leaveOutputTensor: true });
    expect([got.get('output.weight')!.type, got.get('output.weight')!.action, got.get('output.weight')!.reason]).toEqual(['F16', 'copy', '--leave-output-tensor']);
    expect(got.get('token_embd.weight')!.type).toBe('Q4_K');
  });

  it('--allow-requantize: quantized input is refused unless allowed; unchanged types are copied; undecodable input is UNSUPPORTED', () => {
    const q = T7.map((t) => ({ ...t, type: t.type === 'F16' ? 'Q4_K' : t.type }));
    const e = catchErr(() => chooseTensorTypes(q, F, { preset: 'Q4_K_M' }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/tensor "[^"]+" is already quantized \(Q4_K\); requantizing it to Q6_K loses quality, so it is refused.*--allow-requantize/);
    const allowed = byName(chooseTensorTypes(q, F, { preset: 'Q4_K_M', allowRequantize: true }));
    expect([allowed.get('blk.0.attn_v.weight')!.action, allowed.get('blk.0.attn_v.weight')!.type]).toEqual(['quantize', 'Q6_K']);
    expect([allowed.get('blk.5.attn_q.weight')!.action, allowed.get('blk.5.attn_q.weight')!.type]).toEqual(['copy', 'Q4_K']);
    // Same type everywhere: nothing to requantize, so no flag needed.
    expect(chooseTensorTypes(q, F, { preset: 'Q4_K_M', pure: true, tensorTypes: ['output=q4_k'] }).every((c) => c.action === 'copy')).toBe(true);
    const iq = [{ name: 'blk.0.attn_q.weight', ne: [4096, 4096], type: 'IQ2_XXS' }];
    expect(catchErr(() => chooseTensorTypes(iq, F, { preset: 'Q4_K_M', allowRequantize: true })).code).toBe('UNSUPPORTED');
  });

  it('refuses bad options with clear errors', () => {
    expect(catchErr(() => pick({ preset: 'Q4_K_X' })).message).toContain('"Q4_K_X" is not a GGUF preset hqq-wasm writes; use one of Q8_0, Q6_K');
    expect(catchErr(() => pick({ preset: 'IQ2_XXS' })).code).toBe('INVALID_ARGUMENT');
    expect(catchErr(() => pick({ preset: 'Q4_K_M', tensorTypes: ['attn_v'] })).message).toContain('expected NAME_RE=TYPE');
    expect(catchErr(() => pick({ preset: 'Q4_K_M', tensorTypes: ['=q8_0'] })).message).toContain('pattern before "=" is empty');
    expect(catchErr(() => pick({ preset: 'Q4_K_M', tensorTypes: ['attn_v='] })).message).toContain('the type after "=" is missing');
    expect(catchErr(() => pick({ preset: 'Q4_K_M', tensorTypes: ['attn_v=q9_0'] })).message).toContain('"q9_0" is not a GGML type');
    expect(catchErr(() => pick({ preset: 'Q4_K_M', tensorTypes: ['attn_v=iq4_xs'] })).code).toBe('UNSUPPORTED');
    expect(catchErr(() => pick({ preset: 'Q4_K_M', tensorTypes: ['attn_v(=q8_0'] })).message).toContain('is not a valid regular expression');
    expect(catchErr(() => pick({ preset: 'Q4_K_M', outputTensorType: 'mxfp4' })).message).toContain('--output-tensor-type: hqq-wasm does not write MXFP4');
    expect(catchErr(() => chooseTensorTypes([T7[0]!, T7[0]!], F, { preset: 'Q4_K_M' })).message).toContain('appears twice');
    expect(catchErr(() => chooseTensorTypes([{ name: 'w.weight', ne: [0, 4], type: 'F16' }], F, { preset: 'Q4_K_M' })).message).toContain('ne must hold 1 to 4 dims >= 1');
    expect(catchErr(() => chooseTensorTypes(T7, { ...F, nLayer: 0 }, { preset: 'Q4_K_M' })).code).toBe('INVALID_ARGUMENT');
  });
});

describe('presets and model facts', () => {
  it('has llama-quantize\'s presets with their llama_ftype ids, names case-insensitive, aliases and ids accepted', () => {
    expect(GGUF_PRESETS.map((p) => [p.name, p.ftype, p.defaultType])).toEqual([
      ['Q8_0', 7, 'Q8_0'], ['Q6_K', 18, 'Q6_K'], ['Q5_K_M', 17, 'Q5_K'], ['Q5_K_S', 16, 'Q5_K'], ['Q5_1', 9, 'Q5_1'], ['Q5_0', 8, 'Q5_0'],
      ['Q4_K_M', 15, 'Q4_K'], ['Q4_K_S', 14, 'Q4_K'], ['Q4_1', 3, 'Q4_1'], ['Q4_0', 2, 'Q4_0'], ['Q3_K_L', 13, 'Q3_K'], ['Q3_K_M', 12, 'Q3_K'],
      ['Q3_K_S', 11, 'Q3_K'], ['Q2_K', 10, 'Q2_K'],
    ]);
    expect(ggufPreset('q4_k_m').name).toBe('Q4_K_M');
    expect(ggufPreset('Q4_K').name).toBe('Q4_K_M');
    expect(ggufPreset('q3_k').name).toBe('Q3_K_M');
    expect(ggufPreset(15).name).toBe('Q4_K_M');
    expect(ggufPreset('10').name).toBe('Q2_K');
  });

  it('quantizedMetadataChanges sets file_type and quantization_version, drops split keys, keeps the rest', () => {
    const input = new Map<string, GGUFValue>([
      ['general.architecture', ggufValue.string('llama')],
      ['general.file_type', ggufValue.u32(1)],
      ['split.count', ggufValue.u16(2)],
      ['llama.block_count', ggufValue.u32(32)],
    ]);
    const out = withMetadata(input, quantizedMetadataChanges(ggufPreset('Q5_K_M')));
    expect([...out]).toEqual([
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['general.file_type', { type: 'u32', value: 17 }],
      ['llama.block_count', { type: 'u32', value: 32 }],
      ['general.quantization_version', { type: 'u32', value: 2 }],
    ]);
  });

  it('reads the facts from GGUF metadata', () => {
    const meta = new Map<string, GGUFValue>([
      ['general.architecture', ggufValue.string('llama')],
      ['llama.block_count', ggufValue.u32(32)],
      ['llama.attention.head_count', ggufValue.u32(32)],
      ['llama.attention.head_count_kv', ggufValue.numbers('i32', [8, 8])],
      ['llama.expert_count', ggufValue.u64(8n)],
    ]);
    expect(ggufModelFacts(meta)).toEqual({ architecture: 'llama', nLayer: 32, nHead: 32, nHeadKv: 8, nExpert: 8 });
    meta.delete('llama.attention.head_count_kv');
    meta.delete('llama.expert_count');
    expect(ggufModelFacts(meta)).toEqual({ architecture: 'llama', nLayer: 32, nHead: 32, nHeadKv: 32, nExpert: 0 });
    meta.delete('llama.block_count');
    const e = catchErr(() => ggufModelFacts(meta, 'm.gguf'));
    expect([e.code, e.message]).toEqual(['BAD_FILE', 'm.gguf: metadata key "llama.block_count" is missing; the layer count is needed to choose tensor types']);
    expect(catchErr(() => ggufModelFacts(new Map())).message).toContain('"general.architecture" is missing');
  });
});
