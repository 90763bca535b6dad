// EfficientDet-D0…D7x configurations, as effdet 0.4.1 builds the tf_ models (spec section 1).
// One table row per φ; every graph is derived from these numbers by the generic builder.

import { type PhiValue, UnknownPhiError } from "@vdet/protocol";

export type FusionKind = "fast-normalized" | "sum";

export interface BackboneScaling {
  name: string;
  widthMultiplier: number;
  depthMultiplier: number;
}

export interface EffDetConfig {
  phi: PhiValue;
  name: string;
  imageSize: number;
  backbone: BackboneScaling;
  fpnChannels: number;
  fpnCells: number;
  headRepeats: number;
  minLevel: number;
  maxLevel: number;
  anchorScale: number;
  fusion: FusionKind;
  numClasses: number;
  /** COCO val AP of the published checkpoint (spec, "Published COCO checkpoints"): the utility of this φ. */
  cocoAp: number;
  /** Trainable parameter count of the reference model with 90 classes (spec table). */
  referenceParams: number;
}

export const BN_EPS = 1e-3;
export const FUSION_EPS = 1e-4;
export const NUM_SCALES = 3;
export const ASPECT_RATIOS: readonly (readonly [number, number])[] = [
  [1.0, 1.0],
  [1.4, 0.7],
  [0.7, 1.4],
];
export const ANCHORS_PER_LOCATION = NUM_SCALES * ASPECT_RATIOS.length;
export const MAX_CANDIDATES = 5000;
export const MAX_DETECTIONS = 100;
export const NMS_IOU_THRESHOLD = 0.5;
export const COCO_NUM_CLASSES = 90;

const BACKBONES: Record<string, BackboneScaling> = {
  b0: { name: "tf_efficientnet_b0", widthMultiplier: 1.0, depthMultiplier: 1.0 },
  b1: { name: "tf_efficientnet_b1", widthMultiplier: 1.0, depthMultiplier: 1.1 },
  b2: { name: "tf_efficientnet_b2", widthMultiplier: 1.1, depthMultiplier: 1.2 },
  b3: { name: "tf_efficientnet_b3", widthMultiplier: 1.2, depthMultiplier: 1.4 },
  b4: { name: "tf_efficientnet_b4", widthMultiplier: 1.4, depthMultiplier: 1.8 },
  b5: { name: "tf_efficientnet_b5", widthMultiplier: 1.6, depthMultiplier: 2.2 },
  b6: { name: "tf_efficientnet_b6", widthMultiplier: 1.8, depthMultiplier: 2.6 },
  b7: { name: "tf_efficientnet_b7", widthMultiplier: 2.0, depthMultiplier: 3.1 },
};

type Row = [
  PhiValue,
  number,
  keyof typeof BACKBONES,
  number,
  number,
  number,
  number,
  number,
  FusionKind,
  number,
  number,
];
// phi, input, backbone, W, cells, head repeats, max level, anchor scale, fusion, COCO AP, params
const TABLE: Row[] = [
  [0, 512, "b0", 64, 3, 3, 7, 4.0, "fast-normalized", 34.3, 3_880_067],
  [1, 640, "b1", 88, 4, 3, 7, 4.0, "fast-normalized", 40.2, 6_625_898],
  [2, 768, "b2", 112, 5, 3, 7, 4.0, "fast-normalized", 43.5, 8_097_039],
  [3, 896, "b3", 160, 6, 4, 7, 4.0, "fast-normalized", 46.8, 12_032_296],
  [4, 1024, "b4", 224, 7, 4, 7, 4.0, "fast-normalized", 49.3, 20_723_675],
  [5, 1280, "b5", 288, 7, 4, 7, 4.0, "fast-normalized", 51.3, 33_653_315],
  [6, 1280, "b6", 384, 8, 5, 7, 4.0, "sum", 52.2, 51_871_782],
  [7, 1536, "b6", 384, 8, 5, 7, 5.0, "sum", 53.4, 51_871_782],
  ["7x", 1536, "b7", 384, 8, 5, 8, 4.0, "sum", 54.4, 77_147_166],
];

/** The configuration for φ, optionally with another class count (a fine-tuned checkpoint). */
export function getConfig(phi: PhiValue, numClasses = COCO_NUM_CLASSES): EffDetConfig {
  const row = TABLE.find((r) => r[0] === phi);
  if (!row) throw new UnknownPhiError(phi);
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 100_000) {
    throw new RangeError(`numClasses must be a positive integer, got ${numClasses}`);
  }
  const [
    ,
    imageSize,
    backbone,
    fpnChannels,
    fpnCells,
    headRepeats,
    maxLevel,
    anchorScale,
    fusion,
    cocoAp,
    params,
  ] = row;
  return {
    phi,
    name: `tf_efficientdet_d${phi}`,
    imageSize,
    backbone: BACKBONES[backbone],
    fpnChannels,
    fpnCells,
    headRepeats,
    minLevel: 3,
    maxLevel,
    anchorScale,
    fusion,
    numClasses,
    cocoAp,
    referenceParams: params,
  };
}

/** Feature map sizes per level min…max for a square input: each is ceil(previous / 2). */
export function levelSizes(config: EffDetConfig, imageSize = config.imageSize): number[] {
  const sizes: number[] = [];
  let size = imageSize;
  for (let level = 1; level <= config.maxLevel; level++) {
    size = Math.floor((size - 1) / 2) + 1;
    if (level >= config.minLevel) sizes.push(size);
  }
  return sizes;
}
