// The set of queues and the frame store that connect the stages. Two implementations with one shape:
// Redis (BullMQ queues + binary frame keys with a TTL) for distributed runs, in-process for local mode and tests.

import { DEFAULT_PREFIX, type DeploymentKeys, type RedisClient } from "@vdet/jobs";
import {
  detectionBatchSchema,
  frameChunkSchema,
  jobEventSchema,
  jobIdSchema,
  segmentSchema,
} from "@vdet/protocol";
import type { Queue } from "bullmq";
import { z } from "zod";
import { BullQueue } from "./bullmq-queue.ts";
import { type FrameStore, MemoryFrameStore, RedisFrameStore } from "./frame-store.ts";
import { MemoryQueue } from "./memory-queue.ts";
import { PartitionedQueue } from "./partitioned-queue.ts";
import { connectRedis, deploymentKeysFor, parseRedisUrl } from "./redis-connection.ts";
import { StreamQueue } from "./stream-queue.ts";
import type { WorkQueue } from "./work-queue.ts";

export const jobRequestSchema = z.object({ jobId: jobIdSchema }).strict();

export interface Transport {
  /** api → producer: jobs to decode. */
  jobs: WorkQueue<z.output<typeof jobRequestSchema>>;
  /** producer → workers: chunks of stored frames to run (live inputs' low-latency path). */
  frames: WorkQueue<z.output<typeof frameChunkSchema>>;
  /** producer → workers: segments to decode and run (re-readable inputs, recorded live segments). */
  segments: WorkQueue<z.output<typeof segmentSchema>>;
  /** workers → aggregator: detections per chunk or segment, packed. */
  results: WorkQueue<z.output<typeof detectionBatchSchema>>;
  /** producer/api → aggregator: decode finished, job failed or cancelled. */
  events: WorkQueue<z.output<typeof jobEventSchema>>;
  frameStore: FrameStore;
  readonly kind: "redis" | "memory";
  /**
   * The BullMQ queues underneath (Redis transport: jobs, frames, segments; empty in memory), for bull-board and
   * queue metrics. Results and events are streams (stream-queue.ts): their counts come from the queues themselves.
   */
  bullmqQueues(): Queue[];
  close(): Promise<void>;
}

export const QUEUE_NAMES = {
  jobs: "jobs",
  frames: "frames",
  segments: "segments",
  results: "results",
  events: "events",
} as const;

export function createMemoryTransport(): Transport {
  const frameStore = new MemoryFrameStore();
  const queues = {
    jobs: new MemoryQueue(QUEUE_NAMES.jobs, jobRequestSchema),
    frames: new MemoryQueue(QUEUE_NAMES.frames, frameChunkSchema),
    segments: new MemoryQueue(QUEUE_NAMES.segments, segmentSchema),
    results: new MemoryQueue(QUEUE_NAMES.results, detectionBatchSchema),
    events: new MemoryQueue(QUEUE_NAMES.events, jobEventSchema),
  };
  return {
    ...queues,
    frameStore,
    kind: "memory",
    bullmqQueues: () => [],
    close: async () => {
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await frameStore.close();
    },
  };
}

export interface RedisTransportOptions {
  /**
   * redis://[:password@]host:port[/db], rediss:// for TLS, or redis+cluster://[:password@]host:port,host:port,…
   * (rediss+cluster:// for TLS) for a Redis Cluster (redis-connection.ts).
   */
  url: string;
  /** Key prefix separating deployments (and tests). */
  prefix?: string;
  /** Partitions of the frames and results queues (Redis Cluster only; default 1). */
  partitions?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  onError?: (error: Error) => void;
  /** How long finished messages of the jobs queue stay visible (bull-board), seconds; default: removed at once. */
  keepFinishedJobsSeconds?: number;
  /** PEM certificate(s) that sign the server's TLS certificate, for rediss:// with a private CA. */
  tlsCa?: string;
}

/** The Redis transport, with the key map it writes by and its own connection (for the frame store). */
export interface RedisTransport extends Transport {
  readonly kind: "redis";
  readonly keys: DeploymentKeys;
  readonly redis: RedisClient;
}

export function createRedisTransport(options: RedisTransportOptions): RedisTransport {
  const endpoint = parseRedisUrl(options.url, { tlsCa: options.tlsCa });
  const keys = deploymentKeysFor(endpoint, options.prefix ?? DEFAULT_PREFIX, {
    partitions: options.partitions,
  });
  const redis = connectRedis(endpoint);
  redis.on("error", (error) => options.onError?.(error));
  const queueOptions = (name: string, partition?: number) => ({
    endpoint,
    prefix: keys.queuePrefix(name, partition),
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
    onError: options.onError,
  });
  // Work for the workers (priorities, long handlers, BullMQ's stalled events) on BullMQ; what the aggregator reads
  // (small, FIFO, handled in milliseconds) on streams (stream-queue.ts): a few commands a message, not ~36.
  const streamOptions = (name: string, partition?: number) => ({
    endpoint,
    key: keys.queueStream(name, partition),
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
    onError: options.onError,
  });
  const partitioned = <S extends z.ZodType>(
    name: string,
    schema: S,
    keyOf: (message: z.input<S> | z.output<S>) => string,
    kind: "bullmq" | "stream" = "bullmq",
  ) =>
    new PartitionedQueue(
      name,
      Array.from({ length: keys.partitions }, (_, p) =>
        kind === "stream"
          ? new StreamQueue(name, schema, streamOptions(name, p))
          : new BullQueue(name, schema, queueOptions(name, p)),
      ),
      keyOf,
    );
  const queues = {
    jobs: new BullQueue(QUEUE_NAMES.jobs, jobRequestSchema, {
      ...queueOptions(QUEUE_NAMES.jobs),
      keepCompletedSeconds: options.keepFinishedJobsSeconds,
    }),
    frames: partitioned(QUEUE_NAMES.frames, frameChunkSchema, (m) => `${m.jobId}:${m.chunk}`),
    segments: partitioned(QUEUE_NAMES.segments, segmentSchema, (m) => `${m.jobId}:${m.segment}`),
    results: partitioned(QUEUE_NAMES.results, detectionBatchSchema, (m) => `${m.jobId}:${m.chunk}`, "stream"),
    events: new StreamQueue(QUEUE_NAMES.events, jobEventSchema, streamOptions(QUEUE_NAMES.events)),
  };
  return {
    ...queues,
    frameStore: new RedisFrameStore(redis, keys),
    kind: "redis",
    keys,
    redis,
    bullmqQueues: () => [queues.jobs.bullmq, ...queues.frames.bullmq, ...queues.segments.bullmq],
    close: async () => {
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await redis.quit();
    },
  };
}

/**
 * Work waiting for the workers, as autoscalers read it: messages in the segments and frames queues (a segment or
 * a chunk of frames each; "waiting" covers BullMQ's wait list and prioritized set), and the workers connected.
 */
export async function workerBacklog(transport: Transport): Promise<{ waiting: number; workers: number }> {
  const [segments, frames, segmentConsumers, frameConsumers] = await Promise.all([
    transport.segments.counts(),
    transport.frames.counts(),
    transport.segments.consumerCount(),
    transport.frames.consumerCount(),
  ]);
  // Every worker consumes both queues: the larger count is the number of workers.
  return { waiting: segments.waiting + frames.waiting, workers: Math.max(segmentConsumers, frameConsumers) };
}
