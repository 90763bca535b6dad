// Job records: spec, state, progress counters and errors. In Redis for the distributed pipeline (one hash per
// job, a sorted set for listing, SET NX for idempotency keys), in memory for local mode.

import { randomBytes } from "node:crypto";
import {
  isTerminal,
  type JobError,
  type JobProgress,
  type JobRecord,
  type JobSpec,
  type JobStateName,
  TERMINAL_STATES,
  type VideoSummary,
} from "@vdet/protocol";
import type { Redis } from "ioredis";

export type ProgressField = Exclude<keyof JobProgress, "total">;

/** How far the producer got with a job: chunks queued and the next sampled frame index to queue. */
export interface ProducerCheckpoint {
  chunks: number;
  nextFrame: number;
}

export interface JobPage {
  jobs: JobRecord[];
  /** Pass back as `after` to get the next page; null on the last page. */
  next: string | null;
}

export interface JobStore {
  /** Creates a job, or returns the existing one for the same idempotency key (`created: false`). */
  create(spec: JobSpec): Promise<{ job: JobRecord; created: boolean }>;
  get(id: string): Promise<JobRecord | null>;
  list(options?: { limit?: number; after?: string }): Promise<JobPage>;
  /** Moves the job to `state` unless it is already terminal; returns whether it moved. */
  setState(id: string, state: JobStateName): Promise<boolean>;
  addProgress(id: string, delta: Partial<Record<ProgressField, number>>): Promise<void>;
  /** Records a queued chunk: adds its frames to `decoded` and moves the producer checkpoint, atomically. */
  commitChunk(id: string, frames: number, checkpoint: ProducerCheckpoint): Promise<void>;
  /** The producer checkpoint of a job (null: nothing queued yet), for a producer resuming after a crash. */
  producerCheckpoint(id: string): Promise<ProducerCheckpoint | null>;
  setTotal(id: string, total: number): Promise<void>;
  setVideo(id: string, video: VideoSummary): Promise<void>;
  addError(id: string, error: Omit<JobError, "atMs">): Promise<void>;
  /** Asks the stages to stop the job; returns false when the job does not exist or has already ended. */
  requestCancel(id: string): Promise<boolean>;
  /** Jobs created and not yet completed, failed or cancelled (for the API's concurrent-job limit). */
  countActive(): Promise<number>;
  close(): Promise<void>;
}

export function newJobId(): string {
  return `j_${randomBytes(10)
    .toString("base64url")
    .replace(/[^A-Za-z0-9]/g, "x")}`;
}

const MAX_ERRORS = 100;

/** TERMINAL_STATES as a Lua set, for the scripts that must not move a job out of a terminal state. */
const TERMINAL_STATES_LUA = `{ ${TERMINAL_STATES.map((state) => `['${state}'] = true`).join(", ")} }`;

function emptyProgress(): JobProgress {
  return { decoded: 0, inferred: 0, written: 0, failed: 0, deadlineMisses: 0, total: null };
}

