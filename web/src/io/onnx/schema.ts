/**
 * The ONNX protobuf messages this package decodes and encodes. Field numbers and types are those of
 * the ONNX IR specification (onnx/onnx.proto, IR version 10), written as a protobufjs JSON
 * descriptor in onnx-schema.json, from which scripts/gen-onnx-protobuf.sh generates static code
 * (generated/onnx-pb.js: no run-time code generation, so no 'unsafe-eval' needed under a CSP).
 *
 * Only messages we decode or build are complete: untouched parts of a model (opsets, metadata,
 * functions, training info, value_info, nodes we do not rewrite) are copied byte for byte by the
 * reader/writer (see reader.ts), so fields this descriptor might lack are never lost. GraphProto
 * (If/Loop/Scan bodies) is decoded only to find the names a subgraph reads.
 */
import { onnx, Reader, Writer } from './protobuf.js';

export const onnxTypes = {
  TensorProto: onnx.TensorProto,
  NodeProto: onnx.NodeProto,
  AttributeProto: onnx.AttributeProto,
  OperatorSetIdProto: onnx.OperatorSetIdProto,
  ValueInfoProto: onnx.ValueInfoProto,
  GraphProto: onnx.GraphProto,
  StringStringEntryProto: onnx.StringStringEntryProto,
};

/** Field numbers of the messages the reader walks without decoding (ONNX IR). */
export const FIELD = {
  model: { irVersion: 1, opsetImport: 8, producerName: 2, producerVersion: 3, graph: 7, metadataProps: 14 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13, sparseInitializer: 15 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5 },
  attribute: { name: 1, t: 5 },
} as const;

/**
 * The wire types the ONNX schema allows per field of the messages the reader walks or decodes
 * (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32; repeated numbers may also be packed, 2),
 * and the message type of the fields the wire check descends into. A known field of another wire
 * type is a damaged model: skipped, it would silently lose a weight (an initializer with a varint
 * tag), and protobufjs would misread it. Unknown field numbers are kept (newer ONNX versions).
 */
export type WireMessage = 'model' | 'graph' | 'tensor' | 'node' | 'attribute' | 'valueInfo';
export const WIRE_TYPES: Record<WireMessage, Record<number, { wires: readonly number[]; message?: WireMessage }>> = {
  model: {
    1: { wires: [0] }, 2: { wires: [2] }, 3: { wires: [2] }, 4: { wires: [2] }, 5: { wires: [0] }, 6: { wires: [2] },
    7: { wires: [2] }, 8: { wires: [2] }, 14: { wires: [2] }, 20: { wires: [2] }, 25: { wires: [2] }, 26: { wires: [2] },
  },
  graph: {
    1: { wires: [2], message: 'node' }, 2: { wires: [2] }, 5: { wires: [2], message: 'tensor' }, 10: { wires: [2] },
    11: { wires: [2], message: 'valueInfo' }, 12: { wires: [2], message: 'valueInfo' }, 13: { wires: [2], message: 'valueInfo' },
    14: { wires: [2] }, 15: { wires: [2] }, 16: { wires: [2] },
  },
  tensor: {
    1: { wires: [0, 2] }, 2: { wires: [0] }, 3: { wires: [2] }, 4: { wires: [5, 2] }, 5: { wires: [0, 2] }, 6: { wires: [2] },
    7: { wires: [0, 2] }, 8: { wires: [2] }, 9: { wires: [2] }, 10: { wires: [1, 2] }, 11: { wires: [0, 2] }, 12: { wires: [2] },
    13: { wires: [2] }, 14: { wires: [0] }, 16: { wires: [2] },
  },
  node: {
    1: { wires: [2] }, 2: { wires: [2] }, 3: { wires: [2] }, 4: { wires: [2] }, 5: { wires: [2], message: 'attribute' },
    6: { wires: [2] }, 7: { wires: [2] }, 8: { wires: [2] }, 9: { wires: [2] }, 10: { wires: [2] },
  },
  attribute: {
    1: { wires: [2] }, 2: { wires: [5] }, 3: { wires: [0] }, 4: { wires: [2] }, 5: { wires: [2], message: 'tensor' },
    6: { wires: [2], message: 'graph' }, 7: { wires: [5, 2] }, 8: { wires: [0, 2] }, 9: { wires: [2] },
    10: { wires: [2], message: 'tensor' }, 11: { wires: [2], message: 'graph' }, 13: { wires: [2] }, 14: { wires: [2] },
    15: { wires: [2] }, 20: { wires: [0] }, 21: { wires: [2] }, 22: { wires: [2] }, 23: { wires: [2] },
  },
  valueInfo: { 1: { wires: [2] }, 2: { wires: [2] }, 3: { wires: [2] }, 4: { wires: [2] } },
};

/** TensorProto.DataType values and their container names (the safetensors spelling where there is one). */
export const ONNX_DTYPES: Record<number, { name: string; bytes: number }> = {
  1: { name: 'F32', bytes: 4 }, 2: { name: 'U8', bytes: 1 }, 3: { name: 'I8', bytes: 1 }, 4: { name: 'U16', bytes: 2 },
  5: { name: 'I16', bytes: 2 }, 6: { name: 'I32', bytes: 4 }, 7: { name: 'I64', bytes: 8 }, 8: { name: 'STRING', bytes: 0 },
  9: { name: 'BOOL', bytes: 1 }, 10: { name: 'F16', bytes: 2 }, 11: { name: 'F64', bytes: 8 }, 12: { name: 'U32', bytes: 4 },
  13: { name: 'U64', bytes: 8 }, 14: { name: 'C64', bytes: 8 }, 15: { name: 'C128', bytes: 16 }, 16: { name: 'BF16', bytes: 2 },
  17: { name: 'F8_E4M3FN', bytes: 1 }, 18: { name: 'F8_E4M3FNUZ', bytes: 1 }, 19: { name: 'F8_E5M2', bytes: 1 }, 20: { name: 'F8_E5M2FNUZ', bytes: 1 },
  21: { name: 'U4', bytes: 0.5 }, 22: { name: 'I4', bytes: 0.5 }, 23: { name: 'F4_E2M1', bytes: 0.5 },
};
export const DT = { FLOAT: 1, UINT8: 2, FLOAT16: 10, BFLOAT16: 16 } as const;
/** AttributeProto.AttributeType values used here. */
export const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, GRAPHS: 10 } as const;

/** The protobufjs Reader/Writer for wire-level work (varints, tags). */
export { Reader, Writer };
