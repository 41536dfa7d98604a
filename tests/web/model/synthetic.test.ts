import { describe, expect, it } from 'vitest';
import { HQQError } from '../../../web/src/errors.js';
import { planSafetensors } from '../../../web/src/io/writer.js';
import {
  SYNTHETIC_PRESETS,
  bf16BitsToNumber,
  countParameters,
  f16BitsToNumber,
  f32BitsToBF16Bits,
  f32BitsToF16Bits,
  generateTensorChunk,
  generateTensorData,
  numberToBF16Bits,
  numberToF16Bits,
  shardPlan,
  syntheticLlamaSpec,
  syntheticPreset,
  type SyntheticDType,
  type SyntheticTensor,
} from '../../../web/src/model/synthetic.js';

function decode(t: SyntheticTensor, bytes: Uint8Array): Float64Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / (t.dtype === 'F32' ? 4 : 2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = t.dtype === 'F32' ? dv.getFloat32(i * 4, true) : t.dtype === 'F16' ? f16BitsToNumber(dv.getUint16(i * 2, true)) : bf16BitsToNumber(dv.getUint16(i * 2, true));
  }
  return out;
}

function moments(v: Float64Array): { mean: number; std: number; kurtosis: number } {
  let s = 0;
  for (const x of v) s += x;
  const mean = s / v.length;
  let m2 = 0;
  let m4 = 0;
  for (const x of v) {
    const d = (x - mean) ** 2;
    m2 += d;
    m4 += d * d;
  }
  m2 /= v.length;
  m4 /= v.length;
  return { mean, std: Math.sqrt(m2), kurtosis: m4 / (m2 * m2) };
}

describe('syntheticLlamaSpec', () => {
  it('uses the real Llama names and shapes', () => {
    const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'BF16'));
    const byName = new Map(spec.map((t) => [t.name, t]));
    expect(spec[0].name).toBe('model.embed_tokens.weight');
    expect(byName.get('model.embed_tokens.weight')!.shape).toEqual([1024, 256]);
    expect(byName.get('model.layers.1.self_attn.q_proj.weight')!.shape).toEqual([256, 256]);
    expect(byName.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([128, 256]); // 2 kv heads x 64
    expect(byName.get('model.layers.1.self_attn.v_proj.weight')!.shape).toEqual([128, 256]);
    expect(byName.get('model.layers.0.self_attn.o_proj.weight')!.shape).toEqual([256, 256]);
    expect(byName.get('model.layers.0.mlp.gate_proj.weight')!.shape).toEqual([688, 256]);
    expect(byName.get('model.layers.0.mlp.up_proj.weight')!.shape).toEqual([688, 256]);
    expect(byName.get('model.layers.0.mlp.down_proj.weight')!.shape).toEqual([256, 688]);
    expect(byName.get('model.layers.0.input_layernorm.weight')!.shape).toEqual([256]);
    expect(byName.get('model.layers.0.post_attention_layernorm.weight')!.kind).toBe('norm');
    expect(byName.get('model.norm.weight')!.shape).toEqual([256]);
    expect(spec[spec.length - 1].name).toBe('lm_head.weight');
    expect(spec).toHaveLength(1 + 2 * 9 + 2);
    expect(spec.every((t) => t.dtype === 'BF16' && t.byteLength === t.numel * 2)).toBe(true);
    const tied = syntheticLlamaSpec({ ...syntheticPreset('tiny'), tieEmbeddings: true });
    expect(tied.find((t) => t.name === 'lm_head.weight')).toBeUndefined();
    // tiny is "a few MB"
    expect(spec.reduce((a, t) => a + t.byteLength, 0)).toBeLessThan(8 << 20);
    // The spec feeds the writer's planner directly.
    expect(planSafetensors(spec).tensors).toHaveLength(spec.length);
  });

  it('preset parameter counts match the real models', () => {
    expect(countParameters(syntheticLlamaSpec(syntheticPreset('1b')))).toBe(1_100_048_384); // TinyLlama-1.1B
    expect(countParameters(syntheticLlamaSpec(syntheticPreset('7b')))).toBe(6_738_415_616); // Llama-2-7B
    expect(SYNTHETIC_PRESETS['7b'].numKvHeads).toBe(32);
  });

  it('rejects impossible configurations', () => {
    const bad = [
      { ...syntheticPreset('tiny'), numHeads: 3 },
      { ...syntheticPreset('tiny'), numKvHeads: 3 },
      { ...syntheticPreset('tiny'), hiddenSize: 0 },
      { ...syntheticPreset('tiny'), dtype: 'F64' as SyntheticDType },
    ];
    for (const c of bad) {
      expect(() => syntheticLlamaSpec(c)).toThrow(HQQError);
    }
  });
});

