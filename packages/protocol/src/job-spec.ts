// The job spec a user submits (API body, CLI flags): what to read, how to sample, how much latency each frame may
// take or "archive", which φ are allowed, what to keep, where to write. Validated here, at the edge.

import { zonesFileSchema } from "@vdet/analytics";
import { VdetError } from "@vdet/errors";
import { z } from "zod";
import { PROTOCOL_ERRORS } from "./error-codes.ts";
import { phiRangeSchema } from "./phi.ts";

const INPUT_SCHEMES = ["s3:", "http:", "https:", "rtsp:", "rtsps:"] as const;

export const inputSchema = z
  .string()
  .trim()
  .min(1, "input must not be empty")
  .max(4096)
  .refine((s) => !s.includes("\0"), "input must not contain NUL bytes")
  .refine((s) => {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(s)?.[1]?.toLowerCase();
    // A one-letter "scheme" is a Windows drive letter; anything else must be a scheme we read.
    return !scheme || scheme.length === 1 || (INPUT_SCHEMES as readonly string[]).includes(`${scheme}:`);
  }, "input must be a file path or an s3://, http(s):// or rtsp(s):// URL (ffmpeg protocols such as concat: or file: are not accepted)");

export const samplingSchema = z.union([
  z.object({ fps: z.number().positive().max(240) }).strict(),
  z.object({ everyNth: z.number().int().min(1).max(1_000_000) }).strict(),
]);
export type Sampling = z.infer<typeof samplingSchema>;

export const outputSchema = z
  .string()
  .trim()
  .min(1, "output must not be empty")
  .max(2048)
  .refine((s) => !s.split(/[\\/]/).includes(".."), "output must not contain '..' path segments")
  .refine(
    (s) => !/^[a-z][a-z0-9+.-]+:/i.test(s) || s.startsWith("s3://"),
    "output must be s3://bucket/prefix or a directory",
  );

/** What a latency job does with frames the machine cannot finish in time (job-spec `overload`). */
export const overloadSchema = z.enum(["drop", "queue"]);
export type OverloadPolicy = z.infer<typeof overloadSchema>;

/** A live input (rtsp(s)://, an HLS playlist): frames keep coming whether or not the workers keep up. */
export function isLiveInput(input: string): boolean {
  if (/^rtsps?:/i.test(input)) return true;
  if (!/^https?:/i.test(input)) return false;
  try {
    return /\.m3u8$/i.test(new URL(input).pathname);
  } catch {
    return false;
  }
}

/** The overload policy of a job that names none: live inputs drop late frames, files queue them. */
export function overloadDefault(input: string): OverloadPolicy {
  return isLiveInput(input) ? "drop" : "queue";
}

/** A job's overload policy: the one it names, else its input's default. */
export function overloadOf(spec: { input: string; overload?: OverloadPolicy }): OverloadPolicy {
  return spec.overload ?? overloadDefault(spec.input);
}

/** An SNS topic ARN (standard or FIFO), e.g. arn:aws:sns:eu-west-1:123456789012:vdet-jobs. */
export const snsTopicArnSchema = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/,
    "snsTopicArn must be an SNS topic ARN (arn:aws:sns:region:account:topic)",
  );

