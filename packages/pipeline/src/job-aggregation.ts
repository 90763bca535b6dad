// One job's aggregation: the reorder buffer, the tracker, the tracks.jsonl and tracks.mot.txt lines, the counts and
// φ history the report is made of, and what the next checkpoint adds to the last. Like Tracker, it serializes to
// plain JSON and restores from it; the counts live in one plain object (`freshState`), so a new field is one edit.

import { InvariantError } from "@vdet/errors";
import { type DeploymentModels, labelOf } from "@vdet/jobs";
import { metrics } from "@vdet/metrics";
import { formatResultRow } from "@vdet/mot-eval";
import {
  type Capture,
  capturedAtMs,
  detectionCount,
  detectionsFromMessage,
  detectionsToRows,
  type FrameDetectionsMessage,
  type FrameFailure,
  type JobEvent,
  type JobRecord,
  type PhiValue,
  sampledFps,
  type TracksLine,
} from "@vdet/protocol";
import type { TrackFrame } from "@vdet/render";
import { Tracker } from "@vdet/tracker";
import type { AggregatorCheckpoint, CheckpointSave, Outcome, TrackSummary } from "./aggregator-checkpoint.ts";
import type { JobOutput } from "./job-output.ts";
import { reconnectPolicy } from "./live-policy.ts";
import { canReadAgain } from "./preview.ts";
import { ReorderBuffer } from "./reorder-buffer.ts";

export type DecodedEvent = Extract<JobEvent, { type: "decoded" }>;

/** Consecutive frames run at one φ. */
export interface PhiRange {
  fromFrame: number;
  toFrame: number;
  phi: PhiValue;
}

/** The counts and history saved whole with every checkpoint: plain JSON, each field with its starting value. */
function freshState() {
  return {
    /** The producer's end-of-decoding event, once it came. */
    finished: null as DecodedEvent | null,
    written: 0,
    failed: 0,
    deadlineMisses: 0,
    /** φ (as a string) → frames run at it. */
    phiHistogram: {} as Record<string, number>,
    phiRanges: [] as PhiRange[],
    /** Frames each worker delivered (first delivery only). */
    framesByWorker: {} as Record<string, number>,
    startedAtMs: Date.now(),
    /** tracks.jsonl is flushed and being joined; nothing more is appended. */
    finishing: false,
    /** The job's onGap: "fail" error was recorded. */
    gapsReported: false,
    /** ptsMs of the last frame tracked (live inputs: a longer hole than reconnect.keepTracksGapMs restarts tracks). */
    lastPtsMs: null as number | null,
    /** Times the tracks were restarted after a long hole in a live input. */
    trackRestarts: 0,
  };
}

export type AggregationState = ReturnType<typeof freshState>;

/** The checkpoint format's version; restore() reads this one and the one before. */
const SNAPSHOT_VERSION = 2;

/** The part of a job's aggregation rewritten whole at each checkpoint (bounded by the frames in flight). */
export type AggregatorSnapshot = ReturnType<JobAggregation["serialize"]>;

/** Version 1 kept the histogram and the per-worker counts as [key, value] lists. */
type SnapshotV1 = Omit<AggregatorSnapshot, "version" | "phiHistogram" | "framesByWorker"> & {
  version: 1;
  phiHistogram: [string, number][];
  framesByWorker: [string, number][];
};

export class JobAggregation {
  readonly tracks = new Map<number, TrackSummary>();
  readonly motLines: string[] = [];
  /** The written frames, kept only when the job asked for preview.mp4. */
  readonly previewFrames: TrackFrame[] | null;
  /** Finished, or failed by a write: later results for the job are dropped. */
  done = false;
  /** Without checkpoints: the progress already added to the job record. */
  progressReported = { written: 0, deadlineMisses: 0 };
  // What the next checkpoint adds to the last one.
  private unsavedLines: string[] = [];
  private linesInPart = false;
  private motSaved = 0;
  private previewSaved = 0;
  private readonly dirtyTracks = new Set<number>();

  private constructor(
    readonly job: JobRecord,
    readonly output: JobOutput,
    /** φ → model and labels, as published when the job's aggregation began. */
    readonly models: DeploymentModels,
    public tracker: Tracker,
    readonly reorder: ReorderBuffer<Outcome>,
    readonly state: AggregationState,
  ) {
    this.previewFrames = job.spec.preview && canReadAgain(job.spec.input) ? [] : null;
    this.keepTracksGapMs = canReadAgain(job.spec.input)
      ? undefined
      : reconnectPolicy(job.spec.reconnect).keepTracksGapMs;
  }