describe('generateTensorData', () => {
  const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F32'));
  const up = spec.find((t) => t.name === 'model.layers.0.mlp.up_proj.weight')!;
  const norm = spec.find((t) => t.name === 'model.layers.0.input_layernorm.weight')!;

  it('is deterministic in (seed, name) and differs across seeds and tensors', () => {
    const a = generateTensorData(up, 7);
    expect(generateTensorData(up, 7)).toEqual(a);
    expect(generateTensorData(up, 8)).not.toEqual(a);
    const gate = spec.find((t) => t.name === 'model.layers.0.mlp.gate_proj.weight')!;
    expect(generateTensorData(gate, 7)).not.toEqual(a);
    expect(generateTensorData(up, 2 ** 40 + 7)).not.toEqual(a);
  });

  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`chunks equal the slice of the whole tensor (${dtype})`, () => {
      const t = syntheticLlamaSpec(syntheticPreset('tiny', dtype)).find((x) => x.name === 'model.layers.1.mlp.down_proj.weight')!;
      const size = dtype === 'F32' ? 4 : 2;
      const whole = generateTensorData(t, 3);
      expect(whole.byteLength).toBe(t.byteLength);
      for (const [off, count] of [[0, 1], [5, 100_000], [65_535, 65_538], [t.numel - 13, 13], [12_345, 0]]) {
        expect(generateTensorChunk(t, 3, off, count)).toEqual(whole.slice(off * size, (off + count) * size));
      }
      expect(() => generateTensorChunk(t, 3, t.numel - 1, 2)).toThrow('outside its');
    });
  }

  it('handles element offsets beyond 2^32 (a wrapping low word) consistently', () => {
    const huge: SyntheticTensor = { name: 'huge', dtype: 'F32', shape: [2 ** 33], kind: 'linear', numel: 2 ** 33, byteLength: 2 ** 35 };
    const start = 2 ** 32 - 3;
    const across = generateTensorChunk(huge, 1, start, 6);
    expect(generateTensorChunk(huge, 1, start + 3, 3)).toEqual(across.slice(12));
    expect(generateTensorChunk(huge, 1, start, 3)).toEqual(across.slice(0, 12));
    // Element 2^32 + k must not repeat element k.
    expect(generateTensorChunk(huge, 1, 2 ** 32, 4)).not.toEqual(generateTensorChunk(huge, 1, 0, 4));
  });

  it('has a heavy-tailed distribution: weights ~N(0, 0.02) scale with kurtosis > 3, norms near 1', () => {
    const w = moments(decode(up, generateTensorData(up, 11)));
    expect(Math.abs(w.mean)).toBeLessThan(0.001);
    expect(w.std).toBeGreaterThan(0.017);
    expect(w.std).toBeLessThan(0.023);
    expect(w.kurtosis).toBeGreaterThan(4);
    const emb = spec[0];
    expect(moments(decode(emb, generateTensorData(emb, 11))).kurtosis).toBeGreaterThan(4);
    const nv = decode(norm, generateTensorData(norm, 11));
    const n = moments(nv);
    expect(Math.abs(n.mean - 1)).toBeLessThan(0.01);
    expect(n.std).toBeLessThan(0.05);
    // No constant or repeating runs: adjacent values are nearly uncorrelated.
    const v = decode(up, generateTensorData(up, 12));
    let c = 0;
    for (let i = 1; i < v.length; i++) c += v[i] * v[i - 1];
    expect(Math.abs(c / (v.length - 1) / w.std ** 2)).toBeLessThan(0.02);
  });

  it('F16 and BF16 data decode back near the F32 values', () => {
    const name = 'model.layers.0.self_attn.q_proj.weight';
    const f32 = syntheticLlamaSpec(syntheticPreset('tiny', 'F32')).find((t) => t.name === name)!;
    const ref = decode(f32, generateTensorData(f32, 5));
    for (const dtype of ['F16', 'BF16'] as const) {
      const t = syntheticLlamaSpec(syntheticPreset('tiny', dtype)).find((x) => x.name === name)!;
      const got = decode(t, generateTensorData(t, 5));
      const relTol = dtype === 'F16' ? 2 ** -11 : 2 ** -8;
      for (let i = 0; i < ref.length; i++) {
        // F16 subnormals (|x| < 2^-14) have an absolute step of 2^-24.
        expect(Math.abs(got[i] - ref[i])).toBeLessThanOrEqual(Math.abs(ref[i]) * relTol + 2 ** -25);
      }
    }
  });

  it('generates at a useful rate', () => {
    const t = syntheticLlamaSpec(syntheticPreset('7b', 'F16')).find((x) => x.name === 'model.layers.0.mlp.up_proj.weight')!;
    generateTensorChunk(t, 1, 0, 1 << 18);
    const n = 1 << 23;
    const t0 = performance.now();
    generateTensorChunk(t, 1, 0, n);
    const rate = n / ((performance.now() - t0) / 1000);
    console.log(`synthetic F16 generation: ${(rate / 1e6).toFixed(1)} M values/s`);
    expect(rate).toBeGreaterThan(5e6); // loose bound for slow CI machines; ~60 M/s on a desktop
  });
});

