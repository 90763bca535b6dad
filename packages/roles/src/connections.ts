// What every role holds: its Redis connections (transport, job store, model registry), checked once at start so
// a wrong password or TLS setting fails with one clear error; and the shape of a running role.

import { readFileSync } from "node:fs";
import { ConfigError } from "@vdet/config";
import { RedisJobStore, RedisModelRegistry } from "@vdet/jobs";
import { checkRedis, createRedisTransport, redisOptionsFromUrl, type Transport } from "@vdet/transport";
import { Redis } from "ioredis";
import type { Logger } from "pino";

export interface Common {
  redisUrl: string;
  prefix: string;
  redisTlsCaFile?: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
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
  transport: Transport;
  redis: Redis;
  jobStore: RedisJobStore;
  /** What the workers run per φ (they publish it; the other roles read class names from it). */
  models: RedisModelRegistry;
  close(): Promise<void>;
}

export function connect(config: Common, logger: Logger): Connections {
  const onError = (error: Error) => logger.warn({ err: error.message }, "redis connection problem");
  const ca = tlsCa(config);
  const transport = createRedisTransport({
    url: config.redisUrl,
    prefix: config.prefix,
    onError,
    tlsCa: ca,
    lockDurationMs: config.lockDurationMs,
    stalledIntervalMs: config.stalledIntervalMs,
    keepFinishedJobsSeconds: config.keepFinishedJobsSeconds,
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

/** A role whose parts are open: ready while Redis answers; `close` closes the parts in order (its stage first). */
export function runningRole(redis: Redis, parts: ReadonlyArray<{ close(): unknown }>): RunningRole {
  return {
    ready: async () => {
      await redis.ping();
    },
    close: async () => {
      for (const part of parts) await part.close();
    },
  };
}
