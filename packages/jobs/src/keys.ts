// Every Redis key of one deployment, named in one place (as BullMQ's queue-keys.ts names a queue's keys). All keys
// start with the deployment prefix; the queues' keys are BullMQ's own, under a queue prefix named here.
//
// Two layouts of the same keys:
// - plain (one Redis, the default): `vdet:job:<id>`, `vdet:frames:wait`, … as deployments have always written them.
//   A prefix in braces (`VDET_PREFIX={vdet}`) is a hash tag that puts every key on one slot.
// - hash-tagged (Redis Cluster, `redis+cluster://`): every key of one job shares the job's tag (`{vdet:job:<id>}`,
//   so the aggregator's checkpoint transaction stays on one slot); the deployment-wide keys (jobs index, active and
//   not-yet-queued sets, idempotency claims, models) share the deployment's tag (`{vdet}`); each queue, and each
//   partition of a partitioned queue, has its own tag (`{vdet:queue:frames:3}`, BullMQ's advice for a cluster);
//   every frame is its own tag, so pixels spread over the shards. No script or transaction touches two tags.

import { COMMON_DEFAULTS, ConfigError, PREFIX_PATTERN, QUEUE_DEFAULTS } from "@vdet/config";
import type { Cluster, Redis } from "ioredis";

/** A connection to one Redis or to a Redis Cluster (both ioredis). */
export type RedisClient = Redis | Cluster;

/** The default deployment prefix and what a prefix may be (@vdet/config's, where VDET_PREFIX is read). */
export const DEFAULT_PREFIX = COMMON_DEFAULTS.prefix;
export { PREFIX_PATTERN };

/** The parts of an aggregator checkpoint kept beside its snapshot (lists, and a hash for track summaries). */
export const CHECKPOINT_PARTS = ["lines", "mot", "preview", "tracks"] as const;
export type CheckpointPart = (typeof CHECKPOINT_PARTS)[number];

export interface KeyLayoutOptions {
  /** The hash-tagged layout of a Redis Cluster (default: the plain layout of one Redis). */
  hashTags?: boolean;
  /** How many partitions a partitioned queue has (more than 1 needs hashTags). */
  partitions?: number;
}

export class DeploymentKeys {
  readonly hashTags: boolean;
  readonly partitions: number;

