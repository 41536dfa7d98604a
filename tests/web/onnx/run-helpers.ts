// Shared by the ONNX tests: quantize a model held in memory through quantizeModel (in-thread
// pool), read the MatMulNBits inputs back from the output, and dequantize them with the
// independent reference (nbits-ref.ts).
import type { HQQ } from '../../../web/src/engine.js';
import { memorySink } from '../../../web/src/io/browser-sink.js';
import { openONNX, type ONNXModel } from '../../../web/src/io/onnx/reader.js';
import { bytesSource, type ByteSource } from '../../../web/src/io/source.js';
import type { ONNXModelConfig } from '../../../web/src/formats/onnx/config.js';
import { quantizeModel, type QuantizeModelReport } from '../../../web/src/model/quantize-model.js';
import { createInlinePool } from '../../../web/src/pool/inline-pool.js';
import { dequantizeRef } from './nbits-ref.js';

export interface QuantizedFiles {
  report: QuantizeModelReport;
  files: Map<string, Uint8Array>;
}

export async function quantizeInMemory(hqq: HQQ, name: string, bytes: Uint8Array, onnx: ONNXModelConfig, extra: ByteSource[] = [], compareRtn = true): Promise<QuantizedFiles> {
  const sink = memorySink();
  const report = await quantizeModel({ sources: [bytesSource(bytes, name), ...extra] }, sink, { onnx, workers: 1, compareRtn, createPool: () => createInlinePool(hqq) });
  const files = new Map<string, Uint8Array>();
  for (const f of sink.files()) files.set(f.fileName, new Uint8Array(await f.blob!.arrayBuffer()));
  return { report, files };
}

/** Opens an output model with its data files. */
export async function openOutput(files: Map<string, Uint8Array>, name: string): Promise<ONNXModel> {
  return openONNX(bytesSource(files.get(name)!, name), {
    openExternal: async (loc) => (files.has(loc) ? bytesSource(files.get(loc)!, loc) : undefined),
  });
}

async function tensorBytes(m: ONNXModel, name: string): Promise<Uint8Array> {
  const t = m.initializers.find((x) => x.name === name);
  if (!t || t.data.kind === 'typed') throw new Error(`no initializer ${name}`);
  return t.data.source.read(t.data.begin, t.data.length);
}

/** Every MatMulNBits weight of an output model, dequantized to [K, N], by the original weight name. */
export async function dequantizedWeights(m: ONNXModel): Promise<Map<string, { K: number; N: number; values: Float32Array; bits: number }>> {
  const out = new Map<string, { K: number; N: number; values: Float32Array; bits: number }>();
  for (const n of m.nodes.filter((x) => x.opType === 'MatMulNBits')) {
    const attr = (k: string) => Number(n.attribute.find((a) => a.name === k)!.i);
    const [K, N, bits, blockSize] = [attr('K'), attr('N'), attr('bits'), attr('block_size')];
    const scalesT = m.initializers.find((x) => x.name === n.input[2])!;
    const zpT = m.initializers.find((x) => x.name === n.input[3])!;
    const values = dequantizeRef(
      { qweight: await tensorBytes(m, n.input[1]!), scales: await tensorBytes(m, n.input[2]!), zeroPoints: await tensorBytes(m, n.input[3]!) },
      { K, N, bits, blockSize, scaleType: scalesT.dataType === 10 ? 'float16' : 'float32', zeroPoints: zpT.dataType === 2 ? 'uint8' : 'float' },
    );
    out.set(n.input[1]!.replace(/_Q\d$/, ''), { K, N, values, bits });
  }
  return out;
}

export function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