/** Where a job's (or stream's) events go: a webhook (POST, HMAC-signed), an SNS topic, or both. */
export const notifySchema = z
  .object({
    /** https:// (http:// only to loopback in tests); checked against the deployment's address policy. */
    webhook: z
      .string()
      .max(2048)
      .refine((s) => /^https?:\/\//i.test(s) && URL.canParse(s), "webhook must be an http(s):// URL")
      .optional(),
    snsTopicArn: snsTopicArnSchema.optional(),
    /** Copied into every notification (AWS Rekognition's JobTag), e.g. to route it. */
    tag: z
      .string()
      .max(256)
      .regex(/^[A-Za-z0-9._:@/-]*$/, "tag may use letters, digits and . _ : @ / -")
      .optional(),
  })
  .strict()
  .refine((n) => n.webhook !== undefined || n.snsTopicArn !== undefined, {
    message: "notify needs a webhook, an snsTopicArn, or both",
  });
export type NotifyTarget = z.infer<typeof notifySchema>;

export const throughputSchema = z
  .object({
    framesPerSecond: z.number().positive().max(1_000_000).optional(),
    /** ISO 8601 date-time with an offset, e.g. 2026-12-01T06:00:00Z. */
    finishBy: z.iso.datetime({ offset: true }).optional(),
  })
  .strict()
  .refine((t) => (t.framesPerSecond === undefined) !== (t.finishBy === undefined), {
    message: "give framesPerSecond or finishBy, not both or neither",
  });
export type Throughput = z.infer<typeof throughputSchema>;

/**
 * Live inputs (HLS, RTSP): how the producer reconnects when the source drops, stalls or ends unexpectedly. Each
 * absent field takes @vdet/config's LIVE_DEFAULTS.reconnect.
 */
export const reconnectSchema = z
  .object({
    /** Wait before the first reconnect, ms; each failed attempt multiplies it by `factor`, up to `maxDelayMs`. */
    initialDelayMs: z.number().int().min(0).max(600_000).optional(),
    maxDelayMs: z.number().int().min(0).max(3_600_000).optional(),
    factor: z.number().min(1).max(10).optional(),
    /** Each wait is drawn uniformly from [delay × (1 − jitter), delay]. */
    jitter: z.number().min(0).max(1).optional(),
    /** The job stops reconnecting (and ends, gap recorded) after the source has been gone this long, ms; 0: never. */
    giveUpAfterMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 24 * 3_600_000)
      .optional(),
    /** A gap up to this long keeps the tracks going across it; a longer one starts new tracks, ms. */
    keepTracksGapMs: z.number().int().min(0).max(3_600_000).optional(),
  })
  .strict()
  .refine((r) => r.maxDelayMs === undefined || (r.initialDelayMs ?? 0) <= r.maxDelayMs, {
    message: "initialDelayMs must not exceed maxDelayMs",
  });
export type ReconnectSpec = z.infer<typeof reconnectSchema>;

/**
 * How a live input's frames travel from the producer to the workers: `segments` (recorded ≈1 s pieces of the
 * stream, decoded by the workers; the default when the latency budget allows a segment's wait), `jpeg` (decoded
 * frames, JPEG-compressed: the low-latency path, the default for budgets shorter than a segment) or `raw` (decoded
 * frames as raw pixels: only on request).
 */
export const LIVE_TRANSPORTS = ["segments", "jpeg", "raw"] as const;
export type LiveTransport = (typeof LIVE_TRANSPORTS)[number];

/**
 * A stream's output layout (set by POST /streams, derived in stream.ts): tracks.jsonl is written as one part per
 * `partMinutes` of wall time, named by the part's start, plus a rolling manifest listing the parts, so that an
 * output that runs for weeks never grows one object without bound.
 */
export const streamOutputSchema = z
  .object({
    /** A name for people (the dashboard, `vdet stream list`). */
    name: z.string().trim().min(1).max(100).optional(),
    /** Minutes of wall time per tracks.jsonl part (fractions allowed, at least 3 s). */
    partMinutes: z
      .number()
      .min(0.05, "partMinutes must be at least 0.05 (3 s)")
      .max(1440, "partMinutes must be at most 1440 (a day)"),
  })
  .strict();
export type StreamOutput = z.infer<typeof streamOutputSchema>;

