// Aggregator checkpoints: what of one job's aggregation state is saved (stored in Redis by @vdet/jobs) so that an
// aggregator started after a crash continues the job where the last checkpoint left it. A checkpoint is saved after
// each message the aggregator handles and before that message is acked, so every acked result is covered by a
// checkpoint; a message handled but not covered is redelivered and handled again. See docs/reliability-design.md.

import type {
  StoredCheckpoint,
  CheckpointSave as StoredCheckpointSave,
  AggregatorCheckpoints as StoredCheckpoints,
} from "@vdet/jobs";
import type { Capture, FrameDetectionsMessage, FrameFailure } from "@vdet/protocol";
import type { AggregatorSnapshot } from "./job-aggregation.ts";

export type { AggregatorSnapshot };

/** A frame as the reorder buffer holds it: its detections as received, or why it failed. */
export type Outcome =
  | { kind: "ok"; frame: FrameDetectionsMessage; capture?: Capture }
  | { kind: "failed"; failure: FrameFailure; capture?: Capture };

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

/** The aggregator's checkpoints, stored by @vdet/jobs (the snapshot's version is checked where it is restored). */
export type CheckpointSave = StoredCheckpointSave<AggregatorSnapshot, TrackSummary>;
export type AggregatorCheckpoint = StoredCheckpoint<AggregatorSnapshot, TrackSummary>;
export type AggregatorCheckpoints = StoredCheckpoints<AggregatorSnapshot, TrackSummary>;
