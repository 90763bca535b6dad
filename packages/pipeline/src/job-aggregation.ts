// One job's aggregation: the reorder buffer, the tracker, the tracks.jsonl and tracks.mot.txt lines, the counts and
// φ history the report is made of, the zone and line analytics (events.jsonl, analytics.json) of a job with zones,
// and what the next checkpoint adds to the last. Like Tracker, it serializes to
// plain JSON and restores from it; the counts live in one plain object (`freshState`), so a new field is one edit.

import {
  Analytics,
  type AnalyticsEvent,
  AnalyticsStateError,
  analyticsFrame,
  resolveZones,
  type TrackLineLike,
} from "@vdet/analytics";
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

/** How often (in frames analysed) a job's analytics forget the tracks the tracker has dropped. */
export const ANALYTICS_FORGET_FRAMES = 50;

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
    /** Frames the overload policy skipped (written as skipped lines, not counted in `failed`). */
    skipped: 0,
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
    /** Jobs with zones: frames left out of the analytics because their pts went back. */
    analyticsSkippedFrames: 0,
    /** … and the job error saying so was recorded. */
    analyticsSkipReported: false,
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

type AnalyticsSnapshotOf = ReturnType<Analytics["serialize"]>;

/** Version 1 kept the histogram and the per-worker counts as [key, value] lists. */
type SnapshotV1 = Omit<
  AggregatorSnapshot,
  "version" | "phiHistogram" | "framesByWorker" | "analytics" | "eventsPartsWritten" | "eventsBuffered"
> & {
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
  /** The job's zones and lines (null without zones, or when they could not be resolved: `analyticsProblem`). */
  readonly analytics: Analytics | null;
  /** Why a job with zones has no analytics (normalized coordinates and no video size). */
  readonly analyticsProblem: string | null = null;
  /** Events of tracked frames not yet appended to events.jsonl. */
  private newEvents: string[] = [];
  /**
   * events.jsonl lines appended after its last written part: only buffered by the output, so each checkpoint's
   * snapshot keeps them (few: events.jsonl is flushed whenever tracks.jsonl writes a part).
   */
  private eventsBuffered: string[] = [];
  /** Analytics changed since analytics.json was last written (at `analyticsWrittenAt`, performance.now()). */
  analyticsChanged = false;
  analyticsWrittenAt = Number.NEGATIVE_INFINITY;
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
    analytics?: AnalyticsSnapshotOf,
  ) {
    this.previewFrames = job.spec.preview && canReadAgain(job.spec.input) ? [] : null;
    let zones: ReturnType<typeof resolveZones> | null = null;
    if (job.spec.zones) {
      try {
        zones = resolveZones(job.spec.zones, job.video ?? undefined);
      } catch (error) {
        this.analyticsProblem = `no events.jsonl or analytics.json: ${(error as Error).message}`;
      }
    }
    this.analytics = zones ? (analytics ? Analytics.restore(zones, analytics) : new Analytics(zones)) : null;
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
    const {
      version,
      next,
      pending,
      duplicates,
      tracker,
      tracksPartsWritten,
      timeParts,
      analytics,
      eventsPartsWritten,
      eventsBuffered,
      ...state
    } = upgrade(checkpoint.snapshot, job.id);
    const agg = new JobAggregation(
      job,
      output,
      models,
      Tracker.restore(tracker),
      ReorderBuffer.restore({ next, pending, duplicates }),
      { ...freshState(), ...state },
      analytics ?? undefined,
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
    // Likewise the events.jsonl lines after its last written part.
    if (!state.finishing && eventsBuffered?.length) await agg.appendEvents(eventsBuffered);
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
      /** Streams: the time-based parts' position (stream-output.ts). */
      timeParts: this.output.timeParts,
      /** Jobs with zones: the analytics state, events.jsonl parts written and the event lines after them. */
      analytics: this.analytics?.serialize() ?? null,
      eventsPartsWritten: this.output.eventsPartsWritten,
      eventsBuffered: this.eventsBuffered,
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
    if (this.analytics) await this.output.flushEvents();
    this.eventsBuffered = [];
    this.unsavedLines = [];
    this.linesInPart = true;
    this.state.finishing = true;
  }

  /** A frame's (or a failed frame's) tracks.jsonl line, after tracking its detections. */
  lineFor(outcome: Outcome): string {
    if (outcome.kind === "ok") return this.trackFrame(outcome.frame, outcome.capture);
    const line = failedFrameLine(outcome.failure, outcome.capture);
    // A failed frame is a frame without detections to the analytics too, as `vdet analyze` reads tracks.jsonl.
    this.analyze(line);
    return JSON.stringify(line);
  }

  /**
   * Appends lines to tracks.jsonl and notes what the next checkpoint must keep: an append that writes a part
   * writes everything buffered, so after one the lines are all in parts; otherwise these lines are only buffered.
   */
  async appendLines(lines: string[]): Promise<void> {
    const partsBefore = this.output.tracksPartsWritten;
    await this.output.appendTracks(`${lines.join("\n")}\n`);
    const partWritten = this.output.tracksPartsWritten !== partsBefore;
    if (partWritten) {
      this.unsavedLines = [];
      this.linesInPart = true;
    } else {
      this.unsavedLines.push(...lines);
    }
    if (!this.analytics) return;
    const events = this.newEvents;
    this.newEvents = [];
    if (events.length > 0) await this.appendEvents(events);
    // events.jsonl is made durable with tracks.jsonl's parts: the checkpoint keeps few event lines.
    if (partWritten && this.eventsBuffered.length > 0) {
      await this.output.flushEvents();
      this.eventsBuffered = [];
    }
  }

  /** Appends lines to events.jsonl and notes those only buffered (as `appendLines` does for tracks.jsonl). */
  private async appendEvents(lines: string[]): Promise<void> {
    const partsBefore = this.output.eventsPartsWritten;
    await this.output.appendEvents(`${lines.join("\n")}\n`);
    if (this.output.eventsPartsWritten !== partsBefore) this.eventsBuffered = [];
    else this.eventsBuffered.push(...lines);
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
    // Real time between frames (skipped frames, a gap): the tracker's motion model steps by ptsMs, not by calls.
    const tracked = this.tracker.update(detections, { ptsMs: frame.ptsMs });
    metrics.trackerUpdate(performance.now() - trackStarted);
    const phi = frame.phi;
    const trackIds = new Int32Array(detectionCount(detections));
    for (const t of tracked) {
      const i = t.detectionIndex;
      const score = detections.scores[i];
      trackIds[i] = t.trackId;
      // A stream keeps no MOT rows: they would grow for as long as it runs.
      if (!this.job.spec.stream)
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
      ...captureFields(capture, frame.ptsMs),
      phi,
      detections: rows,
    };
    this.analyze(line);
    return JSON.stringify(line);
  }

  /** Feeds a frame to the zones and lines; its events go to events.jsonl with the frame's line. */
  private analyze(line: TrackLineLike): void {
    if (!this.analytics) return;
    let events: AnalyticsEvent[];
    try {
      events = this.analytics.update(analyticsFrame(line));
    } catch (error) {
      // A frame before the last one analysed (a stream whose timestamps went back) is left out of the analytics,
      // counted; update() refuses it before changing anything.
      if (!(error instanceof AnalyticsStateError)) throw error;
      this.state.analyticsSkippedFrames++;
      return;
    }
    for (const event of events) this.newEvents.push(JSON.stringify(event));
    this.analyticsChanged = true;
    // Every ANALYTICS_FORGET_FRAMES frames (counted by the analytics, so a resumed job prunes where an uninterrupted
    // one does), the analytics forget the tracks the tracker has dropped: the state stays the size of the tracks
    // alive, not of every track seen, and events.jsonl and analytics.json stay exactly the same.
    if (this.analytics.frames % ANALYTICS_FORGET_FRAMES === 0) {
      const live = new Set(this.tracker.liveTrackIds());
      this.analytics.forgetEnded((id) => !live.has(id));
    }
  }
}

