// Aggregator stage: puts each job's frames back in order (workers finish out of order), de-duplicates
// redelivered results, tracks objects across frames, appends tracks.jsonl as frames become contiguous, and
// writes tracks.mot.txt, summary.json and manifest.json once every sampled frame is accounted for. With
// `checkpoints`, each job's state is saved before the message that changed it is acked, and an aggregator that
// starts after a crash resumes the job from it (aggregator-checkpoint.ts).

import { phiLabel } from "@vdet/effdet";
import { metrics } from "@vdet/metrics";
import {
  type DetectionBatch,
  type FrameDetections,
  isTerminal,
  type JobEvent,
  type PhiValue,
} from "@vdet/protocol";
import type { TrackFrame } from "@vdet/render";
import { StorageError } from "@vdet/storage";
import { Tracker } from "@vdet/tracker";
import type { Consumer, Transport } from "@vdet/transport";
import type { VideoInput } from "@vdet/video";
import type {
  AggregatorCheckpoint,
  AggregatorCheckpoints,
  AggregatorSnapshot,
  Outcome,
  TrackSummary,
} from "./aggregator-checkpoint.ts";
import type { JobOutput, JobOutputFactory } from "./job-output.ts";
import type { JobStore, StoredJob } from "./job-store.ts";
import { COCO_SOURCE, type DeploymentModels, labelOf, modelFor } from "./labels.ts";
import { type StageLogger, silentLogger } from "./logger.ts";
import type { ModelRegistry } from "./model-registry.ts";
import { canReadAgain, writePreview } from "./preview.ts";
import type { Stage } from "./producer.ts";

export interface AggregatorConfig {
  transport: Transport;
  jobStore: JobStore;
  openOutput: JobOutputFactory;
  /** Describes the models for the manifest (φ → weights name), e.g. "seeded (seed 0)". */
  modelDescription?: (phi: PhiValue) => string;
  /** What the workers run per φ, read when a job's first results arrive: class names (default: COCO). */
  models?: ModelRegistry;
  logger?: StageLogger;
  /** Opens a job's input again for preview.mp4 (s3:// → a stream); default: as given. */
  openInput?: (input: string) => Promise<VideoInput>;
  /** Called when a job reaches a terminal state. */
  onJobFinished?: (jobId: string, state: string) => void;
  version?: string;
  /** Where job state is checkpointed (Redis); without it a restarted aggregator cannot resume a job. */
  checkpoints?: AggregatorCheckpoints;
}

class JobAggregation {
  next = 0;
  readonly pending = new Map<number, Outcome>();
  finished: Extract<JobEvent, { type: "decoded" }> | null = null;
  written = 0;
  failed = 0;
  duplicates = 0;
  deadlineMisses = 0;
  readonly phiHistogram = new Map<string, number>();
  readonly phiRanges: { fromFrame: number; toFrame: number; phi: PhiValue }[] = [];
  readonly tracks = new Map<number, TrackSummary>();
  readonly motLines: string[] = [];
  /** Frames each worker delivered (first delivery only). */
  readonly framesByWorker = new Map<string, number>();
  startedAtMs = Date.now();
  /** The written frames, kept only when the job asked for preview.mp4. */
  readonly previewFrames: TrackFrame[] | null;
  done = false;
  /** tracks.jsonl is flushed and being joined; nothing more is appended. */
  finishing = false;
  // What the next checkpoint adds to the last one.
  unsavedLines: string[] = [];
  linesInPart = false;
  motSaved = 0;
  previewSaved = 0;
  readonly dirtyTracks = new Set<number>();

  constructor(
    readonly job: StoredJob,
    readonly output: JobOutput,
    readonly tracker: Tracker,
    /** φ → model and labels, as published when the job's aggregation began. */
    readonly models: DeploymentModels = {},
  ) {
    this.previewFrames = job.spec.preview && canReadAgain(job.spec.input) ? [] : null;
  }
}