describe('f16 / bf16 conversion', () => {
  it('rounds to nearest even and handles specials', () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const bits = (v: number) => ((f[0] = v), u[0]);
    expect(numberToF16Bits(1)).toBe(0x3c00);
    expect(numberToF16Bits(-2)).toBe(0xc000);
    expect(numberToF16Bits(65504)).toBe(0x7bff);
    expect(numberToF16Bits(65520)).toBe(0x7c00); // halfway to the next binade: rounds to even = inf
    expect(numberToF16Bits(1e9)).toBe(0x7c00);
    expect(numberToF16Bits(2 ** -24)).toBe(0x0001);
    expect(numberToF16Bits(2 ** -25)).toBe(0x0000); // tie -> even (0)
    expect(numberToF16Bits(2 ** -25 * 1.5)).toBe(0x0001);
    expect(numberToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(numberToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(numberToF16Bits(-0)).toBe(0x8000);
    expect(f32BitsToF16Bits(0x7fc00000)).toBe(0x7e00);
    expect(f32BitsToF16Bits(bits(Infinity))).toBe(0x7c00);
    expect(numberToBF16Bits(1)).toBe(0x3f80);
    expect(numberToBF16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(numberToBF16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32BitsToBF16Bits(0x7f800001)).toBe(0x7fc0);
    expect(bf16BitsToNumber(0xbf80)).toBe(-1);
    expect(f16BitsToNumber(0x3555)).toBeCloseTo(1 / 3, 3);
    // Exhaustive round trip: every finite f16 survives f16 -> number -> f16.
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(numberToF16Bits(f16BitsToNumber(h))).toBe(h);
    }
  });
});

describe('shardPlan', () => {
  it('splits in order under the size limit with HF-style names and a weight map', () => {
    const spec = syntheticLlamaSpec(syntheticPreset('tiny', 'F16'));
    const plan = shardPlan(spec, 1 << 20);
    const total = spec.reduce((a, t) => a + t.byteLength, 0);
    expect(plan.totalSize).toBe(total);
    const n = plan.shards.length;
    expect(n).toBeGreaterThan(1);
    plan.shards.forEach((s, i) => {
      expect(s.fileName).toBe(`model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`);
      expect(s.byteLength <= 1 << 20 || s.tensors.length === 1).toBe(true);
    });
    expect(plan.shards.flatMap((s) => s.tensors.map((t) => t.name))).toEqual(spec.map((t) => t.name));
    expect([...plan.weightMap.keys()]).toEqual(spec.map((t) => t.name));
    expect(plan.weightMap.get('lm_head.weight')).toBe(plan.shards[n - 1].fileName);
    expect(shardPlan(spec, 1e12).shards.map((s) => s.fileName)).toEqual(['model-00001-of-00001.safetensors']);
    expect(() => shardPlan(spec, 0)).toThrow(HQQError);
    // 7b in 5 GB shards: a handful of shards, no tensor split.
    const big = shardPlan(syntheticLlamaSpec(syntheticPreset('7b', 'F16')), 5e9);
    expect(big.shards).toHaveLength(3);
    expect(big.totalSize).toBe(6_738_415_616 * 2);
  });
});
