// The notifier: sends an event to a job's (or stream's) notify targets — a webhook and/or an SNS topic — and keeps
// trying with capped exponential backoff and jitter until it is delivered, refused for good, or the attempts are
// used up. Every attempt goes into the subject's delivery log. The event waits in the outbox until it is settled,
// and a notifier that starts re-sends what a stopped one left there: at-least-once, with the event's idempotency
// id (X-Vdet-Delivery, SNS deduplication id) so that receivers can drop repeats.

import type { SNSClient } from "@aws-sdk/client-sns";
import type { InputPolicy } from "@vdet/input-policy";
import type { NotificationStore, OutboxEntry } from "@vdet/jobs";
import type {
  JobRecord,
  Notification,
  NotificationDelivery,
  NotificationType,
  NotifyTarget,
} from "@vdet/protocol";
import { jobEndNotificationId } from "@vdet/protocol";
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signBody } from "./signature.ts";
import { publishSns, snsClientFactory, topicRegion } from "./sns.ts";
import { postWebhook } from "./webhook.ts";

export const NOTIFY_DEFAULTS = {
  attempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 5 * 60_000,
  timeoutMs: 10_000,
} as const;

export interface NotifierLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface NotifierOptions {
  store: NotificationStore;
  /** The address policy webhook hosts must pass (the deployment's input policy). */
  policy: InputPolicy;
  /** The webhook signing secret (VDET_NOTIFY_SECRET); without one, webhooks are refused (SNS still works). */
  secret?: string;
  /** The SNS client for a topic's region (default: the real SDK client, endpoint `snsEndpoint`). */
  sns?: (region: string) => SNSClient;
  snsEndpoint?: string;
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
  logger?: NotifierLogger;
}

type Channel = "webhook" | "sns";

interface AttemptResult {
  ok: boolean;
  retryable: boolean;
  status?: number;
  error?: string;
}

export class Notifier {
  private readonly inFlight = new Set<Promise<void>>();
  /** Backoff waits, with what ends each early (close). */
  private readonly timers = new Map<NodeJS.Timeout, (goOn: boolean) => void>();
  private closed = false;
  private readonly sns: (region: string) => SNSClient;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: NotifierOptions) {
    this.sns = options.sns ?? snsClientFactory({ endpoint: options.snsEndpoint });
    this.attempts = options.attempts ?? NOTIFY_DEFAULTS.attempts;
    this.baseDelayMs = options.baseDelayMs ?? NOTIFY_DEFAULTS.baseDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? NOTIFY_DEFAULTS.maxDelayMs;
    this.timeoutMs = options.timeoutMs ?? NOTIFY_DEFAULTS.timeoutMs;
    if (!(this.attempts >= 1)) throw new RangeError("attempts must be at least 1");
  }

  /**
   * Sends `event` to `target` (puts it in the outbox first). Resolves once every channel has delivered it or
   * given up; never rejects. Call without awaiting to go on at once.
   */
  send(target: NotifyTarget, event: Notification): Promise<void> {
    const run = this.deliver({ target, event });
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
    return run;
  }

  /** Re-sends what a stopped notifier left in the outbox (call once at start). */
  async resume(): Promise<number> {
    const pending = await this.options.store.pending();
    for (const entry of pending) void this.send(entry.target, entry.event);
    return pending.length;
  }

  /** The event of a job's end (completed, failed, cancelled), sent to its spec's notify targets if it names any. */
  jobEnded(job: JobRecord, state: string): Promise<void> {
    const target = job.spec.notify;
    if (!target) return Promise.resolve();
    return this.send(target, jobEndNotification(job, state));
  }

  /**
   * A stream event — its state changed (`stream.state`, key: the new state and when), its source went away or came
   * back (`stream.gap.started` / `stream.gap.ended`, key: the gap's start) — sent to the stream's notify targets.
   * The live-ingestion side calls this; the same key gives the same idempotency id when it is sent again.
   */
  streamEvent(
    target: NotifyTarget | undefined,
    streamId: string,
    type: Extract<NotificationType, `stream.${string}`>,
    key: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    if (!target) return Promise.resolve();
    return this.send(target, streamNotification(streamId, type, key, data, { tag: target.tag }));
  }

  /** Stops retrying (what is not settled stays in the outbox for the next start) and waits for attempts under way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [timer, resolve] of this.timers) {
      clearTimeout(timer);
      resolve(false);
    }
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Events in flight (sending or waiting to retry). */
  get pending(): number {
    return this.inFlight.size;
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    const { target, event } = entry;
    const log = this.options.logger;
    try {
      await this.options.store.enqueue(entry);
    } catch (error) {
      log?.warn({ eventId: event.id, err: (error as Error).message }, "notification outbox not written");
    }
    const body = JSON.stringify(event);
    const channels: Promise<boolean>[] = [];
    if (target.webhook !== undefined)
      channels.push(
        this.retry(event, "webhook", stripQuery(target.webhook), () =>
          this.webhook(target.webhook!, event, body),
        ),
      );
    if (target.snsTopicArn !== undefined) {
      const arn = target.snsTopicArn;
      channels.push(
        this.retry(event, "sns", arn, () => publishSns(this.sns(topicRegion(arn)), arn, event, body)),
      );
    }
    const settled = await Promise.all(channels);
    // Closed mid-way: left in the outbox for the next start.
    if (settled.every(Boolean)) await this.options.store.settle(event.id).catch(() => undefined);
  }

  private webhook(url: string, event: Notification, body: string): Promise<AttemptResult> {
    if (!this.options.secret)
      return Promise.resolve({
        ok: false,
        retryable: false,
        error: "no webhook secret is configured (VDET_NOTIFY_SECRET): webhooks are not sent unsigned",
      });
    return postWebhook(
      url,
      body,
      {
        [SIGNATURE_HEADER]: signBody(this.options.secret, body),
        [DELIVERY_HEADER]: event.id,
        [EVENT_HEADER]: event.type,
        "idempotency-key": event.id,
      },
      { policy: this.options.policy, timeoutMs: this.timeoutMs },
    );
  }

  /** Attempts until delivered, refused for good, out of attempts (true: settled) or closed (false). */
  private async retry(
    event: Notification,
    channel: Channel,
    targetName: string,
    attempt: () => Promise<AttemptResult>,
  ): Promise<boolean> {
    for (let n = 1; ; n++) {
      if (this.closed) return false;
      const result = await attempt();
      const final = result.ok || !result.retryable || n >= this.attempts;
      const delivery: NotificationDelivery = {
        eventId: event.id,
        type: event.type,
        channel,
        target: targetName,
        attempt: n,
        atMs: Date.now(),
        ok: result.ok,
        ...(result.status === undefined ? {} : { status: result.status }),
        ...(result.error === undefined ? {} : { error: result.error.slice(0, 2000) }),
        final,
      };
      await this.options.store.appendDelivery(event.subject, delivery).catch(() => undefined);
      const fields = { eventId: event.id, channel, target: targetName, attempt: n };
      if (result.ok) {
        this.options.logger?.info(fields, "notification delivered");
        return true;
      }
      if (final) {
        this.options.logger?.warn({ ...fields, err: result.error }, "notification not delivered; giving up");
        return true;
      }
      // Capped exponential backoff with jitter (half to all of the step).
      const stepMs = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (n - 1));
      const waitMs = stepMs * (0.5 + Math.random() / 2);
      if (!(await this.sleep(waitMs))) return false;
    }
  }

  private sleep(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve(!this.closed);
      }, ms);
      this.timers.set(timer, resolve);
    });
  }
}

