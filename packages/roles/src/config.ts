// Configuration of every role, read in one place: environment variables (VDET_*), overridden by CLI flags.
// One zod schema per role; `describeConfig` prints it with secrets masked.

import { DEFAULT_PREFIX, PREFIX_PATTERN } from "@vdet/jobs";
import { z } from "zod";

const bool = z
  .union([z.boolean(), z.enum(["1", "0", "true", "false", "yes", "no"])])
  .transform((v) => v === true || v === "1" || v === "true" || v === "yes");
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** The Redis every role (and `vdet doctor`) uses when VDET_REDIS_URL is unset. */
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

const common = {
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL")
    .default(DEFAULT_REDIS_URL),
  prefix: z.string().regex(PREFIX_PATTERN).default(DEFAULT_PREFIX),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Port of the /healthz + /readyz server for orchestrators' probes (unset: none). */
  healthPort: int(1, 65535).optional(),
  /** PEM file of the CA that signed the Redis server's certificate (rediss:// with a private CA). */
  redisTlsCaFile: z.string().min(1).optional(),
  /**
   * How long a role owns a queue message it is handling (renewed while it runs); a crashed role's messages go
   * back to the queue once this has passed, at the next stall check.
   */
  lockDurationMs: int(1000, 3_600_000).default(60_000),
  /** How often a role checks its queues for messages of crashed consumers (stalled), ms. */
  stalledIntervalMs: int(500, 3_600_000).default(30_000),
};
/** Port of the role's own GET /metrics server (producer, worker, aggregator); 0 or unset: none. */
const metricsPort = { metricsPort: int(0, 65535).default(0) };
const list = z
  .string()
  .default("")
  .transform((s) =>
    s
      .split(",")
      .map((b) => b.trim())
      .filter(Boolean),
  );
// S3 settings (VDET_S3_ENDPOINT, AWS_REGION, VDET_S3_FORCE_PATH_STYLE, …) are read by @vdet/storage's
// s3ConfigFromEnv; credentials come from the AWS SDK's default chain.

export const apiConfigSchema = z.object({
  ...common,
  host: z.string().default("0.0.0.0"),
  port: int(0, 65535).default(8080),
  token: z.string().min(16, "the API token must be at least 16 characters").optional(),
  noAuth: bool.default(false),
  allowFileInputs: bool.default(false),
  allowDirectoryOutputs: bool.default(false),
  allowedOutputBuckets: list,
  /** CloudWatch namespace for the backlog-per-worker metric (unset: not published). */
  cloudwatchNamespace: z.string().min(1).max(255).optional(),
  metricsIntervalSeconds: int(5, 3600).default(60),
  /** Job outputs must lie under one of these (s3://bucket/prefix/ or absolute directories). */
  outputRoots: list,
  maxActiveJobs: int(1, 10_000_000).default(10_000),
  bodyLimitBytes: int(1024, 16 * 1024 * 1024).default(64 * 1024),
});

export const producerConfigSchema = z.object({
  ...common,
  ...metricsPort,
  framesPerChunk: int(1, 256).default(4),
  maxFramesInFlight: int(1, 100_000).default(64),
  maxQueuedChunks: int(1, 1_000_000).default(256),
  frameTtlSeconds: int(10, 7 * 24 * 3600).default(3600),
  concurrency: int(1, 64).default(2),
  maxWidth: int(16, 16384).default(7680),
  maxHeight: int(16, 16384).default(4320),
  maxFrames: int(1, 100_000_000).default(1_000_000),
  maxDurationSeconds: int(1, 30 * 24 * 3600).default(24 * 3600),
  maxInputBytes: int(1, 2 ** 50).default(50 * 2 ** 30),
  inputTimeoutMs: int(100, 3_600_000).default(30_000),
  allowFileInputs: bool.default(false),
});

export const workerConfigSchema = z.object({
  ...common,
  ...metricsPort,
  maxBatch: int(1, 64).default(4),
  maxDelayMs: int(0, 10_000).default(20),
  executionProvider: z.string().default("cpu"),
  threads: int(1, 256).optional(),
  /** "0=/models/d0.pth,3=/models/d3.safetensors" */
  weights: z
    .string()
    .default("")
    .transform((s, ctx) => {
      const out: Record<string, string> = {};
      for (const part of s.split(",").filter(Boolean)) {
        const match = /^(d?(?:[0-7]|7x))=(.+)$/i.exec(part.trim());
        if (!match) {
          ctx.addIssue({
            code: "custom",
            message: `weights entries look like 0=/path/d0.pth, got "${part}"`,
          });
          continue;
        }
        out[match[1].toLowerCase().replace(/^d/, "")] = match[2];
      }
      return out;
    }),
  seed: int(0, 2 ** 31).default(0),
  /** φ whose models are built and loaded at start-up, e.g. "0,1" (empty: load on first use). */
  preload: z
    .string()
    .default("0")
    .transform((s) =>
      s
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean),
    ),
  lockDurationMs: int(1000, 3_600_000).default(120_000),
  /**
   * The latency profile the φ policy plans with, over the preloaded φ: "cached" measures it at start-up unless a
   * cached one fits (same models, hardware, provider, threads, batch sizes), "fresh" always measures (and replaces
   * the cache), "off" starts without one (latency jobs run their smallest φ until it is measured live).
   */
  profile: z.enum(["cached", "fresh", "off"]).default("cached"),
  /**
   * A latency profile (JSON, as `vdet worker --profile-only --json` prints) to simulate instead of running
   * models: each batch takes the profiled time and computes nothing. For policy tests and scale benchmarks.
   */
  simulateProfile: z.string().min(1).optional(),
});

