// Turns a checkpoint (safetensors or PyTorch, format read from the content) or a ready ONNX file into the cached
// model: the deploy graph, with φ, resolution, class count and parameter count for the manifest.

import {
  ANCHORS_PER_LOCATION,
  COCO_NUM_CLASSES,
  constructGraph,
  getConfig,
  readOnnxInfo,
} from "@vdet/effdet";
import { cocoLabel, type PhiValue, phiLabel } from "@vdet/protocol";
import { detectTensorFormat, readTensorFile, type StateDict, type TensorFileFormat } from "@vdet/tensorio";
import { ModelConversionError, ModelInputError } from "./errors.ts";

export type SourceFormat = TensorFileFormat | "onnx";

export interface ConvertedModel {
  model: Uint8Array;
  phi: PhiValue;
  resolution: number;
  numClasses: number;
  parameters: number;
  sourceFormat: SourceFormat;
}

const CLASS_PREDICT = "class_net.predict.conv_pw.weight";

/** Class count of a checkpoint: the class head's output channels divided by the anchors per location. */
export function inferNumClasses(stateDict: StateDict, sourceName: string): number {
  const predict = stateDict.get(CLASS_PREDICT);
  if (!predict) {
    throw new ModelConversionError(
      `${sourceName} has no "${CLASS_PREDICT}" tensor: it is not an EfficientDet checkpoint in the reference (effdet) naming`,
    );
  }
  const channels = predict.shape[0];
  if (!Number.isInteger(channels) || channels % ANCHORS_PER_LOCATION !== 0) {
    throw new ModelConversionError(
      `${sourceName}: the class head has ${channels} output channels, not a multiple of ${ANCHORS_PER_LOCATION} anchors`,
    );
  }
  return channels / ANCHORS_PER_LOCATION;
}

/** True when the bytes look like an ONNX model rather than a weights file. */
export function looksLikeOnnx(bytes: Uint8Array): boolean {
  if (detectTensorFormat(bytes) !== undefined) return false;
  try {
    readOnnxInfo(bytes);
    return true;
  } catch {
    return false; // not decodable as ONNX: the caller reports it as a weights file it cannot read
  }
}

/** Builds the deploy graph from a checkpoint's bytes or state dict; wraps every failure in a ModelConversionError. */
export function convertCheckpoint(
  source: Uint8Array | StateDict,
  options: { phi: PhiValue; sourceName: string; expectedClasses?: number },
): ConvertedModel {
  const { phi, sourceName } = options;
  let stateDict: StateDict;
  let sourceFormat: SourceFormat = "safetensors";
  try {
    if (source instanceof Uint8Array) {
      sourceFormat = detectTensorFormat(source) ?? "safetensors";
      stateDict = readTensorFile(source);
    } else stateDict = source;
  } catch (error) {
    throw new ModelConversionError(
      `${sourceName} is not a readable checkpoint: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const numClasses = inferNumClasses(stateDict, sourceName);
  if (options.expectedClasses !== undefined && options.expectedClasses !== numClasses) {
    throw new ModelInputError(
      `${sourceName} predicts ${numClasses} classes but the labels file lists ${options.expectedClasses}; ` +
        "give one label per class, in class order",
    );
  }
  try {
    const graph = constructGraph({
      phi,
      weights: stateDict,
      weightsName: sourceName,
      numClasses,
      variant: "deploy",
    });
    const model = graph.toBytes();
    return {
      model,
      phi,
      resolution: graph.info.imageSize,
      numClasses,
      parameters: graph.info.parameters,
      sourceFormat,
    };
  } catch (error) {
    throw new ModelConversionError(
      `${sourceName} could not be converted to EfficientDet-${phiLabel(phi)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Checks that a ready ONNX file is a vdet deploy graph and reads what the manifest needs from it. */
export function adoptOnnx(
  bytes: Uint8Array,
  options: { phi: PhiValue; sourceName: string; expectedClasses?: number },
): ConvertedModel {
  const info = readOnnxInfo(bytes);
  const { phi, sourceName } = options;
  const missing = ["boxes", "scores", "classes"].filter((n) => !info.outputs.some((o) => o.name === n));
  if (!info.inputs.some((i) => i.name === "frames") || missing.length > 0) {
    throw new ModelConversionError(
      `${sourceName} is not a deploy-variant model (needs input "frames" and outputs boxes, scores, classes); ` +
        "build one with `vdet model build --variant deploy`, or import the checkpoint instead",
    );
  }
  if (info.phi !== undefined && info.phi !== String(phi)) {
    throw new ModelInputError(
      `${sourceName} is EfficientDet-D${info.phi}, not ${phiLabel(phi)}: pass --phi ${info.phi}`,
    );
  }
  const numClasses = info.numClasses ?? options.expectedClasses;
  if (numClasses === undefined) {
    throw new ModelInputError(
      `${sourceName} does not record its class count: give --classes with a labels file`,
    );
  }
  if (options.expectedClasses !== undefined && options.expectedClasses !== numClasses) {
    throw new ModelInputError(
      `${sourceName} predicts ${numClasses} classes but the labels file lists ${options.expectedClasses}`,
    );
  }
  return {
    model: bytes,
    phi,
    resolution: info.imageSize ?? getConfig(phi).imageSize,
    numClasses,
    parameters: info.parameters ?? info.storedValues,
    sourceFormat: "onnx",
  };
}

/** Labels from a text file: one per line, in class order (line k names class id k); blank lines are skipped. */
export function parseLabels(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** Labels when none are given: COCO names for 90 classes, "class-<id>" otherwise. */
export function defaultLabels(numClasses: number): string[] {
  return Array.from({ length: numClasses }, (_, k) =>
    numClasses === COCO_NUM_CLASSES ? cocoLabel(k + 1) : `class-${k + 1}`,
  );
}
