// Where the aggregator keeps its checkpoints: one job's aggregation state in Redis, so that an aggregator started
// after a crash continues the job where the last checkpoint left it. What grows with the job is saved
// incrementally (lists and a hash appended to); the rest is one snapshot, stored as JSON. The snapshot's and the
// track summaries' shapes are the aggregator's: here they are opaque JSON (the aggregator checks the snapshot's
// version when it restores it).
// See docs/reliability-design.md.

import { VdetError } from "@vdet/errors";
import { JOBS_ERRORS } from "./error-codes.ts";
import { DeploymentKeys, type RedisClient } from "./keys.ts";

/** A track summary as stored: the aggregator's own record, keyed by its track id. */
export interface StoredTrack {
  trackId: number;
}

export interface CheckpointSave<Snapshot, Track extends StoredTrack> {
  snapshot: Snapshot;
  /** A tracks.jsonl part was written since the last save: the saved lines are in it now. */
  linesInPart: boolean;
  /** tracks.jsonl lines appended since the last save and not in a written part. */
  newLines: string[];
  /** tracks.mot.txt rows since the last save. */
  newMotLines: string[];
  /** tracks.jsonl lines since the last save, kept whole for preview.mp4 (jobs that ask for one). */
  newPreviewLines: string[];
  /** Track summaries changed since the last save. */
  tracks: Track[];
  /** The job's progress, set (not added) with the checkpoint so that a redone drain does not count twice. */
  progress: { written: number; deadlineMisses: number };
}

export interface StoredCheckpoint<Snapshot, Track extends StoredTrack> {
  snapshot: Snapshot;
  /** tracks.jsonl lines after the last written part, to append again. */
  lines: string[];
  motLines: string[];
  previewLines: string[];
  tracks: Track[];
}

export interface AggregatorCheckpoints<Snapshot, Track extends StoredTrack> {
  load(jobId: string): Promise<StoredCheckpoint<Snapshot, Track> | null>;
  /** Saves atomically: a crash leaves the previous checkpoint or this one, never a mix. */
  save(jobId: string, save: CheckpointSave<Snapshot, Track>): Promise<void>;
  remove(jobId: string): Promise<void>;
}

/**
 * Redis layout (keys.ts): the snapshot (JSON), the lines, mot and preview lists, the tracks hash (track id →
 * summary); and the progress fields of the job's hash, set in the same transaction.
 */
export class RedisAggregatorCheckpoints<Snapshot, Track extends StoredTrack>
  implements AggregatorCheckpoints<Snapshot, Track>
{
  private readonly keys: DeploymentKeys;

  constructor(
    private readonly redis: RedisClient,
    keys: DeploymentKeys | string,
  ) {
    this.keys = typeof keys === "string" ? new DeploymentKeys(keys) : keys;
  }

  async load(jobId: string): Promise<StoredCheckpoint<Snapshot, Track> | null> {
    const [[, snapshot], [, lines], [, mot], [, preview], [, tracks]] = (await this.redis
      .multi()
      .get(this.keys.checkpoint(jobId))
      .lrange(this.keys.checkpoint(jobId, "lines"), 0, -1)
      .lrange(this.keys.checkpoint(jobId, "mot"), 0, -1)
      .lrange(this.keys.checkpoint(jobId, "preview"), 0, -1)
      .hvals(this.keys.checkpoint(jobId, "tracks"))
      .exec()) as [unknown, unknown][];
    if (snapshot === null) return null;
    return {
      snapshot: JSON.parse(snapshot as string) as Snapshot,
      lines: lines as string[],
      motLines: mot as string[],
      previewLines: preview as string[],
      tracks: (tracks as string[]).map((t) => JSON.parse(t) as Track),
    };
  }

  async save(jobId: string, save: CheckpointSave<Snapshot, Track>): Promise<void> {
    const key = (part?: Parameters<DeploymentKeys["checkpoint"]>[1]) => this.keys.checkpoint(jobId, part);
    const multi = this.redis.multi();
    multi.set(key(), JSON.stringify(save.snapshot));
    if (save.linesInPart) multi.del(key("lines"));
    if (save.newLines.length > 0) multi.rpush(key("lines"), ...save.newLines);
    if (save.newMotLines.length > 0) multi.rpush(key("mot"), ...save.newMotLines);
    if (save.newPreviewLines.length > 0) multi.rpush(key("preview"), ...save.newPreviewLines);
    if (save.tracks.length > 0)
      multi.hset(
        key("tracks"),
        Object.fromEntries(save.tracks.map((t) => [String(t.trackId), JSON.stringify(t)])),
      );
    multi.hset(this.keys.job(jobId), {
      written: save.progress.written,
      deadlineMisses: save.progress.deadlineMisses,
      updatedAtMs: Date.now(),
    });
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) {
      throw new VdetError(
        JOBS_ERRORS.CHECKPOINT_NOT_SAVED,
        `aggregator checkpoint of job ${jobId} not saved: ${failed?.[0]?.message ?? "aborted"}`,
      );
    }
  }

  async remove(jobId: string): Promise<void> {
    await this.redis.unlink(...this.keys.checkpointKeys(jobId));
  }
}
