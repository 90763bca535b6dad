// In-process queue for local mode and unit tests: the same contract as the Redis queue (validation, priorities,
// de-duplication, bounded retries, dead letters), without a network hop.

import { isRetryable } from "@vdet/errors";
import { parseMessage } from "@vdet/protocol";
import type { z } from "zod";
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

interface Item {
  id: string;
  data: unknown;
  priority: number;
  seq: number;
  attempt: number;
  addedAtMs: number;
}

interface Subscriber {
  handler: Handler<unknown>;
  concurrency: number;
  active: number;
  closed: boolean;
  idle: Set<() => void>;
}

export class MemoryQueue<S extends z.ZodType> implements WorkQueue<z.output<S>> {
  private readonly waiting: Item[] = [];
  private readonly known = new Set<string>();
  private readonly subscribers: Subscriber[] = [];
  private readonly dead: DeadLetter[] = [];
  private seq = 0;
  private activeCount = 0;

  constructor(
    readonly name: string,
    private readonly schema: S,
    private readonly attempts = DEFAULT_ATTEMPTS,
  ) {}

  async add(message: z.input<S> | z.output<S>, options: AddOptions = {}): Promise<void> {
    const id = options.id ?? `${this.name}-${++this.seq}`;
    if (this.known.has(id)) return;
    this.known.add(id);
    this.enqueue({
      id,
      data: message,
      priority: messagePriority(options),
      seq: ++this.seq,
      attempt: 1,
      addedAtMs: Date.now(),
    });
  }

  private enqueue(item: Item): void {
    // Stable: lower priority number first, then insertion order.
    let i = this.waiting.length;
    while (i > 0 && this.waiting[i - 1].priority > item.priority) i--;
    this.waiting.splice(i, 0, item);
    queueMicrotask(() => this.dispatch());
  }

  private dispatch(): void {
    for (const sub of this.subscribers) {
      while (!sub.closed && sub.active < sub.concurrency && this.waiting.length > 0) {
        const item = this.waiting.shift()!;
        sub.active++;
        this.activeCount++;
        void this.deliver(sub, item);
      }
    }
  }

  private async deliver(sub: Subscriber, item: Item): Promise<void> {
    try {
      const message = parseMessage(this.schema, this.name, item.data);
      await sub.handler(message, { id: item.id, attempt: item.attempt, addedAtMs: item.addedAtMs });
      this.known.delete(item.id);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const final = !isRetryable(error) || item.attempt >= this.attempts;
      if (final) {
        this.dead.push({ id: item.id, reason, data: item.data });
        this.known.delete(item.id);
      } else {
        this.enqueue({ ...item, attempt: item.attempt + 1 });
      }
    } finally {
      sub.active--;
      this.activeCount--;
      if (sub.active === 0) for (const resolve of sub.idle) resolve();
      this.dispatch();
    }
  }

  consume(handler: Handler<z.output<S>>, options: ConsumeOptions = {}): Consumer {
    const sub: Subscriber = {
      handler: handler as Handler<unknown>,
      concurrency: consumerConcurrency(options),
      active: 0,
      closed: false,
      idle: new Set(),
    };
    this.subscribers.push(sub);
    queueMicrotask(() => this.dispatch());
    return {
      close: async () => {
        sub.closed = true;
        this.subscribers.splice(this.subscribers.indexOf(sub), 1);
        if (sub.active > 0) await new Promise<void>((resolve) => sub.idle.add(resolve));
      },
    };
  }

  async counts(): Promise<QueueCounts> {
    return { waiting: this.waiting.length, active: this.activeCount, delayed: 0, failed: this.dead.length };
  }

  async consumerCount(): Promise<number> {
    return this.subscribers.length;
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    return this.dead.slice(0, limit);
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.subscribers].map((s) => (s.active > 0 ? new Promise<void>((r) => s.idle.add(r)) : undefined)),
    );
    this.subscribers.length = 0;
  }
}
