// @vdet/transport: queues and frame storage between stages, over Redis (BullMQ) or in process.
export * from "./bullmq-queue.ts";
export * from "./frame-store.ts";
export * from "./keys.ts";
export * from "./memory-queue.ts";
export * from "./redis-check.ts";
export * from "./transport.ts";
export * from "./work-queue.ts";
