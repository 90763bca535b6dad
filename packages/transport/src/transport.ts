// The set of queues and the frame store that connect the stages. Two implementations with one shape:
// Redis (BullMQ queues + binary frame keys with a TTL) for distributed runs, in-process for local mode and tests.

import { ConfigError } from "@vdet/config";
import { DEFAULT_PREFIX, DeploymentKeys } from "@vdet/jobs";
import {
  detectionBatchSchema,
  frameChunkSchema,
  jobEventSchema,
  jobIdSchema,
  segmentSchema,
} from "@vdet/protocol";
import type { Queue, RedisOptions } from "bullmq";
import { Redis } from "ioredis";
import { z } from "zod";
import { BullQueue } from "./bullmq-queue.ts";
import { type FrameStore, MemoryFrameStore, RedisFrameStore } from "./frame-store.ts";
import { MemoryQueue } from "./memory-queue.ts";
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
  /** The BullMQ queues underneath (Redis transport; empty in memory), for bull-board and queue metrics. */
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
  /** redis://[:password@]host:port[/db] or rediss:// for TLS. */
  url: string;
  /** Key prefix separating deployments (and tests). */
  prefix?: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  onError?: (error: Error) => void;
  /** PEM certificate(s) that sign the server's TLS certificate, for rediss:// with a private CA. */
  tlsCa?: string;
}

export interface RedisTlsOptions {
  /** PEM CA certificate(s) to trust for rediss:// (default: the system's trusted CAs). */
  tlsCa?: string;
}

export function redisOptionsFromUrl(url: string, options: RedisTlsOptions = {}): RedisOptions {
  const parsed = new URL(url);
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new ConfigError(`Redis URL must start with redis:// or rediss://, got ${parsed.protocol}`);
  }
  return {
    host: parsed.hostname || "127.0.0.1",
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === "rediss:" ? (options.tlsCa ? { ca: options.tlsCa } : {}) : undefined,
    maxRetriesPerRequest: null,
  };
}

export function createRedisTransport(options: RedisTransportOptions): Transport {
  const keys = new DeploymentKeys(options.prefix ?? DEFAULT_PREFIX);
  const connection = redisOptionsFromUrl(options.url, { tlsCa: options.tlsCa });
  const redis = new Redis(connection);
  redis.on("error", (error) => options.onError?.(error));
  const queueOptions = {
    connection,
    prefix: keys.queuePrefix,
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
    onError: options.onError,
  };
  const queues = {
    jobs: new BullQueue(QUEUE_NAMES.jobs, jobRequestSchema, queueOptions),
    frames: new BullQueue(QUEUE_NAMES.frames, frameChunkSchema, queueOptions),
    segments: new BullQueue(QUEUE_NAMES.segments, segmentSchema, queueOptions),
    results: new BullQueue(QUEUE_NAMES.results, detectionBatchSchema, queueOptions),
    events: new BullQueue(QUEUE_NAMES.events, jobEventSchema, queueOptions),
  };
  return {
    ...queues,
    frameStore: new RedisFrameStore(redis, keys),
    kind: "redis",
    bullmqQueues: () => Object.values(queues).map((q) => q.bullmq),
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
