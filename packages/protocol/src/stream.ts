// Streams (POST /streams): a live source watched until it is removed. A stream is a latency job underneath (the
// same spec, queues, roles and job record), with `stream` set in its spec so that its output is written in
// time-based parts. The stream spec is derived from the job spec's fields (job-spec.ts), never restated.

import { z } from "zod";
import { inputSchema, type JobSpec, jobSpecFields, jobSpecSchema, streamOutputSchema } from "./job-spec.ts";
import { isTerminal, type JobRecord, jobRecordSchema } from "./job-state.ts";
import { type StreamState, streamStateSchema, streamStatsSchema } from "./stream-state.ts";

export const STREAM_DEFAULTS = {
  /** Minutes of wall time per tracks.jsonl part. */
  partMinutes: 10,
  /** The rolling manifest lists this many of the newest parts (older ones stay under tracks/). */
  manifestParts: 1000,
  /** How often the aggregator measures a stream's figures, ms (while its results arrive). */
  statsIntervalMs: 2000,
  /** Figures older than this many intervals are not shown: no result has arrived since. */
  statsStaleIntervals: 5,
} as const;

/** What a stream reads: a live source, never a file or an object (those are jobs, POST /jobs). */
const LIVE_SCHEMES = ["rtsp:", "rtsps:", "http:", "https:"];

export const streamInputSchema = inputSchema.refine(
  (s) => LIVE_SCHEMES.includes(`${/^([a-z][a-z0-9+.-]*):/i.exec(s)?.[1]?.toLowerCase()}:`),
  "a stream reads a live source: an rtsp(s):// URL or an http(s):// HLS playlist (files and s3:// objects are jobs: POST /jobs)",
);

/**
 * POST /streams: the job spec's fields less those that belong to a finite input (maxFrames, preview, a throughput
 * target, archive mode), with a required latency budget, a name and the part length. Parsed into a job spec.
 */
export const streamSpecSchema = jobSpecFields
  .omit({ mode: true, maxFrames: true, preview: true, previewRange: true, throughput: true, stream: true })
  .extend({
    input: streamInputSchema,
    latencyBudgetMs: jobSpecFields.shape.latencyBudgetMs.unwrap(),
    name: streamOutputSchema.shape.name,
    partMinutes: streamOutputSchema.shape.partMinutes.default(STREAM_DEFAULTS.partMinutes),
  })
  .strict()
  .transform(({ name, partMinutes, ...spec }, ctx): JobSpec => {
    const stream = { ...(name !== undefined ? { name } : {}), partMinutes };
    const result = jobSpecSchema.safeParse({ ...spec, mode: "latency", stream });
    if (result.success) return result.data;
    for (const issue of result.error.issues)
      ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    return z.NEVER;
  });

/** What a user writes to POST /streams. */
export type StreamSpecInput = z.input<typeof streamSpecSchema>;

/**
 * A stream's state from its job: stopped once the job has ended; else the producer's connection state where it
 * reported one (reconnecting included); else the count of decoded frames says whether frames arrive.
 */
export function streamState(job: JobRecord): StreamState {
  if (isTerminal(job.state)) return "stopped";
  // The producer's `stopped` comes before the output is final: a stream is stopped once its job has ended.
  if (job.connection && job.connection.state !== "stopped") return job.connection.state;
  if (job.state === "queued" || job.progress.decoded === 0) return "connecting";
  return "live";
}

/** GET /streams, GET /streams/:id: a stream as people see it (its job record is under `job`). */
export const streamViewSchema = z
  .object({
    /** The stream's id: its job's id (GET /jobs/:id and the results routes work on it too). */
    id: z.string(),
    name: z.string().nullable(),
    state: streamStateSchema,
    input: z.string(),
    output: z.string(),
    partMinutes: z.number(),
    createdAtMs: z.number(),
    /** Recent figures; null until the aggregator has measured them. */
    fpsIn: z.number().nullable(),
    fpsOut: z.number().nullable(),
    deadlineHitRate: z.number().nullable(),
    phi: streamStatsSchema.shape.phi,
    job: jobRecordSchema,
  })
  .strict();
export type StreamView = z.infer<typeof streamViewSchema>;

/**
 * A stream's view from its job record (null for a job that is not a stream). Figures are left out once the stream
 * has stopped, and while they are stale (no result arrived for `statsStaleIntervals` measurements).
 */
export function streamView(job: JobRecord, nowMs = Date.now()): StreamView | null {
  const stream = job.spec.stream;
  if (!stream) return null;
  const staleBefore = nowMs - STREAM_DEFAULTS.statsIntervalMs * STREAM_DEFAULTS.statsStaleIntervals;
  const stats =
    isTerminal(job.state) || !job.streamStats || job.streamStats.atMs < staleBefore
      ? undefined
      : job.streamStats;
  return {
    id: job.id,
    name: stream.name ?? null,
    state: streamState(job),
    input: job.spec.input,
    output: job.output,
    partMinutes: stream.partMinutes,
    createdAtMs: job.createdAtMs,
    fpsIn: stats?.fpsIn ?? null,
    fpsOut: stats?.fpsOut ?? null,
    deadlineHitRate: stats?.deadlineHitRate ?? null,
    phi: stats?.phi ?? null,
    job,
  };
}

/** The rolling manifest's name beside a stream's parts. */
export const STREAM_MANIFEST = "tracks.parts.json";

/** One time-based part of a stream's tracks.jsonl. */
export const streamPartSchema = z
  .object({
    /** The object, relative to the output: tracks/<start, UTC, yyyymmddThhmmssZ>.jsonl. */
    key: z.string(),
    /** The start of the part's time window (ISO 8601, UTC). */
    start: z.string(),
    /** When the last line was written to it (ISO 8601); null while it is being written. */
    end: z.string().nullable(),
    /** tracks.jsonl lines (one per frame) in the part. */
    lines: z.number().int().min(0),
    sizeBytes: z.number().int().min(0),
    /** Whether the part object is written (false: its lines are in numbered pieces under tracks/<start>/). */
    complete: z.boolean(),
  })
  .strict();
export type StreamPart = z.infer<typeof streamPartSchema>;

/** tracks.parts.json: the parts of a stream's tracks.jsonl, oldest first, rewritten as each part completes. */
export const streamPartsManifestSchema = z
  .object({
    vdet: z.literal("stream-parts/1"),
    partMinutes: z.number(),
    /** The stream has ended and every part is written. */
    complete: z.boolean(),
    updatedAt: z.string(),
    /** Parts older than the newest `STREAM_DEFAULTS.manifestParts` are not listed (they stay under tracks/). */
    unlisted: z.number().int().min(0),
    parts: z.array(streamPartSchema),
  })
  .strict();
export type StreamPartsManifest = z.infer<typeof streamPartsManifestSchema>;
