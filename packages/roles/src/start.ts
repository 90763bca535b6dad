// Starting each role against Redis: transport, job store, stage; and stopping it cleanly on SIGTERM/SIGINT
// (stop taking work, finish what is in hand, close connections).

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { buildServer, openLocalVideo, type VideoSource, videoContentType } from "@vdet/api";
import { RedisAggregatorCheckpoints, RedisJobStore, RedisModelRegistry } from "@vdet/jobs";
import {
  createModelProvider,
  createSimulatedModelProvider,
  deploymentModels,
  type JobOutputFactory,
  type ModelProvider,
  openJobOutput,
  profileModels,
  type Stage,
  simulatedModels,
  startAggregator,
  startProducer,
  startWorker,
  withModelMetrics,
} from "@vdet/pipeline";
import { parsePhi } from "@vdet/protocol";
import { LatencyProfile, type ProfileTable, readProfileFile } from "@vdet/scheduler";
import {
  createS3Client,
  openS3Input,
  openSink,
  parseS3ObjectUri,
  s3ConfigFromEnv,
  s3ObjectSize,
} from "@vdet/storage";
import { checkRedis, createRedisTransport, redisOptionsFromUrl, type Transport } from "@vdet/transport";
import { ALL_INPUT_KINDS, type VideoInput } from "@vdet/video";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { startBacklogPublisher } from "./backlog-metric.ts";
import {
  type AggregatorRoleConfig,
  type ApiRoleConfig,
  ConfigError,
  type ProducerRoleConfig,
  type WorkerRoleConfig,
} from "./config.ts";

