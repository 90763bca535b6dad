// What every role holds: its Redis connections (transport, job store, model registry), checked once at start so
// a wrong password or TLS setting fails with one clear error; and the shape of a running role.

import { readFileSync } from "node:fs";
import { ConfigError } from "@vdet/config";
import { type RedisClient, RedisJobStore, RedisModelRegistry, startHeartbeat } from "@vdet/jobs";
import type { RoleKind } from "@vdet/protocol";
import {
  checkRedis,
  connectRedis,
  createRedisTransport,
  parseRedisUrl,
  type RedisTransport,
} from "@vdet/transport";
import type { Logger } from "pino";

export interface Common {
  redisUrl: string;
  prefix: string;
  redisTlsCaFile?: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Partitions of the frames and results queues (VDET_QUEUE_PARTITIONS; Redis Cluster only). */
  queuePartitions?: number;
  keepFinishedJobsSeconds?: number;
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

export interface Connections {
  transport: RedisTransport;
  redis: RedisClient;
  jobStore: RedisJobStore;
  /** What the workers run per φ (they publish it; the other roles read class names from it). */
  models: RedisModelRegistry;
  close(): Promise<void>;
}

/**
 * The role's Redis connections; with `role`, the role also publishes its heartbeat (kind, id, the job ids
 * `jobs` names) until closed, so `GET /jobs/:id` can say when no process serves a job.
 */
export function connect(
  config: Common,
  logger: Logger,
  role?: { kind: RoleKind; jobs?: () => string[] },
): Connections {
  const onError = (error: Error) => logger.warn({ err: error.message }, "redis connection problem");
  const ca = tlsCa(config);
  const transport = createRedisTransport({
    url: config.redisUrl,
    prefix: config.prefix,
    onError,
    tlsCa: ca,
    lockDurationMs: config.lockDurationMs,
    stalledIntervalMs: config.stalledIntervalMs,
    partitions: config.queuePartitions,
    keepFinishedJobsSeconds: config.keepFinishedJobsSeconds,
  });
  // The same key map as the transport's (hash-tagged on a Redis Cluster).
  const redis = connectRedis(parseRedisUrl(config.redisUrl, { tlsCa: ca }));
  redis.on("error", onError);
  const jobStore = new RedisJobStore(redis, transport.keys);
  const heartbeat = role
    ? startHeartbeat(redis, transport.keys, { role: role.kind, jobs: role.jobs })
    : undefined;
  return {
    transport,
    redis,
    jobStore,
    models: new RedisModelRegistry(redis, transport.keys),
    close: async () => {
      await heartbeat?.close();
      await jobStore.close();
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

/** A role whose parts are open: ready while Redis answers; `close` closes the parts in order (its stage first). */
export function runningRole(redis: RedisClient, parts: ReadonlyArray<{ close(): unknown }>): RunningRole {
  return {
    ready: async () => {
      await redis.ping();
    },
    close: async () => {
      for (const part of parts) await part.close();
    },
  };
}