export class MemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly idempotency = new Map<string, string>();
  private readonly produced = new Map<string, ProducerCheckpoint>();

  async create(spec: JobSpec): Promise<{ job: JobRecord; created: boolean }> {
    const existing = spec.idempotencyKey ? this.idempotency.get(spec.idempotencyKey) : undefined;
    if (existing) return { job: structuredClone(this.jobs.get(existing)!), created: false };
    const now = Date.now();
    const job: JobRecord = {
      id: newJobId(),
      spec,
      state: "queued",
      createdAtMs: now,
      updatedAtMs: now,
      progress: emptyProgress(),
      errors: [],
      output: spec.output,
      cancelRequested: false,
      video: null,
    };
    this.jobs.set(job.id, job);
    if (spec.idempotencyKey) this.idempotency.set(spec.idempotencyKey, job.id);
    return { job: structuredClone(job), created: true };
  }

  async get(id: string): Promise<JobRecord | null> {
    const job = this.jobs.get(id);
    return job ? structuredClone(job) : null;
  }

  async list(options: { limit?: number; after?: string } = {}): Promise<JobPage> {
    const all = [...this.jobs.values()].sort(
      (a, b) => b.createdAtMs - a.createdAtMs || (a.id < b.id ? -1 : 1),
    );
    const start = options.after ? all.findIndex((j) => j.id === options.after) + 1 : 0;
    const limit = options.limit ?? 50;
    const jobs = all.slice(start, start + limit);
    return { jobs: structuredClone(jobs), next: start + limit < all.length ? jobs.at(-1)!.id : null };
  }

  private touch(id: string): JobRecord | undefined {
    const job = this.jobs.get(id);
    if (job) job.updatedAtMs = Date.now();
    return job;
  }

  async setState(id: string, state: JobStateName): Promise<boolean> {
    const job = this.jobs.get(id);
    if (!job || isTerminal(job.state)) return false;
    this.touch(id)!.state = state;
    return true;
  }

  async addProgress(id: string, delta: Partial<Record<ProgressField, number>>): Promise<void> {
    const job = this.touch(id);
    if (!job) return;
    for (const [field, n] of Object.entries(delta) as [ProgressField, number][]) job.progress[field] += n;
  }

  async commitChunk(id: string, frames: number, checkpoint: ProducerCheckpoint): Promise<void> {
    const job = this.touch(id);
    if (!job) return;
    job.progress.decoded += frames;
    this.produced.set(id, { ...checkpoint });
  }

  async producerCheckpoint(id: string): Promise<ProducerCheckpoint | null> {
    const checkpoint = this.produced.get(id);
    return checkpoint ? { ...checkpoint } : null;
  }

  async setTotal(id: string, total: number): Promise<void> {
    const job = this.touch(id);
    if (job) job.progress.total = total;
  }

  async setVideo(id: string, video: VideoSummary): Promise<void> {
    const job = this.touch(id);
    if (job) job.video = { ...video };
  }

  async addError(id: string, error: Omit<JobError, "atMs">): Promise<void> {
    const job = this.touch(id);
    if (job && job.errors.length < MAX_ERRORS) job.errors.push({ atMs: Date.now(), ...error });
  }

  async requestCancel(id: string): Promise<boolean> {
    const job = this.jobs.get(id);
    if (!job || isTerminal(job.state)) return false;
    this.touch(id)!.cancelRequested = true;
    return true;
  }

  async countActive(): Promise<number> {
    return [...this.jobs.values()].filter((j) => !isTerminal(j.state)).length;
  }

  async close(): Promise<void> {}
}

/** Redis layout under `prefix`: job:<id> (hash), job:<id>:errors (list), jobs (zset by creation), idem:<key>,
 * active (set of jobs not yet in a terminal state). */
