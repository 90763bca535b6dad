// A small ONNX graph builder: nodes, lazily materialised initializers, typed inputs/outputs, and serialisation
// through onnx-proto. Weights stay unmaterialised until `toBytes`, so shapes and parameter counts of D7x are cheap.

import { InvariantError } from "@vdet/errors";
import type { onnx as Proto } from "onnx-proto";
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** A float tensor whose values are computed on demand (BN folding, seeded init, file views). */
export interface LazyTensor {
  readonly shape: readonly number[];
  materialize(): Float32Array;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function eager(shape: readonly number[], data: Float32Array): LazyTensor {
  if (data.length !== numel(shape))
    throw new InvariantError(`tensor data has ${data.length} values, shape needs ${numel(shape)}`);
  return { shape, materialize: () => data };
}

export type Attribute =
  | { kind: "int"; value: number }
  | { kind: "ints"; value: readonly number[] }
  | { kind: "float"; value: number }
  | { kind: "string"; value: string };

export const attr = {
  int: (value: number): Attribute => ({ kind: "int", value }),
  ints: (value: readonly number[]): Attribute => ({ kind: "ints", value }),
  float: (value: number): Attribute => ({ kind: "float", value }),
  string: (value: string): Attribute => ({ kind: "string", value }),
};

export type ElementType = "float32" | "uint8" | "int32" | "int64";
export const DATA_TYPE: Record<ElementType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7 };

/** A dimension: a fixed size or a symbolic name such as "batch". */
export type Dim = number | string;

export interface ValueSpec {
  name: string;
  type: ElementType;
  dims: readonly Dim[];
}

type Initializer =
  | { name: string; kind: "float"; tensor: LazyTensor }
  | { name: string; kind: "int64"; shape: readonly number[]; values: readonly number[] };

export interface ModelMetadata {
  [key: string]: string;
}

export class GraphBuilder {
  private readonly nodes: Proto.INodeProto[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: ValueSpec[] = [];
  private readonly outputs: ValueSpec[] = [];
  private readonly usedNames = new Set<string>();
  private readonly int64Constants = new Map<string, string>();
  private readonly floatScalars = new Map<number, string>();

  /** A fresh value name derived from a hint. */
  private fresh(hint: string): string {
    let name = hint;
    for (let i = 1; this.usedNames.has(name); i++) name = `${hint}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  input(spec: ValueSpec): string {
    this.usedNames.add(spec.name);
    this.inputs.push(spec);
    return spec.name;
  }

  /** Declares `value` a graph output named `spec.name` (an Identity renames it when the names differ). */
  output(value: string, spec: ValueSpec): void {
    if (value !== spec.name) this.node("Identity", [value], {}, spec.name);
    this.outputs.push(spec);
  }

  weight(hint: string, tensor: LazyTensor): string {
    const name = this.fresh(hint);
    this.initializers.push({ name, kind: "float", tensor });
    return name;
  }

  floats(hint: string, shape: readonly number[], values: ArrayLike<number>): string {
    return this.weight(hint, eager(shape, Float32Array.from(values)));
  }

  /** A float scalar constant, shared between all users of the same value. */
  scalar(value: number): string {
    const key = Math.fround(value);
    let name = this.floatScalars.get(key);
    if (!name) {
      name = this.floats(`c_${this.floatScalars.size}`, [], [key]);
      this.floatScalars.set(key, name);
    }
    return name;
  }

  /** An int64 constant (shapes, axes, pads), shared between users of the same values. */
  int64s(values: readonly number[], shape: readonly number[] = [values.length]): string {
    const key = `${shape.join("x")}:${values.join(",")}`;
    let name = this.int64Constants.get(key);
    if (!name) {
      name = this.fresh(`i64_${this.int64Constants.size}`);
      this.initializers.push({ name, kind: "int64", shape, values });
      this.int64Constants.set(key, name);
    }
    return name;
  }

  /** Adds a node; returns its output name(s). `outputs` may be names or a count of fresh outputs. */
  node(
    op: string,
    inputs: readonly string[],
    attributes?: Record<string, Attribute>,
    outputs?: string,
  ): string;
  node(
    op: string,
    inputs: readonly string[],
    attributes: Record<string, Attribute>,
    outputs: number,
  ): string[];
  node(
    op: string,
    inputs: readonly string[],
    attributes: Record<string, Attribute> = {},
    outputs: string | number = 1,
  ): string | string[] {
    const outputNames =
      typeof outputs === "string"
        ? [this.fresh(outputs)]
        : Array.from({ length: outputs }, () => this.fresh(`${op.toLowerCase()}`));
    this.nodes.push({
      opType: op,
      input: [...inputs],
      output: outputNames,
      name: this.fresh(`n_${op}`),
      attribute: Object.entries(attributes).map(([name, a]) => toAttributeProto(name, a)),
    });
    return typeof outputs === "number" && outputs !== 1 ? outputNames : outputNames[0];
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Number of float values held in initializers (after BN folding, shared tensors counted once). */
  get initializerValueCount(): number {
    let count = 0;
    for (const init of this.initializers) {
      count += init.kind === "float" ? numel(init.tensor.shape) : numel(init.shape);
    }
    return count;
  }

  get inputSpecs(): readonly ValueSpec[] {
    return this.inputs;
  }

  get outputSpecs(): readonly ValueSpec[] {
    return this.outputs;
  }

  toBytes(options: { opset: number; metadata: ModelMetadata; docString?: string }): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: "vdet",
      producerVersion: "0.1.0",
      docString: options.docString ?? "",
      opsetImport: [{ domain: "", version: options.opset }],
      metadataProps: Object.entries(options.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: "vdet_graph",
        node: this.nodes,
        initializer: this.initializers.map(toTensorProto),
        input: this.inputs.map(toValueInfo),
        output: this.outputs.map(toValueInfo),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function toAttributeProto(name: string, a: Attribute): Proto.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case "int":
      return { name, type: T.INT, i: a.value };
    case "ints":
      return { name, type: T.INTS, ints: [...a.value] };
    case "float":
      return { name, type: T.FLOAT, f: a.value };
    case "string":
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
  }
}

function toTensorProto(init: Initializer): Proto.ITensorProto {
  if (init.kind === "int64") {
    const data = BigInt64Array.from(init.values, (v) => BigInt(v));
    return { name: init.name, dims: [...init.shape], dataType: DATA_TYPE.int64, rawData: bytesOf(data) };
  }
  const data = init.tensor.materialize();
  if (data.length !== numel(init.tensor.shape)) {
    throw new InvariantError(
      `initializer ${init.name}: ${data.length} values for shape [${init.tensor.shape.join(", ")}]`,
    );
  }
  return {
    name: init.name,
    dims: [...init.tensor.shape],
    dataType: DATA_TYPE.float32,
    rawData: bytesOf(data),
  };
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function toValueInfo(spec: ValueSpec): Proto.IValueInfoProto {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[spec.type],
        shape: { dim: spec.dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}
