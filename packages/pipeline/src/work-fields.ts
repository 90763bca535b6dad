// What the producer's paths (the planner, the live recorder, the frame decoder) share: the work fields a job's
// spec gives every queued unit, the video summary, and how a job's decoding ended.

import { type Gap, type JobSpec, overloadOf, type VideoSummary } from "@vdet/protocol";
import type { VideoInfo } from "@vdet/video";

/** How a planned job ended: what endDecoding records. */
export interface DecodingEnd {
  frames: number;
  chunks: number;
  video: VideoSummary | null;
  error: string | null;
  cancelled: boolean;
  /** Holes in the input the decoder reported. */
  gaps?: Gap[];
}

/** The fields of a frame chunk or segment that come from the job's spec. */
export function workFields(spec: JobSpec, classes: number[] | undefined) {
  return {
    phi: spec.phi,
    mode: spec.mode,
    latencyBudgetMs: spec.latencyBudgetMs,
    overload: spec.mode === "latency" ? overloadOf(spec) : undefined,
    scoreThreshold: spec.scoreThreshold,
    classes,
    priority: spec.priority,
    target: spec.throughput
      ? {
          framesPerSecond: spec.throughput.framesPerSecond,
          finishByMs: spec.throughput.finishBy ? Date.parse(spec.throughput.finishBy) : undefined,
        }
      : undefined,
  };
}

export function videoSummary(info: VideoInfo): VideoSummary {
  return {
    width: info.width,
    height: info.height,
    fps: info.fps ?? null,
    durationMs: info.durationSeconds === undefined ? null : Math.round(info.durationSeconds * 1000),
    codec: info.codec,
  };
}
