// Job records: spec, state, progress counters and errors. In Redis for the distributed pipeline (one hash per
// job, a sorted set for listing, a key per idempotency key; keys.ts names them), in memory for local mode.

import { randomBytes } from "node:crypto";
import { VdetError } from "@vdet/errors";
import {
  isTerminal,
  type JobConnection,
  type JobError,
  type JobProgress,
  type JobRecord,
  type JobRendering,
  type JobSpec,
  type JobStateName,
  type StreamStats,
  TERMINAL_STATES,
  type VideoSummary,
} from "@vdet/protocol";
import type { Cluster, Redis } from "ioredis";
import { JOBS_ERRORS } from "./error-codes.ts";
import { DeploymentKeys, type RedisClient } from "./keys.ts";

export type ProgressField = Exclude<keyof JobProgress, "total">;

/** How far the producer got with a job: chunks queued and the next sampled frame index to queue. */
export interface ProducerCheckpoint {
  chunks: number;
  nextFrame: number;
}

/** A job's units in flight and whether planning should stop (cancel requested, or the job is gone). */
export interface Capacity {
  inFlight: number;
  cancelled: boolean;
}

export interface JobPage {
  jobs: JobRecord[];
  /** Pass back as `after` to get the next page; null on the last page. */
  next: string | null;
}

export interface CreateOptions {
  /**
   * Refuse (ActiveJobLimitError) when this many jobs are queued or running; counted and indexed in one atomic
   * step, so concurrent submissions cannot pass the limit together.
   */
  maxActive?: number;
}

/** A new job would pass the deployment's limit of jobs queued or running at once. */
export class ActiveJobLimitError extends VdetError {
  constructor(
    readonly active: number,
    readonly limit: number,
  ) {
    super(JOBS_ERRORS.ACTIVE_JOB_LIMIT, `${active} jobs are queued or running, the limit is ${limit}`);
  }
}

export interface JobStore {
  /**
   * Creates a job, or returns the existing one for the same idempotency key (`created: false`). A new job is
   * recorded as not yet queued until `markQueued`: if the creator stops in between, `needsQueueing` says so.
   */
  create(spec: JobSpec, options?: CreateOptions): Promise<{ job: JobRecord; created: boolean }>;
  /** The job's message is on the jobs queue: it no longer needs queueing. */
  markQueued(id: string): Promise<void>;
  /** Whether a job was created and its message may never have reached the jobs queue. */
  needsQueueing(id: string): Promise<boolean>;
  /** Jobs created before `createdBeforeMs` whose message may never have reached the jobs queue. */
  unqueued(createdBeforeMs: number): Promise<JobRecord[]>;
  get(id: string): Promise<JobRecord | null>;
  list(options?: { limit?: number; after?: string }): Promise<JobPage>;
  /** Jobs that are streams (spec.stream), newest first, paged like list(). */
  listStreams(options?: { limit?: number; after?: string }): Promise<JobPage>;
  /** A stream's recent figures (the aggregator's), shown by GET /streams. */
  setStreamStats(id: string, stats: StreamStats): Promise<void>;
  /** Moves the job to `state` unless it is already terminal; returns whether it moved. */
  setState(id: string, state: JobStateName): Promise<boolean>;
  addProgress(id: string, delta: Partial<Record<ProgressField, number>>): Promise<void>;
  /**
   * Records a queued work unit (chunk or segment): adds its frames to `decoded`, moves the producer checkpoint
   * and counts the unit in flight, atomically. Returns what `waitForCapacity` would read right after (the units in
   * flight, whether the job was cancelled or is gone), so that a planner waits only when the commit says it must.
   */
  commitChunk(id: string, frames: number, checkpoint: ProducerCheckpoint): Promise<Capacity>;
  /**
   * A worker reported unit `unit` (its results are on the results queue): adds its progress, takes it out of
   * flight and wakes a producer waiting in `waitForCapacity`, atomically and once per unit (a redelivered unit's
   * second report changes nothing); returns whether this report counted.
   */
  completeUnit(id: string, unit: number, delta: Partial<Record<ProgressField, number>>): Promise<boolean>;
  /**
   * Waits (a blocking pop, no polling) until the job has at most `maxUnits` units in flight, the job is
   * cancelled, or `timeoutMs` passed; returns the units in flight and whether a cancel was requested.
   */
  waitForCapacity(id: string, maxUnits: number, timeoutMs: number): Promise<Capacity>;
  /** Removes the job's in-flight accounting (when it has ended). */
  clearInFlight(id: string): Promise<void>;
  /** The producer checkpoint of a job (null: nothing queued yet), for a producer resuming after a crash. */
  producerCheckpoint(id: string): Promise<ProducerCheckpoint | null>;
  setTotal(id: string, total: number): Promise<void>;
  setVideo(id: string, video: VideoSummary): Promise<void>;
  /** Rendering progress of preview.mp4 (null: not rendering), shown as the job page's `rendering` state. */
  setRendering(id: string, rendering: JobRendering | null): Promise<void>;
  /** A live input's connection state (the job page's and the streams API's `connection`). */
  setConnection(id: string, connection: JobConnection): Promise<void>;
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

function emptyProgress(): JobProgress {
  return { decoded: 0, inferred: 0, written: 0, failed: 0, deadlineMisses: 0, total: null };
}

export class MemoryJobStore implements JobStore {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly idempotency = new Map<string, string>();
  private readonly produced = new Map<string, ProducerCheckpoint>();
  private readonly notQueued = new Set<string>();
  private readonly inFlight = new Map<string, number>();
  private readonly unitsDone = new Map<string, Set<number>>();
  private readonly unitsQueued = new Map<string, Set<number>>();
  private readonly capacityWaiters = new Map<string, Set<() => void>>();

