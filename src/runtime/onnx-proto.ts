/**
 * The subset of the ONNX protobuf schema (onnx/onnx.proto, proto3 flavour) that paradec writes
 * and reads, vendored as text and compiled by protobufjs reflection at first use.
 *
 * Why vendored: there is no maintained npm package with the ONNX schema, and the schema is a
 * stable specification (field numbers never change). Messages we do not build ourselves
 * (FunctionProto, metadata_props, ...) are included as well so that re-encoding a model we
 * loaded does not silently drop parts of it.
 */
import { createRequire } from 'node:module';
import type protobuf from 'protobufjs';

const ONNX_PROTO = `
syntax = "proto3";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; SPARSE_TENSOR = 11; TYPE_PROTO = 13;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10; SPARSE_TENSORS = 12; TYPE_PROTOS = 14;
  }
  string name = 1;
  string ref_attr_name = 21;
  string doc_string = 13;
  AttributeType type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  GraphProto g = 6;
  SparseTensorProto sparse_tensor = 22;
  TypeProto tp = 14;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  repeated SparseTensorProto sparse_tensors = 23;
  repeated TypeProto type_protos = 15;
}

message ValueInfoProto {
  string name = 1;
  TypeProto type = 2;
  string doc_string = 3;
  repeated StringStringEntryProto metadata_props = 4;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
  string overload = 8;
  repeated AttributeProto attribute = 5;
  string doc_string = 6;
  repeated StringStringEntryProto metadata_props = 9;
}

message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
  repeated FunctionProto functions = 25;
}

message StringStringEntryProto {
  string key = 1;
  string value = 2;
}

message TensorAnnotation {
  string tensor_name = 1;
  repeated StringStringEntryProto quant_parameter_tensor_names = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  repeated SparseTensorProto sparse_initializer = 15;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
  repeated TensorAnnotation quantization_annotation = 14;
  repeated StringStringEntryProto metadata_props = 16;
}

message TensorProto {
  enum DataType {
    UNDEFINED = 0; FLOAT = 1; UINT8 = 2; INT8 = 3; UINT16 = 4; INT16 = 5; INT32 = 6; INT64 = 7;
    STRING = 8; BOOL = 9; FLOAT16 = 10; DOUBLE = 11; UINT32 = 12; UINT64 = 13; COMPLEX64 = 14;
    COMPLEX128 = 15; BFLOAT16 = 16;
  }
  repeated int64 dims = 1;
  int32 data_type = 2;
  message Segment {
    int64 begin = 1;
    int64 end = 2;
  }
  Segment segment = 3;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  string name = 8;
  string doc_string = 12;
  bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  enum DataLocation {
    DEFAULT = 0;
    EXTERNAL = 1;
  }
  DataLocation data_location = 14;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  repeated StringStringEntryProto metadata_props = 16;
}

message SparseTensorProto {
  TensorProto values = 1;
  TensorProto indices = 2;
  repeated int64 dims = 3;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    };
    string denotation = 3;
  };
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    int32 elem_type = 1;
    TensorShapeProto shape = 2;
  }
  message Sequence {
    TypeProto elem_type = 1;
  };
  message Map {
    int32 key_type = 1;
    TypeProto value_type = 2;
  };
  message Optional {
    TypeProto elem_type = 1;
  };
  message SparseTensor {
    int32 elem_type = 1;
    TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
    Sequence sequence_type = 4;
    Map map_type = 5;
    Optional optional_type = 9;
    SparseTensor sparse_tensor_type = 8;
  }
  string denotation = 6;
}

message OperatorSetIdProto {
  string domain = 1;
  int64 version = 2;
}

message FunctionProto {
  string name = 1;
  repeated string input = 4;
  repeated string output = 5;
  repeated string attribute = 6;
  repeated AttributeProto attribute_proto = 11;
  repeated NodeProto node = 7;
  string doc_string = 8;
  repeated OperatorSetIdProto opset_import = 9;
  string domain = 10;
  string overload = 13;
  repeated ValueInfoProto value_info = 12;
  repeated StringStringEntryProto metadata_props = 14;
}

// Only the fields of a model that describe its interface. Decoding a multi-gigabyte model with
// this message skips the node list and the initializers (length-delimited fields are jumped
// over), which is how an existing model's opsets and outputs are inspected cheaply.
message ModelInterfaceProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  GraphInterfaceProto graph = 7;
}

message GraphInterfaceProto {
  string name = 2;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}
`;

