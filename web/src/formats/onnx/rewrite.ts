/**
 * The graph rewrite (browser-safe): which constant weights become MatMulNBits and which nodes
 * change. `MatMul(A, B)` with B a constant `[K, N]`, and `Gemm(A, B[, C])` with a constant B
 * (transB 0 or 1, transA 0, alpha = beta = 1, C absent or a constant `[N]`), become
 * `MatMulNBits(A, B_q, scales, zero_points[, "", C])`. A weight read by several such nodes is
 * quantized once and shared; a weight read by anything else (or in another orientation, or by a
 * subgraph, or that is a graph input/output) is left alone, with the reason.
 */
import type { ONNXModel, ONNXNode, ONNXTensor } from '../../io/onnx/reader.js';
import { DT } from '../../io/onnx/schema.js';
import type { ResolvedONNXConfig } from './config.js';

/** A weight that becomes MatMulNBits inputs. */
export interface QuantizedWeight {
  tensor: ONNXTensor;
  /** 'KN': MatMul B / Gemm transB=0; 'NK': Gemm transB=1. */
  layout: 'KN' | 'NK';
  K: number;
  N: number;
  nBlocks: number;
  scaleType: 'float32' | 'float16';
  /** Indices (in model.nodes) of the nodes rewritten to read it. */
  nodes: number[];
  /** The Constant node that held it (removed), if it was one. */
  constantNode?: number;
}

export interface RewriteDecision {
  quantized: Map<ONNXTensor, QuantizedWeight>;
  /** Tensors left alone, with the reason (only those a reader may ask about: 2-D floats and MatMul operands). */
  reasons: Map<ONNXTensor, string>;
}

interface Use {
  node: number;
  slot: number;
}

function attrOf(n: ONNXNode, name: string): Record<string, unknown> | undefined {
  return n.attribute.find((a) => a.name === name);
}

function numAttr(n: ONNXNode, name: string, dflt: number): number {
  const a = attrOf(n, name);
  if (!a) return dflt;
  const v = a.f ?? a.i;
  return v === undefined ? dflt : Number(v);
}

/** Why a Gemm cannot become MatMulNBits, or its B layout. */
function gemmLayout(n: ONNXNode, constants: Map<string, ONNXTensor>, N: (layout: 'KN' | 'NK') => number): { layout: 'KN' | 'NK' } | { reason: string } {
  const what = `Gemm ${JSON.stringify(n.name)}`;
  if (numAttr(n, 'transA', 0) !== 0) return { reason: `${what} has transA=1 (MatMulNBits reads A as it is)` };
  if (numAttr(n, 'alpha', 1) !== 1) return { reason: `${what} has alpha=${numAttr(n, 'alpha', 1)} (only alpha=1 maps to MatMulNBits)` };
  const layout = numAttr(n, 'transB', 0) === 0 ? 'KN' : 'NK';
  const c = n.input[2];
  if (c) {
    if (numAttr(n, 'beta', 1) !== 1) return { reason: `${what} has beta=${numAttr(n, 'beta', 1)} (only beta=1 maps to a bias)` };
    const ct = constants.get(c);
    if (!ct) return { reason: `${what}'s C (${c}) is not a constant, so its shape is unknown (MatMulNBits takes a bias of [N])` };
    if (ct.dims.length !== 1 || ct.dims[0] !== N(layout)) return { reason: `${what}'s C is [${ct.dims.join(', ')}], not a bias of [${N(layout)}]` };
  }
  return { layout };
}

/** Every constant's readers. */
function usesOf(model: ONNXModel): Map<string, Use[]> {
  const uses = new Map<string, Use[]>();
  model.nodes.forEach((n, i) => n.input.forEach((name, slot) => {
    if (!name) return;
    if (!uses.has(name)) uses.set(name, []);
    uses.get(name)!.push({ node: i, slot });
  }));
  return uses;
}

