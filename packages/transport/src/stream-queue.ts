// A lean queue for the messages that need no priorities and are handled in milliseconds (workers' detections,
// the producer's job events, for the aggregator): one Redis stream read by a consumer group (XADD, XREADGROUP,
// XACK/XDEL: about 4 commands a message, against about 36 for a BullMQ job's add → active → completed, which also
// writes its events stream four times). What a BullMQ queue gives, kept: at-least-once delivery (a message stays
// in the group's pending list until its handler returns; a crashed consumer's messages are claimed by another
// after the lock duration, XAUTOCLAIM), locks renewed while a handler runs, bounded attempts with the attempt
// number in the delivery, poison messages (schema, UnrecoverableError) dead-lettered with their reason. Not kept:
// priorities (a stream is FIFO) and de-duplication by id while queued (the id travels with the message; the
// aggregator drops duplicate frames by index, which covers redelivery as well).

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { QUEUE_DEFAULTS } from "@vdet/config";
import { isRetryable } from "@vdet/errors";
import type { RedisClient } from "@vdet/jobs";
import { parseMessage } from "@vdet/protocol";
import type { z } from "zod";
import { connectRedis, type RedisEndpoint } from "./redis-connection.ts";
import {
  type AddOptions,
  type ConsumeOptions,
  type Consumer,
  consumerConcurrency,
  DEFAULT_ATTEMPTS,
  type DeadLetter,
  type Handler,
  type QueueCounts,
  type WorkQueue,
} from "./work-queue.ts";

export interface StreamQueueOptions {
  endpoint: RedisEndpoint;
  /** The stream's key (keys.ts queueStream); its dead letters are a stream at `<key>:dead`. */
  key: string;
  attempts?: number;
  /** How long a consumer owns a message it was given (renewed while its handler runs). */
  lockDurationMs?: number;
  /** How often each consumer looks for messages of crashed consumers. */
  stalledIntervalMs?: number;
  /** How long one blocking read waits for a message (an idle consumer's only command). */
  blockMs?: number;
  onError?: (error: Error) => void;
}

const GROUP = "consumers";
const DEAD_KEPT = 10_000;

type Entry = [id: string, fields: string[] | null];

