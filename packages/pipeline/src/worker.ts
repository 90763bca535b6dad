// Worker stage: takes frame chunks from any job, fetches their pixels, runs them through a dynamic batcher per
// φ (frames of different chunks and jobs share batches), maps boxes back to source pixels and sends one
// detection message per chunk. Stateless: any number of workers can share the queue.

import { hostname } from "node:os";
import {
  type FrameDetections as ModelDetections,
  type Phi,
  type PostprocessOptions,
  parsePhi,
  type RgbFrame,
} from "@vdet/effdet";
import type { DetectionBatch, FrameChunk, FrameDetections, FrameFailure } from "@vdet/protocol";
import { type Consumer, DEFAULT_ATTEMPTS, type Transport } from "@vdet/transport";
import { DynamicBatcher } from "./batcher.ts";
import type { JobStore } from "./job-store.ts";
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
}

export interface WorkerStage extends Stage {
  /** Sizes of the batches run so far, per φ. */
  batchSizes(): Record<string, number[]>;
}

interface BatchItem {
  frame: RgbFrame;
  options: PostprocessOptions;
}

export function startWorker(config: WorkerConfig): WorkerStage {
  const log = config.logger ?? silentLogger;
  const name = config.name ?? `${hostname()}:${process.pid}`;
  const maxBatch = config.maxBatch ?? 4;
  const batchers = new Map<string, DynamicBatcher<BatchItem, ModelDetections>>();

  const batcherFor = (phi: Phi) => {
    let batcher = batchers.get(String(phi));
    if (!batcher) {
      batcher = new DynamicBatcher<BatchItem, ModelDetections>({
        maxBatch,
        maxDelayMs: config.maxDelayMs ?? 20,
        // Frames of jobs with different thresholds and class filters share a batch; each keeps its own options.
        run: async (items) =>
          (await config.models.detector(phi)).detect(
            items.map((i) => i.frame),
            items.map((i) => i.options),
          ),
      });
      batchers.set(String(phi), batcher);
    }
    return batcher;
  };

  const handle = async (chunk: FrameChunk, addedAtMs: number, attempt: number): Promise<void> => {
    // Interim φ choice until the latency-budget policy: archive jobs run their largest allowed φ, latency jobs
    // their smallest (the one most likely to meet the budget).
    const phi = parsePhi(chunk.mode === "archive" ? chunk.phi.max : chunk.phi.min);
    const batcher = batcherFor(phi);
    const options: PostprocessOptions = {
      scoreThreshold: chunk.scoreThreshold,
      classes: chunk.classes ? new Set(chunk.classes) : undefined,
    };
    const frames: FrameDetections[] = [];
    const failed: FrameFailure[] = [];
    const inferenceFailures: FrameFailure[] = [];
    let computeStarted = Number.POSITIVE_INFINITY;
    await Promise.all(
      chunk.frames.map(async (ref) => {
        const data = await config.transport.frameStore.get(ref.key);
        if (!data) {
          failed.push({
            index: ref.index,
            ptsMs: ref.ptsMs,
            reason: "frame pixels expired or missing in the frame store",
          });
          return;
        }
        if (data.length !== chunk.size * chunk.size * 3) {
          failed.push({
            index: ref.index,
            ptsMs: ref.ptsMs,
            reason: `frame has ${data.length} bytes, not ${chunk.size}² RGB`,
          });
          return;
        }
        computeStarted = Math.min(computeStarted, Date.now());
        try {
          const det = await batcher.submit({
            frame: { width: chunk.size, height: chunk.size, data },
            options,
          });
          frames.push(toMessage(ref.index, ref.ptsMs, phi, det, chunk));
        } catch (error) {
          const reason = `inference failed: ${error instanceof Error ? error.message : String(error)}`;
          inferenceFailures.push({ index: ref.index, ptsMs: ref.ptsMs, reason });
        }
      }),
    );
    // A failed inference may be transient (a runner restarting): give the chunk back for another attempt while
    // attempts remain; only the last attempt reports its frames as failed.
    if (inferenceFailures.length > 0 && attempt < DEFAULT_ATTEMPTS)
      throw new Error(inferenceFailures[0].reason);
    failed.push(...inferenceFailures);
    frames.sort((a, b) => a.index - b.index);
    const batch: DetectionBatch = {
      jobId: chunk.jobId,
      chunk: chunk.chunk,
      frames,
      failed,
      worker: name,
      queueMs: Math.max(0, Math.min(computeStarted, Date.now()) - addedAtMs),
      computeMs: Date.now() - Math.min(computeStarted, Date.now()),
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
    (chunk, delivery) => handle(chunk, delivery.addedAtMs, delivery.attempt),
    {
      concurrency: config.concurrency ?? maxBatch * 2,
    },
  );
  log.info({ stage: "worker", name, maxBatch }, "worker started");

  return {
    batchSizes: () => Object.fromEntries([...batchers].map(([phi, b]) => [phi, [...b.batchSizes]])),
    close: async () => {
      await consumer.close();
    },
  };
}

function toMessage(
  index: number,
  ptsMs: number,
  phi: Phi,
  det: ModelDetections,
  chunk: FrameChunk,
): FrameDetections {
  const boxes = Array.from(boxesToSource(det.boxes, chunk.letterbox), round2);
  const scores = Array.from(det.scores, (s) => Math.round(s * 1e4) / 1e4);
  return { index, ptsMs, phi, boxes, scores, classes: Array.from(det.classes) };
}

const round2 = (v: number) => Math.round(v * 100) / 100;