export function startAggregator(config: AggregatorConfig): Stage {
  const log = config.logger ?? silentLogger;
  const jobs = new Map<string, Promise<JobAggregation | "ended" | null>>();
  const chains = new Map<string, Promise<void>>();

  /** Runs `work` after every earlier piece of work for the same job. */
  const serial = (jobId: string, work: () => Promise<void>): Promise<void> => {
    const next = (chains.get(jobId) ?? Promise.resolve()).then(work);
    const settled = next.catch(() => undefined);
    chains.set(jobId, settled);
    void settled.then(() => {
      if (chains.get(jobId) === settled) chains.delete(jobId);
    });
    return next;
  };

  const aggregation = (jobId: string): Promise<JobAggregation | "ended" | null> => {
    let entry = jobs.get(jobId);
    if (!entry) {
      entry = (async () => {
        const job = await config.jobStore.get(jobId);
        if (!job) return null;
        // A message redelivered after its job was finished (by this aggregator or one before a crash).
        if (isTerminal(job.state)) return "ended" as const;
        const checkpoint = (await config.checkpoints?.load(jobId)) ?? null;
        const output = await config.openOutput(
          jobId,
          job.output,
          checkpoint ? { tracksPartsWritten: checkpoint.snapshot.tracksPartsWritten } : undefined,
        );
        // Class-aware: a COCO detector's person and bicycle boxes overlap and must not swap tracks.
        const models = (await config.models?.read()) ?? {};
        const tracker = checkpoint
          ? Tracker.restore(checkpoint.snapshot.tracker)
          : new Tracker({ fps: samplingFps(job), classAware: true });
        const agg = new JobAggregation(job, output, tracker, models);
        if (checkpoint) {
          await restore(agg, checkpoint);
          log.info(
            {
              jobId,
              stage: "aggregator",
              next: agg.next,
              pending: agg.pending.size,
              finishing: agg.finishing,
            },
            "resumed from checkpoint",
          );
        }
        return agg;
      })();
      jobs.set(jobId, entry);
      entry.then(
        (agg) => agg === "ended" && jobs.delete(jobId),
        () => jobs.delete(jobId),
      );
    }
    return entry;
  };

  /** Saves what changed since the last checkpoint; the message being handled is acked only after this. */
  const checkpoint = async (agg: JobAggregation): Promise<void> => {
    if (!config.checkpoints) return;
    const previewLines = agg.previewFrames?.slice(agg.previewSaved).map((f) => JSON.stringify(f)) ?? [];
    await config.checkpoints.save(agg.job.id, {
      snapshot: snapshot(agg),
      linesInPart: agg.linesInPart,
      newLines: agg.unsavedLines,
      newMotLines: agg.motLines.slice(agg.motSaved),
      newPreviewLines: previewLines,
      tracks: [...agg.dirtyTracks].map((id) => agg.tracks.get(id)!),
      progress: { written: agg.written, deadlineMisses: agg.deadlineMisses },
    });
    // Only after a successful save: a failed one is retried with everything since the last.
    agg.unsavedLines = [];
    agg.linesInPart = false;
    agg.motSaved = agg.motLines.length;
    agg.previewSaved += previewLines.length;
    agg.dirtyTracks.clear();
  };

  /** Writes the frames that became contiguous, checkpoints, and finishes the job once every frame is in. */
  const advance = async (agg: JobAggregation): Promise<void> => {
    await drain(agg);
    await checkpoint(agg);
    if (agg.finished && agg.next >= agg.finished.totalFrames && !agg.done) await finish(agg);
  };

  const drain = async (agg: JobAggregation): Promise<void> => {
    const lines: string[] = [];
    let written = 0;
    let failed = 0;
    for (let outcome = agg.pending.get(agg.next); outcome; outcome = agg.pending.get(agg.next)) {
      agg.pending.delete(agg.next);
      if (outcome.kind === "ok") {
        lines.push(trackFrame(agg, outcome.frame));
        written++;
      } else {
        lines.push(
          JSON.stringify({
            frame: outcome.failure.index,
            ptsMs: outcome.failure.ptsMs,
            error: outcome.failure.reason,
            detections: [],
          }),
        );
        failed++;
      }
      agg.next++;
    }
    if (lines.length > 0) {
      if (agg.previewFrames) for (const line of lines) agg.previewFrames.push(JSON.parse(line));
      const started = performance.now();
      await appendLines(agg, lines);
      metrics.sinkWrite("append", performance.now() - started);
      agg.written += written;
      agg.failed += failed;
      metrics.framesWritten(written);
      metrics.framesFailed(failed);
      // With checkpoints the job's progress is set with the checkpoint (a redone drain must not add twice).
      if (!config.checkpoints) await config.jobStore.addProgress(agg.job.id, { written });
    }
  };

  /** Finishes the job; when a step fails, the redelivered message tries again (every step can be redone). */
  const finish = async (agg: JobAggregation): Promise<void> => {
    agg.done = true;
    try {
      await finishJob(agg);
    } catch (error) {
      agg.done = false;
      throw error;
    }
  };

  const finishJob = async (agg: JobAggregation): Promise<void> => {
    if (!agg.finishing) {
      // From here on tracks.jsonl is only joined: a resumed aggregator must not buffer lines again.
      await agg.output.flushTracks();
      agg.unsavedLines = [];
      agg.linesInPart = true;
      agg.finishing = true;
      try {
        await checkpoint(agg);
      } catch (error) {
        agg.finishing = false;
        throw error;
      }
    }
    const event = agg.finished!;
    const current = await config.jobStore.get(agg.job.id);
    const state =
      event.cancelled || current?.cancelRequested ? "cancelled" : event.error ? "failed" : "completed";
    const timed = async (operation: "put" | "finish", write: () => Promise<void>) => {
      const started = performance.now();
      await write();
      metrics.sinkWrite(operation, performance.now() - started);
    };
    await timed("finish", () => agg.output.finish());
    await timed("put", () => agg.output.put("tracks.mot.txt", agg.motLines.join(""), "text/plain"));
    await timed("put", () =>
      agg.output.put("summary.json", `${JSON.stringify(summary(agg), null, 2)}\n`, "application/json"),
    );
    const files = ["tracks.jsonl", "tracks.mot.txt", "summary.json", "manifest.json"];
    if (await writeJobPreview(agg, config, log)) files.push("preview.mp4");
    await timed("put", () =>
      agg.output.put(
        "manifest.json",
        `${JSON.stringify(manifest(agg, state, config, files), null, 2)}\n`,
        "application/json",
      ),
    );
    await config.jobStore.setState(agg.job.id, state);
    metrics.jobFinished(state);
    log.info(
      { jobId: agg.job.id, stage: "aggregator", state, frames: agg.written, failed: agg.failed },
      "job finished",
    );
    await config.checkpoints?.remove(agg.job.id);
    config.onJobFinished?.(agg.job.id, state);
    jobs.delete(agg.job.id);
  };

  /**
   * Runs an output write. A StorageError here has already been retried with backoff by the storage layer (or
   * cannot succeed on a retry: bad credentials, a conflicting object), so redelivering the message would only
   * repeat it forever: the job fails, naming the write, and nothing more is written for it.
   */
  const writing = async (agg: JobAggregation, write: () => Promise<void>): Promise<void> => {
    try {
      await write();
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      agg.done = true; // kept in `jobs`, so that later results for the job are dropped, not written
      const message = `output not written to ${agg.job.output}: ${error.message}`;
      log.error({ jobId: agg.job.id, stage: "aggregator", err: message }, "job failed");
      await config.jobStore.addError(agg.job.id, { stage: "aggregator", message });
      await config.jobStore.setState(agg.job.id, "failed");
      await config.checkpoints?.remove(agg.job.id);
      metrics.jobFinished("failed");
      config.onJobFinished?.(agg.job.id, "failed");
    }
  };

  const onResults = (batch: DetectionBatch): Promise<void> =>
    serial(batch.jobId, async () => {
      const agg = await aggregation(batch.jobId);
      if (agg === "ended") return;
      if (!agg) {
        metrics.error("aggregator", "unknown_job");
        log.warn({ jobId: batch.jobId, stage: "aggregator" }, "results for an unknown job; dropped");
        return;
      }
      if (agg.done) return;
      metrics.observeChunk(batch);
      const accept = (index: number, outcome: Outcome) => {
        if (index < agg.next || agg.pending.has(index)) {
          agg.duplicates++;
          return false;
        }
        agg.pending.set(index, outcome);
        return true;
      };
      const before = agg.pending.size + agg.next;
      // A redelivered frame's deadline was counted with its first delivery.
      const fresh = batch.frames.filter((frame) => accept(frame.index, { kind: "ok", frame }));
      for (const failure of batch.failed) accept(failure.index, { kind: "failed", failure });
      const misses = countDeadlineMisses(agg, batch, fresh);
      if (misses > 0 && !config.checkpoints)
        await config.jobStore.addProgress(agg.job.id, { deadlineMisses: misses });
      const accepted = agg.pending.size + agg.next - before;
      agg.framesByWorker.set(batch.worker, (agg.framesByWorker.get(batch.worker) ?? 0) + accepted);
      await writing(agg, () => advance(agg));
    });

  const onEvent = (event: JobEvent): Promise<void> =>
    serial(event.jobId, async () => {
      const agg = await aggregation(event.jobId);
      if (!agg || agg === "ended" || agg.done) return;
      agg.finished = event;
      if (event.error)
        log.warn({ jobId: event.jobId, stage: "aggregator", err: event.error }, "decoding ended early");
      await writing(agg, () => advance(agg));
    });

  const consumers: Consumer[] = [
    config.transport.results.consume(onResults, { concurrency: 8 }),
    config.transport.events.consume(onEvent, { concurrency: 8 }),
  ];
  return {
    close: async () => {
      await Promise.all(consumers.map((c) => c.close()));
      await Promise.all(chains.values());
    },
  };
}

