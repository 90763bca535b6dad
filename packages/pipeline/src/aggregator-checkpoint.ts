// Aggregator checkpoints: one job's aggregation state, kept in Redis so that an aggregator started after a crash
// continues the job where the last checkpoint left it. A checkpoint is saved after each message the aggregator
// handles and before that message is acked, so every acked result is covered by a checkpoint; a message handled
// but not covered is redelivered and handled again. What grows with the job is saved incrementally (lists and a
// hash appended to); the rest is one small JSON value. See docs/reliability-design.md.

import type { FrameDetectionsMessage, FrameFailure } from "@vdet/protocol";
import type { Redis } from "ioredis";
import type { AggregatorSnapshot } from "./job-aggregation.ts";

export type { AggregatorSnapshot };

/** A frame as the reorder buffer holds it: its detections as received, or why it failed. */
export type Outcome =
  | { kind: "ok"; frame: FrameDetectionsMessage }
  | { kind: "failed"; failure: FrameFailure };

export interface TrackSummary {
  trackId: number;
  classId: number;
  /** The class's name in the job's model (COCO, or an imported model's labels). */
  label: string;
  firstFrame: number;
  lastFrame: number;
  length: number;
  scoreSum: number;
}

export interface CheckpointSave {
  snapshot: AggregatorSnapshot;
  /** A tracks.jsonl part was written since the last save: the saved lines are in it now. */
  linesInPart: boolean;
  /** tracks.jsonl lines appended since the last save and not in a written part. */
  newLines: string[];
  /** tracks.mot.txt rows since the last save. */
  newMotLines: string[];
  /** tracks.jsonl lines since the last save, kept whole for preview.mp4 (jobs that ask for one). */
  newPreviewLines: string[];
  /** Track summaries changed since the last save. */
  tracks: TrackSummary[];
  /** The job's progress, set (not added) with the checkpoint so that a redone drain does not count twice. */
  progress: { written: number; deadlineMisses: number };
}

export interface AggregatorCheckpoint {
  snapshot: AggregatorSnapshot;
  /** tracks.jsonl lines after the last written part, to append again. */
  lines: string[];
  motLines: string[];
  previewLines: string[];
  tracks: TrackSummary[];
}

export interface AggregatorCheckpoints {
  load(jobId: string): Promise<AggregatorCheckpoint | null>;
  /** Saves atomically: a crash leaves the previous checkpoint or this one, never a mix. */
  save(jobId: string, save: CheckpointSave): Promise<void>;
  remove(jobId: string): Promise<void>;
}

/**
 * Redis layout under `prefix`: agg:<job> (the snapshot, JSON), agg:<job>:lines, agg:<job>:mot, agg:<job>:preview
 * (lists), agg:<job>:tracks (hash: track id → summary); the progress fields of job:<job> (RedisJobStore).
 */
export class RedisAggregatorCheckpoints implements AggregatorCheckpoints {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "vdet",
  ) {}

  private key(jobId: string, part?: string): string {
    return [this.prefix, "agg", jobId, ...(part ? [part] : [])].join(":");
  }

  async load(jobId: string): Promise<AggregatorCheckpoint | null> {
    const [[, snapshot], [, lines], [, mot], [, preview], [, tracks]] = (await this.redis
      .multi()
      .get(this.key(jobId))
      .lrange(this.key(jobId, "lines"), 0, -1)
      .lrange(this.key(jobId, "mot"), 0, -1)
      .lrange(this.key(jobId, "preview"), 0, -1)
      .hvals(this.key(jobId, "tracks"))
      .exec()) as [unknown, unknown][];
    if (snapshot === null) return null;
    return {
      // Its version is checked where it is restored (JobAggregation.restore).
      snapshot: JSON.parse(snapshot as string) as AggregatorSnapshot,
      lines: lines as string[],
      motLines: mot as string[],
      previewLines: preview as string[],
      tracks: (tracks as string[]).map((t) => JSON.parse(t) as TrackSummary),
    };
  }

  async save(jobId: string, save: CheckpointSave): Promise<void> {
    const multi = this.redis.multi();
    multi.set(this.key(jobId), JSON.stringify(save.snapshot));
    if (save.linesInPart) multi.del(this.key(jobId, "lines"));
    if (save.newLines.length > 0) multi.rpush(this.key(jobId, "lines"), ...save.newLines);
    if (save.newMotLines.length > 0) multi.rpush(this.key(jobId, "mot"), ...save.newMotLines);
    if (save.newPreviewLines.length > 0) multi.rpush(this.key(jobId, "preview"), ...save.newPreviewLines);
    if (save.tracks.length > 0)
      multi.hset(
        this.key(jobId, "tracks"),
        Object.fromEntries(save.tracks.map((t) => [String(t.trackId), JSON.stringify(t)])),
      );
    multi.hset([this.prefix, "job", jobId].join(":"), {
      written: save.progress.written,
      deadlineMisses: save.progress.deadlineMisses,
      updatedAtMs: Date.now(),
    });
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) {
      throw new Error(
        `aggregator checkpoint of job ${jobId} not saved: ${failed?.[0]?.message ?? "aborted"}`,
      );
    }
  }

  async remove(jobId: string): Promise<void> {
    await this.redis.unlink(
      this.key(jobId),
      ...["lines", "mot", "preview", "tracks"].map((part) => this.key(jobId, part)),
    );
  }
}
