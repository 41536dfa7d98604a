/**
 * Finding HQQLinear layers from a safetensors header alone (pure, browser-safe): the planner uses
 * it to refuse requantizing an already quantized file, `dequantize` to warn when there is nothing
 * to dequantize. A layer is a `<prefix>W_q` stored together with `<prefix>scale` and
 * `<prefix>zero` (the three tensors every HQQLinear state dict has; HQQ-SPEC section 5).
 */
import { HQQLINEAR_KEYS } from './hqqlinear.js';

export interface HQQLayerKeys {
  /** `<name>.` (empty for a bare `W_q`). */
  prefix: string;
  /** The layer's stored keys (full names), in HQQLINEAR_KEYS order. */
  keys: string[];
}

/** Every HQQLinear layer of `header`, in header order. Linear in the number of tensors. */
export function findHQQLayerKeys(header: { tensors: readonly { name: string }[] }): HQQLayerKeys[] {
  const out: HQQLayerKeys[] = [];
  const candidates: string[] = [];
  for (const t of header.tensors) if (t.name === 'W_q' || t.name.endsWith('.W_q')) candidates.push(t.name);
  if (candidates.length === 0) return out; // the usual case: no set of every name is needed
  const names = new Set<string>();
  for (const t of header.tensors) names.add(t.name);
  for (const name of candidates) {
    const prefix = name.slice(0, -'W_q'.length);
    if (!names.has(`${prefix}scale`) || !names.has(`${prefix}zero`)) continue;
    out.push({ prefix, keys: HQQLINEAR_KEYS.filter((k) => names.has(prefix + k)).map((k) => prefix + k) });
  }
  return out;
}

/** Why a header cannot be quantized again (it holds HQQ layers), or undefined. */
export function requantizeProblem(fileName: string, header: { tensors: readonly { name: string }[] }): string | undefined {
  const layers = findHQQLayerKeys(header);
  if (layers.length === 0) return undefined;
  const example = layers[0]!.prefix.slice(0, -1) || 'W_q';
  return `${fileName} is already HQQ-quantized (${layers.length} HQQLinear layer${layers.length === 1 ? '' : 's'}, e.g. ${JSON.stringify(example)}); quantizing it again would quantize its packed levels as weights. Quantize the original model, or restore weights first with "hqq-wasm dequantize"`;
}