/**
 * Appends lines to tracks.jsonl and notes what the next checkpoint must keep: an append that writes a part writes
 * everything buffered, so after one the lines are all in parts; otherwise these lines are only buffered.
 */
async function appendLines(agg: JobAggregation, lines: string[]): Promise<void> {
  const partsBefore = agg.output.tracksPartsWritten;
  await agg.output.appendTracks(`${lines.join("\n")}\n`);
  if (agg.output.tracksPartsWritten !== partsBefore) {
    agg.unsavedLines = [];
    agg.linesInPart = true;
  } else {
    agg.unsavedLines.push(...lines);
  }
}

function snapshot(agg: JobAggregation): AggregatorSnapshot {
  return {
    version: 1,
    next: agg.next,
    pending: [...agg.pending],
    finished: agg.finished,
    written: agg.written,
    failed: agg.failed,
    duplicates: agg.duplicates,
    deadlineMisses: agg.deadlineMisses,
    phiHistogram: [...agg.phiHistogram],
    phiRanges: agg.phiRanges,
    framesByWorker: [...agg.framesByWorker],
    startedAtMs: agg.startedAtMs,
    tracker: agg.tracker.serialize(),
    tracksPartsWritten: agg.output.tracksPartsWritten,
    finishing: agg.finishing,
  };
}

