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

/** What GET /jobs/:id shows while a job's frames wait and no worker runs (scale to zero, a cold start). */
export const WAITING_FOR_WORKER = "waiting for a worker";

export interface JobWaiting {
  reason: typeof WAITING_FOR_WORKER;
  /**
   * Frame chunks waiting in the frames queue (all jobs): `backlog.frames` of GET /backlog and CloudWatch's
   * `FramesBacklog`, the metric on which KEDA or the ECS step policy starts a worker.
   */
  waitingChunks: number;
  workers: number;
}

/** The job waits for a worker: it is not finished, some of its frames are queued, and no worker is connected. */
export function jobWaiting(
  job: JobRecord,
  capacity: { workers: number; waitingChunks: number },
): JobWaiting | undefined {
  if (isTerminal(job.state) || capacity.workers > 0 || capacity.waitingChunks === 0) return undefined;
  if (job.progress.decoded <= job.progress.inferred + job.progress.failed) return undefined;
  return { reason: WAITING_FOR_WORKER, waitingChunks: capacity.waitingChunks, workers: capacity.workers };
}
