// Test helpers of @vdet/transport (kept out of src/, so they never ship).

import type { FrameChunk } from "@vdet/protocol";

/** A one-frame D0 archive chunk of job `jobId`, frame `n`, as the producer would queue it. */
export function testChunk(jobId: string, n: number, priority = 5, keyPrefix = ""): FrameChunk {
  return {
    jobId,
    chunk: n,
    frames: [{ index: n, ptsMs: n * 200, key: `${keyPrefix}${jobId}/${n}` }],
    size: 512,
    letterbox: { sourceWidth: 1280, sourceHeight: 720, contentWidth: 512, contentHeight: 288 },
    phi: { min: 0, max: 0 },
    mode: "archive",
    scoreThreshold: 0.3,
    priority,
    enqueuedAtMs: Date.now(),
  };
}

export {
  keysPerNode,
  type LocalRedisCluster,
  type RedisClusterNode,
  startRedisCluster,
} from "./redis-cluster.ts";