  /** Live inputs: the longest hole between two frames that the tracks go on across; undefined for files. */
  private readonly keepTracksGapMs: number | undefined;

  /** A job's aggregation from its first frame. */
  static start(job: JobRecord, output: JobOutput, models: DeploymentModels): JobAggregation {
    // Class-aware: a COCO detector's person and bicycle boxes overlap and must not swap tracks.
    const tracker = new Tracker({ fps: sampledFps(job.spec.sampling, job.video?.fps), classAware: true });
    return new JobAggregation(job, output, models, tracker, new ReorderBuffer(), freshState());
  }

  /** A job's aggregation as a checkpoint left it; `output` was opened at the checkpoint's write position. */
  static async restore(
    job: JobRecord,
    output: JobOutput,
    models: DeploymentModels,
    checkpoint: AggregatorCheckpoint,
  ): Promise<JobAggregation> {
    const { version, next, pending, duplicates, tracker, tracksPartsWritten, ...state } = upgrade(
      checkpoint.snapshot,
      job.id,
    );
    const agg = new JobAggregation(
      job,
      output,
      models,
      Tracker.restore(tracker),
      ReorderBuffer.restore({ next, pending, duplicates }),
      { ...freshState(), ...state },
    );
    for (const t of checkpoint.tracks) agg.tracks.set(t.trackId, t);
    agg.motLines.push(...checkpoint.motLines);
    agg.motSaved = agg.motLines.length;
    if (agg.previewFrames)
      for (const line of checkpoint.previewLines) agg.previewFrames.push(JSON.parse(line));
    agg.previewSaved = agg.previewFrames?.length ?? 0;
    // The lines after the last written part were only buffered by the crashed aggregator: buffer them again.
    if (!state.finishing && checkpoint.lines.length > 0) {
      const partsBefore = output.tracksPartsWritten;
      await output.appendTracks(`${checkpoint.lines.join("\n")}\n`);
      agg.linesInPart = output.tracksPartsWritten !== partsBefore;
    }
    return agg;
  }

  serialize() {
    return {
      version: SNAPSHOT_VERSION as typeof SNAPSHOT_VERSION,
      ...this.reorder.serialize(),
      ...this.state,
      tracker: this.tracker.serialize(),
      /** tracks.jsonl parts written; the lines after them are in the checkpoint's line list. */
      tracksPartsWritten: this.output.tracksPartsWritten,
    };
  }

  /** The job's progress as the job record shows it. */
  progress(): { written: number; deadlineMisses: number } {
    return { written: this.state.written, deadlineMisses: this.state.deadlineMisses };
  }

  /** The next checkpoint: the snapshot, what grew since the last save, and the job's progress. */
  checkpointSave(): CheckpointSave {
    return {
      snapshot: this.serialize(),
      linesInPart: this.linesInPart,
      newLines: this.unsavedLines,
      newMotLines: this.motLines.slice(this.motSaved),
      newPreviewLines: this.previewFrames?.slice(this.previewSaved).map((f) => JSON.stringify(f)) ?? [],
      tracks: [...this.dirtyTracks].map((id) => this.tracks.get(id)!),
      progress: this.progress(),
    };
  }

  /** After `save` was saved: the next checkpoint adds to it (a failed save is retried with everything since). */
  checkpointSaved(save: CheckpointSave): void {
    this.unsavedLines = [];
    this.linesInPart = false;
    this.motSaved += save.newMotLines.length;
    this.previewSaved += save.newPreviewLines.length;
    this.dirtyTracks.clear();
  }

  /** From here on tracks.jsonl is only joined: a resumed aggregator must not buffer lines again. */
  async beginFinishing(): Promise<void> {
    await this.output.flushTracks();
    this.unsavedLines = [];
    this.linesInPart = true;
    this.state.finishing = true;
  }

  /** A frame's (or a failed frame's) tracks.jsonl line, after tracking its detections. */
  lineFor(outcome: Outcome): string {
    if (outcome.kind === "ok") return this.trackFrame(outcome.frame, outcome.capture);
    return failedFrameLine(outcome.failure);
  }

