// The report written when a job ends: summary.json (the tracks found) and manifest.json (what ran, on what, how
// it went), both from the job's aggregation.

import { COCO_SOURCE, modelFor } from "@vdet/jobs";
import {
  type JobManifest,
  type JobStateName,
  type JobSummary,
  type PhiValue,
  phiLabel,
} from "@vdet/protocol";
import type { JobAggregation } from "./job-aggregation.ts";

export function jobSummary(agg: JobAggregation): JobSummary {
  // By id, so that an aggregator resumed from a checkpoint lists them as an uninterrupted one does.
  const tracks = [...agg.tracks.values()]
    .sort((a, b) => a.trackId - b.trackId)
    .map((t) => ({
      trackId: t.trackId,
      class: t.classId,
      label: t.label,
      firstFrame: t.firstFrame,
      lastFrame: t.lastFrame,
      length: t.length,
      meanScore: Math.round((t.scoreSum / t.length) * 1e4) / 1e4,
    }));
  const perClass: Record<string, number> = {};
  for (const t of tracks) perClass[t.label] = (perClass[t.label] ?? 0) + 1;
  return { jobId: agg.job.id, tracks: tracks.length, tracksPerClass: perClass, trackList: tracks };
}

export interface ManifestContext {
  /** The job's final state. */
  state: JobStateName;
  /** The files written for the job. */
  files: string[];
  /** vdet's version (the root package.json's). */
  version: string;
  /** Describes the models (φ → weights name), e.g. "untrained (seeded, seed 0)"; default: what the workers published. */
  modelDescription?: (phi: PhiValue) => string;
}

export function jobManifest(agg: JobAggregation, context: ManifestContext): JobManifest {
  const event = agg.state.finished!;
  const { phiRanges } = agg.state;
  const used = phiRanges.map((r) => modelFor(agg.models, r.phi));
  return {
    vdet: context.version,
    jobId: agg.job.id,
    state: context.state,
    spec: agg.job.spec,
    video: event.video,
    frames: {
      sampled: event.totalFrames,
      written: agg.state.written,
      failed: agg.state.failed,
      skipped: agg.state.skipped,
      duplicatesDropped: agg.reorder.duplicates,
    },
    deadline: { budgetMs: agg.job.spec.latencyBudgetMs ?? null, misses: agg.state.deadlineMisses },
    models: phiRanges.map((r) => ({
      ...r,
      model: `EfficientDet-${phiLabel(r.phi)}`,
      weights: context.modelDescription?.(r.phi) ?? agg.models[String(r.phi)]?.weights ?? "unknown",
      labels: modelFor(agg.models, r.phi).source,
    })),
    // The class names of each model above that has its own (COCO's map is in the docs).
    labels: Object.fromEntries(used.filter((m) => m.source !== COCO_SOURCE).map((m) => [m.source, m.labels])),
    phiHistogram: { ...agg.state.phiHistogram },
    framesByWorker: { ...agg.state.framesByWorker },
    error: event.error,
    gaps: event.gaps ?? [],
    timings: {
      aggregatorStartedAtMs: agg.state.startedAtMs,
      finishedAtMs: Date.now(),
      jobCreatedAtMs: agg.job.createdAtMs,
    },
    files: context.files,
  };
}
