// Local mode: every stage in one process over the in-process transport, for `vdet run` and tests. The stages
// are the same modules the distributed services run; only the transport and job store differ.

import { availableParallelism } from "node:os";
import { VdetError } from "@vdet/errors";
import { MemoryJobStore, MemoryModelRegistry } from "@vdet/jobs";
import { seededWeightsDescription } from "@vdet/models";
import {
  type JobRecord,
  type JobSpecInput,
  PHI_VALUES,
  type PhiValue,
  parseJobSpec,
  phiRank,
} from "@vdet/protocol";
import type { LatencyProfile } from "@vdet/scheduler";
import { createMemoryTransport } from "@vdet/transport";
import { startAggregator } from "./aggregator.ts";
import { PIPELINE_ERRORS } from "./error-codes.ts";
import { deploymentModels } from "./labels.ts";
import type { StageLogger } from "./logger.ts";
import { withModelMetrics } from "./model-metrics.ts";
import { createModelProvider, type ModelSourceOptions } from "./models.ts";
import { startProducer } from "./producer.ts";
import { profileModels } from "./profiling.ts";
import { openJobOutput } from "./sink-output.ts";
import { startWorker } from "./worker.ts";

export interface LocalRunOptions extends ModelSourceOptions {
  spec: JobSpecInput;
  maxBatch?: number;
  maxDelayMs?: number;
  framesPerChunk?: number;
  logger?: StageLogger;
  /** Called about every `progressIntervalMs` with the job's progress. */
  onProgress?: (job: JobRecord) => void;
  progressIntervalMs?: number;
  /** Build and load the model of every allowed φ before decoding starts (start-up reported apart). */
  preload?: boolean;
  /**
   * Latency jobs: measure (or read from the profile cache) the latency of every allowed φ before decoding starts,
   * so the policy can choose among them; without it the job runs its smallest φ.
   */
  profileLatency?: boolean;
  onProfileStep?: (step: { phi: PhiValue; batch: number; ms: number }) => void;
}

export interface LocalRunResult {
  job: JobRecord;
  output: string;
  batchSizes: Record<string, number[]>;
  /** Time spent loading models before the job started (with `preload`), ms. */
  startupMs: number;
}

export async function runLocal(options: LocalRunOptions): Promise<LocalRunResult> {
  const spec = parseJobSpec(options.spec);
  if (spec.output.startsWith("s3://"))
    throw new VdetError(
      PIPELINE_ERRORS.UNSUPPORTED_OUTPUT,
      "local mode writes to a directory; use the services for s3:// outputs",
    );
  const transport = createMemoryTransport();
  const jobStore = new MemoryJobStore();
  const bare = createModelProvider(options);
  const models = withModelMetrics(bare);
  // What the worker below runs per φ, as a worker role publishes it: class names for the producer and aggregator.
  const registry = new MemoryModelRegistry();
  await registry.publish(deploymentModels(options));
  const allowed = PHI_VALUES.slice(phiRank(spec.phi.min), phiRank(spec.phi.max) + 1);
  const startupStarted = performance.now();
  let profile: LatencyProfile | undefined;
  if (options.profileLatency && spec.mode === "latency") {
    // Profiled on the bare models: these runs are not the job's inferred frames.
    const result = await profileModels({
      models: bare,
      phis: allowed,
      maxBatch: options.maxBatch ?? 4,
      executionProvider: options.executionProvider ?? "cpu",
      threads: options.intraOpThreads ?? availableParallelism(),
      intraOpSpinning: options.intraOpSpinning,
      onProgress: options.onProfileStep,
    });
    profile = result.profile;
  }
  let outputLocation = spec.output;
  let aggregatorDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    aggregatorDone = resolve;
  });
  const aggregator = startAggregator({
    transport,
    jobStore,
    logger: options.logger,
    openOutput: async (_jobId, location, _resume, layout) => {
      const out = await openJobOutput(location, {}, { layout });
      outputLocation = out.location;
      return out;
    },
    modelDescription: (phi) =>
      models.hasWeights(phi)
        ? (options.weights?.[String(phi)] ?? "")
        : seededWeightsDescription(options.seed ?? 0),
    models: registry,
    onJobFinished: () => aggregatorDone(),
  });
  const worker = startWorker({
    transport,
    jobStore,
    models,
    maxBatch: options.maxBatch,
    maxDelayMs: options.maxDelayMs,
    logger: options.logger,
    profile,
  });
  if (options.preload) await Promise.all(allowed.map((phi) => models.detector(phi)));
  const startupMs = performance.now() - startupStarted;
  const producer = startProducer({
    transport,
    jobStore,
    framesPerChunk: options.framesPerChunk,
    models: registry,
    logger: options.logger,
    // One process, frames in memory: decoding a live input once here beats recording it and starting one
    // decoder per segment, and compressing frames would only cost CPU (a job's spec may still choose).
    liveTransport: "raw",
  });
  const { job } = await jobStore.create(spec);
  const progressTimer = options.onProgress
    ? setInterval(() => {
        void jobStore.get(job.id).then((j) => j && options.onProgress?.(j));
      }, options.progressIntervalMs ?? 250)
    : null;
  try {
    await transport.jobs.add({ jobId: job.id }, { id: job.id });
    await finished;
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    await producer.close();
    await worker.close();
    await aggregator.close();
    await models.close();
    await transport.close();
  }
  const final = (await jobStore.get(job.id))!;
  options.onProgress?.(final);
  return { job: final, output: outputLocation, batchSizes: worker.batchSizes(), startupMs };
}