/** Puts a checkpoint's state back into a fresh aggregation whose output was opened at the checkpoint. */
async function restore(agg: JobAggregation, checkpoint: AggregatorCheckpoint): Promise<void> {
  const s = checkpoint.snapshot;
  agg.next = s.next;
  for (const [index, outcome] of s.pending) agg.pending.set(index, outcome);
  agg.finished = s.finished;
  agg.written = s.written;
  agg.failed = s.failed;
  agg.duplicates = s.duplicates;
  agg.deadlineMisses = s.deadlineMisses;
  for (const [phi, n] of s.phiHistogram) agg.phiHistogram.set(phi, n);
  agg.phiRanges.push(...s.phiRanges);
  for (const [worker, n] of s.framesByWorker) agg.framesByWorker.set(worker, n);
  agg.startedAtMs = s.startedAtMs;
  for (const t of checkpoint.tracks) agg.tracks.set(t.trackId, t);
  agg.motLines.push(...checkpoint.motLines);
  agg.motSaved = agg.motLines.length;
  if (agg.previewFrames) for (const line of checkpoint.previewLines) agg.previewFrames.push(JSON.parse(line));
  agg.previewSaved = agg.previewFrames?.length ?? 0;
  agg.finishing = s.finishing;
  // The lines after the last written part were only buffered by the crashed aggregator: buffer them again.
  if (!s.finishing && checkpoint.lines.length > 0) {
    const partsBefore = agg.output.tracksPartsWritten;
    await agg.output.appendTracks(`${checkpoint.lines.join("\n")}\n`);
    agg.linesInPart = agg.output.tracksPartsWritten !== partsBefore;
  }
}

/** preview.mp4 when the job asked for it; a preview that cannot be written is a job error, not a failed job. */
async function writeJobPreview(
  agg: JobAggregation,
  config: AggregatorConfig,
  log: StageLogger,
): Promise<boolean> {
  if (!agg.job.spec.preview || agg.written === 0) return false;
  const fail = async (message: string) => {
    metrics.error("aggregator", "preview");
    log.warn({ jobId: agg.job.id, stage: "aggregator", err: message }, "no preview");
    await config.jobStore.addError(agg.job.id, { stage: "aggregator", message });
    return false;
  };
  if (!agg.previewFrames)
    return fail("no preview.mp4: the input is a live stream, which cannot be read a second time");
  try {
    await writePreview(
      agg.job.spec.input,
      agg.previewFrames,
      agg.output,
      config.openInput ?? (async (i) => i),
    );
    return true;
  } catch (error) {
    return fail(`preview.mp4 not written: ${(error as Error).message}`);
  }
}

/**
 * Latency jobs: a frame's deadline is its chunk's enqueue time plus the budget; the worker reports each frame's
 * slack against it when its detections were ready (older workers: the chunk's queueMs + computeMs). Records each
 * accepted frame's slack and returns the misses.
 */
function countDeadlineMisses(agg: JobAggregation, batch: DetectionBatch, frames: FrameDetections[]): number {
  const budgetMs = agg.job.spec.latencyBudgetMs;
  if (agg.job.spec.mode !== "latency" || budgetMs === undefined) return 0;
  let misses = 0;
  for (const frame of frames) {
    const slackMs = frame.slackMs ?? budgetMs - (batch.queueMs + batch.computeMs);
    metrics.slack(slackMs, "done");
    if (slackMs < 0) misses++;
  }
  agg.deadlineMisses += misses;
  return misses;
}

