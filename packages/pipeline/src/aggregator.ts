// Aggregator stage: takes each job's results as workers send them, puts them back in order (reorder-buffer.ts),
// tracks them and appends tracks.jsonl as frames become contiguous (job-aggregation.ts), and writes tracks.mot.txt,
// summary.json and manifest.json (job-report.ts) once every sampled frame is accounted for (an archive job with
// `refine` also tracks.refined.mot.txt, job-refine.ts, before the manifest). A job with zones also
// gets events.jsonl (appended like tracks.jsonl) and analytics.json (rewritten while it runs, final at the end). With `checkpoints`, each
// job's state is saved before the message that changed it is acked, and an aggregator that starts after a crash
// resumes the job from it (aggregator-checkpoint.ts).

import { isVdetError } from "@vdet/errors";
import type { JobStore, ModelRegistry } from "@vdet/jobs";
import { metrics } from "@vdet/metrics";
import { vdetVersion } from "@vdet/models";
import {
  type DetectionBatch,
  type FrameDetectionsMessage,
  isTerminal,
  type JobEvent,
  type PhiValue,
  STREAM_DEFAULTS,
  sampledFps,
  unpackFrames,
} from "@vdet/protocol";
import type { Consumer, Transport } from "@vdet/transport";
import type { VideoInput } from "@vdet/video";
import type { AggregatorCheckpoints, Outcome } from "./aggregator-checkpoint.ts";
import { JobAggregation } from "./job-aggregation.ts";
import type { JobOutputFactory } from "./job-output.ts";
import { REFINED_MOT_FILE, refineJobTracks } from "./job-refine.ts";
import { jobManifest, jobSummary } from "./job-report.ts";
import { type StageLogger, silentLogger } from "./logger.ts";
import { writePreview } from "./preview.ts";
import type { Stage } from "./producer.ts";

export interface AggregatorConfig {
  transport: Transport;
  jobStore: JobStore;
  openOutput: JobOutputFactory;
  /** Describes the models for the manifest (φ → weights name), e.g. "untrained (seeded, seed 0)". */
  modelDescription?: (phi: PhiValue) => string;
  /** What the workers run per φ, read when a job's first results arrive: class names (default: COCO). */
  models?: ModelRegistry;
  logger?: StageLogger;
  /** Opens a job's input again for preview.mp4 (s3:// → a stream); default: as given. */
  openInput?: (input: string) => Promise<VideoInput>;
  /** Called when a job reaches a terminal state. */
  onJobFinished?: (jobId: string, state: string) => void;
  /** Where job state is checkpointed (Redis); without it a restarted aggregator cannot resume a job. */
  checkpoints?: AggregatorCheckpoints;
}

interface StreamSample {
  atMs: number;
  decoded: number;
  written: number;
  misses: number;
}

