// manifest.json, written last when a job ends: what ran (spec, models per frame range), on what (the video), how
// it went (frame counts, deadline misses, φ use, workers, timings) and which files were written.

import { z } from "zod";
import { jobSpecSchema } from "./job-spec.ts";
import { jobStateSchema, videoSummarySchema } from "./job-state.ts";
import { gapSchema, jobIdSchema } from "./messages.ts";
import { phiSchema } from "./phi.ts";

export const jobManifestSchema = z
  .object({
    /** The vdet version that wrote it. */
    vdet: z.string(),
    jobId: jobIdSchema,
    state: jobStateSchema,
    spec: jobSpecSchema,
    video: videoSummarySchema.nullable(),
    frames: z
      .object({
        sampled: z.number().int().min(0),
        written: z.number().int().min(0),
        failed: z.number().int().min(0),
        /** Skipped before inference by the overload policy ("drop"): their deadline could no longer be met. */
        skipped: z.number().int().min(0),
        duplicatesDropped: z.number().int().min(0),
      })
      .strict(),
    deadline: z.object({ budgetMs: z.number().nullable(), misses: z.number().int().min(0) }).strict(),
    /** Which model ran on each run of consecutive frames. */
    models: z.array(
      z
        .object({
          fromFrame: z.number().int().min(0),
          toFrame: z.number().int().min(0),
          phi: phiSchema,
          model: z.string(),
          weights: z.string(),
          /** Where the class names come from: "COCO" or a cached model's name (its names are in `labels`). */
          labels: z.string(),
        })
        .strict(),
    ),
    /** The class names of each model above that has its own (COCO's map is in the docs). */
    labels: z.record(z.string(), z.array(z.string())),
    /** φ (as text: "0" … "7x") → frames it ran on. */
    phiHistogram: z.record(z.string(), z.number().int()),
    framesByWorker: z.record(z.string(), z.number().int()),
    /** Why decoding stopped early, or null. */
    error: z.string().nullable(),
    /** Holes in the input no frame came from (time ranges of the source, ms, and why). */
    gaps: z.array(gapSchema),
    timings: z
      .object({ aggregatorStartedAtMs: z.number(), finishedAtMs: z.number(), jobCreatedAtMs: z.number() })
      .strict(),
    files: z.array(z.string()),
  })
  .strict();
export type JobManifest = z.infer<typeof jobManifestSchema>;
