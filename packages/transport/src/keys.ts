// Removing every key of one deployment prefix (tests, benchmarks, and operators clearing a deployment).

import type { Redis } from "ioredis";

/** Deletes all keys under `prefix:` with SCAN + UNLINK (never KEYS); returns how many were removed. */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  let removed = 0;
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    if (keys.length > 0) removed += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
  return removed;
}
