// The worker role: loads (or simulates) the models, measures or reads the latency profile, publishes what it
// runs, then infers frame chunks.

import { availableParallelism } from "node:os";
import { ConfigError, type WorkerRoleConfig, weightPrecisions, weightReferences } from "@vdet/config";
import { startInputProxy } from "@vdet/input-policy";
import { defaultWeights, SEEDED_WEIGHTS_LABEL } from "@vdet/models";
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
import { choiceLabel, parsePhi } from "@vdet/protocol";
import {
  currentLoad,
  LatencyProfile,
  type ProfileTable,
  profileDrift,
  readProfileFile,
  saveProfile,
} from "@vdet/scheduler";
import { S3SegmentStore, StorageResolver } from "@vdet/storage";
import { ALL_INPUT_KINDS } from "@vdet/video";
import type { Logger } from "pino";
import { connect, type RunningRole, runningRole } from "./connections.ts";
import { inputPolicyFor } from "./input-policy.ts";

/** The worker's models (or the simulated ones) and its latency profile: loaded, measured or read from cache. */
export async function prepareWorker(
  config: WorkerRoleConfig,
  logger: Logger,
): Promise<{
  models: ModelProvider;
  profile: LatencyProfile | undefined;
  table: ProfileTable | undefined;
  cacheDir?: string | null;
}> {
  const simulated = config.simulateProfile
    ? await readProfileFile(config.simulateProfile).catch((error: Error) => {
        throw new ConfigError(`VDET_SIMULATE_PROFILE: ${error.message}`);
      })
    : undefined;
  if (!simulated) {
    // Default (COCO) weights fill the φ without a reference; an entry's precision stays.
    for (const [phi, reference] of Object.entries(await withDefaultWeights(config, logger)))
      config.weights[phi] = { ...config.weights[phi], reference };
  }
  const models = simulated
    ? createSimulatedModelProvider(simulated)
    : createModelProvider({
        weights: weightReferences(config.weights),
        precisions: weightPrecisions(config.weights, config.precision),
        precision: config.precision,
        seed: config.seed,
        executionProvider: config.executionProvider,
        intraOpThreads: config.threads,
        intraOpSpinning: config.intraOpSpinning,
      });
  if (simulated) {
    logger.warn({ profile: config.simulateProfile }, "simulated models: no inference is run");
  }
  try {
    // Load models before taking work, so the first batch does not pay for it (and bad weights fail at start).
    for (const phi of config.preload) {
      const started = performance.now();
      await models.detector(parsePhi(phi));
      const precision = models.precision?.(parsePhi(phi)) ?? "fp32";
      logger.info({ phi, precision, ms: Math.round(performance.now() - started) }, "model loaded");
    }
    // The simulated runner takes the table's times: they hold from the start.
    if (simulated)
      return {
        models,
        profile: LatencyProfile.fromTable(simulated, { measuredNow: true }),
        table: simulated,
      };
    if (config.profile === "off") return { models, profile: undefined, table: undefined };
    const started = performance.now();
    const result = await profileModels({
      models,
      phis: config.preload.map((p) => parsePhi(p)),
      maxBatch: config.maxBatch,
      executionProvider: config.executionProvider,
      threads: config.threads ?? availableParallelism(),
      intraOpSpinning: config.intraOpSpinning,
      refresh: config.profile === "fresh",
      maxAgeMs: config.profileMaxAgeHours * 3_600_000,
      onProgress: (step) => logger.debug({ ...step }, "profiling"),
    });
    logger.info(
      {
        key: result.table.key,
        cached: result.cachedFrom !== undefined,
        ms: Math.round(performance.now() - started),
        load: result.table.load,
        ...(result.staleReason ? { remeasured: result.staleReason } : {}),
        rows: result.table.rows.map(
          (r) => `${choiceLabel({ phi: r.phi, precision: r.precision ?? "fp32" })}×${r.batch}: ${r.p90Ms} ms`,
        ),
      },
      result.cachedFrom ? "latency profile loaded from cache" : "latency profile measured",
    );
    return { models, profile: result.profile, table: result.table, cacheDir: result.cacheDir };
  } catch (error) {
    await models.close();
    throw error;
  }
}

/**
 * Every half minute, compares the live batch times with the profile the worker started from; when they drift
 * beyond VDET_PROFILE_DRIFT_RATIO (a profile measured while the machine was busy, or a machine that became
 * busy), the cached profile is replaced by the live measurements, with the load now, so the next worker on this
 * machine starts from current timings.
 */
