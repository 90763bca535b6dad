// Removing every key of one deployment prefix (tests, benchmarks, and operators clearing a deployment).

import { DeploymentKeys, deleteDeploymentKeys } from "@vdet/jobs";
import type { Redis } from "ioredis";

/** Deletes all keys of the deployment `prefix` with SCAN + UNLINK (never KEYS); returns how many were removed. */
export function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  return deleteDeploymentKeys(redis, new DeploymentKeys(prefix));
}