/** A failed or skipped frame's line; live inputs' lines carry the capture time as frames with detections do. */
function failedFrameLine(failure: FrameFailure, capture: Capture | undefined): TracksLine {
  return {
    frame: failure.index,
    ptsMs: failure.ptsMs,
    ...captureFields(capture, failure.ptsMs),
    ...(failure.skipped ? { skipped: failure.reason } : { error: failure.reason }),
    detections: [],
  };
}

function captureFields(
  capture: Capture | undefined,
  ptsMs: number,
): Pick<TracksLine, "capturedAt" | "captureClock"> {
  return capture === undefined
    ? {}
    : { capturedAt: new Date(capturedAtMs(capture, ptsMs)).toISOString(), captureClock: capture.clock };
}

/** A checkpoint's snapshot in this version's format. */
function upgrade(snapshot: AggregatorSnapshot | SnapshotV1, jobId: string): AggregatorSnapshot {
  if (snapshot.version === SNAPSHOT_VERSION) return snapshot;
  if (snapshot.version === 1) {
    return {
      ...snapshot,
      analytics: null,
      eventsPartsWritten: 0,
      eventsBuffered: [],
      version: SNAPSHOT_VERSION,
      phiHistogram: Object.fromEntries(snapshot.phiHistogram),
      framesByWorker: Object.fromEntries(snapshot.framesByWorker),
    };
  }
  throw new InvariantError(
    `aggregator checkpoint of job ${jobId} has unknown version ${String((snapshot as { version: unknown }).version)}`,
  );
}
