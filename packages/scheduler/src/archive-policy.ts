// Archive mode has no deadline: a job runs at the φ it asks for, or, with a throughput target (frames per second
// or a finish-by time), at the largest φ whose throughput across the current workers keeps that target.

import type { PhiValue } from "@vdet/protocol";
import type { LatencyProfile } from "./latency-profile.ts";
import { inRange } from "./phi-policy.ts";

export interface ThroughputTarget {
  framesPerSecond?: number;
  /** Epoch ms by which every frame should be done. */
  finishByMs?: number;
}

export interface ArchiveChoiceInput {
  phiMin: PhiValue;
  phiMax: PhiValue;
  target?: ThroughputTarget;
  profile: LatencyProfile;
  maxBatch: number;
  /** Workers sharing the job (live workers of the pool, at least 1). */
  workers: number;
  /** Frames of the job not yet inferred (for a finish-by target). */
  remainingFrames?: number;
  nowMs: number;
  /** Share of the workers' measured capacity to plan with. */
  utilization?: number;
}

export interface ArchiveChoice {
  phi: PhiValue;
  /** Frames per second the target needs, when there is one. */
  requiredFps?: number;
  /** Planned frames per second at the chosen φ across the workers. */
  capacityFps?: number;
  /** False when even the smallest φ cannot keep the target (it runs at the smallest φ). */
  meetsTarget: boolean;
}

export function requiredFramesPerSecond(
  target: ThroughputTarget,
  remainingFrames: number | undefined,
  nowMs: number,
): number | undefined {
  if (target.framesPerSecond !== undefined) return target.framesPerSecond;
  if (target.finishByMs === undefined || remainingFrames === undefined) return undefined;
  const seconds = (target.finishByMs - nowMs) / 1000;
  return seconds > 0 ? remainingFrames / seconds : Number.POSITIVE_INFINITY;
}

export function chooseArchivePhi(input: ArchiveChoiceInput): ArchiveChoice {
  const required = input.target
    ? requiredFramesPerSecond(input.target, input.remainingFrames, input.nowMs)
    : undefined;
  if (required === undefined) return { phi: input.phiMax, meetsTarget: true };
  const utilization = input.utilization ?? 0.9;
  const workers = Math.max(1, input.workers);
  const profiled = input.profile.phis().filter((phi) => inRange(phi, input));
  for (const phi of [...profiled].reverse()) {
    const best = input.profile.throughput(phi, input.maxBatch);
    const capacityFps = best ? workers * best.framesPerSecond * utilization : 0;
    if (capacityFps >= required) return { phi, requiredFps: required, capacityFps, meetsTarget: true };
  }
  const phi = profiled[0] ?? input.phiMin;
  const best = input.profile.throughput(phi, input.maxBatch);
  return {
    phi,
    requiredFps: required,
    capacityFps: best ? workers * best.framesPerSecond * utilization : undefined,
    meetsTarget: false,
  };
}