/** ONNX TensorProto.DataType numbers. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;

/** ONNX AttributeProto.AttributeType numbers. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
} as const;

// ---- Plain-object shapes of the messages paradec builds (int64 fields accept numbers). ----

export interface StringStringEntry {
  key: string;
  value: string;
}

export interface TensorMessage {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  externalData?: StringStringEntry[];
  dataLocation?: number;
}

export interface AttributeMessage {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorMessage;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}

export interface NodeMessage {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  attribute: AttributeMessage[];
}

export interface DimensionMessage {
  dimValue?: number;
  dimParam?: string;
}

export interface ValueInfoMessage {
  name: string;
  type: { tensorType: { elemType: number; shape?: { dim: DimensionMessage[] } } };
}

export interface GraphMessage {
  name?: string;
  node: NodeMessage[];
  initializer: TensorMessage[];
  input: ValueInfoMessage[];
  output: ValueInfoMessage[];
}

export interface OpsetMessage {
  domain: string;
  version: number;
}

export interface ModelMessage {
  irVersion: number;
  opsetImport: OpsetMessage[];
  producerName: string;
  producerVersion: string;
  graph: GraphMessage;
  metadataProps?: StringStringEntry[];
}

/** What `decodeModelInterface` returns (int64 fields converted to numbers). */
export interface ModelInterface {
  irVersion: number;
  opsets: OpsetMessage[];
  inputs: { name: string; elemType: number; dims: (number | string)[] }[];
  outputs: { name: string; elemType: number; dims: (number | string)[] }[];
}

let root: protobuf.Root | undefined;

/**
 * protobufjs is required here, on first use, not imported at the top: only building a graph (a
 * graph-cache miss) or reading an ONNX export needs it, and loading it (47 files) cost every
 * command that reaches this module 80–90 ms of CPU (dist/, measured), `paradec generate` on a
 * cache hit included. protobufjs is CommonJS, so a synchronous require keeps these functions
 * synchronous.
 */
function onnxRoot(): protobuf.Root {
  if (!root) {
    const pb = createRequire(import.meta.url)('protobufjs') as typeof protobuf;
    root = pb.parse(ONNX_PROTO, { keepCase: false }).root;
  }
  return root;
}

/** The reflected protobufjs type of one ONNX message (e.g. 'ModelProto'). */
export function onnxType(name: string): protobuf.Type {
  return onnxRoot().lookupType(`onnx.${name}`);
}

/** Serialize a ModelProto. */
export function encodeModel(model: ModelMessage): Uint8Array {
  const type = onnxType('ModelProto');
  return type.encode(type.fromObject(model as unknown as Record<string, unknown>)).finish();
}

/** Serialize a message of the given ONNX type (used to append partial ModelProtos). */
export function encodeMessage(typeName: string, message: object): Uint8Array {
  const type = onnxType(typeName);
  return type.encode(type.fromObject(message as Record<string, unknown>)).finish();
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (v && typeof v === 'object' && 'toNumber' in v && typeof (v as { toNumber: unknown }).toNumber === 'function') {
    return (v as { toNumber(): number }).toNumber();
  }
  return 0;
}

/**
 * Decode only the interface of a serialized model: IR version, opsets, graph inputs/outputs.
 * Nodes and initializers are skipped without being parsed.
 */
export function decodeModelInterface(bytes: Uint8Array): ModelInterface {
  const type = onnxType('ModelInterfaceProto');
  const msg = type.toObject(type.decode(bytes), { longs: Number, defaults: true }) as {
    irVersion: number;
    opsetImport: { domain: string; version: unknown }[];
    graph?: { input?: RawValueInfo[]; output?: RawValueInfo[] };
  };
  const values = (list: RawValueInfo[] | undefined) =>
    (list ?? []).map((v) => ({
      name: v.name,
      elemType: v.type?.tensorType?.elemType ?? 0,
      dims: (v.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue))),
    }));
  return {
    irVersion: toNumber(msg.irVersion),
    opsets: msg.opsetImport.map((o) => ({ domain: o.domain, version: toNumber(o.version) })),
    inputs: values(msg.graph?.input),
    outputs: values(msg.graph?.output),
  };
}

interface RawValueInfo {
  name: string;
  type?: { tensorType?: { elemType: number; shape?: { dim?: { dimValue?: unknown; dimParam?: string }[] } } };
}