/**
 * The aggregator's onJobFinished for a notifier: reads the ended job and sends its end to its notify targets (if it
 * names any), without holding the aggregator up.
 */
export function notifyJobEnds(
  notifier: Notifier,
  jobs: { get(id: string): Promise<JobRecord | null | undefined> },
  logger?: NotifierLogger,
): (jobId: string, state: string) => void {
  return (jobId, state) => {
    jobs.get(jobId).then(
      (job) => (job ? notifier.jobEnded(job, state) : undefined),
      (error) => logger?.warn({ jobId, err: (error as Error).message }, "job not read for its notification"),
    );
  };
}

/** The URL without its query and fragment (they may carry tokens: not logged). */
function stripQuery(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

/** The notification of a job's end. */
export function jobEndNotification(job: JobRecord, state: string, atMs = Date.now()): Notification {
  const type = `job.${state}` as NotificationType;
  return {
    id: jobEndNotificationId(job.id, state),
    type,
    at: new Date(atMs).toISOString(),
    subject: { kind: "job", id: job.id },
    ...(job.spec.notify?.tag === undefined ? {} : { tag: job.spec.notify.tag }),
    data: {
      state,
      input: job.spec.input,
      output: job.spec.output,
      progress: job.progress,
    },
  };
}

/**
 * A stream event (for the live-ingestion side): `key` makes the idempotency id (e.g. the state and the time it
 * changed, or the gap's start), so re-sending the same event after a restart gives the same id.
 */
export function streamNotification(
  streamId: string,
  type: Extract<NotificationType, `stream.${string}`>,
  key: string,
  data: Record<string, unknown>,
  options: { tag?: string; atMs?: number } = {},
): Notification {
  return {
    id: `stream:${streamId}:${type.slice("stream.".length)}:${key}`,
    type,
    at: new Date(options.atMs ?? Date.now()).toISOString(),
    subject: { kind: "stream", id: streamId },
    ...(options.tag === undefined ? {} : { tag: options.tag }),
    data,
  };
}
