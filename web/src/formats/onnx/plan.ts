/**
 * ONNX planning (browser-safe): the rewrite's decisions (rewrite.ts) turned into graph edits (new
 * MatMulNBits nodes, new initializers, dropped weights and Constant nodes, the com.microsoft
 * opset), the output files (io/onnx/writer.ts) and one worker job per quantized weight.
 */
import { HQQError } from '../../errors.js';
import type { ONNXTensor } from '../../io/onnx/reader.js';
import { ATTR, DT, onnxTypes } from '../../io/onnx/schema.js';
import { planONNXOutput, type AddedTensor, type GraphEdits } from '../../io/onnx/writer.js';
import type { InputModel } from '../../model/input.js';
import type { ONNXInput } from '../../model/onnx-input.js';
import { planTotals, runWarnings } from '../plan-common.js';
import type { FormatPlan, PlannedTensor } from '../types.js';
import { describeONNXConfig, type ResolvedONNXConfig } from './config.js';
import { nbitsSizes, planRewrite, type QuantizedWeight } from './rewrite.js';

export interface NBitsJobSpec {
  layout: 'KN' | 'NK';
  K: number;
  N: number;
  dtype: 'F32' | 'F16';
  scaleType: 'float32' | 'float16';
  /** Output entries: packed weights, scales, zero points. */
  entries: { qweight: string; scales: string; zeroPoints: string };
  files: { qweight: number; scales: number; zeroPoints: number };
  sizes: { qweight: number; scales: number; zeroPoints: number };
}

export interface ONNXFormatPlan extends FormatPlan {
  format: 'onnx';
  external: boolean;
  /** Nodes rewritten to MatMulNBits. */
  rewrittenNodes: number;
}

/** A name not yet used in the graph. */
function uniqueName(base: string, used: Set<string>): string {
  let n = base;
  for (let i = 1; used.has(n); i++) n = `${base}_${i}`;
  used.add(n);
  return n;
}

function usedNames(container: ONNXInput): Set<string> {
  const used = new Set<string>();
  const m = container.model;
  for (const t of m.initializers) used.add(t.name);
  for (const n of m.nodes) for (const x of [...n.input, ...n.output, n.name]) if (x) used.add(x);
  for (const x of [...m.graphInputs, ...m.graphOutputs, ...m.elemTypes.keys()]) used.add(x);
  return used;
}

const intAttr = (name: string, i: number) => ({ name, type: ATTR.INT, i });

/** The MatMulNBits node replacing node `n` of the model. */
function nbitsNode(container: ONNXInput, index: number, q: QuantizedWeight, names: { qweight: string; scales: string; zeroPoints: string }, c: ResolvedONNXConfig): Uint8Array {
  const n = container.model.nodes[index]!;
  const inputs = [n.input[0]!, names.qweight, names.scales, names.zeroPoints];
  if (n.opType === 'Gemm' && n.input[2]) inputs.push('', n.input[2]);
  const obj = {
    input: inputs, output: n.output, name: n.name || undefined, op_type: 'MatMulNBits', domain: 'com.microsoft',
    attribute: [intAttr('K', q.K), intAttr('N', q.N), intAttr('bits', c.bits), intAttr('block_size', c.blockSize)],
  };
  return onnxTypes.NodeProto.encode(onnxTypes.NodeProto.fromObject(obj)).finish();
}

function quantizedLabel(c: ResolvedONNXConfig): string {
  return `q${c.bits} b${c.blockSize}${c.zeroPoints === 'float' ? ' fz' : ''}`;
}

/** Where the tensor lives in the graph (initializer field, or its Constant node). */
function graphFieldOf(container: ONNXInput, t: ONNXTensor): number {
  const node = container.model.nodes.find((n) => n.constant === t);
  return node ? node.field.start : t.field.start;
}

