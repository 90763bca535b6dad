// The worker role: loads (or simulates) the models, measures or reads the latency profile, publishes what it
// runs, then infers frame chunks.

import { availableParallelism } from "node:os";
import { ConfigError, type WorkerRoleConfig } from "@vdet/config";
import {
  createModelProvider,
  createSimulatedModelProvider,
  deploymentModels,
  type ModelProvider,
  profileModels,
  simulatedModels,
  startWorker,
  withModelMetrics,
} from "@vdet/pipeline";
import { parsePhi } from "@vdet/protocol";
import { LatencyProfile, type ProfileTable, readProfileFile } from "@vdet/scheduler";
import { StorageResolver } from "@vdet/storage";
import { ALL_INPUT_KINDS } from "@vdet/video";
import type { Logger } from "pino";
import { connect, type RunningRole, runningRole } from "./connections.ts";

/** The worker's models (or the simulated ones) and its latency profile: loaded, measured or read from cache. */
export async function prepareWorker(
  config: WorkerRoleConfig,
  logger: Logger,
): Promise<{ models: ModelProvider; profile: LatencyProfile | undefined; table: ProfileTable | undefined }> {
  const simulated = config.simulateProfile
    ? await readProfileFile(config.simulateProfile).catch((error: Error) => {
        throw new ConfigError(`VDET_SIMULATE_PROFILE: ${error.message}`);
      })
    : undefined;
  const models = simulated
    ? createSimulatedModelProvider(simulated)
    : createModelProvider({
        weights: config.weights,
        seed: config.seed,
        executionProvider: config.executionProvider,
        intraOpThreads: config.threads,
      });
  if (simulated) {
    logger.warn({ role: "worker", profile: config.simulateProfile }, "simulated models: no inference is run");
  }
  try {
    // Load models before taking work, so the first batch does not pay for it (and bad weights fail at start).
    for (const phi of config.preload) {
      const started = performance.now();
      await models.detector(parsePhi(phi));
      logger.info({ role: "worker", phi, ms: Math.round(performance.now() - started) }, "model loaded");
    }
    if (simulated) return { models, profile: LatencyProfile.fromTable(simulated), table: simulated };
    if (config.profile === "off") return { models, profile: undefined, table: undefined };
    const started = performance.now();
    const result = await profileModels({
      models,
      phis: config.preload.map((p) => parsePhi(p)),
      maxBatch: config.maxBatch,
      executionProvider: config.executionProvider,
      threads: config.threads ?? availableParallelism(),
      refresh: config.profile === "fresh",
      onProgress: (step) => logger.debug({ role: "worker", ...step }, "profiling"),
    });
    logger.info(
      {
        role: "worker",
        key: result.table.key,
        cached: result.cachedFrom !== undefined,
        ms: Math.round(performance.now() - started),
        rows: result.table.rows.map((r) => `D${r.phi}×${r.batch}: ${r.p90Ms} ms`),
      },
      result.cachedFrom ? "latency profile loaded from cache" : "latency profile measured",
    );
    return { models, profile: result.profile, table: result.table };
  } catch (error) {
    await models.close();
    throw error;
  }
}

export async function startWorkerRole(config: WorkerRoleConfig, logger: Logger): Promise<RunningRole> {
  const prepared = await prepareWorker(config, logger);
  // Inference metrics wrap the models after profiling, so profiling runs do not count as inferred frames.
  const models = withModelMetrics(prepared.models);
  const c = connect(config, logger);
  // Before taking work: the other roles name this worker's classes (and resolve job class filters) by it.
  const published = config.simulateProfile
    ? simulatedModels()
    : deploymentModels({ weights: config.weights, seed: config.seed });
  try {
    await c.models.publish(published);
  } catch (error) {
    await models.close();
    await c.close();
    throw error;
  }
  logger.info(
    {
      role: "worker",
      models: Object.fromEntries(Object.entries(published).map(([phi, m]) => [phi, m.source])),
    },
    "models published",
  );
  const storage = new StorageResolver();
  const stage = startWorker({
    transport: c.transport,
    jobStore: c.jobStore,
    models,
    maxBatch: config.maxBatch,
    maxDelayMs: config.maxDelayMs,
    segmentConcurrency: config.segmentConcurrency,
    segmentDecoding: {
      // s3:// inputs through presigned URLs; local paths only where the deployment allows them (one machine).
      segmentInput: (input) => storage.readableUrl(input),
      allowedInputKinds: config.allowFileInputs
        ? ALL_INPUT_KINDS
        : ALL_INPUT_KINDS.filter((k) => k !== "file"),
      stallTimeoutMs: config.inputTimeoutMs,
      hwaccel: config.hwaccel,
    },
    profile: prepared.profile,
    logger,
  });
  logger.info({ role: "worker" }, "worker ready");
  return runningRole(c.redis, [stage, models, c, storage]);
}
