// One line of tracks.jsonl: a sampled frame with its detections, class names and track ids (or the reason it
// failed). The aggregator writes them in frame order; the renderer, the dashboard and scripts read them.

import { z } from "zod";
import { CAPTURE_CLOCKS } from "./messages.ts";
import { phiSchema } from "./phi.ts";

/** One detection of a tracks.jsonl line. */
export const detectionRowSchema = z
  .object({
    /** x1, y1, x2, y2 in source pixels. */
    box: z.array(z.number()).length(4),
    score: z.number(),
    class: z.number().int(),
    label: z.string(),
    /** null: the tracker did not (yet) assign the detection to a track. */
    trackId: z.number().int().nullable(),
  })
  .strict();
export type DetectionRow = z.infer<typeof detectionRowSchema>;

export const tracksLineSchema = z
  .object({
    /** Index of the sampled frame within the job. */
    frame: z.number().int().min(0),
    ptsMs: z.number(),
    /** Live inputs: the frame's wall-clock capture time (ISO 8601, UTC, ms), by `captureClock`. */
    capturedAt: z.string().optional(),
    /** Where capturedAt comes from (CAPTURE_CLOCKS): `arrival`, when the producer received the frame. */
    captureClock: z.enum(CAPTURE_CLOCKS).optional(),
    /** The φ that ran on the frame (absent on a failed frame). */
    phi: phiSchema.optional(),
    /** Set on a frame that failed; it has no detections. */
    error: z.string().optional(),
    /** Set on a frame the overload policy skipped before inference (why); it has no detections. */
    skipped: z.string().optional(),
    detections: z.array(detectionRowSchema),
  })
  .strict();
export type TracksLine = z.infer<typeof tracksLineSchema>;
