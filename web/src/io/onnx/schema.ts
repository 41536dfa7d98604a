/**
 * The ONNX protobuf messages this package decodes and encodes, as a protobufjs reflection root
 * (browser-safe, no .proto file to load at run time). Field numbers and types are those of the
 * ONNX IR specification (onnx/onnx.proto, IR version 10); written here as a protobufjs JSON
 * descriptor so that bundlers need no file access.
 *
 * Only messages we decode or build are complete: untouched parts of a model (opsets, metadata,
 * functions, training info, value_info, nodes we do not rewrite) are copied byte for byte by the
 * reader/writer (see reader.ts), so fields this descriptor might lack are never lost.
 */
import protobuf from './protobuf.js';

type Fields = Record<string, { type: string; id: number; rule?: 'repeated'; options?: Record<string, unknown> }>;
const rep = (type: string, id: number, packed?: boolean) => ({ type, id, rule: 'repeated' as const, ...(packed === undefined ? {} : { options: { packed } }) });
const opt = (type: string, id: number) => ({ type, id });

const StringStringEntryProto: Fields = { key: opt('string', 1), value: opt('string', 2) };
const OperatorSetIdProto: Fields = { domain: opt('string', 1), version: opt('int64', 2) };

const TensorProto: Fields = {
  dims: rep('int64', 1),
  data_type: opt('int32', 2),
  segment: opt('Segment', 3),
  float_data: rep('float', 4, true),
  int32_data: rep('int32', 5, true),
  string_data: rep('bytes', 6),
  int64_data: rep('int64', 7, true),
  name: opt('string', 8),
  doc_string: opt('string', 12),
  raw_data: opt('bytes', 9),
  external_data: rep('StringStringEntryProto', 13),
  data_location: opt('int32', 14),
  double_data: rep('double', 10, true),
  uint64_data: rep('uint64', 11, true),
  metadata_props: rep('StringStringEntryProto', 16),
};

const AttributeProto: Fields = {
  name: opt('string', 1),
  ref_attr_name: opt('string', 21),
  doc_string: opt('string', 13),
  type: opt('int32', 20),
  f: opt('float', 2),
  i: opt('int64', 3),
  s: opt('bytes', 4),
  t: opt('TensorProto', 5),
  g: opt('GraphProto', 6),
  floats: rep('float', 7),
  ints: rep('int64', 8),
  strings: rep('bytes', 9),
  tensors: rep('TensorProto', 10),
  graphs: rep('GraphProto', 11),
};

const NodeProto: Fields = {
  input: rep('string', 1),
  output: rep('string', 2),
  name: opt('string', 3),
  op_type: opt('string', 4),
  domain: opt('string', 7),
  overload: opt('string', 8),
  attribute: rep('AttributeProto', 5),
  doc_string: opt('string', 6),
  metadata_props: rep('StringStringEntryProto', 9),
};

const TypeProto: Fields = { tensor_type: opt('Tensor', 1), denotation: opt('string', 6) };
const TypeTensor: Fields = { elem_type: opt('int32', 1), shape: opt('TensorShapeProto', 2) };
const TensorShapeProto: Fields = { dim: rep('Dimension', 1) };
const Dimension: Fields = { dim_value: opt('int64', 1), dim_param: opt('string', 2), denotation: opt('string', 3) };
const ValueInfoProto: Fields = { name: opt('string', 1), type: opt('TypeProto', 2), doc_string: opt('string', 3) };

/** Subgraphs (If/Loop/Scan bodies) are decoded only to find the names they read. */
const GraphProto: Fields = {
  node: rep('NodeProto', 1),
  name: opt('string', 2),
  initializer: rep('TensorProto', 5),
  input: rep('ValueInfoProto', 11),
  output: rep('ValueInfoProto', 12),
  value_info: rep('ValueInfoProto', 13),
};

const Segment: Fields = { begin: opt('int64', 1), end: opt('int64', 2) };

const root = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: { fields: StringStringEntryProto },
        OperatorSetIdProto: { fields: OperatorSetIdProto },
        TensorProto: { fields: TensorProto, nested: { Segment: { fields: Segment } } },
        AttributeProto: { fields: AttributeProto },
        NodeProto: { fields: NodeProto },
        TypeProto: { fields: TypeProto, nested: { Tensor: { fields: TypeTensor } } },
        TensorShapeProto: { fields: TensorShapeProto, nested: { Dimension: { fields: Dimension } } },
        ValueInfoProto: { fields: ValueInfoProto },
        GraphProto: { fields: GraphProto },
      },
    },
  },
});

export const onnxTypes = {
  TensorProto: root.lookupType('onnx.TensorProto'),
  NodeProto: root.lookupType('onnx.NodeProto'),
  AttributeProto: root.lookupType('onnx.AttributeProto'),
  OperatorSetIdProto: root.lookupType('onnx.OperatorSetIdProto'),
  ValueInfoProto: root.lookupType('onnx.ValueInfoProto'),
  GraphProto: root.lookupType('onnx.GraphProto'),
  StringStringEntryProto: root.lookupType('onnx.StringStringEntryProto'),
};

/** Field numbers of the messages the reader walks without decoding (ONNX IR). */
export const FIELD = {
  model: { irVersion: 1, opsetImport: 8, producerName: 2, producerVersion: 3, graph: 7, metadataProps: 14 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12, valueInfo: 13, sparseInitializer: 15 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5 },
  attribute: { name: 1, t: 5 },
} as const;

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
export const { Reader, Writer } = protobuf;
