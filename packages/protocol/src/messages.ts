// Messages between stages. They stay small: pixels travel separately (a frame store keyed by `FrameRef.key`),
// never inside a queue payload. Every message is validated when it is received; one that fails is a poison message.

import { VdetError } from "@vdet/errors";
import { z } from "zod";
import { PROTOCOL_ERRORS } from "./error-codes.ts";
import { overloadSchema } from "./job-spec.ts";
import { videoSummarySchema } from "./job-state.ts";
import { packedFramesSchema } from "./packed-detections.ts";
import { phiRangeSchema, phiSchema } from "./phi.ts";

export const jobIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, "job ids are letters, digits, _ and -");

export const frameRefSchema = z
  .object({
    /** 0-based index of the sampled frame within the job. */
    index: z.number().int().min(0),
    /** Presentation time in the source, milliseconds. */
    ptsMs: z.number().min(0),
    /** Where the frame's pixels are (frame store key). */
    key: z.string().min(1).max(512),
  })
  .strict();
export type FrameRef = z.infer<typeof frameRefSchema>;

/** How frame pixels map to source pixels: the frame holds the source scaled into its top-left corner. */
export const letterboxSchema = z
  .object({
    sourceWidth: z.number().int().positive(),
    sourceHeight: z.number().int().positive(),
    contentWidth: z.number().int().positive(),
    contentHeight: z.number().int().positive(),
  })
  .strict();
export type Letterbox = z.infer<typeof letterboxSchema>;

/**
 * Which work unit of which job a message is about: the fields a frame chunk and its detections share. A job's
 * units are either chunks or segments, never both, so one number names them.
 */
const chunkAddress = {
  jobId: jobIdSchema,
  chunk: z.number().int().min(0),
};

/**
 * Where a live frame's wall-clock capture time comes from: `arrival`, the time the producer received it (a
 * recorded segment: when the segment was complete, less its duration; a decoded frame: when it came out of the
 * decoder). The source's own clock (HLS EXT-X-PROGRAM-DATE-TIME, RTCP sender reports) is not read yet.
 */
export const CAPTURE_CLOCKS = ["arrival"] as const;
export type CaptureClock = (typeof CAPTURE_CLOCKS)[number];

/**
 * Live inputs: the frame at `ptsMs` was captured at `atMs` (epoch ms) by `clock`; the unit's other frames at
 * atMs + (their ptsMs − ptsMs).
 */
export const captureSchema = z
  .object({ atMs: z.number(), ptsMs: z.number(), clock: z.enum(CAPTURE_CLOCKS) })
  .strict();
export type Capture = z.infer<typeof captureSchema>;

/** A frame's capture time by its unit's capture anchor, epoch ms. */
export function capturedAtMs(capture: Capture, ptsMs: number): number {
  return Math.round(capture.atMs + (ptsMs - capture.ptsMs));
}

/** What a worker needs to run a job's frames, whether they come as a chunk of stored frames or as a segment. */
const workFields = {
  /** Live inputs: when the unit's frames were captured (the worker passes it on with the detections). */
  capture: captureSchema.optional(),
  letterbox: letterboxSchema,
  phi: phiRangeSchema,
  mode: z.enum(["latency", "archive"]),
  latencyBudgetMs: z.number().int().positive().optional(),
  scoreThreshold: z.number().min(0).max(1),
  classes: z.array(z.number().int().positive()).optional(),
  priority: z.number().int().min(1).max(10),
  /**
   * When the frames' clock started (epoch ms): a chunk's enqueue time, a recorded segment's capture time; a
   * frame's deadline is this plus the latency budget.
   */
  enqueuedAtMs: z.number(),
  /** Latency jobs: skip frames that can no longer make their deadline ("drop"), or run them late (absent: "queue"). */
  overload: overloadSchema.optional(),
  /** Archive jobs with a throughput target: frames per second, or the epoch ms every frame is due by. */
  target: z
    .object({ framesPerSecond: z.number().positive().optional(), finishByMs: z.number().optional() })
    .strict()
    .optional(),
};

/**
 * How a chunk's frames are stored: `raw`, square RGB24 images of the chunk's size (letterboxed); `jpeg`, the
 * letterbox content (contentWidth × contentHeight) as JPEG, which the worker decodes and letterboxes.
 */
export const FRAME_ENCODINGS = ["raw", "jpeg"] as const;
export type FrameEncoding = (typeof FRAME_ENCODINGS)[number];

export const frameChunkSchema = z
  .object({
    ...chunkAddress,
    frames: z.array(frameRefSchema).min(1).max(1024),
    /** Frames are square RGB24 images of this side (once decoded, for `jpeg`). */
    size: z.number().int().min(32).max(4096),
    /** Absent: raw. */
    encoding: z.enum(FRAME_ENCODINGS).optional(),
    ...workFields,
  })
  .strict();
export type FrameChunk = z.infer<typeof frameChunkSchema>;

/**
 * Where a segment's video is read from: the job's own input, or a recorded live segment in the frame store (Redis)
 * or in the segment store (S3).
 */
export const segmentSourceSchema = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("input"),
      /** The job's input as submitted (a path, an s3:// object, an http(s) URL); the worker resolves it. */
      input: z.string().min(1).max(8192),
    })
    .strict(),
  z
    .object({
      kind: z.literal("stored"),
      /** Frame store key of the segment's bytes (a remuxed piece of the live stream). */
      key: z.string().min(1).max(512),
    })
    .strict(),
  z
    .object({
      kind: z.literal("object"),
      /**
       * A recorded live segment in the deployment's segment store (VDET_LIVE_SEGMENT_STORE, s3://bucket/prefix/…):
       * the worker reads it as it reads an s3:// input and deletes it once its frames are reported.
       */
      uri: z
        .string()
        .regex(/^s3:\/\/[^/]+\/.+/, { error: "must be an s3://bucket/key URI" })
        .max(2048),
    })
    .strict(),
]);
export type SegmentSource = z.infer<typeof segmentSourceSchema>;