/** A job spec's fields before the mode is settled (the one home of every field; the stream spec derives from it). */
export const jobSpecFields = z
  .object({
    input: inputSchema,
    sampling: samplingSchema.default({ fps: 5 }),
    mode: z.enum(["latency", "archive"]).optional(),
    latencyBudgetMs: z.number().int().min(10).max(3_600_000).optional(),
    phi: phiRangeSchema.default({ min: 0, max: 0 }),
    scoreThreshold: z.number().min(0).max(1).default(0.3),
    classes: z.array(z.string().trim().min(1).max(64)).min(1).max(1000).optional(),
    output: outputSchema,
    idempotencyKey: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._:@-]+$/, "idempotencyKey may use letters, digits and . _ : @ -")
      .optional(),
    priority: z.number().int().min(1).max(10).default(5),
    maxFrames: z.number().int().min(1).max(10_000_000).optional(),
    /** Also write preview.mp4 (the source with the tracks drawn on it); needs an input that can be read twice. */
    preview: z.boolean().optional(),
    /** What preview.mp4 covers: the processed time range (default) or the whole source video. */
    previewRange: z.enum(["processed", "video"]).optional(),
    /**
     * Archive jobs: a throughput target instead of a fixed φ — the workers run the largest φ of the range whose
     * throughput across the current workers keeps it (frames per second, or every frame done by an instant).
     */
    throughput: throughputSchema.optional(),
    /**
     * A hole in the input (a live segment that 404s, arrives truncated or stalls, a timestamp jump): "continue"
     * (absent: the same) ends the job completed with the gaps listed in manifest.json; "fail" ends it failed.
     */
    onGap: z.enum(["continue", "fail"]).optional(),
    /**
     * Archive jobs: when the job ends, also write tracks.refined.mot.txt, the tracks after the offline refinement
     * (@vdet/tracker refineTracks: short gaps filled, tracklets joined, smoothed; docs/tracker.md). Refused for
     * latency jobs and streams: live output cannot wait for frames that come after it.
     */
    refine: z.boolean().optional(),
    /** Set for a stream (POST /streams): its output is written in time-based parts. */
    stream: streamOutputSchema.optional(),
    /**
     * Zones and directed lines counted over the tracks (the zones.json format of @vdet/analytics, docs/analytics.md):
     * the aggregator writes events.jsonl and analytics.json beside tracks.jsonl.
     */
    zones: zonesFileSchema.optional(),
    /**
     * Latency jobs when the machine cannot keep up: "drop" skips a frame whose deadline can no longer be met even
     * at the smallest φ (oldest first, never the newest; recorded in tracks.jsonl as skipped), "queue" runs every
     * frame however late. Default: "drop" for live inputs (rtsp, HLS), "queue" otherwise (see overloadDefault).
     */
    overload: overloadSchema.optional(),
    /** Where to tell when the job ends (a webhook, an SNS topic, or both); the format is in docs/live.md. */
    notify: notifySchema.optional(),
    /** Live inputs: reconnect policy (absent: the defaults). */
    reconnect: reconnectSchema.optional(),
    /** Live inputs: how frames reach the workers (LIVE_TRANSPORTS); absent: chosen by the latency budget. */
    liveTransport: z.enum(LIVE_TRANSPORTS).optional(),
  })
  .strict();

export const jobSpecSchema = jobSpecFields.transform((spec, ctx) => {
  const mode = spec.mode ?? (spec.latencyBudgetMs !== undefined ? "latency" : "archive");
  if (mode === "latency" && spec.latencyBudgetMs === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["latencyBudgetMs"],
      message: "latencyBudgetMs is required in latency mode",
    });
  }
  if (mode === "latency" && spec.throughput !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["throughput"],
      message: "a throughput target is for archive mode; latency jobs have latencyBudgetMs",
    });
  }
  if (mode === "latency" && spec.refine) {
    ctx.addIssue({
      code: "custom",
      path: ["refine"],
      message:
        "refine is for archive jobs: the offline refinement needs the frames after each box, and live output cannot wait for them",
    });
  }
  if (mode === "archive" && spec.latencyBudgetMs !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["latencyBudgetMs"],
      message: "archive mode takes no latencyBudgetMs",
    });
  }
  return { ...spec, mode };
});

/** What a user writes (defaults optional). */
export type JobSpecInput = z.input<typeof jobSpecSchema>;
/** A validated spec with every default filled in. */
export type JobSpec = z.output<typeof jobSpecSchema>;

export class InvalidJobSpecError extends VdetError {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(
      PROTOCOL_ERRORS.INVALID_JOB_SPEC,
      `invalid job spec: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ")}`,
    );
  }
}

/** A zod error's issues as `path: message` pairs (the path dotted, "" for the root). */
export function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
}

/** Validates a job spec; throws InvalidJobSpecError naming every bad field. */
export function parseJobSpec(value: unknown): JobSpec {
  const result = jobSpecSchema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidJobSpecError(issuesOf(result.error));
}
