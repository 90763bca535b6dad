// EfficientNet-B0…B7 block plan from the base stage table and the width/depth multipliers (spec section 3.1).

import type { BackboneScaling } from "./config.ts";

export type BlockKind = "ds" | "mbconv";

export interface BlockPlan {
  /** 0-based stage index (the `blocks.{stage}` key). */
  stage: number;
  /** Block index within the stage. */
  index: number;
  kind: BlockKind;
  kernel: number;
  stride: number;
  inChannels: number;
  midChannels: number;
  outChannels: number;
  seChannels: number;
  residual: boolean;
}

export interface BackbonePlan {
  stemChannels: number;
  blocks: BlockPlan[];
  /** Stage indices whose last block output is C3, C4, C5. */
  featureStages: readonly [number, number, number];
}

interface StageSpec {
  kind: BlockKind;
  repeats: number;
  kernel: number;
  stride: number;
  expand: number;
  channels: number;
}

const BASE_STAGES: StageSpec[] = [
  { kind: "ds", repeats: 1, kernel: 3, stride: 1, expand: 1, channels: 16 },
  { kind: "mbconv", repeats: 2, kernel: 3, stride: 2, expand: 6, channels: 24 },
  { kind: "mbconv", repeats: 2, kernel: 5, stride: 2, expand: 6, channels: 40 },
  { kind: "mbconv", repeats: 3, kernel: 3, stride: 2, expand: 6, channels: 80 },
  { kind: "mbconv", repeats: 3, kernel: 5, stride: 1, expand: 6, channels: 112 },
  { kind: "mbconv", repeats: 4, kernel: 5, stride: 2, expand: 6, channels: 192 },
  { kind: "mbconv", repeats: 1, kernel: 3, stride: 1, expand: 6, channels: 320 },
];
const STEM_CHANNELS = 32;
const SE_RATIO = 0.25;

/** timm's round_channels: nearest multiple of 8, at least 8, never below 90% of the scaled value. */
export function roundChannels(channels: number, multiplier: number, divisor = 8): number {
  const v = channels * multiplier;
  let rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

export function planBackbone(scaling: BackboneScaling): BackbonePlan {
  const stemChannels = roundChannels(STEM_CHANNELS, scaling.widthMultiplier);
  const blocks: BlockPlan[] = [];
  let inChannels = stemChannels;
  BASE_STAGES.forEach((stage, stageIndex) => {
    const repeats = Math.ceil(stage.repeats * scaling.depthMultiplier);
    const outChannels = roundChannels(stage.channels, scaling.widthMultiplier);
    for (let index = 0; index < repeats; index++) {
      const stride = index === 0 ? stage.stride : 1;
      blocks.push({
        stage: stageIndex,
        index,
        kind: stage.kind,
        kernel: stage.kernel,
        stride,
        inChannels,
        midChannels: inChannels * stage.expand,
        outChannels,
        seChannels: Math.round(inChannels * SE_RATIO),
        residual: stride === 1 && inChannels === outChannels,
      });
      inChannels = outChannels;
    }
  });
  return { stemChannels, blocks, featureStages: [2, 4, 6] };
}