/** How often a running job's analytics.json is rewritten, at most. */
const ANALYTICS_WRITE_MS = 1000;

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
        let output: Awaited<ReturnType<JobOutputFactory>>;
        try {
          const { tracksPartsWritten, timeParts } = checkpoint?.snapshot ?? {};
          output = await config.openOutput(
            jobId,
            job.output,
            checkpoint
              ? {
                  tracksPartsWritten: tracksPartsWritten ?? 0,
                  timeParts,
                  eventsPartsWritten: checkpoint.snapshot.eventsPartsWritten ?? 0,
                }
              : undefined,
            { stream: job.spec.stream, events: job.spec.zones !== undefined },
          );
        } catch (error) {
          // An output that cannot be opened (a file where a folder must be, no permission) would fail the same
          // way on every redelivery: the job fails at once, naming the output, instead of waiting forever.
          if (!outputUnusable(error)) throw error;
          const message = `cannot write to ${job.output}: ${outputReason(error)}`;
          log.error({ jobId, stage: "aggregator", err: message }, "job failed");
          await config.jobStore.addError(jobId, { stage: "aggregator", message });
          await config.jobStore.setState(jobId, "failed");
          metrics.jobFinished("failed");
          config.onJobFinished?.(jobId, "failed");
          return "ended" as const;
        }
        const models = (await config.models?.read()) ?? {};
        if (!checkpoint) {
          const agg = JobAggregation.start(job, output, models);
          if (agg.analyticsProblem) {
            log.warn({ jobId, stage: "aggregator", err: agg.analyticsProblem }, "no analytics");
            await config.jobStore.addError(jobId, { stage: "aggregator", message: agg.analyticsProblem });
          }
          return agg;
        }
        const agg = await JobAggregation.restore(job, output, models, checkpoint);
        log.info(
          {
            jobId,
            stage: "aggregator",
            next: agg.reorder.next,
            pending: agg.reorder.waiting,
            finishing: agg.state.finishing,
          },
          "resumed from checkpoint",
        );
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

  /**
   * The one way the job's state leaves the aggregator, after each message it handles and before that message is
   * acked: with checkpoints, a checkpoint of what changed since the last one, with the job's progress set in the
   * same save (a redone drain must not count twice); without, the progress added to the job record.
   */
  const commit = async (agg: JobAggregation): Promise<void> => {
    if (config.checkpoints) {
      const save = agg.checkpointSave();
      await config.checkpoints.save(agg.job.id, save);
      agg.checkpointSaved(save);
      agg.output.committed?.();
      return;
    }
    agg.output.committed?.();
    const progress = agg.progress();
    const written = progress.written - agg.progressReported.written;
    const deadlineMisses = progress.deadlineMisses - agg.progressReported.deadlineMisses;
    if (written === 0 && deadlineMisses === 0) return;
    await config.jobStore.addProgress(agg.job.id, { written, deadlineMisses });
    agg.progressReported = progress;
  };

  /** A stream's last measurement, per aggregation: what its figures are measured against. */
  const streamSamples = new WeakMap<JobAggregation, StreamSample>();
  /** Streams: the figures GET /streams shows, measured every statsIntervalMs over the time since the last. */
  const measureStream = async (agg: JobAggregation): Promise<void> => {
    if (!agg.job.spec.stream) return;
    const atMs = Date.now();
    const last = streamSamples.get(agg);
    if (last && atMs - last.atMs < STREAM_DEFAULTS.statsIntervalMs) return;
    const decoded = (await config.jobStore.get(agg.job.id))?.progress.decoded ?? 0;
    const sample = { atMs, decoded, written: agg.state.written, misses: agg.state.deadlineMisses };
    streamSamples.set(agg, sample);
    if (!last) return;
    const seconds = (atMs - last.atMs) / 1000;
    const written = sample.written - last.written;
    await config.jobStore.setStreamStats(agg.job.id, {
      atMs,
      fpsIn: Math.max(0, sample.decoded - last.decoded) / seconds,
      fpsOut: written / seconds,
      deadlineHitRate: written > 0 ? Math.max(0, 1 - (sample.misses - last.misses) / written) : null,
      phi: agg.state.phiRanges.at(-1)?.phi ?? null,
    });
  };

  /** Writes the frames that became contiguous, commits, and finishes the job once every frame is in. */
  const advance = async (agg: JobAggregation): Promise<void> => {
    await drain(agg);
    await commit(agg);
    await measureStream(agg);
    await writeAnalytics(agg, false);
    const finished = agg.state.finished;
    if (finished && agg.reorder.next >= finished.totalFrames && !agg.done) await finish(agg);
  };

  const drain = async (agg: JobAggregation): Promise<void> => {
    const lines: string[] = [];
    let written = 0;
    let failed = 0;
    let skipped = 0;
    for (const outcome of agg.reorder.release()) {
      lines.push(agg.lineFor(outcome));
      if (outcome.kind === "ok") written++;
      else if (outcome.failure.skipped) skipped++;
      else failed++;
    }
    if (lines.length > 0) {
      if (agg.previewFrames) for (const line of lines) agg.previewFrames.push(JSON.parse(line));
      const started = performance.now();
      await agg.appendLines(lines);
      metrics.sinkWrite("append", performance.now() - started);
      agg.state.written += written;
      agg.state.failed += failed;
      agg.state.skipped += skipped;
      metrics.framesWritten(written);
      metrics.framesFailed(failed);
      metrics.framesSkipped(skipped);
    }
  };

  /**
   * analytics.json: the counts so far, rewritten at most every ANALYTICS_WRITE_MS while the job runs (the job page
   * reads it) and once more at the end. It is computed from the checkpointed state alone, so a resumed job writes
   * the same file.
   */
  const writeAnalytics = async (agg: JobAggregation, final: boolean): Promise<void> => {
    if (!agg.analytics || (!final && !agg.analyticsChanged)) return;
    const now = performance.now();
    if (!final && now - agg.analyticsWrittenAt < ANALYTICS_WRITE_MS) return;
    const body = `${JSON.stringify(agg.analytics.summary(), null, 2)}\n`;
    await agg.output.put("analytics.json", body, "application/json");
    agg.analyticsChanged = false;
    agg.analyticsWrittenAt = now;
    metrics.sinkWrite("put", performance.now() - now);
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
    if (!agg.state.finishing) {
      await agg.beginFinishing();
      try {
        await commit(agg);
      } catch (error) {
        agg.state.finishing = false;
        throw error;
      }
    }
    const event = agg.state.finished!;
    const current = await config.jobStore.get(agg.job.id);
    const gapsFail = agg.job.spec.onGap === "fail" && (event.gaps ?? []).length > 0;
    const state =
      event.cancelled || current?.cancelRequested
        ? "cancelled"
        : event.error || gapsFail
          ? "failed"
          : "completed";
    if (gapsFail && state === "failed" && !agg.state.gapsReported) {
      agg.state.gapsReported = true;
      const message = `the input had ${(event.gaps ?? []).length} gap(s) and the job asked onGap: "fail"`;
      await config.jobStore.addError(agg.job.id, { stage: "aggregator", message });
    }
    const skipped = agg.state.analyticsSkippedFrames;
    if (skipped > 0 && !agg.state.analyticsSkipReported) {
      agg.state.analyticsSkipReported = true;
      const message = `${skipped} frame(s) left out of events.jsonl and analytics.json: their timestamps went back`;
      await config.jobStore.addError(agg.job.id, { stage: "aggregator", message });
    }
    const timed = async (operation: "put" | "finish", write: () => Promise<void>) => {
      const started = performance.now();
      await write();
      metrics.sinkWrite(operation, performance.now() - started);
    };
    await timed("finish", () => agg.output.finish());
    // A stream keeps no tracks.mot.txt (one object that would grow for as long as it runs).
    if (!agg.job.spec.stream)
      await timed("put", () => agg.output.put("tracks.mot.txt", agg.motLines.join(""), "text/plain"));
    await timed("put", () =>
      agg.output.put("summary.json", `${JSON.stringify(jobSummary(agg), null, 2)}\n`, "application/json"),
    );
    const files = agg.job.spec.stream
      ? [agg.output.tracksIndex ?? "tracks.jsonl", "summary.json", "manifest.json"]
      : [agg.output.tracksIndex ?? "tracks.jsonl", "tracks.mot.txt", "summary.json", "manifest.json"];
    if (agg.analytics) {
      await writeAnalytics(agg, true);
      files.push("events.jsonl", "analytics.json");
    }
    // The offline refinement, from the job's MOT rows at its sampled rate (a cancelled job is left as it stopped).
    if (agg.job.spec.refine && !agg.job.spec.stream && state !== "cancelled") {
      const refineStarted = performance.now();
      const classOf = new Map([...agg.tracks.values()].map((t) => [t.trackId, t.classId]));
      const fps = sampledFps(agg.job.spec.sampling, event.video?.fps ?? agg.job.video?.fps);
      const refined = refineJobTracks(agg.motLines.join(""), classOf, fps);
      log.info(
        {
          jobId: agg.job.id,
          stage: "aggregator",
          rows: refined.rows,
          ms: Math.round(performance.now() - refineStarted),
        },
        "tracks refined",
      );
      await timed("put", () => agg.output.put(REFINED_MOT_FILE, refined.text, "text/plain"));
      files.push(REFINED_MOT_FILE);
    }
    if (await writeJobPreview(agg, config, log)) files.push("preview.mp4");
    const manifest = jobManifest(agg, {
      state,
      files,
      version: vdetVersion(),
      modelDescription: config.modelDescription,
    });
    await timed("put", () =>
      agg.output.put("manifest.json", `${JSON.stringify(manifest, null, 2)}\n`, "application/json"),
    );
    await config.jobStore.setState(agg.job.id, state);
    metrics.jobFinished(state);
    log.info(
      { jobId: agg.job.id, stage: "aggregator", state, frames: agg.state.written, failed: agg.state.failed },
      "job finished",
    );
    await config.checkpoints?.remove(agg.job.id);
    await config.jobStore.clearInFlight(agg.job.id);
    config.onJobFinished?.(agg.job.id, state);
    jobs.delete(agg.job.id);
  };

  /**
   * Runs an output write. A non-retryable error here (every storage error: already retried with backoff by the
   * storage layer, or one a retry cannot fix: bad credentials, a conflicting object) would only repeat if the
   * message were redelivered: the job fails, naming the write, and nothing more is written for it.
   */
  const writing = async (agg: JobAggregation, write: () => Promise<void>): Promise<void> => {
    try {
      await write();
    } catch (error) {
      if (!isVdetError(error) || error.retryable) throw error;
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
      // A redelivered frame's deadline was counted with its first delivery.
      const fresh = unpackFrames(batch.packed).filter((frame) =>
        agg.reorder.accept(
          frame.index,
          batch.capture === undefined ? { kind: "ok", frame } : { kind: "ok", frame, capture: batch.capture },
        ),
      );
      let accepted = fresh.length;
      for (const failure of batch.failed) {
        const outcome: Outcome =
          batch.capture === undefined
            ? { kind: "failed", failure }
            : { kind: "failed", failure, capture: batch.capture };
        if (agg.reorder.accept(failure.index, outcome)) accepted++;
      }
      countDeadlineMisses(agg, batch, fresh);
      const { framesByWorker } = agg.state;
      framesByWorker[batch.worker] = (framesByWorker[batch.worker] ?? 0) + accepted;
      await writing(agg, () => advance(agg));
    });

  const onEvent = (event: JobEvent): Promise<void> =>
    serial(event.jobId, async () => {
      const agg = await aggregation(event.jobId);
      if (!agg || agg === "ended" || agg.done) return;
      agg.state.finished = event;
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
    jobs: () => [...jobs.keys()],
  };
}

