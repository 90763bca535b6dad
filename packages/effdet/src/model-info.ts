// Reads what a model file says about itself: vdet metadata (φ, variant, resolution, parameters) when we built it,
// and for any ONNX file the inputs/outputs with shapes, node count and stored values.

import { createHash } from "node:crypto";
import { VdetError } from "@vdet/errors";
import type { onnx as Proto } from "onnx-proto";
import onnxProto from "onnx-proto";
import { EFFDET_ERRORS } from "./errors.ts";
import { DATA_TYPE } from "./onnx-graph.ts";

const { onnx } = onnxProto;

export interface TensorSpec {
  name: string;
  type: string;
  dims: (number | string)[];
}

export interface OnnxFileInfo {
  producer: string;
  opset: number;
  nodes: number;
  /** Values stored in initializers. */
  storedValues: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  metadata: Record<string, string>;
  /** From vdet metadata, when present. */
  phi?: string;
  variant?: string;
  imageSize?: number;
  numClasses?: number;
  parameters?: number;
}

/** ONNX element type codes → names: the ones we write, plus the others a foreign model may use. */
const TYPE_NAMES: Record<number, string> = {
  ...Object.fromEntries(Object.entries(DATA_TYPE).map(([name, code]) => [code, name])),
  3: "int8",
  9: "bool",
  10: "float16",
  11: "float64",
};

export class NotAnOnnxModelError extends VdetError {
  constructor(detail: string) {
    super(EFFDET_ERRORS.NOT_AN_ONNX_MODEL, `not an ONNX model: ${detail}`);
  }
}

export function readOnnxInfo(bytes: Uint8Array): OnnxFileInfo {
  let model: Proto.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new NotAnOnnxModelError((error as Error).message);
  }
  const graph = model.graph;
  const nodes = graph?.node ?? [];
  const initializers = graph?.initializer ?? [];
  if (!graph || nodes.length === 0) throw new NotAnOnnxModelError("the file has no graph nodes");
  const initializerNames = new Set(initializers.map((t) => t.name));
  const spec = (v: Proto.IValueInfoProto): TensorSpec => {
    const tensor = v.type?.tensorType;
    return {
      name: v.name ?? "",
      type: TYPE_NAMES[tensor?.elemType ?? 0] ?? `type${tensor?.elemType}`,
      dims: (tensor?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue ?? 0))),
    };
  };
  const metadata = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
  const storedValues = initializers.reduce(
    (sum, t) => sum + (t.dims ?? []).reduce((a: number, d) => a * Number(d), 1),
    0,
  );
  const num = (key: string) => (metadata[key] !== undefined ? Number(metadata[key]) : undefined);
  return {
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    opset: Number(model.opsetImport.find((o) => !o.domain)?.version ?? 0),
    nodes: nodes.length,
    storedValues,
    inputs: (graph.input ?? []).filter((i) => !initializerNames.has(i.name)).map(spec),
    outputs: (graph.output ?? []).map(spec),
    metadata,
    phi: metadata["vdet.phi"],
    variant: metadata["vdet.variant"],
    imageSize: num("vdet.image_size"),
    numClasses: num("vdet.num_classes"),
    parameters: num("vdet.parameters"),
  };
}

/**
 * sha256 of what a model computes: the ONNX file with its metadata and doc string cleared, so the same graph and
 * weights hash alike however they were named when built (`vdet.weights` records the file name). The key an int8
 * build is cached under and found by.
 */
export function modelContentSha256(bytes: Uint8Array): string {
  const model = onnx.ModelProto.decode(bytes);
  model.metadataProps = [];
  model.docString = "";
  if (model.graph) model.graph.docString = "";
  return createHash("sha256").update(onnx.ModelProto.encode(model).finish()).digest("hex");
}

/** The model with `metadata` entries added (replacing those of the same key). */
export function withMetadata(bytes: Uint8Array, metadata: Record<string, string>): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  model.metadataProps = [
    ...model.metadataProps.filter((p) => !(p.key! in metadata)),
    ...Object.entries(metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
  ];
  return onnx.ModelProto.encode(model).finish();
}
