// summary.json, written when a job ends: how many tracks of each class, and each track's span and mean score.

import { z } from "zod";
import { jobIdSchema } from "./messages.ts";

export const trackSummarySchema = z
  .object({
    trackId: z.number().int(),
    class: z.number().int(),
    label: z.string(),
    firstFrame: z.number().int().min(0),
    lastFrame: z.number().int().min(0),
    /** Frames the track was seen in. */
    length: z.number().int().min(1),
    meanScore: z.number(),
  })
  .strict();

export const jobSummarySchema = z
  .object({
    jobId: jobIdSchema,
    tracks: z.number().int().min(0),
    /** Class name → number of tracks. */
    tracksPerClass: z.record(z.string(), z.number().int()),
    /** Ordered by track id. */
    trackList: z.array(trackSummarySchema),
  })
  .strict();
export type JobSummary = z.infer<typeof jobSummarySchema>;
