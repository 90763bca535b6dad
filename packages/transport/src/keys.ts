// Removing every key of one deployment (tests, benchmarks, and operators clearing a deployment).

import { DeploymentKeys, deleteDeploymentKeys, type RedisClient } from "@vdet/jobs";

/**
 * Deletes all keys of the deployment `prefix` with SCAN + UNLINK (never KEYS); returns how many were removed. On a
 * Redis Cluster connection, the hash-tagged layout's keys on every master.
 */
export function deleteKeysWithPrefix(redis: RedisClient, prefix: string): Promise<number> {
  return deleteDeploymentKeys(redis, new DeploymentKeys(prefix, { hashTags: redis.isCluster }));
}