/** Frames per second of the sampled stream, for the tracker's ages. */
function samplingFps(job: StoredJob): number {
  const sampling = job.spec.sampling;
  if ("fps" in sampling) return Math.min(sampling.fps, job.video?.fps ?? sampling.fps);
  return (job.video?.fps ?? 30) / sampling.everyNth;
}

function trackFrame(agg: JobAggregation, frame: FrameDetections): string {
  const count = frame.scores.length;
  const trackStarted = performance.now();
  const tracked = agg.tracker.update({
    boxes: Float64Array.from(frame.boxes),
    scores: Float64Array.from(frame.scores),
    classes: Int32Array.from(frame.classes),
  });
  metrics.trackerUpdate(performance.now() - trackStarted);
  const trackIds = new Array<number | null>(count).fill(null);
  for (const t of tracked) {
    trackIds[t.detectionIndex] = t.trackId;
    const box = frame.boxes.slice(t.detectionIndex * 4, t.detectionIndex * 4 + 4);
    const score = frame.scores[t.detectionIndex];
    agg.motLines.push(
      `${frame.index + 1},${t.trackId},${r2(box[0])},${r2(box[1])},${r2(box[2] - box[0])},${r2(box[3] - box[1])},${score},-1,-1,-1\n`,
    );
    agg.dirtyTracks.add(t.trackId);
    const s = agg.tracks.get(t.trackId);
    if (s) {
      s.lastFrame = frame.index;
      s.length++;
      s.scoreSum += score;
    } else {
      agg.tracks.set(t.trackId, {
        trackId: t.trackId,
        classId: frame.classes[t.detectionIndex],
        label: labelOf(agg.models, frame.phi, frame.classes[t.detectionIndex]),
        firstFrame: frame.index,
        lastFrame: frame.index,
        length: 1,
        scoreSum: score,
      });
    }
  }
  const phi = frame.phi;
  agg.phiHistogram.set(String(phi), (agg.phiHistogram.get(String(phi)) ?? 0) + 1);
  const last = agg.phiRanges.at(-1);
  if (last && last.phi === phi && last.toFrame === frame.index - 1) last.toFrame = frame.index;
  else agg.phiRanges.push({ fromFrame: frame.index, toFrame: frame.index, phi });
  const detections = [];
  for (let i = 0; i < count; i++) {
    detections.push({
      box: frame.boxes.slice(i * 4, i * 4 + 4),
      score: frame.scores[i],
      class: frame.classes[i],
      label: labelOf(agg.models, phi, frame.classes[i]),
      trackId: trackIds[i],
    });
  }
  return JSON.stringify({ frame: frame.index, ptsMs: frame.ptsMs, phi, detections });
}

const r2 = (v: number) => Math.round(v * 100) / 100;

function summary(agg: JobAggregation) {
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

function manifest(agg: JobAggregation, state: string, config: AggregatorConfig, files: string[]) {
  const event = agg.finished!;
  const used = agg.phiRanges.map((r) => modelFor(agg.models, r.phi));
  return {
    vdet: config.version ?? "0.1.0",
    jobId: agg.job.id,
    state,
    spec: agg.job.spec,
    video: event.video,
    frames: {
      sampled: event.totalFrames,
      written: agg.written,
      failed: agg.failed,
      duplicatesDropped: agg.duplicates,
    },
    deadline: { budgetMs: agg.job.spec.latencyBudgetMs ?? null, misses: agg.deadlineMisses },
    models: agg.phiRanges.map((r) => ({
      ...r,
      model: `EfficientDet-${phiLabel(r.phi)}`,
      weights: config.modelDescription?.(r.phi) ?? agg.models[String(r.phi)]?.weights ?? "unknown",
      labels: modelFor(agg.models, r.phi).source,
    })),
    // The class names of each model above that has its own (COCO's map is in the docs).
    labels: Object.fromEntries(used.filter((m) => m.source !== COCO_SOURCE).map((m) => [m.source, m.labels])),
    phiHistogram: Object.fromEntries(agg.phiHistogram),
    framesByWorker: Object.fromEntries(agg.framesByWorker),
    error: event.error,
    timings: {
      aggregatorStartedAtMs: agg.startedAtMs,
      finishedAtMs: Date.now(),
      jobCreatedAtMs: agg.job.createdAtMs,
    },
    files,
  };
}