export class RedisJobStore implements JobStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "vdet",
  ) {}

  private key(...parts: string[]): string {
    return [this.prefix, ...parts].join(":");
  }

  async create(spec: JobSpec): Promise<{ job: JobRecord; created: boolean }> {
    const id = newJobId();
    if (spec.idempotencyKey) {
      const claimed = await this.redis.set(this.key("idem", spec.idempotencyKey), id, "NX");
      if (claimed === null) {
        const existingId = await this.redis.get(this.key("idem", spec.idempotencyKey));
        // The claim is written before the job; wait briefly for a concurrent creator to finish.
        for (let i = 0; i < 50; i++) {
          const existing = existingId ? await this.get(existingId) : null;
          if (existing) return { job: existing, created: false };
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(`idempotency key ${spec.idempotencyKey} is claimed by a job that never appeared`);
      }
    }
    const now = Date.now();
    await this.redis
      .multi()
      .hset(this.key("job", id), {
        spec: JSON.stringify(spec),
        state: "queued",
        createdAtMs: now,
        updatedAtMs: now,
        output: spec.output,
        decoded: 0,
        inferred: 0,
        written: 0,
        failed: 0,
        deadlineMisses: 0,
        total: "",
        cancelRequested: 0,
      })
      .zadd(this.key("jobs"), now, id)
      .sadd(this.key("active"), id)
      .exec();
    return { job: (await this.get(id))!, created: true };
  }

  async get(id: string): Promise<JobRecord | null> {
    const [hash, errors] = await Promise.all([
      this.redis.hgetall(this.key("job", id)),
      this.redis.lrange(this.key("job", id, "errors"), 0, MAX_ERRORS - 1),
    ]);
    if (!hash.spec) return null;
    return {
      id,
      spec: JSON.parse(hash.spec),
      state: hash.state as JobStateName,
      createdAtMs: Number(hash.createdAtMs),
      updatedAtMs: Number(hash.updatedAtMs),
      output: hash.output,
      progress: {
        decoded: Number(hash.decoded),
        inferred: Number(hash.inferred),
        written: Number(hash.written),
        failed: Number(hash.failed),
        deadlineMisses: Number(hash.deadlineMisses ?? 0),
        total: hash.total === "" ? null : Number(hash.total),
      },
      errors: errors.map((e) => JSON.parse(e)),
      cancelRequested: hash.cancelRequested === "1",
      video: hash.video ? JSON.parse(hash.video) : null,
    };
  }

  async list(options: { limit?: number; after?: string } = {}): Promise<JobPage> {
    const limit = options.limit ?? 50;
    let start = 0;
    if (options.after) {
      const rank = await this.redis.zrevrank(this.key("jobs"), options.after);
      start = rank === null ? 0 : rank + 1;
    }
    const ids = await this.redis.zrevrange(this.key("jobs"), start, start + limit);
    const jobs = (await Promise.all(ids.slice(0, limit).map((id) => this.get(id)))).filter(
      (j): j is JobRecord => j !== null,
    );
    return { jobs, next: ids.length > limit ? ids[limit - 1] : null };
  }

  async setState(id: string, state: JobStateName): Promise<boolean> {
    // Atomic "unless terminal" transition.
    const moved = await this.redis.eval(
      `local terminal = ${TERMINAL_STATES_LUA}
       local s = redis.call('HGET', KEYS[1], 'state')
       if not s or terminal[s] then return 0 end
       redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updatedAtMs', ARGV[2])
       if terminal[ARGV[1]] then redis.call('SREM', KEYS[2], ARGV[3]) end
       return 1`,
      2,
      this.key("job", id),
      this.key("active"),
      state,
      Date.now(),
      id,
    );
    return moved === 1;
  }

  async addProgress(id: string, delta: Partial<Record<ProgressField, number>>): Promise<void> {
    const multi = this.redis.multi();
    for (const [field, n] of Object.entries(delta)) multi.hincrby(this.key("job", id), field, n);
    multi.hset(this.key("job", id), "updatedAtMs", Date.now());
    await multi.exec();
  }

  async commitChunk(id: string, frames: number, checkpoint: ProducerCheckpoint): Promise<void> {
    await this.redis
      .multi()
      .hincrby(this.key("job", id), "decoded", frames)
      .hset(this.key("job", id), {
        producedChunks: checkpoint.chunks,
        producedNextFrame: checkpoint.nextFrame,
        updatedAtMs: Date.now(),
      })
      .exec();
  }

  async producerCheckpoint(id: string): Promise<ProducerCheckpoint | null> {
    const [chunks, nextFrame] = await this.redis.hmget(
      this.key("job", id),
      "producedChunks",
      "producedNextFrame",
    );
    if (chunks === null || nextFrame === null) return null;
    return { chunks: Number(chunks), nextFrame: Number(nextFrame) };
  }

  async setTotal(id: string, total: number): Promise<void> {
    await this.redis.hset(this.key("job", id), { total, updatedAtMs: Date.now() });
  }

  async setVideo(id: string, video: VideoSummary): Promise<void> {
    await this.redis.hset(this.key("job", id), { video: JSON.stringify(video), updatedAtMs: Date.now() });
  }

  async addError(id: string, error: Omit<JobError, "atMs">): Promise<void> {
    const key = this.key("job", id, "errors");
    await this.redis
      .multi()
      .rpush(key, JSON.stringify({ atMs: Date.now(), ...error }))
      .ltrim(key, 0, MAX_ERRORS - 1)
      .exec();
  }

  async requestCancel(id: string): Promise<boolean> {
    const job = await this.get(id);
    if (!job || isTerminal(job.state)) return false;
    await this.redis.hset(this.key("job", id), { cancelRequested: 1, updatedAtMs: Date.now() });
    return true;
  }

  async countActive(): Promise<number> {
    return this.redis.scard(this.key("active"));
  }

  async close(): Promise<void> {}
}
