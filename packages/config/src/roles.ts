// One zod schema per role, over the settings in names.ts. Types are inferred from them.

import { DEFAULT_PRECISION, PRECISIONS } from "@vdet/protocol";
import { z } from "zod";
import {
  AGGREGATOR_DEFAULTS,
  API_DEFAULTS,
  COMMON_DEFAULTS,
  PREFIX_PATTERN,
  PRODUCER_DEFAULTS,
  QUEUE_DEFAULTS,
  REDIS_URL_PATTERN,
  WORKER_DEFAULTS,
} from "./defaults.ts";
import { envBoolean, envEnum, envInt, envList, weightsList } from "./grammar.ts";

const common = {
  redisUrl: z
    .string()
    .regex(REDIS_URL_PATTERN, {
      error:
        "must be a redis:// or rediss:// URL, or redis+cluster://host:port,host:port,… for a Redis Cluster",
    })
    .default(COMMON_DEFAULTS.redisUrl),
  prefix: z
    .string()
    .regex(PREFIX_PATTERN, { error: "may use only letters, digits, '_' and '-', optionally in braces" })
    .default(COMMON_DEFAULTS.prefix),
  logLevel: envEnum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default(
    COMMON_DEFAULTS.logLevel,
  ),
  /** Port of the /healthz + /readyz server for orchestrators' probes (unset: none). */
  healthPort: envInt(1, 65535).optional(),
  /** PEM file of the CA that signed the Redis server's certificate (rediss:// with a private CA). */
  redisTlsCaFile: z.string().min(1).optional(),
  /**
   * How long a role owns a queue message it is handling (renewed while it runs); a crashed role's messages go
   * back to the queue once this has passed, at the next stall check.
   */
  lockDurationMs: envInt(1000, 3_600_000).default(QUEUE_DEFAULTS.lockDurationMs),
  /** How often a role checks its queues for messages of crashed consumers (stalled), ms. */
  stalledIntervalMs: envInt(500, 3_600_000).default(QUEUE_DEFAULTS.stalledIntervalMs),
  /**
   * Frame and results queues the work is spread over (Redis Cluster: one hash tag each, so over the shards).
   * Every role of a deployment must use the same number.
   */
  queuePartitions: envInt(1, 1024).default(QUEUE_DEFAULTS.partitions),
  /** How long finished job messages stay visible in bull-board (the jobs queue), seconds; 0: removed at once. */
  keepFinishedJobsSeconds: envInt(0, 30 * 86_400).default(QUEUE_DEFAULTS.keepFinishedJobsSeconds),
};
/**
 * What a job may read (@vdet/input-policy), for the api (at submission) and the producer (at every connection):
 * input buckets, input roots for local files, and addresses beyond global unicast that network inputs may reach.
 */
const inputPolicy = {
  /** s3:// inputs only from these buckets (empty: any bucket the credentials can read). */
  inputBuckets: envList(),
  /** Local inputs only inside these absolute directories, links resolved (empty: anywhere, with file inputs on). */
  inputRoots: envList(),
  /**
   * Addresses or CIDR ranges network inputs may reach besides global unicast, e.g. `127.0.0.1/32` or
   * `10.0.0.0/8` for a single-machine or private-network setup (empty: none).
   */
  inputAllowAddresses: envList(),
};
/**
 * Notification delivery (job-spec notify), the same in every role that sends: the aggregator (job ends) and the
 * producer (stream state changes and gaps).
 */
const notifySettings = {
  /** The deployment's webhook signing secret (HMAC-SHA256, X-Vdet-Signature); unset: webhooks are not sent. */
  notifySecret: z
    .string()
    .min(16, { error: "the notification secret must be at least 16 characters" })
    .optional(),
  /** SNS endpoint for notifications (a local stand-in); unset: AWS's, by the topic ARN's region. */
  snsEndpoint: z.url({ protocol: /^https?$/, error: "must be an http(s):// URL" }).optional(),
};
/** The settings of a pipeline role (producer, worker, aggregator): the common ones and its own metrics port. */
const pipelineRole = {
  ...common,
  /** Port of the role's own GET /metrics server; 0 or unset: none. */
  metricsPort: envInt(0, 65535).default(0),
};
// S3 settings (VDET_S3_ENDPOINT, AWS_REGION, VDET_S3_FORCE_PATH_STYLE, …) are s3SettingsSchema's, read by
// @vdet/storage when a role first touches S3; credentials come from the AWS SDK's default chain.

