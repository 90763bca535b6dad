// @vdet/transport: queues and frame storage between stages, over Redis (BullMQ) or in process.
export { BullQueue, type BullQueueOptions } from "./bullmq-queue.ts";
export { type FrameStore, MemoryFrameStore, RedisFrameStore } from "./frame-store.ts";
export { deleteKeysWithPrefix } from "./keys.ts";
export { MemoryQueue } from "./memory-queue.ts";
export { PartitionedQueue, partitionOf } from "./partitioned-queue.ts";
export { checkRedis, RedisConnectionError, redactRedisUrl } from "./redis-check.ts";
export {
  bullmqConnection,
  connectRedis,
  deploymentKeysFor,
  isClusterUrl,
  parseRedisUrl,
  type RedisEndpoint,
  type RedisTlsOptions,
  redisOptionsFromUrl,
} from "./redis-connection.ts";
export { StreamQueue, type StreamQueueOptions } from "./stream-queue.ts";
export {
  createMemoryTransport,
  createRedisTransport,
  jobRequestSchema,
  QUEUE_NAMES,
  type RedisTransport,
  type RedisTransportOptions,
  type Transport,
  workerBacklog,
} from "./transport.ts";
export {
  type AddOptions,
  type ConsumeOptions,
  type Consumer,
  DEFAULT_ATTEMPTS,
  type DeadLetter,
  type DeliveryInfo,
  type Handler,
  type QueueCounts,
  UnprocessableMessageError,
  type WorkQueue,
} from "./work-queue.ts";
