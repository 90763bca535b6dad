// One queue spread over several (partitions), for a Redis Cluster: each partition is a queue (BullMQ, or a stream)
// on its own hash tag (keys.ts), so the work's commands and bytes spread over the shards. A message goes to the partition its
// key hashes to (the same message id always to the same partition, so de-duplication by id still holds); a
// consumer takes messages from every partition. Priorities order messages within a partition, not across them.

import type { Queue } from "bullmq";
import type { z } from "zod";
import { BullQueue } from "./bullmq-queue.ts";
import type { StreamQueue } from "./stream-queue.ts";
import type {
  AddOptions,
  ConsumeOptions,
  Consumer,
  DeadLetter,
  Handler,
  QueueCounts,
  WorkQueue,
} from "./work-queue.ts";
import { consumerConcurrency } from "./work-queue.ts";

/** FNV-1a, 32 bits: a stable, well-spread hash of a partition key (not cryptographic, need not be). */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

export class PartitionedQueue<S extends z.ZodType> implements WorkQueue<z.output<S>> {
  constructor(
    readonly name: string,
    private readonly partitions: readonly (BullQueue<S> | StreamQueue<S>)[],
    /** The key a message is partitioned by (e.g. job and chunk), so that its id always lands on one partition. */
    private readonly keyOf: (message: z.input<S> | z.output<S>) => string,
  ) {
    if (partitions.length === 0) throw new RangeError(`queue ${name} needs at least one partition`);
  }

  /** The BullMQ queues underneath, partition 0 first (none for stream partitions). */
  get bullmq(): Queue[] {
    return this.partitions.flatMap((p) => (p instanceof BullQueue ? [p.bullmq] : []));
  }

  /** The partition a message goes to. */
  partitionFor(message: z.input<S> | z.output<S>): number {
    return partitionOf(this.keyOf(message), this.partitions.length);
  }

  async add(message: z.input<S> | z.output<S>, options: AddOptions = {}): Promise<void> {
    await this.partitions[this.partitionFor(message)].add(message, options);
  }

  /** Consumes every partition; `concurrency` is shared out over them (at least one message each). */
  consume(handler: Handler<z.output<S>>, options: ConsumeOptions = {}): Consumer {
    const each = Math.max(1, Math.ceil(consumerConcurrency(options) / this.partitions.length));
    const consumers = this.partitions.map((p) => p.consume(handler, { concurrency: each }));
    return {
      close: async () => {
        await Promise.all(consumers.map((c) => c.close()));
      },
    };
  }

  async counts(): Promise<QueueCounts> {
    const all = await Promise.all(this.partitions.map((p) => p.counts()));
    return all.reduce(
      (sum, c) => ({
        waiting: sum.waiting + c.waiting,
        active: sum.active + c.active,
        delayed: sum.delayed + c.delayed,
        failed: sum.failed + c.failed,
      }),
      { waiting: 0, active: 0, delayed: 0, failed: 0 },
    );
  }

  /** Every consumer consumes every partition: the most seen on one partition. */
  async consumerCount(): Promise<number> {
    const all = await Promise.all(this.partitions.map((p) => p.consumerCount()));
    return Math.max(...all);
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    for (const p of this.partitions) {
      if (out.length >= limit) break;
      out.push(...(await p.deadLetters(limit - out.length)));
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.partitions.map((p) => p.close()));
  }
}
