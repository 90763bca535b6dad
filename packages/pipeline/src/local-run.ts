// Local mode: every stage in one process over the in-process transport, for `vdet run` and tests. The stages
// are the same modules the distributed services run; only the transport and job store differ.

import { type JobSpecInput, PHI_VALUES, parseJobSpec, phiRank } from "@vdet/protocol";
import { createMemoryTransport } from "@vdet/transport";
import { startAggregator } from "./aggregator.ts";
import { MemoryJobStore, type StoredJob } from "./job-store.ts";
import { deploymentModels } from "./labels.ts";
import type { StageLogger } from "./logger.ts";
import { withModelMetrics } from "./model-metrics.ts";
import { MemoryModelRegistry } from "./model-registry.ts";
import { createModelProvider, type ModelSourceOptions } from "./models.ts";
import { startProducer } from "./producer.ts";
import { openJobOutput } from "./sink-output.ts";
import { startWorker } from "./worker.ts";

export interface LocalRunOptions extends ModelSourceOptions {
  spec: JobSpecInput;
  maxBatch?: number;
  maxDelayMs?: number;
  framesPerChunk?: number;
  logger?: StageLogger;
  /** Called about every `progressIntervalMs` with the job's progress. */
  onProgress?: (job: StoredJob) => void;
  progressIntervalMs?: number;
  /** Build and load the model of every allowed φ before decoding starts (start-up reported apart). */
  preload?: boolean;
}

export interface LocalRunResult {
  job: StoredJob;
  output: string;
  batchSizes: Record<string, number[]>;
  /** Time spent loading models before the job started (with `preload`), ms. */
  startupMs: number;
}

export async function runLocal(options: LocalRunOptions): Promise<LocalRunResult> {
  const spec = parseJobSpec(options.spec);
  if (spec.output.startsWith("s3://"))
    throw new Error("local mode writes to a directory; use the services for s3:// outputs");
  const transport = createMemoryTransport();
  const jobStore = new MemoryJobStore();
  const models = withModelMetrics(createModelProvider(options));
  // What the worker below runs per φ, as a worker role publishes it: class names for the producer and aggregator.
  const registry = new MemoryModelRegistry();
  await registry.publish(deploymentModels(options));
  let outputLocation = spec.output;
  let aggregatorDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    aggregatorDone = resolve;
  });
  const aggregator = startAggregator({
    transport,
    jobStore,
    logger: options.logger,
    openOutput: async (_jobId, location) => {
      const out = await openJobOutput(location);
      outputLocation = out.location;
      return out;
    },
    modelDescription: (phi) =>
      models.hasWeights(phi) ? (options.weights?.[String(phi)] ?? "") : `seeded (seed ${options.seed ?? 0})`,
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
  });
  const startupStarted = performance.now();
  if (options.preload) {
    const phis = PHI_VALUES.slice(phiRank(spec.phi.min), phiRank(spec.phi.max) + 1);
    await Promise.all(phis.map((phi) => models.detector(phi)));
  }
  const startupMs = performance.now() - startupStarted;
  const producer = startProducer({
    transport,
    jobStore,
    framesPerChunk: options.framesPerChunk,
    models: registry,
    logger: options.logger,
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