  /**
   * Appends lines to tracks.jsonl and notes what the next checkpoint must keep: an append that writes a part
   * writes everything buffered, so after one the lines are all in parts; otherwise these lines are only buffered.
   */
  async appendLines(lines: string[]): Promise<void> {
    const partsBefore = this.output.tracksPartsWritten;
    await this.output.appendTracks(`${lines.join("\n")}\n`);
    if (this.output.tracksPartsWritten !== partsBefore) {
      this.unsavedLines = [];
      this.linesInPart = true;
    } else {
      this.unsavedLines.push(...lines);
    }
  }

  /** Tracks a frame: its MOT rows, its tracks' summaries, the φ history; returns its tracks.jsonl line. */
  private trackFrame(frame: FrameDetectionsMessage, capture: Capture | undefined): string {
    const detections = detectionsFromMessage(frame);
    const lastPtsMs = this.state.lastPtsMs ?? null;
    if (
      this.keepTracksGapMs !== undefined &&
      lastPtsMs !== null &&
      frame.ptsMs - lastPtsMs > this.keepTracksGapMs
    ) {
      // A long hole in a live stream (a reconnect): what was there may have moved anywhere; new tracks start,
      // with new ids (the id counter goes on).
      this.tracker = Tracker.restore({ ...this.tracker.serialize(), tracks: [] });
      this.state.trackRestarts = (this.state.trackRestarts ?? 0) + 1;
    }
    this.state.lastPtsMs = frame.ptsMs;
    const trackStarted = performance.now();
    const tracked = this.tracker.update(detections);
    metrics.trackerUpdate(performance.now() - trackStarted);
    const phi = frame.phi;
    const trackIds = new Int32Array(detectionCount(detections));
    for (const t of tracked) {
      const i = t.detectionIndex;
      const score = detections.scores[i];
      trackIds[i] = t.trackId;
      this.motLines.push(formatResultRow(frame.index + 1, t.trackId, detections.xyxy, i * 4, score));
      this.dirtyTracks.add(t.trackId);
      const summary = this.tracks.get(t.trackId);
      if (summary) {
        summary.lastFrame = frame.index;
        summary.length++;
        summary.scoreSum += score;
      } else {
        this.tracks.set(t.trackId, {
          trackId: t.trackId,
          classId: detections.classIds[i],
          label: labelOf(this.models, phi, detections.classIds[i]),
          firstFrame: frame.index,
          lastFrame: frame.index,
          length: 1,
          scoreSum: score,
        });
      }
    }
    detections.trackIds = trackIds;
    const { phiHistogram, phiRanges } = this.state;
    phiHistogram[String(phi)] = (phiHistogram[String(phi)] ?? 0) + 1;
    const last = phiRanges.at(-1);
    if (last && last.phi === phi && last.toFrame === frame.index - 1) last.toFrame = frame.index;
    else phiRanges.push({ fromFrame: frame.index, toFrame: frame.index, phi });
    const rows = detectionsToRows(detections, (classId) => labelOf(this.models, phi, classId));
    const line: TracksLine = {
      frame: frame.index,
      ptsMs: frame.ptsMs,
      ...(capture === undefined
        ? {}
        : {
            capturedAt: new Date(capturedAtMs(capture, frame.ptsMs)).toISOString(),
            captureClock: capture.clock,
          }),
      phi,
      detections: rows,
    };
    return JSON.stringify(line);
  }
}

function failedFrameLine(failure: FrameFailure): string {
  const line: TracksLine = {
    frame: failure.index,
    ptsMs: failure.ptsMs,
    error: failure.reason,
    detections: [],
  };
  return JSON.stringify(line);
}

/** A checkpoint's snapshot in this version's format. */
function upgrade(snapshot: AggregatorSnapshot | SnapshotV1, jobId: string): AggregatorSnapshot {
  if (snapshot.version === SNAPSHOT_VERSION) return snapshot;
  if (snapshot.version === 1) {
    return {
      ...snapshot,
      version: SNAPSHOT_VERSION,
      phiHistogram: Object.fromEntries(snapshot.phiHistogram),
      framesByWorker: Object.fromEntries(snapshot.framesByWorker),
    };
  }
  throw new InvariantError(
    `aggregator checkpoint of job ${jobId} has unknown version ${String((snapshot as { version: unknown }).version)}`,
  );
}