/**
 * The unit of work for re-readable inputs and recorded live segments: a range of sampled frames the worker decodes
 * itself. The plan (@vdet/video's segment planner) says where to seek and which frames it yields; it is small (a
 * range and bounds, no per-frame lists) and opaque to everything but the decoder.
 */
export const segmentSchema = z
  .object({
    jobId: jobIdSchema,
    segment: z.number().int().min(0),
    source: segmentSourceSchema,
    /** Sampled frames [firstIndex, firstIndex + frames) of the job. */
    firstIndex: z.number().int().min(0),
    frames: z.number().int().min(1),
    /** ptsMs of the first and the last of those frames. */
    startPtsMs: z.number().min(0),
    endPtsMs: z.number().min(0),
    /** The decoder's plan of the segment (seek point, sampler state): @vdet/video's SegmentPlan, as JSON. */
    plan: z.record(z.string(), z.unknown()),
    /** Frames are letterboxed into squares of this side (the largest φ's resolution). */
    size: z.number().int().min(32).max(4096),
    ...workFields,
  })
  .strict();
export type SegmentWork = z.infer<typeof segmentSchema>;

/** One frame's detections as they travel in a message (Detections, detections.ts, is their in-memory form). */
export const frameDetectionsSchema = z
  .object({
    index: z.number().int().min(0),
    ptsMs: z.number().min(0),
    phi: phiSchema,
    /** x1, y1, x2, y2 per detection, source pixels. */
    boxes: z.array(z.number()),
    scores: z.array(z.number().min(0).max(1)),
    classes: z.array(z.number().int()),
    /** Latency jobs: deadline minus the time the detections were ready, ms (negative: a deadline miss). */
    slackMs: z.number().optional(),
  })
  .strict()
  .refine((f) => f.boxes.length === 4 * f.scores.length && f.classes.length === f.scores.length, {
    message: "boxes, scores and classes disagree in length",
  });
export type FrameDetectionsMessage = z.infer<typeof frameDetectionsSchema>;

export const frameFailureSchema = z
  .object({
    index: z.number().int().min(0),
    ptsMs: z.number().min(0),
    reason: z.string().min(1).max(2000),
    /** Not a failure: the overload policy ("drop") skipped the frame before inference; `reason` says why. */
    skipped: z.literal(true).optional(),
  })
  .strict();
export type FrameFailure = z.infer<typeof frameFailureSchema>;

export const detectionBatchSchema = z
  .object({
    ...chunkAddress,
    /** The frames' detections, packed (packed-detections.ts); unpack with unpackFrames. */
    packed: packedFramesSchema,
    failed: z.array(frameFailureSchema).default([]),
    worker: z.string().max(200),
    /** Live inputs: the unit's capture anchor, as the producer gave it. */
    capture: captureSchema.optional(),
    /** Time the chunk waited in the queue and in the batcher, and the model's compute time, ms. */
    queueMs: z.number().min(0),
    computeMs: z.number().min(0),
  })
  .strict();
export type DetectionBatch = z.infer<typeof detectionBatchSchema>;
export type DetectionBatchInput = z.input<typeof detectionBatchSchema>;

/** A hole in the input's timeline that no frame came from (@vdet/video's Gap): where, and why. */
export const gapSchema = z
  .object({
    fromMs: z.number(),
    toMs: z.number(),
    /**
     * unreachable, truncated, stalled, timestamp-jump (@vdet/video's GAP_REASONS); for a reconnect of a live
     * input, `reconnect: ` and why the connection ended (dropped, stalled, ended).
     */
    reason: z.string().min(1).max(64),
    detail: z.string().max(2000).optional(),
    /** Live inputs: wall-clock start and end of the hole (epoch ms), when the producer knows them (reconnects). */
    startedAtMs: z.number().optional(),
    endedAtMs: z.number().optional(),
  })
  .strict();
export type Gap = z.infer<typeof gapSchema>;

/** Control events from the producer to the aggregator. */
export const jobEventSchema = z.discriminatedUnion("type", [
  z
    .object({
      /** The producer has finished with the job: every index in [0, totalFrames) is in some chunk. */
      type: z.literal("decoded"),
      jobId: jobIdSchema,
      totalFrames: z.number().int().min(0),
      chunks: z.number().int().min(0),
      video: videoSummarySchema.nullable(),
      /** Why decoding stopped early (unreadable input, limit), or null. Frames before it still count. */
      error: z.string().nullable(),
      /** Decoding stopped because the job was cancelled. */
      cancelled: z.boolean(),
      /** Holes in the input the decoder reported (frames that never came). */
      gaps: z.array(gapSchema).max(10_000).optional(),
    })
    .strict(),
]);
export type JobEvent = z.infer<typeof jobEventSchema>;

export class PoisonMessageError extends VdetError {
  constructor(
    readonly kind: string,
    readonly detail: string,
  ) {
    super(PROTOCOL_ERRORS.POISON_MESSAGE, `invalid ${kind} message: ${detail}`);
  }
}

/** Parses a received message; throws PoisonMessageError naming the first bad fields. */
export function parseMessage<S extends z.ZodType>(schema: S, kind: string, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const detail = result.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
    .join("; ");
  throw new PoisonMessageError(kind, detail);
}
