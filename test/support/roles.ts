// A whole deployment in this process, as the end-to-end tests over S3 start it: the api, producer, worker and
// aggregator roles on the real Redis under one key prefix, configured as `vdet <role>` would be from the
// environment. `closeRoles` stops them and deletes every key under the prefix.

import {
  aggregatorConfigSchema,
  apiConfigSchema,
  loadConfig,
  producerConfigSchema,
  type RunningRole,
  startAggregatorRole,
  startApiRole,
  startProducerRole,
  startWorkerRole,
  workerConfigSchema,
} from "@vdet/roles";
import { deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { REDIS_URL } from "./redis-pipeline.ts";

/** The environment the roles' S3 clients read: an s3rver (or a proxy in front of one) at `endpoint`. */
export function s3rverEnv(endpoint: string): Record<string, string> {
  return {
    VDET_S3_ENDPOINT: endpoint,
    VDET_S3_FORCE_PATH_STYLE: "true",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
  };
}

/**
 * Starts the four roles, adding each to `roles` as it starts (so that `closeRoles` stops those that did, should a
 * later one fail), and returns the api's URL.
 */
export async function startRoles(roles: RunningRole[], prefix: string, token: string, logger: Logger) {
  const env = { VDET_REDIS_URL: REDIS_URL, VDET_PREFIX: prefix, VDET_LOG_LEVEL: "warn" };
  const api = await startApiRole(
    loadConfig(apiConfigSchema, env, { port: 0, host: "127.0.0.1", token }),
    logger,
  );
  roles.push(api);
  roles.push(await startProducerRole(loadConfig(producerConfigSchema, env), logger));
  roles.push(await startWorkerRole(loadConfig(workerConfigSchema, env), logger));
  roles.push(startAggregatorRole(loadConfig(aggregatorConfigSchema, env), logger));
  return api.url;
}

/** Closes the roles in reverse start order, then deletes the prefix's keys. */
export async function closeRoles(roles: RunningRole[], prefix: string) {
  for (const role of roles.reverse()) await role.close();
  const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
}
