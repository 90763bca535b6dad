// The job record as the api reports it and the stages update it: state, progress counters, errors, what the
// producer learnt about the video. The job store holds it; the api and the cli read it.

import { z } from "zod";
import { jobSpecSchema } from "./job-spec.ts";
import { streamStateSchema, streamStatsSchema } from "./stream-state.ts";

export const JOB_STATES = ["queued", "running", "completed", "failed", "cancelled"] as const;
export const jobStateSchema = z.enum(JOB_STATES);
export type JobStateName = z.infer<typeof jobStateSchema>;

/** States a job never leaves; every other state is active (counted against the api's concurrent-job limit). */
export const TERMINAL_STATES = [
  "completed",
  "failed",
  "cancelled",
] as const satisfies readonly JobStateName[];
export type TerminalState = (typeof TERMINAL_STATES)[number];

/** Whether a job in `state` has ended (takes any string: a state read from JSON is one too). */
export function isTerminal(state: string): state is TerminalState {
  return (TERMINAL_STATES as readonly string[]).includes(state);
}

export const jobProgressSchema = z
  .object({
    decoded: z.number().int().describe("sampled frames decoded and queued by the producer"),
    inferred: z.number().int().describe("frames the workers ran through the model"),
    written: z.number().int().describe("frames written to tracks.jsonl"),
    failed: z
      .number()
      .int()
      .describe("frames reported as failed (with a reason in errors) or skipped by the overload policy"),
    deadlineMisses: z
      .number()
      .int()
      .describe(
        "latency jobs: frames whose detections were ready after their deadline (enqueue time + budget)",
      ),
    total: z.number().int().nullable().describe("number of sampled frames, once decoding has finished"),
  })
  .strict();
export type JobProgress = z.infer<typeof jobProgressSchema>;

export const jobErrorSchema = z.object({ atMs: z.number(), stage: z.string(), message: z.string() }).strict();
export type JobError = z.infer<typeof jobErrorSchema>;

/** What the producer learnt about the input. */
export const videoSummarySchema = z
  .object({
    width: z.number().int(),
    height: z.number().int(),
    /** Source frames per second, when known. */
    fps: z.number().nullable(),
    durationMs: z.number().nullable(),
    codec: z.string().nullable(),
  })
  .strict();
export type VideoSummary = z.infer<typeof videoSummarySchema>;

export const jobRenderingSchema = z
  .object({ done: z.number().int().min(0), total: z.number().int().min(0).nullable() })
  .strict();
export type JobRendering = z.infer<typeof jobRenderingSchema>;

/** A live input's connection (HLS, RTSP), as the producer reports it (states: STREAM_STATES, stream-state.ts). */
export const jobConnectionSchema = z
  .object({
    state: streamStateSchema,
    /** When the connection entered `state`, epoch ms. */
    sinceMs: z.number(),
    /** Reconnects so far (successful or not). */
    reconnects: z.number().int().min(0),
    /** Holes in the stream so far (reconnects and holes inside a connection). */
    gaps: z.number().int().min(0),
    /** Why the last connection ended, while reconnecting or stopped. */
    reason: z.string().max(2000).optional(),
  })
  .strict();
export type JobConnection = z.infer<typeof jobConnectionSchema>;

export const jobRecordSchema = z
  .object({
    id: z.string(),
    spec: jobSpecSchema,
    state: jobStateSchema,
    createdAtMs: z.number(),
    updatedAtMs: z.number(),
    progress: jobProgressSchema,
    errors: z.array(jobErrorSchema),
    output: z.string(),
    cancelRequested: z.boolean(),
    video: videoSummarySchema.nullable(),
    /** While preview.mp4 is rendered after the last frame was written: source frames done of about `total`. */
    rendering: jobRenderingSchema.nullable().optional(),
    /** Streams: the aggregator's recent figures (frame rates, deadline hit rate, φ). */
    streamStats: streamStatsSchema.optional(),
    /** Live inputs: the stream's connection state (STREAM_STATES); absent for files. */
    connection: jobConnectionSchema.optional(),
  })
  .strict();
export type JobRecord = z.infer<typeof jobRecordSchema>;

/** What GET /jobs/:id shows while a job's frames wait and no worker runs (scale to zero, a cold start). */
export const WAITING_FOR_WORKER = "waiting for a worker";

export const jobWaitingSchema = z
  .object({
    reason: z.literal(WAITING_FOR_WORKER),
    /**
     * Segments and frame chunks waiting for a worker (all jobs): `backlog.frames` of GET /backlog and
     * CloudWatch's `FramesBacklog`, the metric on which KEDA or the ECS step policy starts a worker.
     */
    waitingChunks: z.number().int().min(0).describe("backlog.frames of GET /backlog"),
    workers: z.number().int().min(0),
  })
  .strict();
export type JobWaiting = z.infer<typeof jobWaitingSchema>;

/** The job waits for a worker: it is not finished, some of its frames are queued, and no worker is connected. */
export function jobWaiting(
  job: Pick<JobRecord, "state" | "progress">,
  capacity: { workers: number; waitingChunks: number },
): JobWaiting | undefined {
  if (isTerminal(job.state) || capacity.workers > 0 || capacity.waitingChunks === 0) return undefined;
  if (job.progress.decoded <= job.progress.inferred + job.progress.failed) return undefined;
  return { reason: WAITING_FOR_WORKER, waitingChunks: capacity.waitingChunks, workers: capacity.workers };
}

/** The long-running roles of a deployment; each publishes a heartbeat to Redis while it runs. */
export const ROLE_KINDS = ["api", "producer", "worker", "aggregator"] as const;
export type RoleKind = (typeof ROLE_KINDS)[number];

/** Which roles are alive now (heartbeats not expired) and when each kind was last seen alive (ms since epoch). */
export interface RoleLiveness {
  live: Record<RoleKind, number>;
  lastSeenMs: Partial<Record<RoleKind, number>>;
}

/**
 * What GET /jobs/:id, `vdet status` and the job page say when no process serves an unfinished job:
 * `stalled: no worker has taken frames for N s` (N since a worker was last alive, or since the job was created),
 * `no aggregator`, `no producer` (a queued job), joined by "; ". Undefined when the job has ended or is served.
 */
export function jobStalled(
  job: Pick<JobRecord, "state" | "createdAtMs">,
  liveness: RoleLiveness,
  nowMs: number,
): string | undefined {
  if (isTerminal(job.state)) return undefined;
  const reasons: string[] = [];
  if (job.state === "queued" && liveness.live.producer === 0) reasons.push("no producer");
  if (liveness.live.worker === 0) {
    const since = Math.max(liveness.lastSeenMs.worker ?? job.createdAtMs, job.createdAtMs);
    reasons.push(`no worker has taken frames for ${Math.max(0, Math.round((nowMs - since) / 1000))} s`);
  }
  if (liveness.live.aggregator === 0) reasons.push("no aggregator");
  return reasons.length === 0 ? undefined : `stalled: ${reasons.join("; ")}`;
}
