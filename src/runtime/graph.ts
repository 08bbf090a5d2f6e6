/**
 * A small ONNX graph builder.
 *
 * Values are plain strings (ONNX value names); every method that adds a node returns the name
 * of its output, so model code reads like the math:
 *
 *   const h = g.add(x, g.linear(g.rmsNorm(x, w.norm, eps), w.q));
 *
 * Weights are initializers whose bytes live in an external file (a safetensors file, addressed
 * by byte offset), so they never pass through JavaScript; small constants are inline.
 */
import { VERSION } from '../model/locate.js';
import {
  AttributeType,
  DataType,
  encodeModel,
  type AttributeMessage,
  type DimensionMessage,
  type NodeMessage,
  type TensorMessage,
  type ValueInfoMessage,
} from './onnx-proto.js';

export type ElemType = 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'uint8' | 'bool';
export type Dim = number | string;

export const ELEM_TYPE: Record<ElemType, number> = {
  float32: DataType.FLOAT,
  float16: DataType.FLOAT16,
  bfloat16: DataType.BFLOAT16,
  int64: DataType.INT64,
  int32: DataType.INT32,
  uint8: DataType.UINT8,
  bool: DataType.BOOL,
};

/** A float attribute (plain numbers are int attributes, as most ONNX attributes are). */
export interface FloatAttr {
  readonly kind: 'float';
  readonly value: number;
}
export interface FloatsAttr {
  readonly kind: 'floats';
  readonly value: readonly number[];
}
export type AttrValue = number | string | readonly number[] | FloatAttr | FloatsAttr;

export const float = (value: number): FloatAttr => ({ kind: 'float', value });
export const floats = (value: readonly number[]): FloatsAttr => ({ kind: 'floats', value });

/** Where an external initializer's bytes are. `location` is relative to the .onnx file. */
export interface ExternalLocation {
  location: string;
  offset: number;
  length: number;
}

export const MICROSOFT = 'com.microsoft';

