// Tracker options: the ByteTrack-style defaults, the SORT baseline preset, validation, and the
// conversion of ages given in frames at a reference rate into frames at the stream's rate.

import { TrackerOptionsError } from "./errors.ts";

export interface TrackerOptions {
  /** Frames per second of the frames fed to update() (after any frame sampling). */
  fps: number;
  /** Frame counts below (maxLostFrames, minHits, tentativeMaxMisses) are given at this rate. */
  referenceFps: number;
  /** Scale the frame counts by fps / referenceFps (false: use them as given). */
  scaleAgesWithFps: boolean;

  /** Detections with score ≥ this are "high" and take part in the first association. */
  highScoreThreshold: number;
  /** Detections with lowScoreThreshold ≤ score < highScoreThreshold only extend existing tracks. */
  lowScoreThreshold: number;
  /** Unmatched high detections with score ≥ this start a new (tentative) track. */
  birthScoreThreshold: number;

  /** Minimum IoU for the first association (confirmed and lost tracks vs high detections). */
  matchIou: number;
  /** Minimum IoU for the second association (tracks still unmatched vs low detections). */
  lowScoreMatchIou: number;
  /** Minimum IoU for tentative tracks vs the remaining high detections. */
  tentativeMatchIou: number;
  /** Multiply IoU by the detection score in the first association (ByteTrack's fuse_score). */
  fuseScore: boolean;
  /** Associate tentative tracks in their own, later stage (ByteTrack) instead of with the rest (SORT). */
  associateTentativeSeparately: boolean;
  /** Only match tracks and detections of the same class. */
  classAware: boolean;

  /** A confirmed track is dropped after this many frames without a detection (at referenceFps). */
  maxLostFrames: number;
  /** A track is confirmed (gets an id, is reported) after this many consecutive matches after birth. */
  minHits: number;
  /** A tentative track is dropped after this many frames without a detection (at referenceFps). */
  tentativeMaxMisses: number;
  /** During the first warmupFrames frames of the stream, tracks are confirmed at once. */
  warmupFrames: number;
  /** After a missed frame a track must again collect minHits consecutive matches before it is reported (SORT). */
  resetStreakOnMiss: boolean;
  /**
   * OC-SORT observation-centric re-update: when a lost track is matched again, replay the filter
   * over the gap with observations interpolated between the last and the new detection.
   */
  observationCentricReupdate: boolean;
  /**
   * Camera-motion compensation from the detections: before association, shift every prediction by
   * the image translation the established tracks agree on (see camera-motion.ts).
   */
  cameraMotion: boolean;
  /**
   * A track never matched since its birth (its velocity unknown) whose second detection fails every IoU
   * gate may take it by centre distance: up to this many box heights per second of time between the two
   * frames, heights within a factor 4/3 (0: off). At low frame rates a walking person moves more than a
   * box width between frames, so IoU alone would never confirm a new track.
   */
  firstMatchReach: number;
  /** Box reported for a matched track: the filtered state or the matched detection. */
  outputBox: "filtered" | "detection";
  /** Kalman parameterisation: ByteTrack's x, y, aspect, height or SORT's x, y, area, ratio. */
  motionModel: "xyah" | "xysr";
}

/** Options after validation, with ages converted to frames at the stream's rate. */
export interface ResolvedTrackerOptions extends TrackerOptions {
  maxLostFramesAtFps: number;
  minHitsAtFps: number;
  tentativeMaxMissesAtFps: number;
}

/** ByteTrack-style defaults, tuned for 10–30 fps video (ages given at 30 fps). */
export const DEFAULT_TRACKER_OPTIONS: Readonly<TrackerOptions> = Object.freeze({
  fps: 30,
  referenceFps: 30,
  scaleAgesWithFps: true,
  highScoreThreshold: 0.6,
  lowScoreThreshold: 0.1,
  birthScoreThreshold: 0.7,
  matchIou: 0.2,
  lowScoreMatchIou: 0.5,
  tentativeMatchIou: 0.3,
  fuseScore: true,
  associateTentativeSeparately: true,
  classAware: false,
  maxLostFrames: 30,
  minHits: 1,
  tentativeMaxMisses: 0,
  warmupFrames: 1,
  resetStreakOnMiss: false,
  observationCentricReupdate: true,
  cameraMotion: true,
  firstMatchReach: 3,
  outputBox: "filtered",
  motionModel: "xysr",
});

/**
 * SORT (Bewley et al. 2016) as a configuration of this tracker: SORT's x, y, area, ratio filter, one
 * association of all tracks with all detections at IoU ≥ 0.3, max age 1, min hits 3 (streak reset
 * after a miss), no low-score stage, every unmatched detection starts a track, ages not scaled.
 */
