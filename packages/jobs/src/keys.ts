// Every Redis key of one deployment, named in one place (as BullMQ's queue-keys.ts names a queue's keys). All keys
// start with the deployment prefix; the queues' keys are BullMQ's own, under the same prefix.
//
// Redis Cluster: the job store updates a job's hash together with the deployment's job list and active set in one
// transaction, so a deployment must live on one slot. A prefix in braces (`VDET_PREFIX={vdet}`) is a hash tag that
// puts every key below, BullMQ's included, on one slot (BullMQ's own advice for its queues).

import { COMMON_DEFAULTS, ConfigError, PREFIX_PATTERN } from "@vdet/config";
import type { Redis } from "ioredis";

/** The default deployment prefix and what a prefix may be (@vdet/config's, where VDET_PREFIX is read). */
export const DEFAULT_PREFIX = COMMON_DEFAULTS.prefix;
export { PREFIX_PATTERN };

/** The parts of an aggregator checkpoint kept beside its snapshot (lists, and a hash for track summaries). */
export const CHECKPOINT_PARTS = ["lines", "mot", "preview", "tracks"] as const;
export type CheckpointPart = (typeof CHECKPOINT_PARTS)[number];

export class DeploymentKeys {
  constructor(readonly prefix: string = DEFAULT_PREFIX) {
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new ConfigError(
        `invalid Redis key prefix "${prefix}": use letters, digits, _ and -, optionally in braces ({vdet})`,
      );
    }
  }

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].join(":");
  }

  /** Sorted set of job ids by creation time (listing). */
  get jobs(): string {
    return this.key("jobs");
  }

  /** Set of the jobs not yet completed, failed or cancelled (the api's concurrent-job limit). */
  get active(): string {
    return this.key("active");
  }

  /** Set of the jobs created whose message may not have reached the jobs queue yet. */
  get unqueued(): string {
    return this.key("unqueued");
  }

  /** Hash of φ → the model the deployment's workers run for it. */
  get models(): string {
    return this.key("models");
  }

  /** The job id that claimed an idempotency key. */
  idempotency(idempotencyKey: string): string {
    return this.key("idem", idempotencyKey);
  }

  /** Hash: the job's spec, state, progress counters and producer checkpoint. */
  job(jobId: string): string {
    return this.key("job", jobId);
  }

  /** List of the job's errors. */
  jobErrors(jobId: string): string {
    return this.key("job", jobId, "errors");
  }

  /** Counter: the job's work units (segments or chunks) queued and not yet reported by a worker. */
  inFlight(jobId: string): string {
    return this.key("job", jobId, "inflight");
  }

  /** List the producer blocks on (BLPOP) while the job has too many units in flight: one token per report. */
  inFlightTokens(jobId: string): string {
    return this.key("job", jobId, "tokens");
  }

  /** Set of the job's units whose report was counted (a redelivered unit's report counts once). */
  unitsDone(jobId: string): string {
    return this.key("job", jobId, "done");
  }

  /** Every key of a job's in-flight accounting (removed when the job ends). */
  inFlightKeys(jobId: string): string[] {
    return [this.inFlight(jobId), this.inFlightTokens(jobId), this.unitsDone(jobId)];
  }

  /** The aggregator's checkpoint of a job: the snapshot (JSON), or one of the parts kept beside it. */
  checkpoint(jobId: string, part?: CheckpointPart): string {
    return part ? this.key("agg", jobId, part) : this.key("agg", jobId);
  }

  /** Every key of a job's aggregator checkpoint. */
  checkpointKeys(jobId: string): string[] {
    return [this.checkpoint(jobId), ...CHECKPOINT_PARTS.map((part) => this.checkpoint(jobId, part))];
  }

  /** Where the pixels of one frame wait between producer and worker (`ref` is the frame's key in its chunk). */
  frame(ref: string): string {
    return this.key("frame", ref);
  }

  /** The prefix BullMQ puts before its queue keys (`<prefix>:<queue>:wait`, …). */
  get queuePrefix(): string {
    return this.prefix;
  }

  /** One of BullMQ's keys of a queue, e.g. queue("frames", "wait") (for scalers and checks, not for writing). */
  queue(name: string, part: string): string {
    return this.key(name, part);
  }

  /** A SCAN pattern matching every key of the deployment. */
  get pattern(): string {
    return `${this.key("")}*`;
  }
}

/** Deletes every key of a deployment with SCAN + UNLINK (never KEYS); returns how many were removed. */
export async function deleteDeploymentKeys(redis: Redis, keys: DeploymentKeys): Promise<number> {
  let removed = 0;
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", keys.pattern, "COUNT", 1000);
    if (found.length > 0) removed += await redis.unlink(...found);
    cursor = next;
  } while (cursor !== "0");
  return removed;
}