function attribute(name: string, v: AttrValue): AttributeMessage {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer (use float())`);
    return { name, type: AttributeType.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttributeType.INTS, ints: [...(v as number[])] };
  const tagged = v as FloatAttr | FloatsAttr;
  if (tagged.kind === 'float') return { name, type: AttributeType.FLOAT, f: tagged.value };
  return { name, type: AttributeType.FLOATS, floats: [...tagged.value] };
}

function valueInfo(name: string, type: ElemType, dims: readonly Dim[] | undefined): ValueInfoMessage {
  const vi: ValueInfoMessage = { name, type: { tensorType: { elemType: ELEM_TYPE[type] } } };
  if (dims) {
    vi.type.tensorType.shape = {
      dim: dims.map((d): DimensionMessage => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
    };
  }
  return vi;
}

export class Graph {
  readonly nodes: NodeMessage[] = [];
  readonly initializers: TensorMessage[] = [];
  readonly inputs: ValueInfoMessage[] = [];
  readonly outputs: ValueInfoMessage[] = [];
  private readonly used = new Set<string>();
  private counter = 0;
  /** inline constants already emitted, by content, so that repeated scalars are shared */
  private readonly constCache = new Map<string, string>();

  /**
   * `prefix` is put in front of every generated name: a head appended to a graph we did not
   * build must not collide with the names already in it.
   */
  constructor(readonly name: string, private readonly prefix = '') {}

  /** A fresh value name derived from `hint`. */
  fresh(hint: string): string {
    hint = this.prefix + hint;
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  input(name: string, type: ElemType, dims: readonly Dim[]): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /**
   * Declare `value` a graph output called `name`, and return `name` (use it from then on). When
   * nothing consumes `value` yet, its producer is renamed; otherwise an Identity is added.
   */
  output(value: string, name: string, type: ElemType, dims?: readonly Dim[]): string {
    if (value !== name) {
      if (this.used.has(name)) throw new Error(`graph ${this.name}: output name '${name}' is already taken`);
      this.used.add(name);
      const producer = this.nodes.find((n) => n.output.includes(value));
      const consumed = this.nodes.some((n) => n.input.includes(value)) || this.outputs.some((o) => o.name === value);
      if (producer && !consumed) producer.output = producer.output.map((o) => (o === value ? name : o));
      else this.nodes.push({ input: [value], output: [name], name: `out_${name}`, opType: 'Identity', domain: '', attribute: [] });
    }
    this.outputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** An initializer whose bytes are read from an external file at load time. */
  external(name: string, type: ElemType, dims: readonly number[], where: ExternalLocation): string {
    const n = this.fresh(name);
    this.initializers.push({
      name: n,
      dims: [...dims],
      dataType: ELEM_TYPE[type],
      dataLocation: 1,
      externalData: [
        { key: 'location', value: where.location },
        { key: 'offset', value: String(where.offset) },
        { key: 'length', value: String(where.length) },
      ],
    });
    return n;
  }

  /** An inline initializer from raw little-endian bytes. */
  raw(name: string, type: ElemType, dims: readonly number[], bytes: Uint8Array): string {
    const n = this.fresh(name);
    this.initializers.push({ name: n, dims: [...dims], dataType: ELEM_TYPE[type], rawData: bytes });
    return n;
  }

  /** A small inline constant; identical constants are emitted once. */
  constant(type: 'float32' | 'int64' | 'bool', dims: readonly number[], values: readonly number[] | Float32Array, hint = 'const'): string {
    const key = `${type}|${dims.join(',')}|${Array.from(values).join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    let bytes: Uint8Array;
    if (type === 'float32') bytes = new Uint8Array(Float32Array.from(values).buffer);
    else if (type === 'int64') bytes = new Uint8Array(BigInt64Array.from(Array.from(values), (v) => BigInt(v)).buffer);
    else bytes = Uint8Array.from(values, (v) => (v ? 1 : 0));
    const n = this.raw(hint, type, dims, bytes);
    this.constCache.set(key, n);
    return n;
  }

  /** int64 1-D constant (shapes, axes, slice bounds) */
  ints(values: readonly number[]): string {
    return this.constant('int64', [values.length], values, 'ints');
  }

  /** float32 scalar constant */
  scalar(value: number): string {
    return this.constant('float32', [], [value], 'scalar');
  }

  /**
   * Add a node. Returns its output names (`outputs` of them; an empty input name '' marks an
   * omitted optional input, as in ONNX).
   */
  nodeN(op: string, inputs: readonly string[], outputs: number, attrs: Record<string, AttrValue | undefined> = {}, domain = '', hint?: string): string[] {
    const base = hint ?? op.toLowerCase();
    const outs = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? base : `${base}_o${i}`));
    const attribute = Object.entries(attrs)
      .filter((e): e is [string, AttrValue] => e[1] !== undefined)
      .map(([k, v]) => attribute_(k, v));
    this.nodes.push({ input: [...inputs], output: outs, name: this.fresh(`n_${base}`), opType: op, domain, attribute });
    return outs;
  }

  /** Add a single-output node. */
  node(op: string, inputs: readonly string[], attrs: Record<string, AttrValue | undefined> = {}, domain = '', hint?: string): string {
    return this.nodeN(op, inputs, 1, attrs, domain, hint)[0]!;
  }

  // ---- readable shorthands ----
  add = (a: string, b: string) => this.node('Add', [a, b]);
  sub = (a: string, b: string) => this.node('Sub', [a, b]);
  mul = (a: string, b: string) => this.node('Mul', [a, b]);
  div = (a: string, b: string) => this.node('Div', [a, b]);
  matmul = (a: string, b: string) => this.node('MatMul', [a, b]);
  cast = (x: string, to: ElemType) => this.node('Cast', [x], { to: ELEM_TYPE[to] });
  reshape = (x: string, shape: readonly number[]) => this.node('Reshape', [x, this.ints(shape)]);
  transpose = (x: string, perm: readonly number[]) => this.node('Transpose', [x], { perm });
  unsqueeze = (x: string, axes: readonly number[]) => this.node('Unsqueeze', [x, this.ints(axes)]);
  squeeze = (x: string, axes: readonly number[]) => this.node('Squeeze', [x, this.ints(axes)]);
  concat = (xs: readonly string[], axis: number) => this.node('Concat', xs, { axis });
  gather = (data: string, idx: string, axis = 0) => this.node('Gather', [data, idx], { axis });
  shape = (x: string, start?: number, end?: number) => this.node('Shape', [x], { start, end });
  slice = (x: string, starts: readonly number[], ends: readonly number[], axes: readonly number[]) =>
    this.node('Slice', [x, this.ints(starts), this.ints(ends), this.ints(axes)]);

  /** x @ w^T for an HF linear weight w [out, in], without a transposed copy of w. */
  linearT(x: string, w: string): string {
    return this.node('FusedMatMul', [x, w], { transA: 0, transB: 1, alpha: float(1) }, MICROSOFT, 'linear');
  }

  /** Serialize to ModelProto bytes. */
  serialize(opsets: Record<string, number>, metadata: Record<string, string> = {}): Uint8Array {
    return encodeModel({
      irVersion: 10,
      opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
      producerName: 'paradec',
      producerVersion: VERSION,
      graph: { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
  }
}

const attribute_ = attribute;
