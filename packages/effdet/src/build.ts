// Builds EfficientDet-Dφ as an ONNX model from its configuration: backbone → BiFPN → heads, then either the raw
// head outputs (parity checks) or the deploy graph (uint8 frames in, top-k decoded candidates out).

import { type PhiValue, parsePhi, phiLabel } from "@vdet/protocol";
import { readTensorFile, type StateDict } from "@vdet/tensorio";
import { anchorCount, generateAnchors } from "./anchors.ts";
import { buildBackbone } from "./backbone.ts";
import { planBackbone } from "./backbone-plan.ts";
import { buildBifpn } from "./bifpn.ts";
import { COCO_NUM_CLASSES, type EffDetConfig, getConfig, levelSizes, MAX_CANDIDATES } from "./config.ts";
import { buildDecode } from "./decode.ts";
import { BuildOptionsError } from "./errors.ts";
import { buildHead } from "./heads.ts";
import { type Feature, Net } from "./layers.ts";
import { GraphBuilder, numel, type ValueSpec } from "./onnx-graph.ts";
import { buildPreprocess } from "./preprocess.ts";
import { SeededWeights, StateDictWeights, type WeightSource } from "./weights.ts";

export type Variant = "raw" | "deploy";
export const OPSET = 18;

export interface BuildOptions {
  phi: PhiValue | string | number;
  numClasses?: number;
  /** A state dict in the reference naming, or the bytes of a safetensors / PyTorch checkpoint. */
  weights?: StateDict | Uint8Array;
  /** Deterministic seeded weights (tests, benchmarks) when no weights are given. */
  seed?: number;
  variant?: Variant;
  /** Overrides the model resolution (square), e.g. 256 for the D3 parity fixture. */
  imageSize?: number;
  /** deploy: number of top-k candidates per image (≤ 5000). */
  candidates?: number;
  /** deploy: clip boxes to the frame (default true). */
  clipBoxes?: boolean;
  /** raw: also output backbone_C3…C5 and fpn_P3…P7; deploy: also the normalised input `preprocessed`. */
  debugOutputs?: boolean;
  /** Name of the weights for the model's metadata (e.g. a file name). */
  weightsName?: string;
}

