// Where a deployment keeps its notifications (job-spec `notify`, @vdet/notify delivers them): the outbox of events
// not yet delivered (re-sent after a restart: at-least-once) and each job's or stream's delivery log, which the api
// shows at GET /jobs/:id/notifications and GET /streams/:id/notifications (jobDeliveries).

import {
  type Notification,
  type NotificationDelivery,
  type NotifyTarget,
  notificationDeliverySchema,
} from "@vdet/protocol";
import type { DeploymentKeys, RedisClient } from "./keys.ts";

/** Delivery log entries kept per job or stream (the oldest go first). */
export const MAX_DELIVERIES = 200;

export type NotificationSubject = Notification["subject"];

/** An event waiting in the outbox, with where it goes. */
export interface OutboxEntry {
  target: NotifyTarget;
  event: Notification;
}

export interface NotificationStore {
  /** Keeps the event until `settle` (an entry with the same event id and target is replaced, not added). */
  enqueue(entry: OutboxEntry): Promise<void>;
  settle(eventId: string): Promise<void>;
  /** Every event still in the outbox (after a restart: to send again). */
  pending(): Promise<OutboxEntry[]>;
  appendDelivery(subject: NotificationSubject, delivery: NotificationDelivery): Promise<void>;
  /** The subject's deliveries, oldest first. */
  deliveries(subject: NotificationSubject): Promise<NotificationDelivery[]>;
}

export class MemoryNotificationStore implements NotificationStore {
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly logs = new Map<string, NotificationDelivery[]>();

  async enqueue(entry: OutboxEntry): Promise<void> {
    this.outbox.set(entry.event.id, structuredClone(entry));
  }
  async settle(eventId: string): Promise<void> {
    this.outbox.delete(eventId);
  }
  async pending(): Promise<OutboxEntry[]> {
    return [...this.outbox.values()].map((e) => structuredClone(e));
  }
  async appendDelivery(subject: NotificationSubject, delivery: NotificationDelivery): Promise<void> {
    const key = `${subject.kind}:${subject.id}`;
    const log = this.logs.get(key) ?? [];
    log.push({ ...delivery });
    if (log.length > MAX_DELIVERIES) log.splice(0, log.length - MAX_DELIVERIES);
    this.logs.set(key, log);
  }
  async deliveries(subject: NotificationSubject): Promise<NotificationDelivery[]> {
    return [...(this.logs.get(`${subject.kind}:${subject.id}`) ?? [])];
  }
}

export class RedisNotificationStore implements NotificationStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: DeploymentKeys,
  ) {}

  async enqueue(entry: OutboxEntry): Promise<void> {
    await this.redis.hset(this.keys.notificationOutbox, entry.event.id, JSON.stringify(entry));
  }
  async settle(eventId: string): Promise<void> {
    await this.redis.hdel(this.keys.notificationOutbox, eventId);
  }
  async pending(): Promise<OutboxEntry[]> {
    const values = await this.redis.hvals(this.keys.notificationOutbox);
    return values.flatMap((v) => {
      try {
        return [JSON.parse(v) as OutboxEntry];
      } catch {
        return [];
      }
    });
  }
  async appendDelivery(subject: NotificationSubject, delivery: NotificationDelivery): Promise<void> {
    const key = this.keys.notifications(subject);
    await this.redis.multi().rpush(key, JSON.stringify(delivery)).ltrim(key, -MAX_DELIVERIES, -1).exec();
  }
  async deliveries(subject: NotificationSubject): Promise<NotificationDelivery[]> {
    const values = await this.redis.lrange(this.keys.notifications(subject), 0, -1);
    return values.flatMap((v) => {
      const parsed = notificationDeliverySchema.safeParse(JSON.parse(v));
      return parsed.success ? [parsed.data] : [];
    });
  }
}

/**
 * Every delivery about one job, oldest first: its job events (job.completed/failed/cancelled) and, for a live job
 * (a stream or a one-off live input), its stream events (stream.state, stream.gap.*), which carry the subject
 * `{kind: "stream"}` under the same id. Without a store (a deployment that keeps none), an empty log.
 */
export async function jobDeliveries(
  store: NotificationStore | undefined,
  jobId: string,
): Promise<NotificationDelivery[]> {
  if (store === undefined) return [];
  const [job, stream] = await Promise.all([
    store.deliveries({ kind: "job", id: jobId }),
    store.deliveries({ kind: "stream", id: jobId }),
  ]);
  // A stable sort: attempts logged at the same millisecond keep their log order.
  return [...job, ...stream].sort((a, b) => a.atMs - b.atMs);
}