function watchProfileDrift(
  prepared: Awaited<ReturnType<typeof prepareWorker>>,
  config: WorkerRoleConfig,
  logger: Logger,
): { close(): void } {
  const { profile, cacheDir } = prepared;
  let table = prepared.table;
  if (!profile || !table || !cacheDir || config.simulateProfile || config.profileDriftRatio === 0)
    return { close() {} };
  let saving = false;
  const check = async () => {
    if (saving || !table) return;
    const drift = profileDrift(table, profile, config.profileDriftRatio);
    if (!drift) return;
    saving = true;
    try {
      const replaced = profile.toTable(table.key, undefined, currentLoad());
      await saveProfile(cacheDir, replaced);
      logger.warn(
        { ...drift, was: table.load, now: replaced.load },
        `latency profile drifted (D${drift.phi}×${drift.batch}: ${drift.cachedMs} ms cached, ${drift.liveMs.toFixed(0)} ms now): cache replaced by the live measurements`,
      );
      table = replaced;
    } catch (error) {
      logger.warn({ err: (error as Error).message }, "latency profile not re-saved");
    } finally {
      saving = false;
    }
  };
  const timer = setInterval(() => void check(), 30_000);
  timer.unref();
  return { close: () => clearInterval(timer) };
}

/**
 * The weights per φ: those configured, plus the cached COCO model (pulled on first use unless offline) for each
 * preloaded φ without any. A φ left without trained weights runs seeded ones, and the worker says so loudly.
 */
async function withDefaultWeights(config: WorkerRoleConfig, logger: Logger): Promise<Record<string, string>> {
  const weights = weightReferences(config.weights);
  for (const phi of config.preload) {
    const key = String(parsePhi(phi));
    if (weights[key] !== undefined) continue;
    const found = await defaultWeights(parsePhi(phi), {
      offline: config.offline,
      onEvent: (event) => {
        if (event.type === "download") logger.info({ model: event.name, url: event.url }, "pulling model");
      },
    });
    if (found.kind === "trained") {
      weights[key] = found.name;
      logger.info({ phi: key, model: found.name, pulled: found.pulled }, "COCO model");
    } else {
      logger.warn(
        { phi: key, weights: SEEDED_WEIGHTS_LABEL, reason: found.reason },
        `weights for D${key}: ${SEEDED_WEIGHTS_LABEL}: this worker finds no objects; ${found.hint}`,
      );
    }
  }
  return weights;
}

export async function startWorkerRole(config: WorkerRoleConfig, logger: Logger): Promise<RunningRole> {
  const prepared = await prepareWorker(config, logger);
  // Inference metrics wrap the models after profiling, so profiling runs do not count as inferred frames.
  const models = withModelMetrics(prepared.models);
  // The heartbeat names the jobs the stage holds work of (it starts before the stage: none yet).
  let held: (() => string[]) | undefined;
  const c = connect(config, logger, { kind: "worker", jobs: () => held?.() ?? [] });
  // Before taking work: the other roles name this worker's classes (and resolve job class filters) by it.
  const published = config.simulateProfile
    ? simulatedModels()
    : deploymentModels({ weights: weightReferences(config.weights), seed: config.seed });
  try {
    await c.models.publish(published);
  } catch (error) {
    await models.close();
    await c.close();
    throw error;
  }
  logger.info(
    {
      models: Object.fromEntries(Object.entries(published).map(([phi, m]) => [phi, m.source])),
    },
    "models published",
  );
  const storage = new StorageResolver();
  // Workers open jobs' inputs themselves (segments): checked against the same input policy as at submission,
  // http(s) inputs only through the policy's proxy (every connection, redirect and playlist segment checked).
  const policy = inputPolicyFor(config);
  const proxy = await startInputProxy(policy);
  delete process.env.no_proxy;
  delete process.env.NO_PROXY;
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
      threads: config.decodeThreads,
      checkInput: (input) => policy.checkInput(input),
      network: { httpProxy: proxy.url },
      // Recorded live segments in the S3 segment store: read presigned, deleted once decoded and reported.
      segmentStore: config.liveSegmentStore
        ? new S3SegmentStore(config.liveSegmentStore, storage.s3Client())
        : undefined,
    },
    profile: prepared.profile,
    logger,
  });
  held = () => stage.jobs?.() ?? [];
  logger.info({}, "worker ready");
  const drift = watchProfileDrift(prepared, config, logger);
  return runningRole(c.redis, [drift, stage, models, c, storage, proxy]);
}