  async create(spec: JobSpec, options: CreateOptions = {}): Promise<{ job: JobRecord; created: boolean }> {
    const existing = spec.idempotencyKey ? this.idempotency.get(spec.idempotencyKey) : undefined;
    if (existing) return { job: structuredClone(this.jobs.get(existing)!), created: false };
    if (options.maxActive !== undefined) {
      // Counted without an await: no other create runs in between.
      const active = this.activeCount();
      if (active >= options.maxActive) throw new ActiveJobLimitError(active, options.maxActive);
    }
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
    this.notQueued.add(job.id);
    if (spec.idempotencyKey) this.idempotency.set(spec.idempotencyKey, job.id);
    return { job: structuredClone(job), created: true };
  }

  async markQueued(id: string): Promise<void> {
    this.notQueued.delete(id);
  }

  async needsQueueing(id: string): Promise<boolean> {
    return this.notQueued.has(id);
  }

  async unqueued(createdBeforeMs: number): Promise<JobRecord[]> {
    return [...this.notQueued]
      .map((id) => this.jobs.get(id)!)
      .filter((job) => job.createdAtMs < createdBeforeMs)
      .map((job) => structuredClone(job));
  }

  async get(id: string): Promise<JobRecord | null> {
    const job = this.jobs.get(id);
    return job ? structuredClone(job) : null;
  }

  async list(options: { limit?: number; after?: string } = {}): Promise<JobPage> {
    return this.page([...this.jobs.values()], options);
  }

  async listStreams(options: { limit?: number; after?: string } = {}): Promise<JobPage> {
    return this.page(
      [...this.jobs.values()].filter((job) => job.spec.stream),
      options,
    );
  }

  async setStreamStats(id: string, stats: StreamStats): Promise<void> {
    const job = this.jobs.get(id);
    if (job) job.streamStats = { ...stats };
  }

  private page(records: JobRecord[], options: { limit?: number; after?: string }): JobPage {
    const all = records.sort((a, b) => b.createdAtMs - a.createdAtMs || (a.id < b.id ? -1 : 1));
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
    if (isTerminal(state)) this.notQueued.delete(id);
    return true;
  }

  async addProgress(id: string, delta: Partial<Record<ProgressField, number>>): Promise<void> {
    const job = this.touch(id);
    if (!job) return;
    for (const [field, n] of Object.entries(delta) as [ProgressField, number][]) job.progress[field] += n;
  }

  async commitChunk(id: string, frames: number, checkpoint: ProducerCheckpoint): Promise<Capacity> {
    const job = this.touch(id);
    if (!job) return { inFlight: 0, cancelled: true };
    const queued = this.unitsQueued.get(id) ?? new Set<number>();
    this.unitsQueued.set(id, queued);
    if (!queued.has(checkpoint.chunks - 1)) {
      queued.add(checkpoint.chunks - 1);
      job.progress.decoded += frames;
      this.inFlight.set(id, (this.inFlight.get(id) ?? 0) + 1);
    }
    if (checkpoint.chunks > (this.produced.get(id)?.chunks ?? 0)) this.produced.set(id, { ...checkpoint });
    return { inFlight: this.inFlight.get(id) ?? 0, cancelled: job.cancelRequested };
  }

