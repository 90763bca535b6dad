// Worker stage: takes frame chunks from any job, fetches their pixels, and puts the frames in one queue in front
// of the model runner; the φ policy (@vdet/scheduler) picks each batch's φ and frames from that queue — the most
// accurate φ whose predicted time fits the tightest deadline in the batch, earliest deadlines first, archive frames
// when no deadline waits. Boxes go back to source pixels and one detection message per chunk goes to the
// aggregator. Stateless across restarts: any number of workers can share the queue.

import { hostname } from "node:os";
import { WORKER_DEFAULTS } from "@vdet/config";
import type { PostprocessOptions } from "@vdet/effdet";
import { isRetryable, VdetError } from "@vdet/errors";
import { decodeImage } from "@vdet/image";
import type { JobStore } from "@vdet/jobs";
import { metrics } from "@vdet/metrics";
import {
  type DetectionBatch,
  type FrameChunk,
  type FrameDetectionsToPack,
  type FrameFailure,
  type PhiValue,
  packFrames,
  type SegmentWork,
  sampledFps,
} from "@vdet/protocol";
import { chooseArchivePhi, LatencyProfile, type PhiPolicyOptions } from "@vdet/scheduler";
import { type Consumer, DEFAULT_ATTEMPTS, type Transport } from "@vdet/transport";
import { PIPELINE_ERRORS } from "./error-codes.ts";
import { type BatchRecord, FrameScheduler } from "./frame-scheduler.ts";
import { boxesToSource, padToSquare } from "./letterbox.ts";
import { type StageLogger, silentLogger } from "./logger.ts";
import type { ModelProvider } from "./models.ts";
import type { Stage } from "./producer.ts";
import { framePtsMs, type SegmentDecoderOptions, segmentDecoder } from "./segments.ts";

export interface WorkerConfig {
  transport: Transport;
  jobStore: JobStore;
  models: ModelProvider;
  maxBatch?: number;
  maxDelayMs?: number;
  /** Chunks in hand at once; enough to fill a batch from several chunks. */
  concurrency?: number;
  name?: string;
  logger?: StageLogger;
  /**
   * This worker's latency per φ and batch size (measured at start-up by `profileModels`, or loaded from the
   * cache). Without one the worker starts empty: latency jobs run their smallest φ until it is measured.
   */
  profile?: LatencyProfile;
  policy?: Omit<PhiPolicyOptions, "maxBatch">;
  /** How often archive jobs' φ choice and the live worker count are refreshed, ms. */
  archiveRefreshMs?: number;
  /** Segments in hand at once (each runs one decoder). */
  segmentConcurrency?: number;
  /** How segments are read (their input, input kinds, stall timeout, NVDEC); default: inputs as given. */
  segmentDecoding?: Omit<SegmentDecoderOptions, "frameStore">;
}

/** A chunk or a segment, as the frame queue and the report need it. */
type WorkUnit = Pick<
  SegmentWork,
  | "jobId"
  | "letterbox"
  | "phi"
  | "mode"
  | "latencyBudgetMs"
  | "scoreThreshold"
  | "classes"
  | "priority"
  | "enqueuedAtMs"
  | "overload"
  | "target"
  | "size"
  | "capture"
> & {
  /** The chunk or segment number. */
  unit: number;
  /** The results message's id (de-duplicates a redelivered unit's report while it is queued). */
  resultId: string;
  /** The unit's frames not in `seen`, as failures with `reason`. */
  missing(seen: Set<number>, reason: string): FrameFailure[];
};

/** A frame of a unit: its square pixels, or why it has none. */
type UnitFrame =
  | { index: number; ptsMs: number; data: Uint8Array }
  | { index: number; ptsMs: number; failure: string };

export interface WorkerStage extends Stage {
  /** Sizes of the batches run so far, per φ. */
  batchSizes(): Record<string, number[]>;
  /** The batches run so far: φ, size, time, and why that φ. */
  batches(): readonly BatchRecord[];
  /** The profile the policy plans with (start-up measurements, refreshed by every run). */
  readonly profile: LatencyProfile;
}

interface ArchiveChoiceCache {
  phi: PhiValue;
  atMs: number;
}

