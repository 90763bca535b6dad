// ByteTrack-class multi-object tracker: Kalman prediction, two-stage IoU association (high-score
// detections first, then low-score ones for tracks still unmatched), tentative → confirmed → lost →
// removed life cycle with ages in frames, optional OC-SORT observation-centric re-update.
// One instance per video stream; ids start at 1 per instance; state can be checkpointed as JSON.

import type { Detections } from "@vdet/protocol";
import { CAMERA_MOTION, type CameraShift, CameraShiftScratch, estimateCameraShift } from "./camera-motion.ts";
import { DetectionInputError } from "./errors.ts";
import { KalmanFilter, XYAH, XYSR } from "./kalman-filter.ts";
import { AssignmentSolver, iouMatrix, solveGated } from "./matching.ts";
import {
  OPTIONS_ABSENT_FROM_OLD_CHECKPOINTS,
  type ResolvedTrackerOptions,
  resolveTrackerOptions,
  SORT_BASELINE_OPTIONS,
  type TrackerOptions,
} from "./options.ts";
import {
  newTrack,
  type Track,
  TrackerStateError,
  type TrackState,
  trackFromState,
  trackToState,
} from "./track.ts";

export interface TrackOutput {
  trackId: number;
  /** x1, y1, x2, y2 (the filtered state, or the detection with outputBox: "detection"). */
  box: [number, number, number, number];
  score: number;
  classId: number;
  /** Index of the detection this track was matched to in the frame. */
  detectionIndex: number;
}

/** Plain JSON-able checkpoint of a tracker (see {@link Tracker.serialize}). */
export interface TrackerState {
  format: "vdet-tracker-state";
  version: 1;
  options: TrackerOptions;
  frameIndex: number;
  nextId: number;
  tracks: TrackState[];
  /** The last frame's presentation time, ms, when frames came with one (absent: frames counted by calls). */
  lastPtsMs?: number;
}

/** Per-frame input besides the detections. */
export interface FrameTime {
  /**
   * The frame's presentation time, ms. With it, the time since the previous frame (at the tracker's fps) sets how
   * many frame steps the motion model predicts and tracks age: frames skipped or lost in between count as time.
   */
  ptsMs?: number;
}

export { DetectionInputError };

/** Growable scratch arrays reused from frame to frame. */
class Scratch {
  f64 = new Float64Array(0);
  gated = new Float64Array(0);
  trackBoxes = new Float64Array(0);
  colForRow = new Int32Array(0);
  rows = new Int32Array(0);
  cols = new Int32Array(0);
  high = new Int32Array(0);
  low = new Int32Array(0);
  detMatched = new Uint8Array(0);
  trackMatched = new Uint8Array(0);

  reserve(tracks: number, detections: number): void {
    const pairs = Math.max(1, tracks * detections);
    if (this.f64.length < pairs) {
      this.f64 = new Float64Array(pairs * 2);
      this.gated = new Float64Array(pairs * 2);
    }
    if (this.trackBoxes.length < tracks * 4) this.trackBoxes = new Float64Array(tracks * 8);
    const n = Math.max(tracks, detections);
    if (this.colForRow.length < n) {
      this.colForRow = new Int32Array(n * 2);
      this.rows = new Int32Array(n * 2);
      this.cols = new Int32Array(n * 2);
    }
    if (this.high.length < detections) {
      this.high = new Int32Array(detections * 2);
      this.low = new Int32Array(detections * 2);
      this.detMatched = new Uint8Array(detections * 2);
    }
    if (this.trackMatched.length < tracks) this.trackMatched = new Uint8Array(tracks * 2);
  }
}

export class Tracker {
  readonly options: ResolvedTrackerOptions;
  private readonly userOptions: TrackerOptions;
  private readonly kf: KalmanFilter;
  private readonly solver = new AssignmentSolver();
  private readonly scratch = new Scratch();
  private readonly measurement = new Float64Array(4);
  private readonly virtualBox = new Float64Array(4);
  private readonly cameraScratch = new CameraShiftScratch();
  /** The camera shift applied in the last update (undefined: none). */
  private lastCameraShift: CameraShift | undefined;
  private tracks: Track[] = [];
  private frameIndex = 0;
  private nextId = 1;
  private lastPtsMs: number | undefined;

  constructor(options: Partial<TrackerOptions> = {}) {
    this.options = Object.freeze(resolveTrackerOptions(options));
    this.kf = new KalmanFilter(this.options.motionModel === "xysr" ? XYSR : XYAH);
    const { maxLostFramesAtFps: _a, minHitsAtFps: _b, tentativeMaxMissesAtFps: _c, ...user } = this.options;
    this.userOptions = user;
  }

