// A stream's connection state and its live figures (written by the aggregator, shown by the api and dashboard).
// Separate from stream.ts so that job-state.ts can hold the figures without importing the stream spec.

import { z } from "zod";
import { phiSchema } from "./phi.ts";

/**
 * A live input's connection, as the producer reports it on the job record (`connection`) and the streams API shows
 * it: `connecting` (opening the source, first time), `live` (segments or frames arriving), `reconnecting` (the
 * source dropped, stalled or ended unexpectedly; waiting out the backoff or opening it again), `stopped` (the job no
 * longer reads it: removed with DELETE /streams/:id, ended, gave up, failed; its output finalised).
 */
export const STREAM_STATES = ["connecting", "live", "reconnecting", "stopped"] as const;
export const streamStateSchema = z.enum(STREAM_STATES);
export type StreamState = z.infer<typeof streamStateSchema>;

/** A stream's recent figures, measured by the aggregator over the last few seconds. */
export const streamStatsSchema = z
  .object({
    /** When they were measured, ms since the epoch. */
    atMs: z.number(),
    /** Frames sampled from the source per second (the producer's count). */
    fpsIn: z.number().min(0),
    /** Frames written to the output per second. */
    fpsOut: z.number().min(0),
    /** Share of the frames written in the window that met their deadline; null when none was written. */
    deadlineHitRate: z.number().min(0).max(1).nullable(),
    /** The φ of the last frame written; null before the first. */
    phi: phiSchema.nullable(),
  })
  .strict();
export type StreamStats = z.infer<typeof streamStatsSchema>;