export const SORT_BASELINE_OPTIONS: Readonly<Partial<TrackerOptions>> = Object.freeze({
  scaleAgesWithFps: false,
  highScoreThreshold: 0,
  lowScoreThreshold: 0,
  birthScoreThreshold: 0,
  matchIou: 0.3,
  lowScoreMatchIou: 0.3,
  tentativeMatchIou: 0.3,
  fuseScore: false,
  associateTentativeSeparately: false,
  maxLostFrames: 1,
  minHits: 3,
  tentativeMaxMisses: 1,
  warmupFrames: 3,
  resetStreakOnMiss: true,
  observationCentricReupdate: false,
  cameraMotion: false,
  firstMatchReach: 0,
  outputBox: "filtered",
  motionModel: "xysr",
});

export { TrackerOptionsError };

/**
 * Options added after checkpoint version 1 was defined, with the value that reproduces the behaviour
 * from before they existed: a checkpoint that lacks one restores with that value.
 */
export const OPTIONS_ABSENT_FROM_OLD_CHECKPOINTS: Readonly<Partial<TrackerOptions>> = Object.freeze({
  cameraMotion: false,
  firstMatchReach: 0,
});

/** Converts a frame count at referenceFps to the stream rate; a positive count never becomes 0. */
export function scaleFrames(frames: number, fps: number, referenceFps: number): number {
  if (frames === 0) return 0;
  return Math.max(1, Math.round((frames * fps) / referenceFps));
}

export function resolveTrackerOptions(options: Partial<TrackerOptions> = {}): ResolvedTrackerOptions {
  const merged: TrackerOptions = { ...DEFAULT_TRACKER_OPTIONS };
  for (const [key, value] of Object.entries(options)) {
    if (!(key in DEFAULT_TRACKER_OPTIONS)) throw new TrackerOptionsError(`unknown tracker option "${key}"`);
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  const positive = (name: keyof TrackerOptions) => {
    const v = merged[name];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      throw new TrackerOptionsError(`tracker option ${name} must be a positive number, got ${String(v)}`);
  };
  const fraction = (name: keyof TrackerOptions) => {
    const v = merged[name];
    if (typeof v !== "number" || !(v >= 0 && v <= 1))
      throw new TrackerOptionsError(`tracker option ${name} must be in [0, 1], got ${String(v)}`);
  };
  const count = (name: keyof TrackerOptions) => {
    const v = merged[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
      throw new TrackerOptionsError(`tracker option ${name} must be a whole number ≥ 0, got ${String(v)}`);
  };
  const flag = (name: keyof TrackerOptions) => {
    if (typeof merged[name] !== "boolean")
      throw new TrackerOptionsError(
        `tracker option ${name} must be true or false, got ${String(merged[name])}`,
      );
  };
  positive("fps");
  positive("referenceFps");
  if (
    typeof merged.firstMatchReach !== "number" ||
    !(merged.firstMatchReach >= 0) ||
    !Number.isFinite(merged.firstMatchReach)
  )
    throw new TrackerOptionsError(
      `tracker option firstMatchReach must be a number ≥ 0 (box heights per second), got ${String(merged.firstMatchReach)}`,
    );
  for (const name of [
    "highScoreThreshold",
    "lowScoreThreshold",
    "birthScoreThreshold",
    "matchIou",
    "lowScoreMatchIou",
    "tentativeMatchIou",
  ] as const)
    fraction(name);
  for (const name of ["maxLostFrames", "minHits", "tentativeMaxMisses", "warmupFrames"] as const) count(name);
  for (const name of [
    "scaleAgesWithFps",
    "fuseScore",
    "associateTentativeSeparately",
    "classAware",
    "resetStreakOnMiss",
    "observationCentricReupdate",
    "cameraMotion",
  ] as const)
    flag(name);
  if (merged.lowScoreThreshold > merged.highScoreThreshold) {
    throw new TrackerOptionsError(
      `lowScoreThreshold (${merged.lowScoreThreshold}) must not exceed highScoreThreshold (${merged.highScoreThreshold})`,
    );
  }
  if (merged.outputBox !== "filtered" && merged.outputBox !== "detection") {
    throw new TrackerOptionsError(`tracker option outputBox must be "filtered" or "detection"`);
  }
  if (merged.motionModel !== "xyah" && merged.motionModel !== "xysr") {
    throw new TrackerOptionsError(`tracker option motionModel must be "xyah" or "xysr"`);
  }
  const scale = (frames: number) =>
    merged.scaleAgesWithFps ? scaleFrames(frames, merged.fps, merged.referenceFps) : frames;
  return {
    ...merged,
    maxLostFramesAtFps: scale(merged.maxLostFrames),
    minHitsAtFps: scale(merged.minHits),
    tentativeMaxMissesAtFps: scale(merged.tentativeMaxMisses),
  };
}