  /** A tracker configured as the SORT baseline (max age 1, min hits 3, IoU 0.3). */
  static sortBaseline(options: Partial<TrackerOptions> = {}): Tracker {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    return new Tracker({ ...SORT_BASELINE_OPTIONS, ...given });
  }

  /** The camera shift (pixels) applied to the predictions in the last update, if any (`cameraMotion`). */
  get cameraShift(): Readonly<CameraShift> | undefined {
    return this.lastCameraShift;
  }

  /** Number of frames processed so far. */
  get framesProcessed(): number {
    return this.frameIndex;
  }

  /**
   * Ids of the confirmed tracks still kept (active or lost): only these can be reported again. Ids are never
   * reused, so an id reported before and not in this list never comes back.
   */
  liveTrackIds(): number[] {
    const ids: number[] = [];
    for (const t of this.tracks) if (t.id > 0) ids.push(t.id);
    return ids;
  }

  /** Processes the next frame (frames must come in order) and returns the tracks reported for it. */
  update(frame: Detections, time: FrameTime = {}): TrackOutput[] {
    const count = validateFrame(frame);
    const o = this.options;
    const steps = this.stepsTo(time.ptsMs);
    this.frameIndex += steps;
    const frameNo = this.frameIndex;
    const { xyxy: boxes, scores, classIds: classes } = frame;
    const s = this.scratch;
    const tracks = this.tracks;
    s.reserve(tracks.length, count);

    const model = this.kf.parameterisation;
    for (let t = 0; t < tracks.length; t++) {
      const track = tracks[t];
      // One prediction per frame step; after the first, the track had no detection (the frames in between).
      for (let k = 0; k < steps; k++) this.kf.predict(track.mean, track.cov, track.missed > 0 || k > 0);
      model.toBox(track.mean, s.trackBoxes, t * 4);
      track.detectionIndex = -1;
    }
    s.trackMatched.fill(0, 0, tracks.length);
    s.detMatched.fill(0, 0, count);

    let highCount = 0;
    let lowCount = 0;
    for (let d = 0; d < count; d++) {
      const score = scores[d];
      // Empty boxes (e.g. clipped to nothing at the image border) cannot be tracked: ignore them.
      if (!(boxes[d * 4 + 2] > boxes[d * 4] && boxes[d * 4 + 3] > boxes[d * 4 + 1])) continue;
      if (score >= o.highScoreThreshold) s.high[highCount++] = d;
      else if (score >= o.lowScoreThreshold) s.low[lowCount++] = d;
    }

    if (o.cameraMotion) this.compensateCameraMotion(frame, highCount);

    // Stage 1: confirmed tracks (tracked and lost), or all tracks in SORT mode, vs high detections.
    let rowCount = 0;
    for (let t = 0; t < tracks.length; t++) {
      if (tracks[t].confirmed || !o.associateTentativeSeparately) s.rows[rowCount++] = t;
    }
    this.associate(frame, rowCount, s.high, highCount, o.matchIou, o.fuseScore);

    // Stage 2: tracks that were tracked last frame and are still unmatched vs low detections.
    if (lowCount > 0) {
      rowCount = 0;
      for (let t = 0; t < tracks.length; t++) {
        const track = tracks[t];
        if (s.trackMatched[t] || track.missed > 0) continue;
        if (track.confirmed || !o.associateTentativeSeparately) s.rows[rowCount++] = t;
      }
      this.associate(frame, rowCount, s.low, lowCount, o.lowScoreMatchIou, false);
    }

    // Stage 3 (ByteTrack): tentative tracks vs the high detections nobody took.
    if (o.associateTentativeSeparately) {
      rowCount = 0;
      for (let t = 0; t < tracks.length; t++) if (!tracks[t].confirmed) s.rows[rowCount++] = t;
      this.associate(frame, rowCount, s.high, highCount, o.tentativeMatchIou, o.fuseScore);
    }

    // Stage 4: tracks never matched since birth vs the high detections nobody took, by centre distance.
    if (o.firstMatchReach > 0) this.firstMatchByDistance(frame, highCount);

    // Life cycle of unmatched tracks: count the miss, drop the ones too old.
    let kept = 0;
    for (let t = 0; t < tracks.length; t++) {
      const track = tracks[t];
      if (!s.trackMatched[t]) {
        track.missed += steps;
        if (o.resetStreakOnMiss) track.hitStreak = 0;
        const limit = track.confirmed ? o.maxLostFramesAtFps : o.tentativeMaxMissesAtFps;
        if (track.missed > limit) continue;
      }
      tracks[kept++] = track;
    }
    tracks.length = kept;

    // Births from unmatched high detections.
    for (let k = 0; k < highCount; k++) {
      const d = s.high[k];
      if (s.detMatched[d] || scores[d] < o.birthScoreThreshold) continue;
      const track = newTrack(classes[d], scores[d], frameNo);
      model.toMeasurement(boxes, d * 4, this.measurement);
      this.kf.initiate(this.measurement, track.mean, track.cov);
      this.recordObservation(track, boxes, d);
      if (o.minHitsAtFps === 0 || frameNo <= o.warmupFrames) this.confirm(track);
      tracks.push(track);
    }

    return this.report(frame);
  }

