// HQQ folders for transformers and vLLM: quantization_config as HqqConfig.to_dict() writes it
// (global and per-layer forms, skip_modules), config.json text, runtime verdicts, and the layer
// keys/dtypes/shapes hqq-wasm writes against the reference-written HQQLinear layer.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { HQQError } from '../../../web/src/errors.js';
import { hqqLinearConfigBytes, hqqLinearEntries, HQQLINEAR_KEYS, type LayerQuantConfig } from '../../../web/src/model/hqqlinear.js';
import {
  TRANSFORMERS_HQQ_KEYS,
  VLLM_HQQ_KEYS,
  hqqLayerKeyProblems,
  hqqQuantizationConfig,
  linearTag,
  runtimeSupport,
  withQuantizationConfig,
  type HQQLayerParams,
  type HQQLinearLayer,
} from '../../../web/src/model/hf/index.js';

const REF = fileURLToPath(new URL('../../../../shared/testdata/hqq-ref/hqqlinear/normal_256x512_4bit_g64_axis1_fp16.safetensors', import.meta.url));

const Q4: HQQLayerParams = { nbits: 4, groupSize: 64, axis: 1, optimize: true, roundZero: true };
const Q8: HQQLayerParams = { nbits: 8, groupSize: 64, axis: 1, optimize: true, roundZero: false };

function llamaLayers(q: (module: string) => HQQLayerParams | null, n = 2): HQQLinearLayer[] {
  const out: HQQLinearLayer[] = [];
  for (let b = 0; b < n; b++) {
    for (const m of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']) {
      const module = `model.layers.${b}.${m}`;
      out.push({ module, quant: q(module) });
    }
  }
  out.push({ module: 'lm_head', quant: null });
  return out;
}

describe('quantization_config', () => {
  it('global form: exactly HqqConfig(nbits=4, group_size=64).to_dict()', () => {
    const { config, form, warnings } = hqqQuantizationConfig(llamaLayers(() => Q4));
    expect(form).toBe('global');
    expect(warnings).toEqual([]);
    // Key order as to_dict() / BaseQuantizeConfig build them.
    expect(JSON.stringify(config)).toBe(
      '{"quant_config":{"weight_quant_params":{"nbits":4,"channel_wise":true,"group_size":64,"optimize":true,"round_zero":true,"axis":1,"view_as_float":false},' +
        '"scale_quant_params":null,"zero_quant_params":null,"offload_meta":false},"quant_method":"hqq","skip_modules":["lm_head"]}',
    );
  });

  it('per-layer form keyed by linear tag; unquantized tags in skip_modules; mixed tags warned', () => {
    expect(linearTag('model.layers.31.self_attn.k_proj.weight')).toBe('self_attn.k_proj');
    expect(linearTag('lm_head')).toBe('lm_head');
    const { config, form } = hqqQuantizationConfig(llamaLayers((m) => (m.endsWith('down_proj') ? Q8 : m.endsWith('v_proj') ? null : Q4)));
    expect(form).toBe('per-layer');
    const qc = config.quant_config as Record<string, { weight_quant_params: { nbits: number } }>;
    expect(Object.keys(qc)).toEqual(['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']);
    expect(qc['mlp.down_proj']!.weight_quant_params.nbits).toBe(8);
    expect(qc['self_attn.q_proj']!.weight_quant_params.nbits).toBe(4);
    expect(config.skip_modules).toEqual(['lm_head', 'self_attn.v_proj']);
    const mixed = hqqQuantizationConfig(llamaLayers((m) => (m === 'model.layers.0.mlp.down_proj' ? Q8 : Q4), 3));
    expect(mixed.form).toBe('per-layer');
    expect(mixed.warnings.join()).toMatch(/"mlp\.down_proj" use 2 configs \(2 x 4-bit g64 axis 1, 1 x 8-bit g64 axis 1\)/);
    // A quantized lm_head must not be skipped (transformers would then leave its W_q unread).
    const withHead = llamaLayers(() => Q4).map((l) => (l.module === 'lm_head' ? { ...l, quant: Q4 } : l));
    expect(hqqQuantizationConfig(withHead).config.skip_modules).toEqual([]);
    expect(() => hqqQuantizationConfig(llamaLayers(() => null))).toThrow(HQQError);
  });

  it("config.json: the input's text kept, quantization_config appended; parse round trip", () => {
    const input = '{\n  "architectures": ["LlamaForCausalLM"],\n  "rms_norm_eps": 1e-05,\n  "torch_dtype": "bfloat16"\n}\n';
    const { config } = hqqQuantizationConfig(llamaLayers(() => Q4));
    const out = withQuantizationConfig(input, config);
    expect(out.startsWith('{\n  "architectures": ["LlamaForCausalLM"],\n  "rms_norm_eps": 1e-05,\n  "torch_dtype": "bfloat16",\n  "quantization_config": {\n    "quant_config": {')).toBe(true);
    const parsed = JSON.parse(out);
    expect(parsed.quantization_config).toEqual(config);
    expect(parsed.quantization_config.quant_method).toBe('hqq');
    expect(parsed.quantization_config.quant_config.weight_quant_params).toEqual({ nbits: 4, channel_wise: true, group_size: 64, optimize: true, round_zero: true, axis: 1, view_as_float: false });
    expect(out.endsWith('}\n')).toBe(true);
    expect(JSON.parse(withQuantizationConfig('{}', config))).toEqual({ quantization_config: config });
    expect(() => withQuantizationConfig(out, config)).toThrow(/already has a quantization_config/);
    expect(() => withQuantizationConfig('{', config)).toThrow(/not valid JSON/);
  });
});