/** preview.mp4 when the job asked for it; a preview that cannot be written is a job error, not a failed job. */
async function writeJobPreview(
  agg: JobAggregation,
  config: AggregatorConfig,
  log: StageLogger,
): Promise<boolean> {
  if (!agg.job.spec.preview || agg.state.written === 0) return false;
  const fail = async (message: string) => {
    metrics.error("aggregator", "preview");
    log.warn({ jobId: agg.job.id, stage: "aggregator", err: message }, "no preview");
    await config.jobStore.addError(agg.job.id, { stage: "aggregator", message });
    return false;
  };
  if (!agg.previewFrames)
    return fail("no preview.mp4: the input is a live stream, which cannot be read a second time");
  // The job page shows `rendering` with this progress until the job ends (reported at most twice a second).
  let reported = 0;
  let pending = Promise.resolve();
  const report = (done: number, total: number | null) => {
    if (Date.now() - reported < 500) return;
    reported = Date.now();
    pending = pending.then(() => config.jobStore.setRendering(agg.job.id, { done, total })).catch(() => {});
  };
  try {
    await config.jobStore.setRendering(agg.job.id, { done: 0, total: null });
    await writePreview(
      agg.job.spec.input,
      agg.previewFrames,
      agg.output,
      config.openInput ?? (async (i) => i),
      agg.job.spec.previewRange,
      report,
      agg.analytics ? agg.job.spec.zones : undefined,
    );
    return true;
  } catch (error) {
    return fail(`preview.mp4 not written: ${(error as Error).message}`);
  } finally {
    await pending;
    await config.jobStore.setRendering(agg.job.id, null);
  }
}