export interface ModelInfo {
  phi: PhiValue;
  name: string;
  variant: Variant;
  imageSize: number;
  numClasses: number;
  /** Trainable parameters of the reference model (BN running statistics excluded). */
  parameters: number;
  /** Float values stored in the ONNX graph after BN folding (head convs are copied per level). */
  graphValues: number;
  anchors: number;
  candidates: number;
  levels: number[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  weights: string;
  nodes: number;
  opset: number;
}

export interface BuiltGraph {
  info: ModelInfo;
  /** State-dict keys (without num_batches_tracked) and shapes the graph consumed, in request order. */
  stateDictShapes: Map<string, readonly number[]>;
  config: EffDetConfig;
  toBytes(): Uint8Array;
}

function weightSource(options: BuildOptions): WeightSource {
  if (options.weights !== undefined) {
    const dict = options.weights instanceof Uint8Array ? readTensorFile(options.weights) : options.weights;
    return new StateDictWeights(dict, options.weightsName ?? "the weights file");
  }
  if (options.seed !== undefined) return new SeededWeights(options.seed);
  throw new BuildOptionsError("give weights (a checkpoint) or a seed for deterministic weights");
}

/** Constructs the graph; weights are checked by name and shape but only read when `toBytes` runs. */
export function constructGraph(options: BuildOptions): BuiltGraph {
  const phi = parsePhi(options.phi);
  const config = getConfig(phi, options.numClasses ?? COCO_NUM_CLASSES);
  const variant = options.variant ?? "deploy";
  if (variant !== "raw" && variant !== "deploy")
    throw new BuildOptionsError(`unknown variant "${variant}": use raw or deploy`);
  const imageSize = options.imageSize ?? config.imageSize;
  if (!Number.isInteger(imageSize) || imageSize < 2 ** config.maxLevel || imageSize > 4096) {
    throw new RangeError(
      `imageSize must be an integer from ${2 ** config.maxLevel} to 4096, got ${imageSize}`,
    );
  }
  const anchors = anchorCount(config, imageSize);
  const candidates = Math.min(options.candidates ?? MAX_CANDIDATES, anchors * config.numClasses);
  if (!Number.isInteger(candidates) || candidates < 1) throw new RangeError(`candidates must be ≥ 1`);

  const source = weightSource(options);
  const graph = new GraphBuilder();
  const net = new Net(graph, source);

  let input: Feature;
  let preprocess: ReturnType<typeof buildPreprocess> | undefined;
  if (variant === "raw") {
    const name = graph.input({ name: "input", type: "float32", dims: ["batch", 3, imageSize, imageSize] });
    input = { name, channels: 3, size: imageSize };
  } else {
    const frames = graph.input({ name: "frames", type: "uint8", dims: ["batch", "height", "width", 3] });
    preprocess = buildPreprocess(graph, frames, imageSize);
    input = { name: preprocess.normalized, channels: 3, size: imageSize };
  }

  const backbone = buildBackbone(net, input, planBackbone(config.backbone));
  const fpn = buildBifpn(net, config, backbone);
  // The deploy graph flattens the head maps channels-last, so its heads write them that way (docs/model.md).
  const headLayout = variant === "raw" ? "nchw" : "nhwc";
  const classMaps = buildHead(net, config, fpn, "class", headLayout);
  const boxMaps = buildHead(net, config, fpn, "box", headLayout);
  source.finish();

  const sizes = levelSizes(config, imageSize);
  const levelNames = sizes.map((_, i) => `P${config.minLevel + i}`);
  if (variant === "raw") {
    const out = (value: Feature, name: string) =>
      graph.output(value.name, {
        name,
        type: "float32",
        dims: ["batch", value.channels, value.size, value.size],
      });
    classMaps.forEach((m, i) => {
      out(m, `class_${levelNames[i]}`);
    });
    boxMaps.forEach((m, i) => {
      out(m, `box_${levelNames[i]}`);
    });
    if (options.debugOutputs) {
      backbone.forEach((m, i) => {
        out(m, `backbone_C${i + 3}`);
      });
      fpn.forEach((m, i) => {
        out(m, `fpn_${levelNames[i]}`);
      });
    }
  } else {
    const decoded = buildDecode(graph, classMaps, boxMaps, {
      numClasses: config.numClasses,
      anchors: generateAnchors(config, imageSize),
      candidates,
      imageScale: preprocess!.imageScale,
      frameSizeXY: preprocess!.frameSizeXY,
      clip: options.clipBoxes ?? true,
    });
    graph.output(decoded.boxes, { name: "boxes", type: "float32", dims: ["batch", candidates, 4] });
    graph.output(decoded.scores, { name: "scores", type: "float32", dims: ["batch", candidates] });
    graph.output(decoded.classes, { name: "classes", type: "int32", dims: ["batch", candidates] });
    if (options.debugOutputs) {
      graph.output(input.name, {
        name: "preprocessed",
        type: "float32",
        dims: ["batch", 3, imageSize, imageSize],
      });
    }
  }

  let parameters = 0;
  for (const [key, shape] of net.requested) {
    if (!/\.running_(mean|var)$/.test(key)) parameters += numel(shape);
  }
  const info: ModelInfo = {
    phi,
    name: `${config.name}${imageSize !== config.imageSize ? `@${imageSize}` : ""}`,
    variant,
    imageSize,
    numClasses: config.numClasses,
    parameters,
    graphValues: graph.initializerValueCount,
    anchors,
    candidates,
    levels: sizes,
    inputs: [...graph.inputSpecs],
    outputs: [...graph.outputSpecs],
    weights: options.weightsName ?? source.description,
    nodes: graph.nodeCount,
    opset: OPSET,
  };
  return {
    info,
    config,
    stateDictShapes: net.requested,
    toBytes: () =>
      graph.toBytes({
        opset: OPSET,
        docString: `EfficientDet-${phiLabel(phi)} (${variant}) built by vdet from the compound-scaling configuration`,
        metadata: {
          "vdet.format": "1",
          "vdet.phi": String(phi),
          "vdet.variant": variant,
          "vdet.image_size": String(imageSize),
          "vdet.num_classes": String(config.numClasses),
          "vdet.parameters": String(parameters),
          "vdet.anchors": String(anchors),
          "vdet.candidates": String(variant === "deploy" ? candidates : 0),
          "vdet.weights": info.weights,
        },
      }),
  };
}

/** Builds the ONNX model bytes for EfficientDet-Dφ. */
export function build(options: BuildOptions): Uint8Array {
  return constructGraph(options).toBytes();
}