interface Common {
  redisUrl: string;
  prefix: string;
  redisTlsCaFile?: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

function tlsCa(config: Common): string | undefined {
  if (config.redisTlsCaFile === undefined) return undefined;
  try {
    return readFileSync(config.redisTlsCaFile, "utf8");
  } catch (error) {
    throw new ConfigError(
      `cannot read VDET_REDIS_TLS_CA_FILE ${config.redisTlsCaFile}: ${(error as Error).message}`,
    );
  }
}

/**
 * Fails a role's start with a clear error when Redis refuses the password or the TLS handshake, or is not there
 * (the connections the roles keep would otherwise retry and log the same warning forever).
 */
export async function checkRoleRedis(config: Common): Promise<void> {
  await checkRedis(config.redisUrl, { tlsCa: tlsCa(config) });
}

interface Connections {
  transport: Transport;
  redis: Redis;
  jobStore: RedisJobStore;
  /** What the workers run per φ (they publish it; the other roles read class names from it). */
  models: RedisModelRegistry;
  close(): Promise<void>;
}

function connect(config: Common, logger: Logger): Connections {
  const onError = (error: Error) => logger.warn({ err: error.message }, "redis connection problem");
  const ca = tlsCa(config);
  const transport = createRedisTransport({
    url: config.redisUrl,
    prefix: config.prefix,
    onError,
    tlsCa: ca,
    lockDurationMs: config.lockDurationMs,
    stalledIntervalMs: config.stalledIntervalMs,
  });
  const redis = new Redis(redisOptionsFromUrl(config.redisUrl, { tlsCa: ca }));
  redis.on("error", onError);
  const jobStore = new RedisJobStore(redis, config.prefix);
  return {
    transport,
    redis,
    jobStore,
    models: new RedisModelRegistry(redis, config.prefix),
    close: async () => {
      await transport.close();
      await redis.quit();
    },
  };
}

export interface RunningRole {
  close(): Promise<void>;
  /** Resolves while the role can work (Redis answers); served on /readyz by the health server. */
  ready?: () => Promise<void>;
}

/** One S3 client per process, made on first use from the environment (only roles that touch S3 need it). */
let s3Client: S3Client | undefined;
function s3(): S3Client {
  s3Client ??= createS3Client(s3ConfigFromEnv());
  return s3Client;
}

function outputs(tracksPartBytes: number): JobOutputFactory {
  return (_jobId, location, resume) =>
    openJobOutput(location, location.startsWith("s3://") ? { s3Client: s3() } : {}, {
      resume,
      tracksPartBytes,
    });
}

/** A job's input for playback in the dashboard: local files, and s3:// objects read by byte range. */
async function openVideo(input: string): Promise<VideoSource | null> {
  if (!input.startsWith("s3://")) return openLocalVideo(input);
  const { bucket, key } = parseS3ObjectUri(input);
  const head = await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return {
    sizeBytes: head.ContentLength ?? 0,
    contentType:
      head.ContentType && head.ContentType !== "binary/octet-stream"
        ? head.ContentType
        : videoContentType(key),
    read: (start, end) =>
      Readable.from(
        (async function* () {
          const object = await s3().send(
            new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}` }),
          );
          yield* object.Body as Readable;
        })(),
      ),
  };
}

/** s3:// inputs are streamed (resumably) into ffmpeg; everything else goes to ffmpeg as it is. */
async function openInput(input: string): Promise<VideoInput> {
  return input.startsWith("s3://") ? openS3Input(input, s3()) : input;
}

export async function startApiRole(
  config: ApiRoleConfig,
  logger: Logger,
): Promise<RunningRole & { url: string }> {
  if (!config.token && !config.noAuth) {
    throw new ConfigError(
      "set VDET_API_TOKEN (or --token); run without authentication only with --no-auth in local setups",
    );
  }
  if (config.noAuth && !["127.0.0.1", "::1", "localhost"].includes(config.host)) {
    throw new ConfigError(
      `--no-auth (VDET_API_NO_AUTH) is for local setups: it needs VDET_API_HOST=127.0.0.1, not ${config.host}; set VDET_API_TOKEN to listen on other addresses`,
    );
  }
  const c = connect(config, logger);
  const app = await buildServer({
    transport: c.transport,
    jobStore: c.jobStore,
    models: c.models,
    token: config.noAuth ? null : config.token!,
    allowFileInputs: config.allowFileInputs,
    allowDirectoryOutputs: config.allowDirectoryOutputs,
    allowedOutputBuckets: config.allowedOutputBuckets,
    outputRoots: config.outputRoots,
    maxActiveJobs: config.maxActiveJobs,
    bodyLimitBytes: config.bodyLimitBytes,
    ready: async () => {
      await c.redis.ping();
    },
    openOutput: (location) => openSink(location, location.startsWith("s3://") ? { s3Client: s3() } : {}),
    openVideo,
  });
  const url = await app.listen({ host: config.host, port: config.port });
  logger.info({ role: "api", url }, "api listening");
  const publisher = config.cloudwatchNamespace
    ? startBacklogPublisher({
        transport: c.transport,
        namespace: config.cloudwatchNamespace,
        deployment: config.prefix,
        intervalMs: config.metricsIntervalSeconds * 1000,
        logger,
      })
    : undefined;
  return {
    url,
    close: async () => {
      await publisher?.close();
      await app.close();
      await c.close();
    },
  };
}

export function startProducerRole(config: ProducerRoleConfig, logger: Logger): RunningRole {
  const c = connect(config, logger);
  const stage: Stage = startProducer({
    transport: c.transport,
    jobStore: c.jobStore,
    framesPerChunk: config.framesPerChunk,
    maxFramesInFlight: config.maxFramesInFlight,
    maxQueuedChunks: config.maxQueuedChunks,
    frameTtlSeconds: config.frameTtlSeconds,
    concurrency: config.concurrency,
    limits: {
      maxWidth: config.maxWidth,
      maxHeight: config.maxHeight,
      maxFrames: config.maxFrames,
      maxDurationSeconds: config.maxDurationSeconds,
      maxInputBytes: config.maxInputBytes,
    },
    inputTimeoutMs: config.inputTimeoutMs,
    // s3:// inputs arrive as streams; local paths only where the deployment allows them (one machine).
    allowedInputKinds: config.allowFileInputs ? ALL_INPUT_KINDS : ALL_INPUT_KINDS.filter((k) => k !== "file"),
    openInput,
    inputSizeBytes: async (input) => (input.startsWith("s3://") ? s3ObjectSize(input, s3()) : undefined),
    models: c.models,
    logger,
  });
  logger.info({ role: "producer" }, "producer started");
  return {
    ready: async () => {
      await c.redis.ping();
    },
    close: async () => {
      await stage.close();
      await c.close();
    },
  };
}

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
  const stage = startWorker({
    transport: c.transport,
    jobStore: c.jobStore,
    models,
    maxBatch: config.maxBatch,
    maxDelayMs: config.maxDelayMs,
    profile: prepared.profile,
    logger,
  });
  logger.info({ role: "worker" }, "worker ready");
  return {
    ready: async () => {
      await c.redis.ping();
    },
    close: async () => {
      await stage.close();
      await models.close();
      await c.close();
    },
  };
}

export function startAggregatorRole(config: AggregatorRoleConfig, logger: Logger): RunningRole {
  const c = connect(config, logger);
  const stage = startAggregator({
    transport: c.transport,
    jobStore: c.jobStore,
    openOutput: outputs(config.tracksPartBytes),
    openInput,
    models: c.models,
    checkpoints: new RedisAggregatorCheckpoints(c.redis, config.prefix),
    logger,
  });
  logger.info({ role: "aggregator" }, "aggregator started");
  return {
    ready: async () => {
      await c.redis.ping();
    },
    close: async () => {
      await stage.close();
      await c.close();
    },
  };
}

/** Keeps a role running until SIGTERM or SIGINT, then closes it (a second signal exits at once). */
export function runUntilSignal(role: RunningRole, logger: Logger, graceMs = 60_000): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, "second signal: exiting now");
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, "stopping: finishing work in hand");
      const timer = setTimeout(() => {
        logger.error({ graceMs }, "shutdown took too long; exiting");
        process.exit(1);
      }, graceMs);
      timer.unref();
      role.close().then(
        () => {
          clearTimeout(timer);
          logger.info({}, "stopped");
          resolve();
        },
        (error: Error) => {
          logger.error({ err: error.message }, "error while stopping");
          process.exitCode = 1;
          resolve();
        },
      );
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