  /** Serialises the complete state; {@link Tracker.restore} continues exactly where this left off. */
  serialize(): TrackerState {
    return {
      format: "vdet-tracker-state",
      version: 1,
      options: { ...this.userOptions },
      frameIndex: this.frameIndex,
      nextId: this.nextId,
      tracks: this.tracks.map(trackToState),
      ...(this.lastPtsMs === undefined ? {} : { lastPtsMs: this.lastPtsMs }),
    };
  }

  /**
   * Frame steps since the previous frame: from the presentation times at the tracker's fps (at least 1; bounded
   * by the longest a track is kept, beyond which more steps change nothing), else 1.
   */
  private stepsTo(ptsMs: number | undefined): number {
    if (ptsMs === undefined || !Number.isFinite(ptsMs)) return 1;
    const last = this.lastPtsMs;
    this.lastPtsMs = ptsMs;
    if (last === undefined) return 1;
    const steps = Math.round(((ptsMs - last) * this.options.fps) / 1000);
    return Math.min(Math.max(1, steps), this.options.maxLostFramesAtFps + 2);
  }

  static restore(state: TrackerState): Tracker {
    if (state === null || typeof state !== "object" || state.format !== "vdet-tracker-state")
      throw new TrackerStateError('not a tracker checkpoint (expected format "vdet-tracker-state")');
    if (state.version !== 1)
      throw new TrackerStateError(`unsupported tracker checkpoint version ${String(state.version)}`);
    if (!Number.isInteger(state.frameIndex) || state.frameIndex < 0)
      throw new TrackerStateError("checkpoint frameIndex must be a whole number ≥ 0");
    if (!Number.isInteger(state.nextId) || state.nextId < 1)
      throw new TrackerStateError("checkpoint nextId must be a whole number ≥ 1");
    if (!Array.isArray(state.tracks)) throw new TrackerStateError("checkpoint tracks must be an array");
    // Checkpoints written before an option existed continue without it (the behaviour they were written with).
    const options: Partial<TrackerOptions> | undefined = state.options;
    const tracker = new Tracker(
      options && typeof options === "object"
        ? {
            ...Object.fromEntries(
              Object.entries(OPTIONS_ABSENT_FROM_OLD_CHECKPOINTS).filter(([k]) => !(k in options)),
            ),
            ...options,
          }
        : options,
    );
    tracker.frameIndex = state.frameIndex;
    tracker.nextId = state.nextId;
    if (typeof state.lastPtsMs === "number" && Number.isFinite(state.lastPtsMs))
      tracker.lastPtsMs = state.lastPtsMs;
    tracker.tracks = state.tracks.map((t, i) => trackFromState(t, `tracks[${i}]`));
    return tracker;
  }

  /**
   * Moves every track's prediction by the camera shift the established tracks agree on (see
   * camera-motion.ts); nothing when no shift is clearly supported. The shift is not added to the
   * velocities: they stay the objects' own motion, and the next frame's shift is estimated afresh.
   */
  private compensateCameraMotion(frame: Detections, highCount: number): void {
    const s = this.scratch;
    const tracks = this.tracks;
    let count = 0;
    for (let t = 0; t < tracks.length; t++) {
      const track = tracks[t];
      if (track.confirmed && track.missed === 0 && track.hitStreak >= CAMERA_MOTION.minTrackHits)
        s.rows[count++] = t;
    }
    const shift = estimateCameraShift(
      {
        trackBoxes: s.trackBoxes,
        tracks: s.rows,
        trackCount: count,
        detectionBoxes: frame.xyxy,
        detections: s.high,
        detectionCount: highCount,
      },
      this.cameraScratch,
    );
    this.lastCameraShift = shift;
    if (!shift) return;
    const model = this.kf.parameterisation;
    for (let t = 0; t < tracks.length; t++) {
      const mean = tracks[t].mean;
      mean[0] += shift.dx;
      mean[1] += shift.dy;
      model.toBox(mean, s.trackBoxes, t * 4);
    }
  }