function fieldMap(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]] = fields[i + 1];
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class StreamQueue<S extends z.ZodType> implements WorkQueue<z.output<S>> {
  private readonly redis: RedisClient;
  private readonly consumers = new Set<Consumer>();
  private group: Promise<void> | null = null;
  private readonly attempts: number;
  private readonly lockMs: number;
  private readonly stalledMs: number;
  private readonly blockMs: number;

  constructor(
    readonly name: string,
    private readonly schema: S,
    private readonly options: StreamQueueOptions,
  ) {
    this.redis = connectRedis(options.endpoint);
    this.redis.on("error", (error) => this.reportError(error));
    this.attempts = options.attempts ?? DEFAULT_ATTEMPTS;
    this.lockMs = options.lockDurationMs ?? QUEUE_DEFAULTS.lockDurationMs;
    this.stalledMs = options.stalledIntervalMs ?? QUEUE_DEFAULTS.stalledIntervalMs;
    this.blockMs = options.blockMs ?? 2000;
  }

  get key(): string {
    return this.options.key;
  }

  private get deadKey(): string {
    return `${this.options.key}:dead`;
  }

  /** The consumer group, created once (from the stream's start: messages added before it are read too). */
  private ensureGroup(): Promise<void> {
    this.group ??= this.redis.xgroup("CREATE", this.key, GROUP, "0", "MKSTREAM").then(
      () => {},
      (error: Error) => {
        if (!/BUSYGROUP/.test(error.message)) {
          this.group = null;
          throw error;
        }
      },
    );
    return this.group;
  }

  async add(message: z.input<S> | z.output<S>, options: AddOptions = {}): Promise<void> {
    await this.redis.xadd(
      this.key,
      "*",
      "id",
      options.id ?? "",
      "attempt",
      "1",
      "addedAtMs",
      String(Date.now()),
      "data",
      JSON.stringify(message),
    );
  }

  consume(handler: Handler<z.output<S>>, options: ConsumeOptions = {}): Consumer {
    const concurrency = consumerConcurrency(options);
    const me = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const blocking = connectRedis(this.options.endpoint);
    blocking.on("error", () => {});
    const inHand = new Map<string, Promise<void>>();
    let closing = false;

    const ack = async (entryId: string) => {
      await this.redis.pipeline().xack(this.key, GROUP, entryId).xdel(this.key, entryId).exec();
    };
    const run = async (entryId: string, fields: Record<string, string>, deliveries: number) => {
      const attempt = Number(fields.attempt ?? 1) + deliveries - 1;
      let message: z.output<S>;
      try {
        message = parseMessage(this.schema, this.name, JSON.parse(fields.data ?? "null"));
      } catch (error) {
        await this.deadLetter(entryId, fields, (error as Error).message);
        return;
      }
      try {
        await handler(message, { id: fields.id ?? "", attempt, addedAtMs: Number(fields.addedAtMs ?? 0) });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        if (!isRetryable(error) || attempt >= this.attempts) {
          await this.deadLetter(entryId, fields, reason);
          return;
        }
        // Again, after a backoff (as BullMQ's exponential one), as a new entry that carries the next attempt.
        await sleep(250 * 2 ** (attempt - 1));
        await this.redis
          .pipeline()
          .xadd(this.key, "*", ...Object.entries({ ...fields, attempt: String(attempt + 1) }).flat())
          .xack(this.key, GROUP, entryId)
          .xdel(this.key, entryId)
          .exec();
        return;
      }
      await ack(entryId);
    };
    const start = (entryId: string, fields: string[] | null, deliveries: number) => {
      if (!fields || inHand.has(entryId)) return; // deleted meanwhile, or already ours
      const running = run(entryId, fieldMap(fields), deliveries)
        .catch((error: Error) => this.reportError(error))
        .finally(() => inHand.delete(entryId));
      inHand.set(entryId, running);
    };

    // Messages of consumers that crashed (pending longer than the lock) come to a consumer with room.
    const reclaim = async () => {
      const room = concurrency - inHand.size;
      if (closing || room <= 0) return;
      await this.ensureGroup();
      const [, entries] = (await this.redis.xautoclaim(
        this.key,
        GROUP,
        me,
        this.lockMs,
        "0-0",
        "COUNT",
        room,
      )) as [string, Entry[]];
      for (const [entryId, fields] of entries) {
        if (!fields) continue;
        const info = (await this.redis.xpending(this.key, GROUP, entryId, entryId, 1)) as [
          string,
          string,
          number,
          number,
        ][];
        start(entryId, fields, Math.max(1, info[0]?.[3] ?? 1));
      }
    };
    // Locks of the messages in hand renewed (their idle time reset) at half the lock duration.
    const renew = async () => {
      if (inHand.size === 0) return;
      await this.redis.call("XCLAIM", this.key, GROUP, me, 0, ...inHand.keys(), "JUSTID");
    };
    const reclaimTimer = setInterval(() => void reclaim().catch((e) => this.reportError(e)), this.stalledMs);
    const renewTimer = setInterval(() => void renew().catch((e) => this.reportError(e)), this.lockMs / 2);

    const loop = (async () => {
      await reclaim().catch((error) => this.reportError(error));
      while (!closing) {
        if (inHand.size >= concurrency) {
          await Promise.race(inHand.values());
          continue;
        }
        try {
          await this.ensureGroup();
          const reply = (await blocking.xreadgroup(
            "GROUP",
            GROUP,
            me,
            "COUNT",
            concurrency - inHand.size,
            "BLOCK",
            this.blockMs,
            "STREAMS",
            this.key,
            ">",
          )) as [string, Entry[]][] | null;
          for (const [, entries] of reply ?? []) for (const [id, fields] of entries) start(id, fields, 1);
        } catch (error) {
          if (closing) break;
          // The stream was deleted (and the group with it): make the group again.
          if (/NOGROUP/.test((error as Error).message)) this.group = null;
          else this.reportError(error as Error);
          await sleep(500);
        }
      }
    })();

    const consumer: Consumer = {
      close: async () => {
        closing = true;
        clearInterval(reclaimTimer);
        clearInterval(renewTimer);
        blocking.disconnect();
        await loop;
        await Promise.all(inHand.values());
        this.consumers.delete(consumer);
        // Leaves the group when it holds nothing (a consumer with pending messages stays, for XAUTOCLAIM).
        const mine = (await this.redis
          .xpending(this.key, GROUP, "-", "+", 1, me)
          .catch(() => [1])) as unknown[];
        if (mine.length === 0) await this.redis.xgroup("DELCONSUMER", this.key, GROUP, me).catch(() => {});
      },
    };
    this.consumers.add(consumer);
    return consumer;
  }

  private async deadLetter(entryId: string, fields: Record<string, string>, reason: string): Promise<void> {
    await this.redis
      .pipeline()
      .xadd(
        this.deadKey,
        "MAXLEN",
        "~",
        DEAD_KEPT,
        "*",
        "id",
        fields.id ?? "",
        "reason",
        reason,
        "data",
        fields.data ?? "null",
      )
      .xack(this.key, GROUP, entryId)
      .xdel(this.key, entryId)
      .exec();
  }

  private reportError(error: Error): void {
    if (this.options.onError) this.options.onError(error);
    else process.stderr.write(`vdet: queue ${this.name}: ${error.message}\n`);
  }

  async counts(): Promise<QueueCounts> {
    const results = await this.redis
      .pipeline()
      .xlen(this.key)
      .xpending(this.key, GROUP)
      .xlen(this.deadKey)
      .exec();
    const length = Number(results?.[0]?.[1] ?? 0);
    // No group yet (nothing consumed so far): every message waits.
    const pending = results?.[1]?.[0] ? 0 : Number((results?.[1]?.[1] as [number] | undefined)?.[0] ?? 0);
    return {
      waiting: Math.max(0, length - pending),
      active: pending,
      delayed: 0,
      failed: Number(results?.[2]?.[1] ?? 0),
    };
  }

  /** Consumers that read the stream lately (an idle one reads every blockMs). */
  async consumerCount(): Promise<number> {
    try {
      const consumers = (await this.redis.xinfo("CONSUMERS", this.key, GROUP)) as unknown[][];
      const recent = 2 * this.blockMs + 1000;
      return consumers.filter((c) => Number(fieldMap(c.map(String)).idle ?? Infinity) < recent).length;
    } catch {
      return 0;
    }
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const entries = (await this.redis.xrange(this.deadKey, "-", "+", "COUNT", limit)) as Entry[];
    return entries.map(([, fields]) => {
      const f = fieldMap(fields ?? []);
      let data: unknown = f.data;
      try {
        data = JSON.parse(f.data ?? "null");
      } catch {}
      return { id: f.id ?? "", reason: f.reason ?? "", data };
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.close()));
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