export function startWorker(config: WorkerConfig): WorkerStage {
  const log = config.logger ?? silentLogger;
  const name = config.name ?? `${hostname()}:${process.pid}`;
  const maxBatch = config.maxBatch ?? WORKER_DEFAULTS.maxBatch;
  const profile = config.profile ?? new LatencyProfile();
  const refreshMs = config.archiveRefreshMs ?? 5000;
  const decodeSegment = segmentDecoder({
    ...config.segmentDecoding,
    frameStore: config.transport.frameStore,
  });
  const scheduler = new FrameScheduler({
    models: config.models,
    profile,
    maxBatch,
    maxDelayMs: config.maxDelayMs ?? WORKER_DEFAULTS.maxDelayMs,
    policy: config.policy,
  });

  // Archive jobs with a throughput target: the φ is chosen per job from the profile, the live worker count and
  // the frames left, and refreshed now and then (not per chunk: the worker count is a Redis round trip).
  const archiveChoices = new Map<string, ArchiveChoiceCache>();
  let workers = { count: 1, atMs: 0 };
  const archivePhi = async (chunk: WorkUnit): Promise<PhiValue> => {
    if (!chunk.target) return chunk.phi.max;
    const now = Date.now();
    const cached = archiveChoices.get(chunk.jobId);
    if (cached && now - cached.atMs < refreshMs) return cached.phi;
    if (now - workers.atMs >= refreshMs) {
      workers = { count: Math.max(1, await config.transport.segments.consumerCount()), atMs: now };
    }
    let remainingFrames: number | undefined;
    if (chunk.target.finishByMs !== undefined) {
      const job = await config.jobStore.get(chunk.jobId);
      const total = job?.progress.total ?? estimatedFrames(job);
      if (job && total !== undefined) remainingFrames = Math.max(0, total - job.progress.inferred);
    }
    const choice = chooseArchivePhi({
      phiMin: chunk.phi.min,
      phiMax: chunk.phi.max,
      target: chunk.target,
      profile,
      maxBatch,
      workers: workers.count,
      remainingFrames,
      nowMs: now,
    });
    if (cached?.phi !== choice.phi) {
      log.info(
        { jobId: chunk.jobId, stage: "worker", workers: workers.count, ...choice },
        "archive φ chosen for the throughput target",
      );
    }
    archiveChoices.set(chunk.jobId, { phi: choice.phi, atMs: now });
    if (archiveChoices.size > 10_000) archiveChoices.delete(archiveChoices.keys().next().value!);
    return choice.phi;
  };

  /**
   * Runs a work unit's frames through the frame queue as they arrive (the source may still be decoding while
   * earlier frames wait for a batch; at most `maxOutstanding` of its frames wait at once), then sends one message
   * with every frame's detections, packed, and reports the unit done.
   */
  const held = new Map<string, number>();
  const runUnit = async (
    unit: WorkUnit,
    attempt: number,
    frames: AsyncIterable<UnitFrame>,
  ): Promise<void> => {
    held.set(unit.jobId, (held.get(unit.jobId) ?? 0) + 1);
    try {
      await runHeldUnit(unit, attempt, frames);
    } finally {
      const left = (held.get(unit.jobId) ?? 1) - 1;
      if (left > 0) held.set(unit.jobId, left);
      else held.delete(unit.jobId);
    }
  };
  const runHeldUnit = async (
    unit: WorkUnit,
    attempt: number,
    frames: AsyncIterable<UnitFrame>,
  ): Promise<void> => {
    const receivedMs = Date.now();
    const options: PostprocessOptions = {
      scoreThreshold: unit.scoreThreshold,
      classes: unit.classes ? new Set(unit.classes) : undefined,
    };
    const latency = unit.mode === "latency" && unit.latencyBudgetMs !== undefined;
    const deadlineMs = latency ? unit.enqueuedAtMs + unit.latencyBudgetMs! : Number.POSITIVE_INFINITY;
    const phiForArchive = latency ? undefined : await archivePhi(unit);
    const done: FrameDetectionsToPack[] = [];
    const failed: FrameFailure[] = [];
    const inferenceFailures: FrameFailure[] = [];
    const skipped: FrameFailure[] = [];
    let computeStarted = Number.POSITIVE_INFINITY;
    const outstanding = new Set<Promise<void>>();
    const maxOutstanding = maxBatch * 2;
    let sourceError: unknown;
    try {
      for await (const frame of frames) {
        if ("failure" in frame) {
          failed.push({ index: frame.index, ptsMs: frame.ptsMs, reason: frame.failure });
          continue;
        }
        computeStarted = Math.min(computeStarted, Date.now());
        const { index, ptsMs } = frame;
        const running = scheduler
          .submit({
            group: unit.jobId,
            deadlineMs,
            budgetMs: unit.latencyBudgetMs,
            phiMin: unit.phi.min,
            phiMax: unit.phi.max,
            archivePhi: phiForArchive,
            frame: { width: unit.size, height: unit.size, data: frame.data },
            options,
            overload: latency ? unit.overload : undefined,
          })
          .then(
            (result) => {
              if ("skipped" in result) {
                skipped.push({ index, ptsMs, reason: result.skipped, skipped: true });
                return;
              }
              boxesToSource(result.detections.xyxy, unit.letterbox);
              const slackMs = result.slackMs === undefined ? undefined : Math.round(result.slackMs);
              done.push({ index, ptsMs, phi: result.phi, detections: result.detections, slackMs });
            },
            (error) => {
              const reason = `inference failed: ${error instanceof Error ? error.message : String(error)}`;
              inferenceFailures.push({ index, ptsMs, reason });
            },
          )
          .finally(() => outstanding.delete(running));
        outstanding.add(running);
        if (outstanding.size >= maxOutstanding) await Promise.race(outstanding);
      }
    } catch (error) {
      sourceError = error;
    }
    await Promise.all(outstanding);
    // A failed inference may be transient (a runner restarting), and so may a failed read of the source: give the
    // unit back for another attempt while attempts remain; only the last attempt reports its frames as failed.
    const lastAttempt = attempt >= DEFAULT_ATTEMPTS;
    if (sourceError !== undefined) {
      // A source that cannot be read (missing, refused, expired) fails its frames at once.
      if (!lastAttempt && isRetryable(sourceError)) throw sourceError;
      const reason = `segment not decoded: ${sourceError instanceof Error ? sourceError.message : String(sourceError)}`;
      failed.push(
        ...unit.missing(
          new Set([...done, ...failed, ...inferenceFailures, ...skipped].map((f) => f.index)),
          reason,
        ),
      );
    }
    if (inferenceFailures.length > 0 && !lastAttempt)
      throw new VdetError(PIPELINE_ERRORS.INFERENCE_FAILED, inferenceFailures[0].reason);
    // Skipped frames are reported with the failed ones (flagged `skipped`): one list of frames without detections.
    failed.push(...inferenceFailures, ...skipped);
    // Frames the unit should have had and the source did not give (an input that changed since it was planned).
    const seen = new Set([...done, ...failed].map((f) => f.index));
    failed.push(...unit.missing(seen, "the source gave fewer frames than planned (did the input change?)"));
    done.sort((a, b) => a.index - b.index);
    failed.sort((a, b) => a.index - b.index);
    const now = Date.now();
    const started = Math.min(computeStarted, now);
    const batch: DetectionBatch = {
      jobId: unit.jobId,
      chunk: unit.unit,
      packed: packFrames(done, unit.letterbox),
      failed,
      worker: name,
      ...(unit.capture === undefined ? {} : { capture: unit.capture }),
      // From the producer's enqueue (the deadline's origin) to the first frame reaching the model queue.
      queueMs: Math.max(0, started - Math.min(unit.enqueuedAtMs, receivedMs)),
      computeMs: now - started,
    };
    await config.transport.results.add(batch, { id: unit.resultId, priority: unit.priority });
    await config.jobStore.completeUnit(unit.jobId, unit.unit, {
      inferred: done.length,
      failed: failed.length,
    });
    const failures = failed.filter((f) => !f.skipped);
    if (failures.length > 0)
      log.warn({ jobId: unit.jobId, stage: "worker", failed: failures.length }, failures[0].reason);
    if (skipped.length > 0)
      log.info({ jobId: unit.jobId, stage: "worker", skipped: skipped.length }, skipped[0].reason);
  };

  /** A chunk: its frames' pixels from the frame store (fetched at once, run in order). */
  const handleChunk = async (chunk: FrameChunk, attempt: number): Promise<void> => {
    const fetched = chunk.frames.map((ref) => config.transport.frameStore.get(ref.key));
    async function* frames(): AsyncGenerator<UnitFrame> {
      for (const [i, ref] of chunk.frames.entries()) {
        const data = await fetched[i];
        if (!data) {
          metrics.error("worker", "expired_frame");
          yield { ...ref, failure: "frame pixels expired or missing in the frame store" };
        } else if (chunk.encoding === "jpeg") {
          const decoded = decodeStoredJpeg(data, chunk);
          if (typeof decoded === "string") {
            metrics.error("worker", "bad_frame");
            yield { ...ref, failure: decoded };
          } else yield { index: ref.index, ptsMs: ref.ptsMs, data: decoded };
        } else if (data.length !== chunk.size * chunk.size * 3) {
          metrics.error("worker", "bad_frame_size");
          yield { ...ref, failure: `frame has ${data.length} bytes, not ${chunk.size}² RGB` };
        } else yield { index: ref.index, ptsMs: ref.ptsMs, data };
      }
    }
    const indices = chunk.frames.map((f) => f);
    await runUnit(
      {
        ...chunk,
        unit: chunk.chunk,
        resultId: `${chunk.jobId}-${chunk.chunk}`,
        missing: (seen, reason) =>
          indices.filter((f) => !seen.has(f.index)).map((f) => ({ index: f.index, ptsMs: f.ptsMs, reason })),
      },
      attempt,
      frames(),
    );
    await config.transport.frameStore.delete(chunk.frames.map((f) => f.key));
  };

  /** A segment: decoded here, from the job's input or a recorded live segment, letterboxed for its φ range. */
  const handleSegment = async (segment: SegmentWork, attempt: number): Promise<void> => {
    const { letterbox, size } = segment;
    // A cancelled job's queued segments are not decoded: their frames are reported as failed at once, so the job
    // ends without running them (one job-store read per segment).
    const cancelled = (await config.jobStore.get(segment.jobId))?.cancelRequested ?? true;
    async function* frames(): AsyncGenerator<UnitFrame> {
      if (cancelled) {
        for (let i = segment.firstIndex; i < segment.firstIndex + segment.frames; i++)
          yield { index: i, ptsMs: segment.startPtsMs, failure: "not decoded: the job was cancelled" };
        return;
      }
      for await (const frame of decodeSegment(segment, {
        width: letterbox.contentWidth,
        height: letterbox.contentHeight,
      })) {
        if (frame.index < segment.firstIndex || frame.index >= segment.firstIndex + segment.frames) continue;
        metrics.framesDecoded();
        yield {
          index: frame.index,
          ptsMs: framePtsMs(frame.ptsSeconds),
          data: padToSquare(frame.data, frame.width, frame.height, size),
        };
      }
    }
    await runUnit(
      {
        ...segment,
        unit: segment.segment,
        resultId: `${segment.jobId}-s${segment.segment}`,
        missing: (seen, reason) => {
          const out: FrameFailure[] = [];
          for (let i = segment.firstIndex; i < segment.firstIndex + segment.frames; i++)
            if (!seen.has(i)) out.push({ index: i, ptsMs: segment.startPtsMs, reason });
          return out;
        },
      },
      attempt,
      frames(),
    );
    if (segment.source.kind === "stored") await config.transport.frameStore.delete([segment.source.key]);
    else if (segment.source.kind === "object") {
      const uri = segment.source.uri;
      // Reported already: a failed delete leaves the object for the producer's sweep, not the segment to redo.
      await config.segmentDecoding?.segmentStore?.delete(uri).catch((error: unknown) => {
        log.warn(
          {
            jobId: segment.jobId,
            stage: "worker",
            uri,
            err: error instanceof Error ? error.message : String(error),
          },
          "recorded segment not deleted; the producer's sweep removes it",
        );
      });
    }
  };

  const consumers: Consumer[] = [
    config.transport.frames.consume((chunk, delivery) => handleChunk(chunk, delivery.attempt), {
      // Enough chunks in hand to fill the next batch while one runs, and to see the deadlines that wait.
      concurrency: config.concurrency ?? maxBatch * 2,
    }),
    config.transport.segments.consume((segment, delivery) => handleSegment(segment, delivery.attempt), {
      // Each segment in hand runs one decoder; two keep the model fed while one seeks.
      concurrency: config.segmentConcurrency ?? WORKER_DEFAULTS.segmentConcurrency,
    }),
  ];
  log.info({ stage: "worker", name, maxBatch, profiled: profile.phis() }, "worker started");

  return {
    profile,
    jobs: () => [...held.keys()],
    batches: () => scheduler.batches,
    batchSizes: () => {
      const out: Record<string, number[]> = {};
      for (const b of scheduler.batches) {
        out[String(b.phi)] ??= [];
        out[String(b.phi)].push(b.size);
      }
      return out;
    },
    close: async () => {
      await Promise.all(consumers.map((c) => c.close()));
    },
  };
}