/** The decision for one constant, from its readers. */
function decide(model: ONNXModel, t: ONNXTensor, uses: Use[], constants: Map<string, ONNXTensor>, c: ResolvedONNXConfig): { layout: 'KN' | 'NK'; nodes: number[] } | { reason: string } | undefined {
  if (model.subgraphReads.has(t.name)) return { reason: 'read inside a subgraph (If/Loop body), which is left as it is' };
  const mm = uses.filter((u) => u.slot === 1 && ['MatMul', 'Gemm'].includes(model.nodes[u.node]!.opType) && model.nodes[u.node]!.domain === '');
  if (mm.length === 0) return t.dims.length === 2 && (t.dtype === 'F32' || t.dtype === 'F16') ? { reason: 'not the B of a MatMul or Gemm' } : undefined;
  if (t.dims.length !== 2) return { reason: `${t.dims.length}-D, MatMulNBits takes a 2-D weight` };
  if (t.dtype !== 'F32' && t.dtype !== 'F16') return { reason: `${t.dtype} weight; MatMulNBits is made from float32 or float16 weights` };
  if (t.data.kind === 'typed') return { reason: 'stored in typed fields (float_data), not raw_data; re-save the model with raw data' };
  if (model.graphInputs.has(t.name)) return { reason: 'also a graph input (it can be overridden at run time), so it is not a constant' };
  if (model.graphOutputs.has(t.name)) return { reason: 'also a graph output' };
  const other = uses.find((u) => !mm.includes(u));
  if (other) { const n = model.nodes[other.node]!; return { reason: `also read by ${n.opType} ${JSON.stringify(n.name)} (input ${other.slot})` }; }
  if (t.numel < c.minWeights) return { reason: `${t.numel} weights, fewer than ${c.minWeights}: too small to gain` };
  let layout: 'KN' | 'NK' | undefined;
  for (const u of mm) {
    const n = model.nodes[u.node]!;
    let l: 'KN' | 'NK' = 'KN';
    if (n.opType === 'Gemm') {
      const g = gemmLayout(n, constants, (x) => (x === 'KN' ? t.dims[1]! : t.dims[0]!));
      if ('reason' in g) return g;
      l = g.layout;
    }
    if (layout && l !== layout) return { reason: 'read both transposed and not (Gemm transB differs between its readers)' };
    layout = l;
  }
  return { layout: layout!, nodes: mm.map((u) => u.node) };
}

export function planRewrite(model: ONNXModel, c: ResolvedONNXConfig): RewriteDecision {
  const constants = new Map<string, ONNXTensor>();
  const constantNode = new Map<ONNXTensor, number>();
  for (const t of model.initializers) constants.set(t.name, t);
  model.nodes.forEach((n, i) => {
    if (n.constant && n.output[0]) {
      constants.set(n.output[0], n.constant);
      constantNode.set(n.constant, i);
    }
  });
  const uses = usesOf(model);
  const quantized = new Map<ONNXTensor, QuantizedWeight>();
  const reasons = new Map<ONNXTensor, string>();
  for (const t of constants.values()) {
    const d = decide(model, t, uses.get(t.name) ?? [], constants, c);
    if (!d) continue;
    if ('reason' in d) {
      reasons.set(t, d.reason);
      continue;
    }
    const [K, N] = d.layout === 'KN' ? [t.dims[0]!, t.dims[1]!] : [t.dims[1]!, t.dims[0]!];
    quantized.set(t, {
      tensor: t, layout: d.layout, K, N, nBlocks: Math.ceil(K / c.blockSize), scaleType: t.dataType === DT.FLOAT16 ? 'float16' : 'float32',
      nodes: d.nodes, constantNode: constantNode.get(t),
    });
  }
  // The bias of a rewritten Gemm stays as it is: MatMulNBits reads it as its bias input.
  for (const q of quantized.values()) {
    for (const i of q.nodes) {
      const c = model.nodes[i]!.opType === 'Gemm' ? constants.get(model.nodes[i]!.input[2] ?? '') : undefined;
      if (c && !reasons.has(c)) reasons.set(c, `the bias of Gemm ${JSON.stringify(model.nodes[i]!.name)}, read as it is by its MatMulNBits`);
    }
  }
  return { quantized, reasons };
}

/** Byte sizes of the MatMulNBits inputs of a weight. */
export function nbitsSizes(q: Pick<QuantizedWeight, 'N' | 'nBlocks' | 'scaleType'>, c: Pick<ResolvedONNXConfig, 'bits' | 'blockSize' | 'zeroPoints'>): { qweight: number; scales: number; zeroPoints: number; blob: number; zpRow: number } {
  const blob = (c.blockSize * c.bits) / 8;
  const sb = q.scaleType === 'float16' ? 2 : 4;
  const zpRow = c.zeroPoints === 'uint8' ? Math.ceil((q.nBlocks * c.bits) / 8) : q.nBlocks;
  return {
    qweight: q.N * q.nBlocks * blob,
    scales: q.N * q.nBlocks * sb,
    zeroPoints: q.N * zpRow * (c.zeroPoints === 'uint8' ? 1 : sb),
    blob,
    zpRow,
  };
}