  async completeUnit(
    id: string,
    unit: number,
    delta: Partial<Record<ProgressField, number>>,
  ): Promise<boolean> {
    const done = this.unitsDone.get(id) ?? new Set<number>();
    this.unitsDone.set(id, done);
    if (done.has(unit)) return false;
    done.add(unit);
    await this.addProgress(id, delta);
    this.inFlight.set(id, (this.inFlight.get(id) ?? 0) - 1);
    this.wake(id);
    return true;
  }

  async waitForCapacity(
    id: string,
    maxUnits: number,
    timeoutMs: number,
  ): Promise<{ inFlight: number; cancelled: boolean }> {
    const state = () => ({
      inFlight: this.inFlight.get(id) ?? 0,
      cancelled: this.jobs.get(id)?.cancelRequested ?? true,
    });
    const now = state();
    if (now.inFlight <= maxUnits || now.cancelled) return now;
    await new Promise<void>((resolve) => {
      const waiters = this.capacityWaiters.get(id) ?? new Set<() => void>();
      this.capacityWaiters.set(id, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      waiters.add(done);
    });
    return state();
  }

  async clearInFlight(id: string): Promise<void> {
    this.inFlight.delete(id);
    this.unitsDone.delete(id);
    this.unitsQueued.delete(id);
    this.wake(id);
  }

  private wake(id: string): void {
    for (const waiter of [...(this.capacityWaiters.get(id) ?? [])]) waiter();
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

  async setRendering(id: string, rendering: JobRendering | null): Promise<void> {
    const job = this.touch(id);
    if (job) job.rendering = rendering === null ? null : { ...rendering };
  }

  async setConnection(id: string, connection: JobConnection): Promise<void> {
    const job = this.touch(id);
    if (job) job.connection = { ...connection };
  }

  async addError(id: string, error: Omit<JobError, "atMs">): Promise<void> {
    const job = this.touch(id);
    if (job && job.errors.length < MAX_ERRORS) job.errors.push({ atMs: Date.now(), ...error });
  }

  async requestCancel(id: string): Promise<boolean> {
    const job = this.jobs.get(id);
    if (!job || isTerminal(job.state)) return false;
    this.touch(id)!.cancelRequested = true;
    this.wake(id);
    return true;
  }

  async countActive(): Promise<number> {
    return this.activeCount();
  }

  private activeCount(): number {
    return [...this.jobs.values()].filter((j) => !isTerminal(j.state)).length;
  }

  async close(): Promise<void> {}
}

// A job's keys and the deployment's keys lie on two hash tags of a Redis Cluster (keys.ts), so no script touches
// both: creating a job writes the job's hash first and then indexes it in one script on the deployment's keys (a
// crash in between leaves a hash nothing points at, never an index entry without a record); ending a job moves its
// state in a script on the job's hash, then takes it out of the deployment's sets (repeated, idempotently, by any
// later setState of the ended job should a crash come in between).

/**
 * Indexes a job whose hash is written: returns ["existing", id] for a claimed idempotency key, ["full", active] at
 * the limit of active jobs, else adds the job to the listing, the active and not-yet-queued sets and claims the key.
 * A stream is also added to the streams' listing.
 * KEYS: jobs, active, unqueued, streams[, idempotency key] (the deployment's tag). ARGV: id, now, max active (-1:
 * none), 1 for a stream.
 */
const INDEX_SCRIPT = `
if KEYS[5] then
  local existing = redis.call('GET', KEYS[5])
  if existing then return {'existing', existing} end
end
local max = tonumber(ARGV[3])
if max >= 0 then
  local active = redis.call('SCARD', KEYS[2])
  if active >= max then return {'full', tostring(active)} end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
if ARGV[4] == '1' then redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1]) end
if KEYS[5] then redis.call('SET', KEYS[5], ARGV[1]) end
return {'created', ARGV[1]}
`;

/**
 * Moves a job to ARGV[1] unless it is in a terminal state. KEYS: the job's hash. ARGV: state, now, the terminal
 * states… Returns {moved (0/1), the state now (absent: no such job)}.
 */
const SET_STATE_SCRIPT = `
local s = redis.call('HGET', KEYS[1], 'state')
if not s then return {0} end
for i = 3, #ARGV do
  if s == ARGV[i] then return {0, s} end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updatedAtMs', ARGV[2])
return {1, ARGV[1]}
`;

/**
 * A worker's report of one unit, counted once: KEYS: job hash, in-flight counter, tokens, units done.
 * ARGV: unit, now, then field/increment pairs. Returns 1 when counted, 0 for a unit already reported.
 */
// A unit (chunk or segment) queued: counted once however often it is queued (a producer that lost its job
// message to a redelivery while it still ran, or one restarted between queueing and committing, queues it again
// under the same message id), so the in-flight count that planning waits on cannot drift upwards. The checkpoint
// only moves forward. KEYS: job hash, in-flight counter, queued-units set; ARGV: unit, frames, chunks, next frame, now.
// Returns the units in flight and the job's cancelRequested field (what a planner would otherwise read again).
const COMMIT_UNIT_SCRIPT = `
if redis.call('SADD', KEYS[3], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'decoded', ARGV[2])
  redis.call('INCR', KEYS[2])
end
local chunks = tonumber(redis.call('HGET', KEYS[1], 'producedChunks') or '0')
if tonumber(ARGV[3]) > chunks then
  redis.call('HSET', KEYS[1], 'producedChunks', ARGV[3], 'producedNextFrame', ARGV[4])
end
redis.call('HSET', KEYS[1], 'updatedAtMs', ARGV[5])
return {tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HGET', KEYS[1], 'cancelRequested') or '',
  redis.call('HEXISTS', KEYS[1], 'spec')}
`;

const COMPLETE_UNIT_SCRIPT = `
if redis.call('SADD', KEYS[4], ARGV[1]) == 0 then return 0 end
for i = 3, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'updatedAtMs', ARGV[2])
redis.call('DECR', KEYS[2])
redis.call('LPUSH', KEYS[3], '1')
redis.call('LTRIM', KEYS[3], 0, 0)
return 1
`;

/** A new connection like `redis` (one Redis or a Cluster), for a blocking command that holds its connection. */
function duplicateClient(redis: RedisClient): RedisClient {
  return redis.isCluster ? (redis as Cluster).duplicate() : (redis as Redis).duplicate();
}

/** Idle blocking connections are closed after this long, ms. */
const IDLE_BLOCKING_MS = 2000;

/** Blocking connections kept for waitForCapacity (a BLPOP holds its connection). */
const MAX_IDLE_BLOCKING = 8;

/** The job store of a deployment in Redis; keys.ts names its keys. */
export class RedisJobStore implements JobStore {
  private readonly keys: DeploymentKeys;
  private readonly blocking: RedisClient[] = [];
  private readonly blockingInUse = new Set<RedisClient>();

  constructor(
    private readonly redis: RedisClient,
    keys: DeploymentKeys | string = new DeploymentKeys(),
  ) {
    this.keys = typeof keys === "string" ? new DeploymentKeys(keys) : keys;
  }

  async create(spec: JobSpec, options: CreateOptions = {}): Promise<{ job: JobRecord; created: boolean }> {
    const id = newJobId();
    const now = Date.now();
    const fields = {
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
    };
    // The record first (the job's tag), then the index (the deployment's tag): see INDEX_SCRIPT.
    await this.redis.hset(this.keys.job(id), fields);
    const keys = [this.keys.jobs, this.keys.active, this.keys.unqueued, this.keys.streams];
    if (spec.idempotencyKey) keys.push(this.keys.idempotency(spec.idempotencyKey));
    const [outcome, value] = (await this.redis.eval(
      INDEX_SCRIPT,
      keys.length,
      ...keys,
      id,
      now,
      options.maxActive ?? -1,
      spec.stream ? 1 : 0,
    )) as [string, string];
    if (outcome !== "created") await this.redis.unlink(this.keys.job(id));
    if (outcome === "full") throw new ActiveJobLimitError(Number(value), options.maxActive!);
    const job = await this.get(value);
    if (!job)
      throw new VdetError(
        JOBS_ERRORS.JOB_RECORD_MISSING,
        `job ${value} (idempotency key ${spec.idempotencyKey}) has no record in Redis`,
      );
    return { job, created: outcome === "created" };
  }

  async markQueued(id: string): Promise<void> {
    await this.redis.srem(this.keys.unqueued, id);
  }

  async needsQueueing(id: string): Promise<boolean> {
    return (await this.redis.sismember(this.keys.unqueued, id)) === 1;
  }

  async unqueued(createdBeforeMs: number): Promise<JobRecord[]> {
    const ids = await this.redis.smembers(this.keys.unqueued);
    const jobs = await Promise.all(ids.map((id) => this.get(id)));
    return jobs.filter((job): job is JobRecord => job !== null && job.createdAtMs < createdBeforeMs);
  }

  async get(id: string): Promise<JobRecord | null> {
    const [hash, errors] = await Promise.all([
      this.redis.hgetall(this.keys.job(id)),
      this.redis.lrange(this.keys.jobErrors(id), 0, MAX_ERRORS - 1),
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
      ...(hash.rendering ? { rendering: JSON.parse(hash.rendering) } : {}),
      ...(hash.streamStats ? { streamStats: JSON.parse(hash.streamStats) } : {}),
      ...(hash.connection ? { connection: JSON.parse(hash.connection) } : {}),
    };
  }

  async list(options: { limit?: number; after?: string } = {}): Promise<JobPage> {
    return this.page(this.keys.jobs, options);
  }

  async listStreams(options: { limit?: number; after?: string } = {}): Promise<JobPage> {
    return this.page(this.keys.streams, options);
  }

  async setStreamStats(id: string, stats: StreamStats): Promise<void> {
    // Only while the job's hash is there (a stats write racing the job's removal must not recreate it).
    if ((await this.redis.exists(this.keys.job(id))) === 1) {
      await this.redis.hset(this.keys.job(id), "streamStats", JSON.stringify(stats));
    }
  }

  private async page(index: string, options: { limit?: number; after?: string }): Promise<JobPage> {
    const limit = options.limit ?? 50;
    let start = 0;
    if (options.after) {
      const rank = await this.redis.zrevrank(index, options.after);
      start = rank === null ? 0 : rank + 1;
    }
    const ids = await this.redis.zrevrange(index, start, start + limit);
    const jobs = (await Promise.all(ids.slice(0, limit).map((id) => this.get(id)))).filter(
      (j): j is JobRecord => j !== null,
    );
    return { jobs, next: ids.length > limit ? ids[limit - 1] : null };
  }

  async setState(id: string, state: JobStateName): Promise<boolean> {
    // Atomic "unless terminal" transition of the job's hash; an ended job then leaves the deployment's sets.
    const [moved, current] = (await this.redis.eval(
      SET_STATE_SCRIPT,
      1,
      this.keys.job(id),
      state,
      Date.now(),
      ...TERMINAL_STATES,
    )) as [number, string | undefined];
    if (current !== undefined && (TERMINAL_STATES as readonly string[]).includes(current)) {
      await this.redis.multi().srem(this.keys.active, id).srem(this.keys.unqueued, id).exec();
    }
    return moved === 1;
  }

  async addProgress(id: string, delta: Partial<Record<ProgressField, number>>): Promise<void> {
    const multi = this.redis.multi();
    for (const [field, n] of Object.entries(delta)) multi.hincrby(this.keys.job(id), field, n);
    multi.hset(this.keys.job(id), "updatedAtMs", Date.now());
    await multi.exec();
  }

  async commitChunk(id: string, frames: number, checkpoint: ProducerCheckpoint): Promise<Capacity> {
    const [inFlight, cancelled, exists] = (await this.redis.eval(
      COMMIT_UNIT_SCRIPT,
      3,
      this.keys.job(id),
      this.keys.inFlight(id),
      this.keys.unitsQueued(id),
      checkpoint.chunks - 1,
      frames,
      checkpoint.chunks,
      checkpoint.nextFrame,
      Date.now(),
    )) as [number, string, number];
    // A job whose record is gone reads as cancelled, as in waitForCapacity.
    return { inFlight, cancelled: cancelled === "1" || exists === 0 };
  }

  async completeUnit(
    id: string,
    unit: number,
    delta: Partial<Record<ProgressField, number>>,
  ): Promise<boolean> {
    const counted = await this.redis.eval(
      COMPLETE_UNIT_SCRIPT,
      4,
      this.keys.job(id),
      this.keys.inFlight(id),
      this.keys.inFlightTokens(id),
      this.keys.unitsDone(id),
      unit,
      Date.now(),
      ...Object.entries(delta).flat(),
    );
    return counted === 1;
  }

  async waitForCapacity(
    id: string,
    maxUnits: number,
    timeoutMs: number,
  ): Promise<{ inFlight: number; cancelled: boolean }> {
    const read = async () => {
      const [[, inFlight], [, cancelled]] = (await this.redis
        .multi()
        .get(this.keys.inFlight(id))
        .hget(this.keys.job(id), "cancelRequested")
        .exec()) as [[null, string | null], [null, string | null]];
      return { inFlight: Number(inFlight ?? 0), cancelled: cancelled === "1" || cancelled === null };
    };
    const now = await read();
    if (now.inFlight <= maxUnits || now.cancelled) return now;
    const connection = this.blocking.pop() ?? duplicateClient(this.redis);
    this.blockingInUse.add(connection);
    try {
      // A token pushed since the read above wakes this at once; one pushed before it only makes this read again.
      await connection.blpop(this.keys.inFlightTokens(id), Math.max(0.01, timeoutMs / 1000));
    } finally {
      this.blockingInUse.delete(connection);
      if (this.blocking.length < MAX_IDLE_BLOCKING) this.keepIdle(connection);
      else connection.disconnect();
    }
    return read();
  }

  async clearInFlight(id: string): Promise<void> {
    // A producer blocked on the tokens list is woken first.
    await this.redis
      .multi()
      .lpush(this.keys.inFlightTokens(id), "1")
      .del(...this.keys.inFlightKeys(id))
      .exec();
  }

  async producerCheckpoint(id: string): Promise<ProducerCheckpoint | null> {
    const [chunks, nextFrame] = await this.redis.hmget(
      this.keys.job(id),
      "producedChunks",
      "producedNextFrame",
    );
    if (chunks === null || nextFrame === null) return null;
    return { chunks: Number(chunks), nextFrame: Number(nextFrame) };
  }

  async setTotal(id: string, total: number): Promise<void> {
    await this.redis.hset(this.keys.job(id), { total, updatedAtMs: Date.now() });
  }

  async setVideo(id: string, video: VideoSummary): Promise<void> {
    await this.redis.hset(this.keys.job(id), { video: JSON.stringify(video), updatedAtMs: Date.now() });
  }

  async setRendering(id: string, rendering: JobRendering | null): Promise<void> {
    await this.redis.hset(this.keys.job(id), {
      rendering: rendering === null ? "" : JSON.stringify(rendering),
      updatedAtMs: Date.now(),
    });
  }

  async setConnection(id: string, connection: JobConnection): Promise<void> {
    await this.redis.hset(this.keys.job(id), {
      connection: JSON.stringify(connection),
      updatedAtMs: Date.now(),
    });
  }

  async addError(id: string, error: Omit<JobError, "atMs">): Promise<void> {
    const key = this.keys.jobErrors(id);
    await this.redis
      .multi()
      .rpush(key, JSON.stringify({ atMs: Date.now(), ...error }))
      .ltrim(key, 0, MAX_ERRORS - 1)
      .exec();
  }

  async requestCancel(id: string): Promise<boolean> {
    const job = await this.get(id);
    if (!job || isTerminal(job.state)) return false;
    await this.redis
      .multi()
      .hset(this.keys.job(id), { cancelRequested: 1, updatedAtMs: Date.now() })
      .lpush(this.keys.inFlightTokens(id), "1")
      .ltrim(this.keys.inFlightTokens(id), 0, 0)
      .exec();
    return true;
  }

  async countActive(): Promise<number> {
    return this.redis.scard(this.keys.active);
  }

  /**
   * Keeps a blocking connection for the next wait, and closes it once it has been idle for a while: waits come in
   * bursts (a planner ahead of its workers), and an idle pool must not keep the process alive.
   */
  private keepIdle(connection: RedisClient): void {
    this.blocking.push(connection);
    const timer = setTimeout(() => {
      const at = this.blocking.indexOf(connection);
      if (at === -1) return; // taken again (its next release starts a new timer) or closed
      this.blocking.splice(at, 1);
      connection.disconnect();
    }, IDLE_BLOCKING_MS);
    timer.unref();
  }

  async close(): Promise<void> {
    for (const connection of [...this.blocking.splice(0), ...this.blockingInUse]) connection.disconnect();
  }
}