export const aggregatorConfigSchema = z.object({
  ...common,
  ...metricsPort,
  /** tracks.jsonl is written (and checkpointed) in parts of about this size. */
  tracksPartBytes: int(1, 1024 * 1024 * 1024).default(1024 * 1024),
});

export type ApiRoleConfig = z.output<typeof apiConfigSchema>;
export type ProducerRoleConfig = z.output<typeof producerConfigSchema>;
export type WorkerRoleConfig = z.output<typeof workerConfigSchema>;
export type AggregatorRoleConfig = z.output<typeof aggregatorConfigSchema>;

const ENV: Record<string, string> = {
  redisUrl: "VDET_REDIS_URL",
  prefix: "VDET_PREFIX",
  logLevel: "VDET_LOG_LEVEL",
  healthPort: "VDET_HEALTH_PORT",
  host: "VDET_API_HOST",
  port: "VDET_API_PORT",
  token: "VDET_API_TOKEN",
  noAuth: "VDET_API_NO_AUTH",
  allowFileInputs: "VDET_ALLOW_FILE_INPUTS",
  allowDirectoryOutputs: "VDET_ALLOW_DIRECTORY_OUTPUTS",
  allowedOutputBuckets: "VDET_OUTPUT_BUCKETS",
  cloudwatchNamespace: "VDET_CLOUDWATCH_NAMESPACE",
  metricsIntervalSeconds: "VDET_METRICS_INTERVAL_SECONDS",
  outputRoots: "VDET_OUTPUT_ROOTS",
  maxActiveJobs: "VDET_MAX_ACTIVE_JOBS",
  bodyLimitBytes: "VDET_API_BODY_LIMIT_BYTES",
  redisTlsCaFile: "VDET_REDIS_TLS_CA_FILE",
  maxDurationSeconds: "VDET_MAX_DURATION_SECONDS",
  maxInputBytes: "VDET_MAX_INPUT_BYTES",
  inputTimeoutMs: "VDET_INPUT_TIMEOUT_MS",
  framesPerChunk: "VDET_FRAMES_PER_CHUNK",
  maxFramesInFlight: "VDET_MAX_FRAMES_IN_FLIGHT",
  maxQueuedChunks: "VDET_MAX_QUEUED_CHUNKS",
  frameTtlSeconds: "VDET_FRAME_TTL_SECONDS",
  concurrency: "VDET_PRODUCER_CONCURRENCY",
  maxWidth: "VDET_MAX_WIDTH",
  maxHeight: "VDET_MAX_HEIGHT",
  maxFrames: "VDET_MAX_FRAMES",
  maxBatch: "VDET_MAX_BATCH",
  maxDelayMs: "VDET_MAX_DELAY_MS",
  executionProvider: "VDET_EP",
  threads: "VDET_THREADS",
  weights: "VDET_WEIGHTS",
  seed: "VDET_SEED",
  preload: "VDET_PRELOAD",
  lockDurationMs: "VDET_LOCK_DURATION_MS",
  stalledIntervalMs: "VDET_STALLED_INTERVAL_MS",
  tracksPartBytes: "VDET_TRACKS_PART_BYTES",
  metricsPort: "VDET_METRICS_PORT",
  simulateProfile: "VDET_SIMULATE_PROFILE",
  profile: "VDET_PROFILE",
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Reads a role's configuration: flags (already parsed) win over environment variables, then defaults. */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv,
  flags: Record<string, unknown> = {},
): z.output<S> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const fromEnv = ENV[key] ? env[ENV[key]] : undefined;
    if (fromEnv !== undefined && fromEnv !== "") raw[key] = fromEnv;
    if (flags[key] !== undefined) raw[key] = flags[key];
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = String(i.path[0] ?? "");
      return `${key}${ENV[key] ? ` (${ENV[key]})` : ""}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join("; ")}`);
  }
  return result.data;
}

const SECRET_KEYS = new Set(["token"]);

/** The configuration as one log-friendly object, secrets masked and credentials stripped from URLs. */
export function describeConfig(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (SECRET_KEYS.has(key)) out[key] = value === undefined ? undefined : "***";
    else if (typeof value === "string" && /^[a-z]+:\/\/[^/]*@/i.test(value))
      out[key] = value.replace(/\/\/[^@/]*@/, "//***@");
    else out[key] = value;
  }
  return out;
}