export const apiConfigSchema = z.object({
  ...common,
  host: z.string().default(API_DEFAULTS.host),
  port: envInt(0, 65535).default(API_DEFAULTS.port),
  token: z.string().min(16, { error: "the API token must be at least 16 characters" }).optional(),
  noAuth: envBoolean.default(false),
  allowFileInputs: envBoolean.default(false),
  allowDirectoryOutputs: envBoolean.default(false),
  allowedOutputBuckets: envList(),
  ...inputPolicy,
  /** CloudWatch namespace for the backlog-per-worker metric (unset: not published). */
  cloudwatchNamespace: z.string().min(1).max(255).optional(),
  metricsIntervalSeconds: envInt(5, 3600).default(API_DEFAULTS.metricsIntervalSeconds),
  /** Job outputs must lie under one of these (s3://bucket/prefix/ or absolute directories). */
  outputRoots: envList(),
  maxActiveJobs: envInt(1, 10_000_000).default(API_DEFAULTS.maxActiveJobs),
  bodyLimitBytes: envInt(1024, 16 * 1024 * 1024).default(API_DEFAULTS.bodyLimitBytes),
  requestTimeoutMs: envInt(100, 3_600_000).default(API_DEFAULTS.requestTimeoutMs),
  connectionTimeoutMs: envInt(100, 3_600_000).default(API_DEFAULTS.connectionTimeoutMs),
  keepAliveTimeoutMs: envInt(100, 3_600_000).default(API_DEFAULTS.keepAliveTimeoutMs),
});

/**
 * Where recorded live segments wait for a worker: s3://bucket/prefix (unset: the frame store in Redis). The producer
 * writes them there and deletes what ended jobs left and anything older than LIVE_DEFAULTS.segmentTtlSeconds;
 * workers (the same setting) read them through presigned URLs and delete them once decoded, and refuse a segment
 * outside it.
 */
const liveSegments = {
  liveSegmentStore: z
    .string()
    .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, {
      error: "must be s3://bucket or s3://bucket/prefix",
    })
    .optional(),
};

const P = PRODUCER_DEFAULTS;
export const producerConfigSchema = z.object({
  ...pipelineRole,
  framesPerChunk: envInt(1, 256).default(P.framesPerChunk),
  maxFramesInFlight: envInt(1, 100_000).default(P.maxFramesInFlight),
  /** Unset: the defaults per kind of job (PRODUCER_DEFAULTS segmentFrames, archiveSegmentFrames). */
  segmentFrames: envInt(1, 100_000).optional(),
  maxSegmentsInFlight: envInt(1, 100_000).default(P.maxSegmentsInFlight),
  maxQueuedChunks: envInt(1, 1_000_000).default(P.maxQueuedChunks),
  frameTtlSeconds: envInt(10, 7 * 24 * 3600).default(P.frameTtlSeconds),
  ...liveSegments,
  concurrency: envInt(1, 64).default(P.concurrency),
  maxWidth: envInt(16, 16384).default(P.maxWidth),
  maxHeight: envInt(16, 16384).default(P.maxHeight),
  maxFrames: envInt(1, 100_000_000).default(P.maxFrames),
  maxDurationSeconds: envInt(1, 30 * 24 * 3600).default(P.maxDurationSeconds),
  maxInputBytes: envInt(1, 2 ** 50).default(P.maxInputBytes),
  inputTimeoutMs: envInt(100, 3_600_000).default(P.inputTimeoutMs),
  allowFileInputs: envBoolean.default(false),
  ...inputPolicy,
  /** Live jobs' stream events (state changes, gaps) go to their notify targets as the aggregator sends job ends. */
  ...notifySettings,
});

