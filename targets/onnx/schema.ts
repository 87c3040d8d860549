// The part of ONNX's protobuf schema (onnx/onnx.proto3, IR version 8) that an
// exported model uses, as a protobufjs JSON descriptor: message and field
// names and numbers exactly as in the official schema, so protobufjs does the
// wire encoding. Fields Kiln never writes (sparse tensors, training info,
// functions, sequences and maps) are left out; a reader skips nothing, since
// they are simply absent.

import pb from 'protobufjs/light.js';

/** ONNX TensorProto.DataType values of the dtypes an export uses. */
export const ONNX_DTYPE = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9, UINT32: 12 } as const;
export type OnnxDType = (typeof ONNX_DTYPE)[keyof typeof ONNX_DTYPE];

/** AttributeProto.AttributeType values. */
export const ATTR_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, INTS: 7 } as const;

export interface TensorProto {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: OnnxDType;
  /** Little-endian, fixed width, row-major (bool: one byte per element). */
  readonly rawData: Uint8Array;
}

export interface AttributeProto {
  readonly name: string;
  readonly type: (typeof ATTR_TYPE)[keyof typeof ATTR_TYPE];
  readonly f?: number;
  readonly i?: number;
  readonly s?: Uint8Array;
  readonly t?: TensorProto;
  readonly ints?: readonly number[];
}

export interface NodeProto {
  readonly input: readonly string[];
  readonly output: readonly string[];
  readonly name: string;
  readonly opType: string;
  readonly attribute: readonly AttributeProto[];
}

/** A dimension: a size, or a symbol (`dim_param`). */
export type DimensionProto = { readonly dimValue: number } | { readonly dimParam: string };

export interface ValueInfoProto {
  readonly name: string;
  readonly type: {
    readonly tensorType: { readonly elemType: OnnxDType; readonly shape: { readonly dim: readonly DimensionProto[] } };
  };
}

export interface GraphProto {
  readonly name: string;
  readonly node: readonly NodeProto[];
  readonly initializer: readonly TensorProto[];
  readonly input: readonly ValueInfoProto[];
  readonly output: readonly ValueInfoProto[];
  readonly docString?: string;
}

export interface ModelProto {
  readonly irVersion: number;
  readonly opsetImport: readonly { readonly domain: string; readonly version: number }[];
  readonly producerName: string;
  readonly producerVersion: string;
  readonly graph: GraphProto;
}

const repeated = (type: string, id: number) => ({ type, id, rule: 'repeated' });
const one = (type: string, id: number) => ({ type, id });

const DESCRIPTOR = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: one('string', 1),
            type: one('int32', 20),
            f: one('float', 2),
            i: one('int64', 3),
            s: one('bytes', 4),
            t: one('TensorProto', 5),
            floats: repeated('float', 7),
            ints: repeated('int64', 8),
          },
        },
        ValueInfoProto: { fields: { name: one('string', 1), type: one('TypeProto', 2), docString: one('string', 3) } },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: one('string', 3),
            opType: one('string', 4),
            domain: one('string', 7),
            attribute: repeated('AttributeProto', 5),
            docString: one('string', 6),
          },
        },
        ModelProto: {
          fields: {
            irVersion: one('int64', 1),
            opsetImport: repeated('OperatorSetIdProto', 8),
            producerName: one('string', 2),
            producerVersion: one('string', 3),
            domain: one('string', 4),
            modelVersion: one('int64', 5),
            docString: one('string', 6),
            graph: one('GraphProto', 7),
          },
        },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: one('string', 2),
            initializer: repeated('TensorProto', 5),
            docString: one('string', 10),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            valueInfo: repeated('ValueInfoProto', 13),
          },
        },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1),
            dataType: one('int32', 2),
            name: one('string', 8),
            docString: one('string', 12),
            rawData: one('bytes', 9),
          },
        },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: one('int64', 1), dimParam: one('string', 2), denotation: one('string', 3) },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: { tensorType: one('Tensor', 1), denotation: one('string', 6) },
          nested: { Tensor: { fields: { elemType: one('int32', 1), shape: one('TensorShapeProto', 2) } } },
        },
        OperatorSetIdProto: { fields: { domain: one('string', 1), version: one('int64', 2) } },
      },
    },
  },
};

const root = pb.Root.fromJSON(DESCRIPTOR);
const Model = root.lookupType('onnx.ModelProto');

/** The model's protobuf bytes (what an .onnx file holds). */
export function encodeModel(model: ModelProto): Uint8Array {
  const message = Model.fromObject(model as unknown as Record<string, unknown>);
  return Model.encode(message).finish();
}

/** Decodes an .onnx file back to plain objects (int64s as numbers): for tests and tools. */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  return Model.toObject(Model.decode(bytes), { longs: Number, bytes: Array, defaults: false });
}
