// Job state as the api reports it and the stages update it.

import { z } from "zod";

export const JOB_STATES = ["queued", "running", "completed", "failed", "cancelled"] as const;
export type JobStateName = (typeof JOB_STATES)[number];

export function isTerminal(state: JobStateName): boolean {
  return state === "completed" || state === "failed" || state === "cancelled";
}

export interface JobProgress {
  /** Sampled frames decoded and queued by the producer. */
  decoded: number;
  /** Frames the workers ran through the model. */
  inferred: number;
  /** Frames written to the output. */
  written: number;
  /** Frames reported as failed (with a reason in errors). */
  failed: number;
  /** Frames of a latency job whose detections were ready after their deadline (enqueue time + budget). */
  deadlineMisses: number;
  /** Number of sampled frames, once decoding has finished. */
  total: number | null;
}

export interface JobError {
  atMs: number;
  stage: string;
  message: string;
}

export const jobErrorSchema = z.object({ atMs: z.number(), stage: z.string(), message: z.string() }).strict();

export interface JobRecord {
  id: string;
  state: JobStateName;
  createdAtMs: number;
  updatedAtMs: number;
  progress: JobProgress;
  errors: JobError[];
  output: string;
}