export function planONNX(input: InputModel, c: ResolvedONNXConfig): ONNXFormatPlan {
  const container = input.container;
  if (container.kind !== 'onnx') throw new HQQError('UNSUPPORTED', `ONNX output is made from ONNX models; ${input.fileNames[0]} is ${container.kind}`);
  const model = container.model;
  const decision = planRewrite(model, c);
  const used = usedNames(container);
  const edits: GraphEdits = { drop: new Set(), replace: new Map(), data: new Map(), added: [] };
  const names = new Map<ONNXTensor, NBitsJobSpec['entries']>();
  let rewritten = 0;
  for (const q of decision.quantized.values()) {
    const t = q.tensor;
    const s = nbitsSizes(q, c);
    const e = { qweight: uniqueName(`${t.name}_Q${c.bits}`, used), scales: uniqueName(`${t.name}_scales`, used), zeroPoints: uniqueName(`${t.name}_zp`, used) };
    names.set(t, e);
    const scaleDT = q.scaleType === 'float16' ? DT.FLOAT16 : DT.FLOAT;
    const added: AddedTensor[] = [
      { name: e.qweight, dataType: DT.UINT8, dims: [q.N, q.nBlocks, s.blob], entry: e.qweight, byteLength: s.qweight },
      { name: e.scales, dataType: scaleDT, dims: [q.N, q.nBlocks], entry: e.scales, byteLength: s.scales },
      { name: e.zeroPoints, dataType: c.zeroPoints === 'uint8' ? DT.UINT8 : scaleDT, dims: [q.N, s.zpRow], entry: e.zeroPoints, byteLength: s.zeroPoints },
    ];
    edits.added.push(...added);
    edits.drop.add(q.constantNode !== undefined ? model.nodes[q.constantNode]!.field.start : t.field.start);
    for (const i of q.nodes) {
      edits.replace.set(model.nodes[i]!.field.start, nbitsNode(container, i, q, e, c));
      rewritten++;
    }
  }
  container.tensors.forEach((t) => {
    if (!decision.quantized.has(t)) edits.data.set(graphFieldOf(container, t), { tensor: t, entry: t.name });
  });
  if (decision.quantized.size > 0 && !model.opsets.some((o) => o.domain === 'com.microsoft')) edits.addOpset = { domain: 'com.microsoft', version: 1 };
  const fileName = container.outputFileName ?? model.source.name.split(/[\\/]/).pop()!;
  const out = planONNXOutput(model, edits, { fileName, dataFileName: `${fileName}_data`, externalData: c.externalData, inputExternal: model.externalFiles.length > 0 });
  const tensors: PlannedTensor[] = container.tensors.map((t, index) => plannedTensor(t, index, decision.quantized.get(t), decision.reasons.get(t), names.get(t), out.entryFile, c));
  // Tensors without a data range (float_data...) are not input tensors: their reasons become warnings.
  const typed = [...decision.reasons].filter(([t]) => t.data.kind === 'typed').map(([t, why]) => `${t.name} (${why})`);
  const warnings = runWarnings(tensors);
  if (typed.length > 0) warnings.push({ code: 'OTHER', message: `left as they are: ${typed.join(', ')}` });
  return {
    format: 'onnx', config: describeONNXConfig(c), baselineName: 'RTN', files: out.files, smallFiles: [], constants: out.constants, tensors,
    totals: planTotals(tensors, out.files, []), warnings, external: out.external, rewrittenNodes: rewritten,
  };
}

function plannedTensor(
  t: ONNXTensor, index: number, q: QuantizedWeight | undefined, reason: string | undefined, e: NBitsJobSpec['entries'] | undefined,
  entryFile: Map<string, number>, c: ResolvedONNXConfig,
): PlannedTensor {
  const base = { name: t.name, dtype: t.dtype, shape: t.dims, numel: t.numel, index, sourceIndex: t.data.kind === 'external' ? 1 : 0, bytesBefore: t.byteLength };
  if (!q || !e) {
    return {
      ...base, action: 'copy', reason: reason ?? 'not a MatMul/Gemm weight', label: t.dtype, jobs: [], copyTo: { file: entryFile.get(t.name)!, entry: t.name },
      outputs: [{ file: entryFile.get(t.name)!, name: t.name, byteLength: t.byteLength }], bytesAfter: t.byteLength, bitsPerWeight: t.numel ? (t.byteLength * 8) / t.numel : 0,
    };
  }
  const s = nbitsSizes(q, c);
  const files = { qweight: entryFile.get(e.qweight)!, scales: entryFile.get(e.scales)!, zeroPoints: entryFile.get(e.zeroPoints)! };
  const spec: NBitsJobSpec = { layout: q.layout, K: q.K, N: q.N, dtype: t.dtype as 'F32' | 'F16', scaleType: q.scaleType, entries: e, files, sizes: { qweight: s.qweight, scales: s.scales, zeroPoints: s.zeroPoints } };
  const after = s.qweight + s.scales + s.zeroPoints;
  return {
    ...base, action: 'quantize', label: quantizedLabel(c), jobs: [{ tensor: index, offset: 0, length: t.byteLength, spec }],
    outputs: [
      { file: files.qweight, name: e.qweight, byteLength: s.qweight },
      { file: files.scales, name: e.scales, byteLength: s.scales },
      { file: files.zeroPoints, name: e.zeroPoints, byteLength: s.zeroPoints },
    ],
    bytesAfter: after, bitsPerWeight: (after * 8) / t.numel,
  };
}