  /**
   * Stage 4: a track never matched since its birth has no velocity yet, so at a low frame rate its
   * prediction stays where it was born while the object moves on by more than its width. Such tracks
   * (tentative, or confirmed in the warm-up) may take one of the high detections still unmatched by
   * centre distance, in box heights, within `firstMatchReach` × the seconds since the birth frame, if the
   * heights agree within a factor 4/3; the assignment minimises the total distance.
   */
  private firstMatchByDistance(frame: Detections, highCount: number): void {
    const s = this.scratch;
    const o = this.options;
    const tracks = this.tracks;
    let rowCount = 0;
    for (let t = 0; t < tracks.length; t++)
      if (!s.trackMatched[t] && tracks[t].lastMatchFrame === tracks[t].birthFrame) s.rows[rowCount++] = t;
    let colCount = 0;
    for (let k = 0; k < highCount; k++) if (!s.detMatched[s.high[k]]) s.cols[colCount++] = s.high[k];
    if (rowCount === 0 || colCount === 0) return;
    const { xyxy: boxes, classIds: classes } = frame;
    const tb = s.trackBoxes;
    const cost = s.f64;
    let maxReach = 0;
    for (let r = 0; r < rowCount; r++) {
      const t = s.rows[r];
      const track = tracks[t];
      const h = tb[t * 4 + 3] - tb[t * 4 + 1];
      const cx = (tb[t * 4] + tb[t * 4 + 2]) / 2;
      const cy = (tb[t * 4 + 1] + tb[t * 4 + 3]) / 2;
      const reach = (o.firstMatchReach * (this.frameIndex - track.birthFrame)) / o.fps;
      maxReach = Math.max(maxReach, reach);
      for (let c = 0; c < colCount; c++) {
        const d = s.cols[c];
        const dh = boxes[d * 4 + 3] - boxes[d * 4 + 1];
        const dist =
          Math.hypot(
            (boxes[d * 4] + boxes[d * 4 + 2]) / 2 - cx,
            (boxes[d * 4 + 1] + boxes[d * 4 + 3]) / 2 - cy,
          ) / h;
        const forbidden =
          !(h > 0) ||
          dh * FIRST_MATCH_HEIGHT_RATIO > h ||
          h * FIRST_MATCH_HEIGHT_RATIO > dh ||
          (o.classAware && classes[d] !== track.classId);
        cost[r * colCount + c] = forbidden || !(dist <= reach) ? Number.NaN : dist;
      }
    }
    solveGated(this.solver, cost, rowCount, colCount, maxReach, s.gated, s.colForRow);
    for (let r = 0; r < rowCount; r++) {
      const c = s.colForRow[r];
      if (c < 0) continue;
      s.trackMatched[s.rows[r]] = 1;
      s.detMatched[s.cols[c]] = 1;
      this.applyMatch(tracks[s.rows[r]], frame, s.cols[c]);
    }
  }

  /**
   * Matches the tracks listed in scratch.rows[0..rowCount) to the unmatched detections among
   * detIndices[0..detCount), maximising IoU (optionally × score) subject to IoU ≥ minIou, and
   * applies the filter update to every matched track.
   */
  private associate(
    frame: Detections,
    rowCount: number,
    detIndices: Int32Array,
    detCount: number,
    minIou: number,
    fuseScore: boolean,
  ): void {
    const s = this.scratch;
    let colCount = 0;
    for (let k = 0; k < detCount; k++) {
      const d = detIndices[k];
      if (!s.detMatched[d]) s.cols[colCount++] = d;
    }
    if (rowCount === 0 || colCount === 0) return;
    const { xyxy: boxes, scores, classIds: classes } = frame;
    const cost = s.f64;
    iouMatrix(s.trackBoxes, s.rows, rowCount, boxes, s.cols, colCount, cost);
    const classAware = this.options.classAware;
    for (let r = 0; r < rowCount; r++) {
      const track = this.tracks[s.rows[r]];
      for (let c = 0; c < colCount; c++) {
        const d = s.cols[c];
        let similarity = cost[r * colCount + c];
        if (fuseScore) similarity *= scores[d];
        const forbidden = classAware && classes[d] !== track.classId;
        // Similarity below minIou is forbidden; compare in similarity space to avoid 1 - x rounding.
        cost[r * colCount + c] = forbidden || similarity < minIou ? Number.NaN : 1 - similarity;
      }
    }
    solveGated(this.solver, cost, rowCount, colCount, 1, s.gated, s.colForRow);
    for (let r = 0; r < rowCount; r++) {
      const c = s.colForRow[r];
      if (c < 0) continue;
      const t = s.rows[r];
      const d = s.cols[c];
      s.trackMatched[t] = 1;
      s.detMatched[d] = 1;
      this.applyMatch(this.tracks[t], frame, d);
    }
  }

