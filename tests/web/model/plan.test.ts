import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_TENSOR_ELEMENTS } from '../../../web/src/engine.js';
import { HQQError } from '../../../web/src/errors.js';
import { parseSafetensorsHeader, type DType, type SafetensorsHeader } from '../../../web/src/io/safetensors.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import { hqqLinearConfigBytes, hqqLinearEntries, HQQLINEAR_KEYS } from '../../../web/src/model/hqqlinear.js';
import {
  HQQ_WASM_VERSION, parseTensorOverride, planModel, resolveModelConfig, type ModelQuantConfig,
} from '../../../web/src/model/plan.js';

const REF = new URL('../../../../shared/testdata/hqq-ref/hqqlinear/normal_256x512_4bit_g64_axis1_fp16.safetensors', import.meta.url);

function header(entries: { name: string; dtype: DType; shape: number[] }[], fileName = 'model.safetensors'): SafetensorsHeader {
  const plan = planSafetensors(entries);
  const bytes = new Uint8Array(plan.totalSize);
  bytes.set(plan.headerBytes);
  return parseSafetensorsHeader(bytes, bytes.byteLength, fileName);
}

function plan1(entries: { name: string; dtype: DType; shape: number[] }[], config: ModelQuantConfig = {}) {
  return planModel([{ fileName: 'model.safetensors', header: header(entries) }], config);
}

function refHeader(): SafetensorsHeader {
  const bytes = new Uint8Array(readFileSync(REF));
  return parseSafetensorsHeader(bytes, bytes.byteLength, 'ref.safetensors');
}

describe('HQQLinear layout', () => {
  it('matches the reference file key names, dtypes and shapes (prefix replaced)', () => {
    const ref = refHeader();
    const refKeys = ref.tensors.filter((t) => t.name !== 'layer.bias').map((t) => ({ name: t.name.slice('layer.'.length), dtype: t.dtype, shape: t.shape }));
    const ours = hqqLinearEntries('model.layers.0.mlp.up_proj.', [256, 512], {
      nbits: 4, groupSize: 64, axis: 1, optimize: true, roundZero: true, computeDtype: 'float16',
    }).map((e) => ({ name: e.name.slice('model.layers.0.mlp.up_proj.'.length), dtype: e.dtype, shape: e.shape }));
    const sort = (a: { name: string }[]) => [...a].sort((x, y) => (x.name < y.name ? -1 : 1));
    expect(sort(ours)).toEqual(sort(refKeys));
  });

  it('config tensors hold the same bytes as the reference', () => {
    const ref = refHeader();
    const bytes = new Uint8Array(readFileSync(REF));
    const cfg = hqqLinearConfigBytes([256, 512], { nbits: 4, groupSize: 64, axis: 1, optimize: true, roundZero: true, computeDtype: 'float16' });
    for (const [k, v] of cfg) {
      const t = ref.tensors.find((x) => x.name === `layer.${k}`)!;
      expect([...v], k).toEqual([...bytes.subarray(t.begin, t.end)]);
    }
    expect(cfg.size + 3).toBe(HQQLINEAR_KEYS.length);
  });

  it('3-bit: W_q I32 and unpack_view_dtype torch.int32; axis 0: per-group [1, n]; 1.58-bit: nbits F32', () => {
    const e3 = hqqLinearEntries('a.', [256, 512], { nbits: 3, groupSize: 64, axis: 0, optimize: true, roundZero: false, computeDtype: 'bfloat16' });
    const by = new Map(e3.map((e) => [e.name, e]));
    expect(by.get('a.W_q')).toMatchObject({ dtype: 'I32', shape: [Math.ceil(64 / 10), 2048] });
    expect(by.get('a.scale')).toMatchObject({ dtype: 'BF16', shape: [1, 2048] });
    const cfg3 = hqqLinearConfigBytes([256, 512], { nbits: 3, groupSize: 64, axis: 0, optimize: true, roundZero: false, computeDtype: 'bfloat16' });
    expect(String.fromCharCode(...cfg3.get('unpack_view_dtype')!)).toBe('torch.int32');
    expect(String.fromCharCode(...cfg3.get('compute_dtype')!)).toBe('torch.bfloat16');
    expect(String.fromCharCode(...cfg3.get('packing')!)).toBe('3bit_32');
    const e158 = hqqLinearEntries('b.', [64, 64], { nbits: 1.58, groupSize: 64, axis: 1, optimize: true, roundZero: false, computeDtype: 'float32' });
    expect(e158.find((e) => e.name === 'b.nbits')).toMatchObject({ dtype: 'F32', shape: [] });
    expect(e158.find((e) => e.name === 'b.W_q')).toMatchObject({ dtype: 'U8', shape: [16, 64] });
    const c158 = hqqLinearConfigBytes([64, 64], { nbits: 1.58, groupSize: 64, axis: 1, optimize: true, roundZero: false, computeDtype: 'float32' });
    expect(new DataView(c158.get('nbits')!.buffer).getFloat32(0, true)).toBeCloseTo(1.58, 6);
  });
});