/**
 * Latency jobs: a frame's deadline is its chunk's enqueue time plus the budget; the worker reports each frame's
 * slack against it when its detections were ready (older workers: the chunk's queueMs + computeMs). Records each
 * accepted frame's slack and counts the misses.
 */
function countDeadlineMisses(
  agg: JobAggregation,
  batch: DetectionBatch,
  frames: FrameDetectionsMessage[],
): void {
  const budgetMs = agg.job.spec.latencyBudgetMs;
  if (agg.job.spec.mode !== "latency" || budgetMs === undefined) return;
  let misses = 0;
  for (const frame of frames) {
    const slackMs = frame.slackMs ?? budgetMs - (batch.queueMs + batch.computeMs);
    metrics.slack(slackMs, "done");
    if (slackMs < 0) misses++;
  }
  agg.state.deadlineMisses += misses;
}

const UNUSABLE_OUTPUT_CODES: Record<string, string> = {
  EEXIST: "it is a file, not a directory",
  ENOTDIR: "a part of the path is a file, not a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
};

/** An error opening a job's output that a retry cannot fix. */
function outputUnusable(error: unknown): boolean {
  if (isVdetError(error)) return !error.retryable;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code in UNUSABLE_OUTPUT_CODES;
}

function outputReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (!isVdetError(error) && typeof code === "string" && code in UNUSABLE_OUTPUT_CODES)
    return UNUSABLE_OUTPUT_CODES[code];
  return error instanceof Error ? error.message : String(error);
}