  private applyMatch(track: Track, frame: Detections, d: number): void {
    const o = this.options;
    const m = this.measurement;
    const model = this.kf.parameterisation;
    const gap = this.frameIndex - track.lastMatchFrame;
    if (o.observationCentricReupdate && gap > 1) {
      // Replay the filter from the last observation through virtual observations on the line
      // between the last and the new box, so the velocity reflects the whole gap (OC-SORT ORU).
      track.mean.set(track.observedMean);
      track.cov.set(track.observedCov);
      const last = track.lastObservation;
      const virtualBox = this.virtualBox;
      for (let step = 1; step < gap; step++) {
        const f = step / gap;
        for (let k = 0; k < 4; k++) virtualBox[k] = last[k] + (frame.xyxy[d * 4 + k] - last[k]) * f;
        this.kf.predict(track.mean, track.cov);
        model.toMeasurement(virtualBox, 0, m);
        this.kf.update(track.mean, track.cov, m);
      }
      this.kf.predict(track.mean, track.cov);
    }
    model.toMeasurement(frame.xyxy, d * 4, m);
    this.kf.update(track.mean, track.cov, m);
    this.recordObservation(track, frame.xyxy, d);
    track.hitStreak++;
    track.missed = 0;
    track.score = frame.scores[d];
    track.classId = frame.classIds[d];
    if (!track.confirmed && (track.hitStreak >= o.minHitsAtFps || this.frameIndex <= o.warmupFrames)) {
      this.confirm(track);
    }
  }

  private recordObservation(track: Track, boxes: ArrayLike<number>, d: number): void {
    for (let k = 0; k < 4; k++) track.lastObservation[k] = boxes[d * 4 + k];
    track.observedMean.set(track.mean);
    track.observedCov.set(track.cov);
    track.lastMatchFrame = this.frameIndex;
    track.detectionIndex = d;
  }

  private confirm(track: Track): void {
    track.confirmed = true;
    track.id = this.nextId++;
  }

  private report(frame: Detections): TrackOutput[] {
    const o = this.options;
    const out: TrackOutput[] = [];
    const inWarmup = this.frameIndex <= o.warmupFrames;
    for (const track of this.tracks) {
      if (!track.confirmed || track.missed > 0 || track.detectionIndex < 0) continue;
      if (o.resetStreakOnMiss && !inWarmup && track.hitStreak < o.minHitsAtFps) continue;
      const d = track.detectionIndex;
      const box: [number, number, number, number] = [0, 0, 0, 0];
      if (o.outputBox === "detection") {
        for (let k = 0; k < 4; k++) box[k] = frame.xyxy[d * 4 + k];
      } else {
        this.kf.parameterisation.toBox(track.mean, box, 0);
      }
      out.push({ trackId: track.id, box, score: track.score, classId: track.classId, detectionIndex: d });
    }
    return out;
  }
}

/** Stage 4's size gate: the detection's height within this factor of the track's. */
const FIRST_MATCH_HEIGHT_RATIO = 0.75;

/** Checks the frame's array shapes and that all numbers are finite; returns the number of detections. */
function validateFrame(frame: Detections): number {
  const { xyxy: boxes, scores, classIds: classes } = frame;
  if (!boxes || !scores || boxes.length % 4 !== 0) {
    throw new DetectionInputError("frame.xyxy must be a typed array of N×4 numbers (x1, y1, x2, y2)");
  }
  const n = boxes.length / 4;
  if (scores.length !== n) {
    throw new DetectionInputError(`frame has ${n} boxes but ${scores.length} scores`);
  }
  if (!classes || classes.length !== n) {
    throw new DetectionInputError(`frame has ${n} boxes but ${classes?.length ?? "no"} class ids`);
  }
  for (let k = 0; k < boxes.length; k++) {
    if (!Number.isFinite(boxes[k])) {
      throw new DetectionInputError(
        `detection ${Math.floor(k / 4)} has a non-finite box coordinate ${boxes[k]}`,
      );
    }
  }
  for (let d = 0; d < n; d++) {
    if (!Number.isFinite(scores[d])) throw new DetectionInputError(`detection ${d} has score ${scores[d]}`);
  }
  return n;
}
