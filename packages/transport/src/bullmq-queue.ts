// The distributed queue: BullMQ over Redis. Messages are validated on receipt; a poison message fails at once
// (UnrecoverableError) and stays in BullMQ's failed set with its reason, which is the dead-letter list.
// Long batches: the lock is renewed by BullMQ every lockDuration/2 while a handler runs; a crashed consumer's
// messages come back after the stall interval.

import { QUEUE_DEFAULTS } from "@vdet/config";
import { isRetryable } from "@vdet/errors";
import { parseMessage } from "@vdet/protocol";
import { type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import type { z } from "zod";
import { bullmqConnection, type RedisEndpoint } from "./redis-connection.ts";
import {
  type AddOptions,
  type ConsumeOptions,
  type Consumer,
  consumerConcurrency,
  DEFAULT_ATTEMPTS,
  type DeadLetter,
  type Handler,
  messagePriority,
  type QueueCounts,
  type WorkQueue,
} from "./work-queue.ts";

export interface BullQueueOptions {
  /** One Redis or a Redis Cluster (redis-connection.ts). */
  endpoint: RedisEndpoint;
  /** Key prefix of every queue key (separates deployments and tests; a hash tag on a Redis Cluster). */
  prefix: string;
  attempts?: number;
  /** How long a consumer owns a message before it counts as stalled (renewed while it runs). */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Keep completed messages this long (seconds, at most 10 000 of them) for admin views; default: remove at once. */
  keepCompletedSeconds?: number;
  /** Connection and processing errors BullMQ reports outside a handler (it reconnects by itself). */
  onError?: (error: Error) => void;
}

export class BullQueue<S extends z.ZodType> implements WorkQueue<z.output<S>> {
  private readonly queue: Queue;
  private readonly workers = new Set<Worker>();
  private readonly connection: ReturnType<typeof bullmqConnection>;

  constructor(
    readonly name: string,
    private readonly schema: S,
    private readonly options: BullQueueOptions,
  ) {
    this.connection = bullmqConnection(options.endpoint, (error) => this.reportError(error));
    this.queue = new Queue(name, {
      connection: this.connection.connection,
      prefix: options.prefix,
      defaultJobOptions: {
        attempts: options.attempts ?? DEFAULT_ATTEMPTS,
        backoff: { type: "exponential", delay: 250 },
        removeOnComplete: options.keepCompletedSeconds
          ? { age: options.keepCompletedSeconds, count: 10_000 }
          : true,
        removeOnFail: { count: 10_000 },
      },
    });
    this.queue.on("error", (error) => this.reportError(error));
  }

  /** The BullMQ queue underneath, for admin views (bull-board) and detailed counts; not for sending messages. */
  get bullmq(): Queue {
    return this.queue;
  }

  async add(message: z.input<S> | z.output<S>, options: AddOptions = {}): Promise<void> {
    await this.queue.add(this.name, message, {
      jobId: options.id,
      priority: messagePriority(options),
    });
  }

  consume(handler: Handler<z.output<S>>, options: ConsumeOptions = {}): Consumer {
    const worker = new Worker(
      this.name,
      async (job: Job) => {
        let message: z.output<S>;
        try {
          message = parseMessage(this.schema, this.name, job.data);
        } catch (error) {
          throw new UnrecoverableError((error as Error).message);
        }
        try {
          await handler(message, {
            id: job.id ?? "",
            attempt: job.attemptsMade + 1,
            addedAtMs: job.timestamp,
          });
        } catch (error) {
          if (!isRetryable(error)) {
            throw new UnrecoverableError((error as Error).message);
          }
          throw error;
        }
      },
      {
        connection: this.connection.connection,
        prefix: this.options.prefix,
        concurrency: consumerConcurrency(options),
        lockDuration: this.options.lockDurationMs ?? QUEUE_DEFAULTS.lockDurationMs,
        stalledInterval: this.options.stalledIntervalMs ?? QUEUE_DEFAULTS.stalledIntervalMs,
        maxStalledCount: 3,
        // An idle consumer's blocking read (BZPOPMIN) returns after this many seconds and BullMQ then runs its fetch
        // script (≈ 8 commands) before blocking again: 10 s (BullMQ's own ceiling for a block with delayed jobs;
        // default 5) halves what an idle worker costs Redis. A new message wakes the read at once either way.
        drainDelay: 10,
      },
    );
    // BullMQ retries its own connection; report the error instead of letting it become unhandled.
    worker.on("error", (error) => this.reportError(error));
    this.workers.add(worker);
    return {
      close: async () => {
        this.workers.delete(worker);
        await worker.close();
      },
    };
  }

  private reportError(error: Error): void {
    if (this.options.onError) this.options.onError(error);
    else process.stderr.write(`vdet: queue ${this.name}: ${error.message}\n`);
  }

  async counts(): Promise<QueueCounts> {
    const c = await this.queue.getJobCounts("waiting", "prioritized", "active", "delayed", "failed");
    return {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      delayed: c.delayed ?? 0,
      failed: c.failed ?? 0,
    };
  }

  async consumerCount(): Promise<number> {
    // BullMQ names each worker's Redis connection after its queue; this counts them (CLIENT LIST).
    return this.queue.getWorkersCount();
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const failed = await this.queue.getFailed(0, limit - 1);
    return failed.map((job) => ({ id: job.id ?? "", reason: job.failedReason, data: job.data }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.close()));
    this.workers.clear();
    await this.queue.close();
    await this.connection.release();
  }
}
