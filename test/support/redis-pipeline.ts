// The distributed pipeline's in-process half over the real Redis, as the end-to-end tests and benchmarks start it:
// a Redis connection, the transport and job store under a unique key prefix, a producer and an aggregator that
// writes each job's output where its spec says. `close()` stops them and deletes every key under the prefix.

import { type RoleProcess, startRole } from "@vdet/cli/testing";
import type { ModelRegistry } from "@vdet/jobs";
import { RedisJobStore } from "@vdet/jobs";
import { openJobOutput, type ProducerConfig, startAggregator, startProducer } from "@vdet/pipeline";
import { createRedisTransport, deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";
import { closeInOrder } from "./close.ts";
import { TEST_REDIS_URL } from "./redis-url.ts";

export const REDIS_URL = TEST_REDIS_URL;

export interface RedisPipelineOptions {
  /** The key prefix: unique per test file or run, so that files run in parallel safely. */
  prefix: string;
  /** A connection to use (and quit on close) instead of a new one, e.g. one a model registry reads through. */
  redis?: Redis;
  framesPerChunk?: number;
  /** Sampled frames per segment (files are planned into segments; default: the producer's). */
  segmentFrames?: number;
  /** What the workers run per φ, when the producer and aggregator should read it (default: COCO). */
  models?: ModelRegistry;
  /** More producer settings (a live test's input timeout). */
  producer?: Omit<ProducerConfig, "transport" | "jobStore">;
  /** Called as each job finishes, besides recording its state in `finished`. */
  onJobFinished?: (id: string, state: string) => void;
}

export function startRedisPipeline(options: RedisPipelineOptions) {
  const { prefix, framesPerChunk, segmentFrames, models } = options;
  const redis = options.redis ?? new Redis(redisOptionsFromUrl(REDIS_URL));
  const transport = createRedisTransport({ url: REDIS_URL, prefix });
  const jobStore = new RedisJobStore(redis, prefix);
  /** The final state of each job that finished, by id. */
  const finished = new Map<string, string>();
  const producer = startProducer({
    transport,
    jobStore,
    models,
    framesPerChunk,
    segmentFrames,
    ...options.producer,
  });
  const aggregator = startAggregator({
    transport,
    jobStore,
    models,
    openOutput: (_id, location) => openJobOutput(location),
    onJobFinished: (id, state) => {
      finished.set(id, state);
      options.onJobFinished?.(id, state);
    },
  });
  return {
    prefix,
    redis,
    transport,
    jobStore,
    finished,
    producer,
    aggregator,
    /** Stops the producer and aggregator, deletes the prefix's keys and disconnects. Stop workers first. */
    async close() {
      await closeInOrder(producer, aggregator, transport);
      await jobStore.close();
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    },
  };
}

/**
 * Starts `count` `vdet worker` processes on the real Redis under `prefix`, with extra CLI arguments and environment;
 * with `echo`, each one's output is echoed with the prefix `echo(i)`.
 */
export function startWorkers(
  count: number,
  prefix: string,
  options: { args?: string[]; env?: Record<string, string>; echo?: (i: number) => string },
): RoleProcess[] {
  return Array.from({ length: count }, (_, i) =>
    startRole("worker", {
      args: ["--prefix", prefix, ...(options.args ?? [])],
      // The tests' inputs are local files, which workers decode by themselves (segments).
      env: { VDET_REDIS_URL: REDIS_URL, VDET_ALLOW_FILE_INPUTS: "1", ...options.env },
      echo: options.echo?.(i),
    }),
  );
}
