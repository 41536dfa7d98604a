/**
 * An ONNX model as an `InputModel` (browser-safe): every tensor with data (initializers stored
 * inline or in external data files, and Constant node values) is an input tensor read in place.
 * External data files are matched by location among the sources given after the model (a
 * browser drop), or opened by the caller's `openExternal` (Node: files next to the model).
 */
import { HQQError } from '../errors.js';
import { openONNX, type ONNXModel, type ONNXTensor } from '../io/onnx/reader.js';
import type { ByteSource } from '../io/source.js';
import type { InputModel, InputTensor, ModelInput } from './input.js';

/** The container data of an ONNX input: the opened model and its data tensors. */
export interface ONNXInput {
  /** Always `'onnx'`. */
  kind: 'onnx';
  /** The opened model (structure; tensor data located). */
  model: ONNXModel;
  /** The tensors behind `InputModel.tensors`, in the same order. */
  tensors: ONNXTensor[];
  /** Output file name asked for by the caller. */
  outputFileName?: string;
}

function baseName(p: string): string {
  return p.split(/[\\/]/).pop()!;
}

function onnxTensor(t: ONNXTensor): InputTensor {
  const d = t.data;
  if (d.kind === 'typed') throw new HQQError('INTERNAL', `tensor ${t.name} has no data range`);
  return {
    name: t.name, dtype: t.dtype, shape: t.dims, numel: t.numel, byteLength: t.byteLength, sourceIndex: d.kind === 'external' ? 1 : 0,
    read: async (offset, length, into) => {
      if (offset < 0 || length < 0 || offset + length > t.byteLength) {
        throw new HQQError('INVALID_ARGUMENT', `tensor ${JSON.stringify(t.name)}: read(${offset}, ${length}) is outside its ${t.byteLength} bytes`);
      }
      return d.source.read(d.begin + offset, length, into);
    },
  };
}

export async function openONNXInput(input: ModelInput): Promise<InputModel> {
  const [main, ...rest] = input.sources;
  const opened: ByteSource[] = [];
  const openExternal = async (location: string): Promise<ByteSource | undefined> => {
    const given = rest.find((s) => s.name === location || s.name.endsWith(`/${location}`) || baseName(s.name) === baseName(location));
    if (given) return given;
    const s = await input.openExternal?.(location);
    if (s && !opened.includes(s)) opened.push(s);
    return s;
  };
  const close = async () => {
    await Promise.allSettled(opened.map((s) => s.close?.()));
  };
  try {
    const model = await openONNX(main!, { openExternal });
    const tensors = [
      ...model.initializers,
      ...model.nodes.map((n) => n.constant).filter((t): t is ONNXTensor => t !== undefined),
    ].filter((t) => t.data.kind !== 'typed');
    return {
      fileNames: [main!.name, ...model.externalFiles],
      tensors: tensors.map(onnxTensor),
      container: { kind: 'onnx', model, tensors, outputFileName: input.outputFileName },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