describe('bias of a quantized layer (HQQ-SPEC section 5: stored in the compute dtype)', () => {
  it('an F32 bias of a float16 layer is planned as F16, as in the reference file', () => {
    const p = plan1([{ name: 'layer.weight', dtype: 'F32', shape: [256, 512] }, { name: 'layer.bias', dtype: 'F32', shape: [256] }]);
    const ours = p.shards[0]!.layout.tensors.map((t) => `${t.name} ${t.dtype} [${t.shape}]`).sort();
    const ref = refHeader().tensors.map((t) => `${t.name} ${t.dtype} [${t.shape}]`).sort();
    expect(ours).toEqual(ref);
    expect(ref).toContain('layer.bias F16 [256]');
    const bias = p.tensors.find((t) => t.name === 'layer.bias')!;
    expect(bias).toMatchObject({ action: 'convert', convertTo: 'F16', bytesBefore: 1024, bytesAfter: 512, bitsPerWeight: 16, biasOf: 0 });
    expect(bias.reason).toMatch(/bias of quantized layer\.weight, in its compute dtype \(F32 -> F16\)/);
    expect(p.tensors[0]!.bias).toBe(1);
    expect(p.totals.bytesAfter).toBe(p.tensors[0]!.bytesAfter + 512);
  });

  it('converts to every compute dtype, across shards; other biases stay as they are', () => {
    const M: { name: string; dtype: DType; shape: number[] }[] = [
      { name: 'a.weight', dtype: 'F16', shape: [64, 64] },
      { name: 'a.bias', dtype: 'F16', shape: [64] }, // already the compute dtype
      { name: 'b.weight', dtype: 'F16', shape: [64, 64] },
      { name: 'b.bias', dtype: 'BF16', shape: [64] },
      { name: 'lm_head.weight', dtype: 'F32', shape: [64, 64] }, // not quantized
      { name: 'lm_head.bias', dtype: 'F32', shape: [64] },
      { name: 'c.weight', dtype: 'F16', shape: [64, 64] },
      { name: 'c.bias', dtype: 'I64', shape: [64] }, // not a float
    ];
    const f16 = plan1(M);
    const out = (p: ReturnType<typeof plan1>) => Object.fromEntries(p.shards.flatMap((s) => s.layout.tensors).filter((t) => t.name.endsWith('bias')).map((t) => [t.name, t.dtype]));
    expect(out(f16)).toEqual({ 'a.bias': 'F16', 'b.bias': 'F16', 'lm_head.bias': 'F32', 'c.bias': 'I64' });
    expect(f16.tensors.filter((t) => t.convertTo).map((t) => t.name)).toEqual(['b.bias']);
    expect(out(plan1(M, { computeDtype: 'float32' }))).toEqual({ 'a.bias': 'F32', 'b.bias': 'F32', 'lm_head.bias': 'F32', 'c.bias': 'I64' });
    expect(out(plan1(M, { computeDtype: 'bfloat16' }))).toEqual({ 'a.bias': 'BF16', 'b.bias': 'BF16', 'lm_head.bias': 'F32', 'c.bias': 'I64' });
    // Sharded, the bias in another shard than its weight.
    const s1 = header([M[2]!], 's1.safetensors');
    const s2 = header([M[3]!], 's2.safetensors');
    const index = { fileName: 'model.safetensors.index.json', shards: ['s1.safetensors', 's2.safetensors'], weightMap: new Map([['b.weight', 's1.safetensors'], ['b.bias', 's2.safetensors']]), metadata: {} };
    const sh = planModel([{ fileName: 's1.safetensors', header: s1 }, { fileName: 's2.safetensors', header: s2 }], {}, { index: index as never });
    expect(sh.shards[1]!.layout.tensors).toMatchObject([{ name: 'b.bias', dtype: 'F16', byteLength: 128 }]);
    expect(JSON.parse(sh.index!.text).metadata.total_size).toBe(sh.shards.reduce((a, s) => a + s.layout.totalSize - s.layout.dataOffset, 0));
  });
});