describe('runtime support', () => {
  const verdict = (q: (m: string) => HQQLayerParams | null, withLayers = true) => {
    const layers = llamaLayers(q);
    return runtimeSupport(hqqQuantizationConfig(layers).config, withLayers ? layers : undefined);
  };

  it('4-bit g64 axis 1 everywhere: transformers and vLLM', () => {
    const v = verdict(() => Q4);
    expect(v.transformers.ok).toBe(true);
    expect(v.vllm.ok).toBe(true);
    expect(v.warnings).toEqual([]);
  });

  it('other widths / groups / axis: transformers only, with the vLLM warning', () => {
    for (const p of [{ ...Q4, nbits: 2 }, { ...Q4, groupSize: 128 }, { ...Q4, axis: 0 as const }, Q8]) {
      const v = verdict(() => p);
      expect(v.transformers.ok).toBe(true);
      expect(v.vllm.ok).toBe(false);
      expect(v.warnings.join('\n')).toMatch(/vLLM's hqq method will not load this folder \(it takes 4-bit, group size 64, axis 1 only\)/);
    }
    expect(verdict(() => ({ ...Q4, nbits: 2 })).vllm.reasons[0]).toMatch(/nbits 2 \(vLLM's hqq method asserts 4-bit\)/);
    expect(verdict(() => ({ ...Q4, axis: 0 })).vllm.reasons[0]).toMatch(/axis 0/);
  });

  it('per-layer form and unquantized linear layers: vLLM refuses', () => {
    const mixed = verdict((m) => (m.endsWith('down_proj') ? Q8 : Q4));
    expect(mixed.vllm.ok).toBe(false);
    expect(mixed.vllm.reasons.join()).toMatch(/per-layer quant_config form/);
    const partial = verdict((m) => (m.endsWith('v_proj') ? null : Q4));
    // v_proj is listed in skip_modules as "self_attn.v_proj", which is no component of vLLM's
    // fused "qkv_proj" name: vLLM would still expect W_q there.
    expect(partial.vllm.ok).toBe(false);
    expect(partial.vllm.reasons.join()).toMatch(/2 linear layer\(s\) are not quantized \(model\.layers\.0\.self_attn\.v_proj/);
    expect(partial.transformers.ok).toBe(true);
  });

  it('transformers cautions and refusals', () => {
    const v6 = verdict(() => ({ ...Q4, nbits: 6 }));
    expect(v6.transformers.ok).toBe(true);
    expect(v6.warnings.join()).toMatch(/6-bit layers need an hqq release/);
    const g = verdict(() => ({ ...Q4, groupSize: 100 }));
    expect(g.warnings.join()).toMatch(/group size 100 is not a multiple of 8/);
    const bad = runtimeSupport({ quant_method: 'hqq', skip_modules: [], quant_config: { weight_quant_params: { nbits: 7, group_size: 64, axis: 2, view_as_float: true } } });
    expect(bad.transformers.ok).toBe(false);
    expect(bad.warnings[0]).toMatch(/transformers will not load this HQQ folder: nbits 7 .*axis 2.*view_as_float/);
    expect(() => runtimeSupport({ quant_method: 'gptq' })).toThrow(HQQError);
  });
});

describe('layer keys vs transformers, vLLM and the reference-written layer', () => {
  function header(file: string): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
    const b = fs.readFileSync(file);
    const n = Number(b.readBigUInt64LE(0));
    const h = JSON.parse(b.subarray(8, 8 + n).toString());
    delete h.__metadata__;
    return h;
  }

  it('hqq-wasm writes exactly the keys transformers loads and vLLM registers (no .meta)', () => {
    const keys = [...HQQLINEAR_KEYS];
    expect(new Set(keys)).toEqual(new Set(TRANSFORMERS_HQQ_KEYS));
    expect(new Set(keys)).toEqual(new Set(VLLM_HQQ_KEYS));
    expect(keys).not.toContain('meta');
    const p = hqqLayerKeyProblems([...keys, 'bias']);
    expect(p).toEqual({ transformers: { missing: [], unexpected: [] }, vllm: { missing: [], unexpected: [] } });
    expect(hqqLayerKeyProblems(['W_q', 'meta']).transformers.unexpected).toEqual(['meta']);
  });

  it('keys, dtypes, shapes and config bytes equal the reference-written 256x512 4-bit g64 layer', () => {
    const ref = header(REF);
    const raw = fs.readFileSync(REF);
    const dataStart = 8 + Number(raw.readBigUInt64LE(0));
    const cfg: LayerQuantConfig = { nbits: 4, groupSize: 64, axis: 1, optimize: true, roundZero: true, computeDtype: 'float16' };
    const ours = hqqLinearEntries('layer.', [256, 512], cfg);
    const refKeys = Object.keys(ref).filter((k) => k !== 'layer.bias');
    expect(new Set(ours.map((e) => e.name))).toEqual(new Set(refKeys));
    for (const e of ours) expect({ name: e.name, dtype: e.dtype, shape: e.shape }).toEqual({ name: e.name, dtype: ref[e.name]!.dtype, shape: ref[e.name]!.shape });
    for (const [k, bytes] of hqqLinearConfigBytes([256, 512], cfg)) {
      const [a, b] = ref[`layer.${k}`]!.data_offsets;
      expect(Array.from(bytes), k).toEqual(Array.from(raw.subarray(dataStart + a, dataStart + b)));
    }
    expect(path.basename(REF)).toMatch(/4bit_g64_axis1/);
  });
});