  constructor(
    readonly prefix: string = DEFAULT_PREFIX,
    options: KeyLayoutOptions = {},
  ) {
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new ConfigError(
        `invalid Redis key prefix "${prefix}": use letters, digits, _ and -, optionally in braces ({vdet})`,
      );
    }
    this.hashTags = options.hashTags ?? false;
    this.partitions = options.partitions ?? QUEUE_DEFAULTS.partitions;
    if (!Number.isInteger(this.partitions) || this.partitions < 1) {
      throw new ConfigError(`invalid number of queue partitions ${this.partitions}: use a whole number ≥ 1`);
    }
    if (this.hashTags && prefix.startsWith("{")) {
      throw new ConfigError(
        `the Redis key prefix "${prefix}" is in braces, which would put every key on one Redis Cluster slot: ` +
          `with a Redis Cluster (redis+cluster://) vdet tags its keys itself, so use VDET_PREFIX=${prefix.slice(1, -1)}`,
      );
    }
    if (!this.hashTags && this.partitions > 1) {
      throw new ConfigError(
        `${this.partitions} queue partitions (VDET_QUEUE_PARTITIONS) need a Redis Cluster (redis+cluster://): ` +
          "on one Redis they would spread nothing",
      );
    }
  }

  /** Deployment-wide keys: `{vdet}:<name>` (tagged) or `vdet:<name>`. */
  private deployment(...parts: string[]): string {
    return [this.hashTags ? `{${this.prefix}}` : this.prefix, ...parts].join(":");
  }

  /** Keys of one job: `{vdet:job:<id>}…` (tagged) or `vdet:<plain>`. */
  private ofJob(jobId: string, tagged: string[], plain: string[]): string {
    return this.hashTags
      ? [`{${this.prefix}:job:${jobId}}`, ...tagged].join(":")
      : [this.prefix, ...plain].join(":");
  }

  /** Sorted set of job ids by creation time (listing). */
  get jobs(): string {
    return this.deployment("jobs");
  }

  /** Sorted set of the stream ids (their jobs' ids) by creation time (GET /streams). */
  get streams(): string {
    return this.deployment("streams");
  }

  /** Set of the jobs not yet completed, failed or cancelled (the api's concurrent-job limit). */
  get active(): string {
    return this.deployment("active");
  }

  /** Set of the jobs created whose message may not have reached the jobs queue yet. */
  get unqueued(): string {
    return this.deployment("unqueued");
  }

  /** Hash of φ → the model the deployment's workers run for it. */
  get models(): string {
    return this.deployment("models");
  }

  /** The job id that claimed an idempotency key. */
  idempotency(idempotencyKey: string): string {
    return this.deployment("idem", idempotencyKey);
  }

  /** Hash: the job's spec, state, progress counters and producer checkpoint. */
  job(jobId: string): string {
    return this.ofJob(jobId, [], ["job", jobId]);
  }

  /** List of the job's errors. */
  jobErrors(jobId: string): string {
    return this.ofJob(jobId, ["errors"], ["job", jobId, "errors"]);
  }

  /** List: the delivery log of a job's (or stream's) notifications, newest last, capped. */
  notifications(subject: { kind: "job" | "stream"; id: string }): string {
    if (subject.kind === "job") return this.ofJob(subject.id, ["notify"], ["job", subject.id, "notify"]);
    return this.deployment("stream", subject.id, "notify");
  }

  /** Hash: notifications not yet delivered or given up (event id → target and event), re-sent after a restart. */
  get notificationOutbox(): string {
    return this.deployment("notify", "outbox");
  }

  /** Counter: the job's work units (segments or chunks) queued and not yet reported by a worker. */
  inFlight(jobId: string): string {
    return this.ofJob(jobId, ["inflight"], ["job", jobId, "inflight"]);
  }

  /** List the producer blocks on (BLPOP) while the job has too many units in flight: one token per report. */
  inFlightTokens(jobId: string): string {
    return this.ofJob(jobId, ["tokens"], ["job", jobId, "tokens"]);
  }

  /** Set of the job's units whose report was counted (a redelivered unit's report counts once). */
  unitsDone(jobId: string): string {
    return this.ofJob(jobId, ["done"], ["job", jobId, "done"]);
  }

  /** Set of the job's units whose queueing was counted (a unit queued again after a restart counts once). */
  unitsQueued(jobId: string): string {
    return this.ofJob(jobId, ["queued"], ["job", jobId, "queued"]);
  }

  /** Every key of a job's in-flight accounting (removed when the job ends). */
  inFlightKeys(jobId: string): string[] {
    return [this.inFlight(jobId), this.inFlightTokens(jobId), this.unitsDone(jobId), this.unitsQueued(jobId)];
  }

  /** The aggregator's checkpoint of a job: the snapshot (JSON), or one of the parts kept beside it. */
  checkpoint(jobId: string, part?: CheckpointPart): string {
    const parts = part ? ["agg", part] : ["agg"];
    return this.ofJob(jobId, parts, part ? ["agg", jobId, part] : ["agg", jobId]);
  }

  /** Every key of a job's aggregator checkpoint. */
  checkpointKeys(jobId: string): string[] {
    return [this.checkpoint(jobId), ...CHECKPOINT_PARTS.map((part) => this.checkpoint(jobId, part))];
  }

  /** Hash of `<role>:<id>` → a running role's heartbeat (JSON: role, id, job ids held, when it expires). */
  get heartbeats(): string {
    return this.deployment("heartbeats");
  }

  /** Hash of role kind → when a role of that kind last sent a heartbeat (ms since epoch; never expires). */
  get rolesLastSeen(): string {
    return this.deployment("roles-last-seen");
  }

  /** Where the pixels of one frame wait between producer and worker (`ref` is the frame's key in its chunk). */
  frame(ref: string): string {
    return this.hashTags ? `{${this.prefix}:frame:${ref}}` : `${this.prefix}:frame:${ref}`;
  }

  /**
   * The prefix BullMQ puts before a queue's keys (`<queuePrefix>:<queue>:wait`, …): one tag per queue, and per
   * partition of a partitioned queue (`partition` 0 … partitions - 1), in the tagged layout; the deployment prefix
   * in the plain one.
   */
  queuePrefix(name: string, partition?: number): string {
    if (
      partition !== undefined &&
      !(Number.isInteger(partition) && partition >= 0 && partition < this.partitions)
    ) {
      throw new RangeError(`queue partition ${partition} is outside 0…${this.partitions - 1}`);
    }
    if (!this.hashTags) return this.prefix;
    return partition === undefined
      ? `{${this.prefix}:queue:${name}}`
      : `{${this.prefix}:queue:${name}:${partition}}`;
  }

  /** One of BullMQ's keys of a queue, e.g. queue("frames", "wait", 0) (for scalers and checks, not for writing). */
  queue(name: string, part: string, partition?: number): string {
    return `${this.queuePrefix(name, partition)}:${name}:${part}`;
  }

  /**
   * The stream of a stream queue (transport's StreamQueue: results, events), on the same tag as a BullMQ queue of
   * that name and partition would be; its dead letters are at `<key>:dead`.
   */
  queueStream(name: string, partition?: number): string {
    return this.queue(name, "stream", partition);
  }

  /** A SCAN pattern matching every key of the deployment (each shard's, on a Redis Cluster). */
  get pattern(): string {
    // Tagged keys start with `{vdet}:` or `{vdet:`; `{` and `}` are not special in Redis' glob, `[…]` is.
    return this.hashTags ? `{${this.prefix}[}:]*` : `${this.prefix}:*`;
  }
}

/**
 * Deletes every key of a deployment with SCAN + UNLINK (never KEYS), on each master of a Redis Cluster; returns
 * how many were removed.
 */
export async function deleteDeploymentKeys(redis: RedisClient, keys: DeploymentKeys): Promise<number> {
  if (redis.isCluster && redis.status !== "ready") {
    await new Promise<void>((resolve, reject) => {
      redis.once("ready", resolve);
      redis.once("end", () => reject(new Error("the Redis Cluster connection ended before it was ready")));
    });
  }
  const nodes: Redis[] = redis.isCluster ? (redis as Cluster).nodes("master") : [redis as Redis];
  let removed = 0;
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, found] = await node.scan(cursor, "MATCH", keys.pattern, "COUNT", 1000);
      if (found.length > 0) {
        // On a cluster one node's keys lie in many slots, and UNLINK of several slots is refused: one key each.
        if (nodes.length > 1 || keys.hashTags) {
          const results = await node.pipeline(found.map((key) => ["unlink", key])).exec();
          for (const [error, n] of results ?? []) {
            if (error) throw error;
            removed += Number(n);
          }
        } else {
          removed += await node.unlink(...found);
        }
      }
      cursor = next;
    } while (cursor !== "0");
  }
  return removed;
}