/** Sampled frames of a job whose decoding has not finished, from the video's duration and the sampling. */
function estimatedFrames(job: Awaited<ReturnType<JobStore["get"]>>): number | undefined {
  const durationMs = job?.video?.durationMs;
  if (!job || !durationMs) return undefined;
  const frames = Math.ceil((durationMs / 1000) * sampledFps(job.spec.sampling, job.video?.fps));
  return job.spec.maxFrames === undefined ? frames : Math.min(frames, job.spec.maxFrames);
}

/**
 * A JPEG frame of a chunk (the low-latency live path): decoded and letterboxed into the chunk's square; a string
 * says why it cannot be.
 */
function decodeStoredJpeg(bytes: Uint8Array, chunk: FrameChunk): Uint8Array | string {
  let image: { width: number; height: number; data: Uint8Array };
  try {
    image = decodeImage(bytes, "stored frame");
  } catch (error) {
    return `frame JPEG could not be decoded: ${error instanceof Error ? error.message : String(error)}`;
  }
  const { contentWidth, contentHeight } = chunk.letterbox;
  if (image.width !== contentWidth || image.height !== contentHeight) {
    return `frame JPEG is ${image.width}×${image.height}, not the letterbox content ${contentWidth}×${contentHeight}`;
  }
  return padToSquare(image.data, image.width, image.height, chunk.size);
}