describe('selection', () => {
  const MODEL: { name: string; dtype: DType; shape: number[] }[] = [
    { name: 'model.embed_tokens.weight', dtype: 'F16', shape: [128, 64] },
    { name: 'transformer.wte.weight', dtype: 'F16', shape: [128, 64] },
    { name: 'gpt_neox.embed_in.weight', dtype: 'F16', shape: [128, 64] },
    { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F16', shape: [64, 64] },
    { name: 'model.layers.0.self_attn.q_proj.bias', dtype: 'F16', shape: [64] },
    { name: 'model.layers.0.mlp.down_proj.weight', dtype: 'BF16', shape: [64, 128] },
    { name: 'model.layers.0.mlp.up_proj.weight', dtype: 'F32', shape: [128, 64] },
    { name: 'model.layers.0.input_layernorm.weight', dtype: 'F16', shape: [64] },
    { name: 'h.0.ln_1.weight', dtype: 'F16', shape: [64, 2] },
    { name: 'model.layers.0.odd.weight', dtype: 'F16', shape: [3, 64] },
    { name: 'model.layers.0.int.weight', dtype: 'I8', shape: [64, 64] },
    { name: 'conv.weight', dtype: 'F16', shape: [4, 4, 4, 4] },
    { name: 'position_ids', dtype: 'I64', shape: [1, 16] },
    { name: 'lm_head.weight', dtype: 'F16', shape: [128, 64] },
  ];

  it('quantizes 2-D float .weight tensors except embeddings, head and norms, with a reason for every skip', () => {
    const p = plan1(MODEL);
    const act = Object.fromEntries(p.tensors.map((t) => [t.name, t.action]));
    expect(act).toEqual({
      'model.embed_tokens.weight': 'copy',
      'transformer.wte.weight': 'copy',
      'gpt_neox.embed_in.weight': 'copy',
      'model.layers.0.self_attn.q_proj.weight': 'quantize',
      'model.layers.0.self_attn.q_proj.bias': 'copy',
      'model.layers.0.mlp.down_proj.weight': 'quantize',
      'model.layers.0.mlp.up_proj.weight': 'quantize',
      'model.layers.0.input_layernorm.weight': 'copy',
      'h.0.ln_1.weight': 'copy',
      'model.layers.0.odd.weight': 'copy',
      'model.layers.0.int.weight': 'copy',
      'conv.weight': 'copy',
      'position_ids': 'copy',
      'lm_head.weight': 'copy',
    });
    const reason = Object.fromEntries(p.tensors.map((t) => [t.name, t.reason]));
    expect(reason['model.embed_tokens.weight']).toMatch(/embedding/);
    expect(reason['transformer.wte.weight']).toMatch(/embedding/);
    expect(reason['gpt_neox.embed_in.weight']).toMatch(/embedding/);
    expect(reason['lm_head.weight']).toMatch(/output head/);
    expect(reason['h.0.ln_1.weight']).toMatch(/norm/);
    expect(reason['model.layers.0.input_layernorm.weight']).toMatch(/1-D/);
    expect(reason['model.layers.0.int.weight']).toMatch(/I8, not a float/);
    expect(reason['position_ids']).toMatch(/I64, not a float/);
    expect(reason['model.layers.0.q_proj.bias'.replace('q_proj', 'self_attn.q_proj')]).toMatch(/not a \.weight/);
    expect(reason['conv.weight']).toMatch(/4-D/);
    // 3 x 64 = 192 values = 3 groups of 64: 3 rows, not a multiple of 2 for 4-bit packing
    expect(reason['model.layers.0.odd.weight']).toMatch(/4-bit packing needs grouped rows in multiples of 2/);
    for (const t of p.tensors) if (t.action === 'copy') expect(t.reason, t.name).toBeTruthy();
    expect(p.totals.quantized).toBe(3);
    expect(p.totals.copied).toBe(MODEL.length - 3);
  });

  it('the output replaces each quantized weight by its HQQLinear keys in place and keeps the rest', () => {
    const p = plan1(MODEL);
    const names = p.shards[0]!.layout.tensors.map((t) => t.name);
    const i = names.indexOf('model.layers.0.self_attn.q_proj.W_q');
    expect(names[i - 1]).toBe('gpt_neox.embed_in.weight');
    expect(names.slice(i, i + 3)).toEqual(['model.layers.0.self_attn.q_proj.W_q', 'model.layers.0.self_attn.q_proj.scale', 'model.layers.0.self_attn.q_proj.zero']);
    expect(names[i + HQQLINEAR_KEYS.length]).toBe('model.layers.0.self_attn.q_proj.bias');
    expect(names).not.toContain('model.layers.0.self_attn.q_proj.weight');
    expect(names).toContain('position_ids');
    const meta = p.shards[0]!.layout.metadata;
    expect(meta.hqq_tool).toBe('hqq-wasm');
    expect(meta.hqq_tool_version).toBe(HQQ_WASM_VERSION);
    expect(JSON.parse(meta.hqq_config!)).toMatchObject({ nbits: 4, group_size: 64, axis: 1, compute_dtype: 'float16' });
  });

  it('include / exclude regexes; include overrides the built-in name rules', () => {
    const ex = plan1(MODEL, { exclude: 'mlp' });
    expect(ex.tensors.filter((t) => t.action === 'quantize').map((t) => t.name)).toEqual(['model.layers.0.self_attn.q_proj.weight']);
    expect(ex.tensors.find((t) => t.name.includes('down_proj'))!.reason).toMatch(/matches exclude \/mlp\//);
    const inc = plan1(MODEL, { include: /lm_head|q_proj/ });
    expect(inc.tensors.filter((t) => t.action === 'quantize').map((t) => t.name)).toEqual(['model.layers.0.self_attn.q_proj.weight', 'lm_head.weight']);
    expect(inc.tensors.find((t) => t.name.includes('up_proj'))!.reason).toMatch(/does not match include/);
    const both = plan1(MODEL, { include: 'layers', exclude: 'q_proj' });
    expect(both.tensors.filter((t) => t.action === 'quantize').map((t) => t.name)).toEqual(['model.layers.0.mlp.down_proj.weight', 'model.layers.0.mlp.up_proj.weight']);
  });

  it('per-tensor overrides RE=BITS:GROUP, first match wins; a config the tensor cannot hold is a skip reason', () => {
    const p = plan1(MODEL, { tensorConfig: ['down_proj=8:32', 'mlp=2:128', 'q_proj=3'] });
    const cfg = Object.fromEntries(p.tensors.filter((t) => t.config).map((t) => [t.name, [t.config!.nbits, t.config!.groupSize, t.config!.roundZero]]));
    expect(cfg).toEqual({
      'model.layers.0.mlp.down_proj.weight': [8, 32, false],
      'model.layers.0.mlp.up_proj.weight': [2, 128, false],
      'model.layers.0.self_attn.q_proj.weight': [3, 64, false],
    });
    const bad = plan1(MODEL, { tensorConfig: ['up_proj=1:64'] }); // 128 rows of 64 -> 128 groups: OK for 1-bit (128 % 8)
    expect(bad.tensors.find((t) => t.name.includes('up_proj'))!.action).toBe('quantize');
    const bad2 = plan1(MODEL, { tensorConfig: ['q_proj=4:48'] });
    expect(bad2.tensors.find((t) => t.name.includes('q_proj.weight'))!.reason).toMatch(/^g48 does not divide 4096 elements \(g64 would fit\)$/);
    const bpw = p.tensors.find((t) => t.name.includes('down_proj'))!;
    expect(bpw.bitsPerWeight).toBeGreaterThan(8);
  });

  it('parseTensorOverride and config validation give clear errors', () => {
    expect(parseTensorOverride('a=b=4:32')).toMatchObject({ nbits: 4, groupSize: 32 });
    expect(parseTensorOverride('a=b=4:32').pattern.source).toBe('a=b');
    expect(() => parseTensorOverride('mlp')).toThrow(/RE=BITS:GROUP/);
    expect(() => parseTensorOverride('mlp=7:64')).toThrow(/bits "7" is not supported/);
    expect(() => parseTensorOverride('mlp=4:0')).toThrow(/group size "0"/);
    expect(() => parseTensorOverride('(=4:64')).toThrow(/not a valid regular expression/);
    expect(() => resolveModelConfig({ nbits: 7 as 4 })).toThrow(HQQError);
    expect(() => resolveModelConfig({ computeDtype: 'float64' as 'float32' })).toThrow(/computeDtype/);
    expect(() => resolveModelConfig({ group_size: 64 } as ModelQuantConfig)).toThrow(/unknown model config option "group_size"/);
  });

  it('solver options are whitelisted and validated when the config is resolved', () => {
    const ok = resolveModelConfig({ solver: { lpNorm: 1, beta: 0.5, kappa: 1, iters: 0, earlyStop: 'per-group-best', ...{ beta: undefined } } });
    expect(ok.solver).toEqual({ lpNorm: 1, kappa: 1, iters: 0, earlyStop: 'per-group-best' });
    const bad: [unknown, RegExp][] = [
      [{ iters: -5, foo: 1 }, /unknown solver option "foo"/],
      [{ nbits: 2 }, /unknown solver option "nbits"; .*nbits is a model config option/],
      [{ groupSize: 32 }, /unknown solver option "groupSize"/],
      [{ axis: 0 }, /unknown solver option "axis"/],
      [{ iters: -5 }, /^solver: iters = -5 is out of range/],
      [{ iters: 1001 }, /^solver: iters = 1001 is out of range/],
      [{ iters: 2.5 }, /^solver: iters must be an integer/],
      [{ lpNorm: 0 }, /^solver: lpNorm = 0 is out of range; use 0 < lpNorm <= 1/],
      [{ lpNorm: 1.5 }, /^solver: lpNorm = 1.5 is out of range/],
      [{ lpNorm: Number.NaN }, /^solver: lpNorm must be a finite number/],
      [{ beta: 0 }, /^solver: beta = 0 is out of range/],
      [{ beta: -1 }, /^solver: beta = -1 is out of range/],
      [{ beta: Infinity }, /^solver: beta must be a finite number/],
      [{ kappa: 0.99 }, /^solver: kappa = 0.99 is out of range; use a finite kappa >= 1/],
      [{ kappa: '2' }, /^solver: kappa must be a finite number/],
      [{ earlyStop: 'best' }, /^solver: earlyStop = "best" is invalid/],
      ['fast', /solver must be an object/],
      [null, /solver must be an object/],
    ];
    for (const [solver, message] of bad) {
      let err: unknown;
      try {
        resolveModelConfig({ solver } as ModelQuantConfig);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(solver)).toBeInstanceOf(HQQError);
      expect((err as HQQError).code).toBe('INVALID_ARGUMENT');
      expect((err as HQQError).message, JSON.stringify(solver)).toMatch(message);
    }
    // A dry run plans through the same resolution: it refuses too.
    expect(() => plan1([{ name: 'x.weight', dtype: 'F16', shape: [64, 64] }], { solver: { iters: -5 } })).toThrow(/iters = -5/);
  });

  it('round_zero defaults to the reference (on for 4-bit only) and can be forced', () => {
    const M = [{ name: 'x.weight', dtype: 'F16' as DType, shape: [64, 64] }];
    expect(plan1(M).tensors[0]!.config!.roundZero).toBe(true);
    expect(plan1(M, { nbits: 2 }).tensors[0]!.config!.roundZero).toBe(false);
    expect(plan1(M, { roundZero: false }).tensors[0]!.config!.roundZero).toBe(false);
    expect(plan1(M, { nbits: 8, roundZero: true }).tensors[0]!.config!.roundZero).toBe(true);
  });

  it('a tensor over the core limit (MAX_TENSOR_ELEMENTS = 2^28 - 1) is copied with the reason, one below it is quantized', () => {
    // Header only: the data section is never allocated (parseSafetensorsHeader takes the file size).
    const entries: { name: string; dtype: DType; shape: number[] }[] = [
      { name: 'big.weight', dtype: 'BF16', shape: [16384, 16384] }, // 2^28 elements
      { name: 'fits.weight', dtype: 'BF16', shape: [16384, 16383] },
    ];
    const layout = planSafetensors(entries);
    const h = parseSafetensorsHeader(layout.headerBytes, layout.totalSize, 'huge.safetensors');
    const p = planModel([{ fileName: 'huge.safetensors', header: h }]);
    expect(MAX_TENSOR_ELEMENTS).toBe(2 ** 28 - 1);
    const big = p.tensors.find((t) => t.name === 'big.weight')!;
    expect(big.action).toBe('copy');
    expect(big.reason).toMatch(/268435456 elements, over one wasm instance's 268435455/);
    expect(p.tensors.find((t) => t.name === 'fits.weight')!.action).toBe('quantize');
  });

  it('HQQ_WASM_VERSION equals package.json version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(HQQ_WASM_VERSION).toBe(pkg.version);
  });
});

describe('selection does what it says (issue 9: include, warnings, requantizing, collisions)', () => {
  const M = [
    { name: 'blk.0.ffn_up', dtype: 'F32' as DType, shape: [64, 64] },
    { name: 'dense/kernel', dtype: 'F16' as DType, shape: [64, 128] },
    { name: 'layer.weight', dtype: 'F32' as DType, shape: [64, 64] },
    { name: 'layer.bias', dtype: 'F32' as DType, shape: [64] },
  ];

  it("--include '.*' quantizes 2-D float tensors whatever their name; a non-.weight name keeps its full name as the layer prefix", () => {
    const p = plan1(M, { include: '.*' });
    expect(p.tensors.filter((t) => t.action === 'quantize').map((t) => t.name)).toEqual(['blk.0.ffn_up', 'dense/kernel', 'layer.weight']);
    const names = p.shards[0]!.layout.tensors.map((t) => t.name);
    expect(names).toContain('blk.0.ffn_up.W_q');
    expect(names).toContain('dense/kernel.scale');
    expect(names).toContain('layer.W_q');
    expect(names).not.toContain('blk.0.ffn_up');
    // The bias is still a 1-D copy (converted to the compute dtype, its layer being quantized).
    expect(p.tensors.find((t) => t.name === 'layer.bias')).toMatchObject({ action: 'convert', biasOf: 2 });
    // Without include, such names are skipped with a reason that says how to select them.
    expect(plan1(M).tensors[0]!.reason).toBe('not a .weight tensor');
    // An empty name (a valid safetensors key) is copied: its keys would read back as a layer ".".
    const unnamed = plan1([{ name: '', dtype: 'F32', shape: [64, 64] }], { include: '.*' });
    expect(unnamed.tensors[0]).toMatchObject({ action: 'copy', reason: 'empty name: no layer to name its HQQ keys after' });
    expect(unnamed.shards[0]!.layout.tensors.map((t) => t.name)).toEqual(['']);
  });

  it('warns when nothing is quantized, and for patterns and overrides that match nothing', () => {
    const none = plan1(M, { include: 'no_such' });
    expect(none.warnings.map((w) => w.code)).toEqual(['PATTERN_UNUSED']);
    expect(none.warnings[0]!.message).toMatch(/include \/no_such\/ matches no tensor/);
    const p = plan1(M, { exclude: 'zzz', tensorConfig: ['lyer=8:64', 'layer\\.weight=2:64', 'blk=8:64'] });
    expect(p.warnings.map((w) => `${w.code}: ${w.message}`)).toEqual([
      'PATTERN_UNUSED: exclude /zzz/ matches no tensor name; check the pattern',
      'OVERRIDE_UNUSED: tensor config /lyer/=8:64 matches no tensor; check the pattern',
      'OVERRIDE_UNUSED: tensor config /blk/=8:64 matches only tensors that are not quantized (or are caught by an earlier override)',
    ]);
  });

  it('refuses to requantize an HQQ file, naming the layer and the way out', () => {
    const q = hqqLinearEntries('model.x.', [64, 64], { nbits: 4, groupSize: 64, axis: 1, optimize: true, roundZero: true, computeDtype: 'float16' });
    const err = (() => {
      try {
        plan1([...q, { name: 'model.y.weight', dtype: 'F32', shape: [64, 64] }]);
      } catch (e) {
        return e as HQQError;
      }
      throw new Error('planned');
    })();
    expect(err).toBeInstanceOf(HQQError);
    expect(err.message).toMatch(/already HQQ-quantized \(1 HQQLinear layer, e\.g\. "model\.x"\).*hqq-wasm dequantize/);
  });

  it('an output-name clash names the quantized tensor and an exclude that really avoids it', () => {
    // "a.scale" (a copied input tensor) clashes with the scale of quantized "a.weight".
    const err = (() => {
      try {
        plan1([{ name: 'a.weight', dtype: 'F32', shape: [64, 64] }, { name: 'a.scale', dtype: 'F32', shape: [4] }]);
      } catch (e) {
        return e as HQQError;
      }
      throw new Error('planned');
    })();
    expect(err.message).toMatch(/"a\.scale" would be written for both a\.weight and a\.scale; exclude \/\^a\\\.weight\$\/ to keep a\.weight unquantized/);
    const fixed = plan1([{ name: 'a.weight', dtype: 'F32', shape: [64, 64] }, { name: 'a.scale', dtype: 'F32', shape: [4] }], { exclude: '^a\\.weight$' });
    expect(fixed.totals.quantized).toBe(0);
  });

});