const W = WORKER_DEFAULTS;
export const workerConfigSchema = z.object({
  ...pipelineRole,
  maxBatch: envInt(1, 64).default(W.maxBatch),
  maxDelayMs: envInt(0, 10_000).default(W.maxDelayMs),
  segmentConcurrency: envInt(1, 64).default(W.segmentConcurrency),
  /** Workers decode their segments: local paths only where every role shares one machine's files. */
  allowFileInputs: envBoolean.default(false),
  /** Workers open the job's input themselves (segments): the same input policy as the api and producer. */
  ...inputPolicy,
  /** A segment decode that makes no progress for this long fails (and is retried), ms. */
  inputTimeoutMs: envInt(100, 3_600_000).default(P.inputTimeoutMs),
  ...liveSegments,
  /** Decode segments on the GPU: "cuda" (NVDEC; unverified here, fails clearly where ffmpeg lacks it). */
  hwaccel: envEnum(["cuda"]).optional(),
  /** ffmpeg threads per segment decoder (-threads); unset: ffmpeg's choice, about one per core. */
  decodeThreads: envInt(1, 64).optional(),
  executionProvider: z.string().default(W.executionProvider),
  threads: envInt(1, 256).optional(),
  /**
   * onnxruntime's intra-op threads spin while they wait for work (unset: on, onnxruntime's default). Off on a CPU
   * that other work keeps busy: under one CPU hog on 2 vCPUs D0 ran 1.5–1.6× faster with it off, and 4–27 % slower
   * with it off on the quiet machine (docs/model.md, "Intra-op spinning").
   */
  intraOpSpinning: envBoolean.optional(),
  /** "0=/models/d0.pth,1=d1@int8,3=/models/d3.safetensors" (grammar.ts, weightsList). */
  weights: weightsList,
  /** The precision of every φ whose VDET_WEIGHTS entry names none: fp32, or int8 (a cached int8 build). */
  precision: envEnum(PRECISIONS).default(DEFAULT_PRECISION),
  seed: envInt(0, 2 ** 31).default(W.seed),
  /**
   * Never download models: a φ without weights uses the cached COCO model when there is one, else untrained
   * seeded weights (said in the start-up warning); without it the COCO model is pulled on first use.
   */
  offline: envBoolean.default(false),
  /** φ whose models are built and loaded at start-up, e.g. "0,1" (empty: load on first use). */
  preload: envList(W.preload),
  lockDurationMs: envInt(1000, 3_600_000).default(W.lockDurationMs),
  /**
   * The latency profile the φ policy plans with, over the preloaded φ: "cached" measures it at start-up unless a
   * cached one fits (same models, hardware, provider, threads, batch sizes), "fresh" always measures (and replaces
   * the cache), "off" starts without one (latency jobs run their smallest φ until it is measured live).
   */
  profile: envEnum(["cached", "fresh", "off"]).default(W.profile),
  /** A cached profile older than this is measured again, hours. */
  profileMaxAgeHours: envInt(1, 100_000).default(W.profileMaxAgeHours),
  /** Live batch times this many times off the cached profile (either way) replace it; 0: never. */
  profileDriftRatio: z.coerce
    .number()
    .refine((v) => v === 0 || v > 1, "must be 0 (off) or above 1")
    .default(W.profileDriftRatio),
  /**
   * A latency profile (JSON, as `vdet worker --profile-only --json` prints) to simulate instead of running
   * models: each batch takes the profiled time and computes nothing. For policy tests and scale benchmarks.
   */
  simulateProfile: z.string().min(1).optional(),
});

export const aggregatorConfigSchema = z.object({
  ...pipelineRole,
  /** tracks.jsonl is written (and checkpointed) in parts of about this size. */
  tracksPartBytes: envInt(1, 1024 * 1024 * 1024).default(AGGREGATOR_DEFAULTS.tracksPartBytes),
  /** The api's VDET_OUTPUT_ROOTS: directory outputs are opened only when their real path lies inside one. */
  outputRoots: envList(),
  /** Notifications (job-spec notify): webhooks reach only what network inputs may (VDET_INPUT_ALLOW_ADDRESSES). */
  inputAllowAddresses: envList(),
  ...notifySettings,
});

export type ApiRoleConfig = z.output<typeof apiConfigSchema>;
export type ProducerRoleConfig = z.output<typeof producerConfigSchema>;
export type WorkerRoleConfig = z.output<typeof workerConfigSchema>;
export type AggregatorRoleConfig = z.output<typeof aggregatorConfigSchema>;
