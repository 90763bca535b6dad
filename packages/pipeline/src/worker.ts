// Worker stage: takes frame chunks from any job, fetches their pixels, and puts the frames in one queue in front
// of the model runner; the φ policy (@vdet/scheduler) picks each batch's φ and frames from that queue — the most
// accurate φ whose predicted time fits the tightest deadline in the batch, earliest deadlines first, archive frames
// when no deadline waits. Boxes go back to source pixels and one detection message per chunk goes to the
// aggregator. Stateless across restarts: any number of workers can share the queue.

import { hostname } from "node:os";
import { WORKER_DEFAULTS } from "@vdet/config";
import type { PostprocessOptions } from "@vdet/effdet";
import { VdetError } from "@vdet/errors";
import type { JobStore } from "@vdet/jobs";
import { metrics } from "@vdet/metrics";
import {
  type DetectionBatch,
  type Detections,
  detectionsToMessage,
  type FrameChunk,
  type FrameDetectionsMessage,
  type FrameFailure,
  type PhiValue,
  sampledFps,
} from "@vdet/protocol";
import { chooseArchivePhi, LatencyProfile, type PhiPolicyOptions } from "@vdet/scheduler";
import { type Consumer, DEFAULT_ATTEMPTS, type Transport } from "@vdet/transport";
import { PIPELINE_ERRORS } from "./error-codes.ts";
import { type BatchRecord, FrameScheduler } from "./frame-scheduler.ts";
import { boxesToSource } from "./letterbox.ts";
import { type StageLogger, silentLogger } from "./logger.ts";
import type { ModelProvider } from "./models.ts";
import type { Stage } from "./producer.ts";

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
}

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
  const archivePhi = async (chunk: FrameChunk): Promise<PhiValue> => {
    if (!chunk.target) return chunk.phi.max;
    const now = Date.now();
    const cached = archiveChoices.get(chunk.jobId);
    if (cached && now - cached.atMs < refreshMs) return cached.phi;
    if (now - workers.atMs >= refreshMs) {
      workers = { count: Math.max(1, await config.transport.frames.consumerCount()), atMs: now };
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

  const handle = async (chunk: FrameChunk, attempt: number): Promise<void> => {
    const receivedMs = Date.now();
    const options: PostprocessOptions = {
      scoreThreshold: chunk.scoreThreshold,
      classes: chunk.classes ? new Set(chunk.classes) : undefined,
    };
    const latency = chunk.mode === "latency" && chunk.latencyBudgetMs !== undefined;
    const deadlineMs = latency ? chunk.enqueuedAtMs + chunk.latencyBudgetMs! : Number.POSITIVE_INFINITY;
    const phiForArchive = latency ? undefined : await archivePhi(chunk);
    const frames: FrameDetectionsMessage[] = [];
    const failed: FrameFailure[] = [];
    const inferenceFailures: FrameFailure[] = [];
    let computeStarted = Number.POSITIVE_INFINITY;
    await Promise.all(
      chunk.frames.map(async (ref) => {
        const data = await config.transport.frameStore.get(ref.key);
        if (!data) {
          metrics.error("worker", "expired_frame");
          failed.push({
            index: ref.index,
            ptsMs: ref.ptsMs,
            reason: "frame pixels expired or missing in the frame store",
          });
          return;
        }
        if (data.length !== chunk.size * chunk.size * 3) {
          metrics.error("worker", "bad_frame_size");
          failed.push({
            index: ref.index,
            ptsMs: ref.ptsMs,
            reason: `frame has ${data.length} bytes, not ${chunk.size}² RGB`,
          });
          return;
        }
        computeStarted = Math.min(computeStarted, Date.now());
        try {
          const result = await scheduler.submit({
            group: chunk.jobId,
            deadlineMs,
            budgetMs: chunk.latencyBudgetMs,
            phiMin: chunk.phi.min,
            phiMax: chunk.phi.max,
            archivePhi: phiForArchive,
            frame: { width: chunk.size, height: chunk.size, data },
            options,
          });
          frames.push(toMessage(ref.index, ref.ptsMs, result.phi, result.detections, chunk, result.slackMs));
        } catch (error) {
          const reason = `inference failed: ${error instanceof Error ? error.message : String(error)}`;
          inferenceFailures.push({ index: ref.index, ptsMs: ref.ptsMs, reason });
        }
      }),
    );
    // A failed inference may be transient (a runner restarting): give the chunk back for another attempt while
    // attempts remain; only the last attempt reports its frames as failed.
    if (inferenceFailures.length > 0 && attempt < DEFAULT_ATTEMPTS)
      throw new VdetError(PIPELINE_ERRORS.INFERENCE_FAILED, inferenceFailures[0].reason);
    failed.push(...inferenceFailures);
    frames.sort((a, b) => a.index - b.index);
    const now = Date.now();
    const started = Math.min(computeStarted, now);
    const batch: DetectionBatch = {
      jobId: chunk.jobId,
      chunk: chunk.chunk,
      frames,
      failed,
      worker: name,
      // From the producer's enqueue (the deadline's origin) to the first frame reaching the model queue.
      queueMs: Math.max(0, started - Math.min(chunk.enqueuedAtMs, receivedMs)),
      computeMs: now - started,
    };
    await config.transport.results.add(batch, {
      id: `${chunk.jobId}-${chunk.chunk}`,
      priority: chunk.priority,
    });
    await config.jobStore.addProgress(chunk.jobId, { inferred: frames.length, failed: failed.length });
    await config.transport.frameStore.delete(chunk.frames.map((f) => f.key));
    if (failed.length > 0)
      log.warn({ jobId: chunk.jobId, stage: "worker", failed: failed.length }, failed[0].reason);
  };

  const consumer: Consumer = config.transport.frames.consume(
    (chunk, delivery) => handle(chunk, delivery.attempt),
    {
      // Enough chunks in hand to fill the next batch while one runs, and to see the deadlines that wait.
      concurrency: config.concurrency ?? maxBatch * 2,
    },
  );
  log.info({ stage: "worker", name, maxBatch, profiled: profile.phis() }, "worker started");

  return {
    profile,
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
      await consumer.close();
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

function toMessage(
  index: number,
  ptsMs: number,
  phi: PhiValue,
  detections: Detections<Float32Array>,
  chunk: FrameChunk,
  slackMs: number | undefined,
): FrameDetectionsMessage {
  boxesToSource(detections.xyxy, chunk.letterbox);
  const message: FrameDetectionsMessage = { index, ptsMs, phi, ...detectionsToMessage(detections) };
  if (slackMs !== undefined) message.slackMs = Math.round(slackMs);
  return message;
}
