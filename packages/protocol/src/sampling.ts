// The frame rate of a job's sampled stream, which the tracker's ages and the frame estimates are counted in.

import type { Sampling } from "./job-spec.ts";

/** The source frame rate assumed when the probe did not give one. */
export const ASSUMED_SOURCE_FPS = 30;

/** Frames per second after sampling: sampling at a rate above the source's yields each source frame once. */
export function sampledFps(sampling: Sampling, sourceFps: number | null | undefined): number {
  if ("fps" in sampling) return Math.min(sampling.fps, sourceFps ?? sampling.fps);
  return (sourceFps ?? ASSUMED_SOURCE_FPS) / sampling.everyNth;
}
