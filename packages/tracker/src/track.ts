// One tracked object: its Kalman state, life-cycle counters and last observation, plus the
// conversion to and from a plain JSON-able record for checkpoints.

import { TrackerStateError } from "./errors.ts";
import { STATE_SIZE } from "./kalman-filter.ts";

export interface Track {
  /** Public id, assigned on confirmation (0 while tentative). */
  id: number;
  confirmed: boolean;
  classId: number;
  /** Score of the last matched detection. */
  score: number;
  mean: Float64Array;
  cov: Float64Array;
  /** Consecutive frames matched since birth (or since the last miss when streaks reset). */
  hitStreak: number;
  /** Consecutive frames without a matched detection, as of the last processed frame. */
  missed: number;
  birthFrame: number;
  lastMatchFrame: number;
  /** Last matched detection box [x1, y1, x2, y2]. */
  lastObservation: Float64Array;
  /** Filter state right after the last update (the starting point of an observation-centric re-update). */
  observedMean: Float64Array;
  observedCov: Float64Array;
  /** Index of the detection matched in the current frame, -1 if none. */
  detectionIndex: number;
}

/** Plain-data form of a {@link Track} (numbers and arrays only). */
export interface TrackState {
  id: number;
  confirmed: boolean;
  classId: number;
  score: number;
  mean: number[];
  cov: number[];
  hitStreak: number;
  missed: number;
  birthFrame: number;
  lastMatchFrame: number;
  lastObservation: number[];
  observedMean: number[];
  observedCov: number[];
}

export function newTrack(classId: number, score: number, frame: number): Track {
  return {
    id: 0,
    confirmed: false,
    classId,
    score,
    mean: new Float64Array(STATE_SIZE),
    cov: new Float64Array(STATE_SIZE * STATE_SIZE),
    hitStreak: 0,
    missed: 0,
    birthFrame: frame,
    lastMatchFrame: frame,
    lastObservation: new Float64Array(4),
    observedMean: new Float64Array(STATE_SIZE),
    observedCov: new Float64Array(STATE_SIZE * STATE_SIZE),
    detectionIndex: -1,
  };
}

export function trackToState(track: Track): TrackState {
  return {
    id: track.id,
    confirmed: track.confirmed,
    classId: track.classId,
    score: track.score,
    mean: Array.from(track.mean),
    cov: Array.from(track.cov),
    hitStreak: track.hitStreak,
    missed: track.missed,
    birthFrame: track.birthFrame,
    lastMatchFrame: track.lastMatchFrame,
    lastObservation: Array.from(track.lastObservation),
    observedMean: Array.from(track.observedMean),
    observedCov: Array.from(track.observedCov),
  };
}

export { TrackerStateError };

export function trackFromState(state: TrackState, where: string): Track {
  const numberField = (name: keyof TrackState): number => {
    const v = state[name];
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new TrackerStateError(`${where}.${name} must be a finite number, got ${JSON.stringify(v)}`);
    return v;
  };
  const arrayField = (name: keyof TrackState, length: number): Float64Array => {
    const v = state[name];
    if (
      !Array.isArray(v) ||
      v.length !== length ||
      !v.every((x) => typeof x === "number" && Number.isFinite(x))
    )
      throw new TrackerStateError(`${where}.${name} must be an array of ${length} finite numbers`);
    return Float64Array.from(v);
  };
  if (typeof state.confirmed !== "boolean")
    throw new TrackerStateError(`${where}.confirmed must be true or false`);
  return {
    id: numberField("id"),
    confirmed: state.confirmed,
    classId: numberField("classId"),
    score: numberField("score"),
    mean: arrayField("mean", STATE_SIZE),
    cov: arrayField("cov", STATE_SIZE * STATE_SIZE),
    hitStreak: numberField("hitStreak"),
    missed: numberField("missed"),
    birthFrame: numberField("birthFrame"),
    lastMatchFrame: numberField("lastMatchFrame"),
    lastObservation: arrayField("lastObservation", 4),
    observedMean: arrayField("observedMean", STATE_SIZE),
    observedCov: arrayField("observedCov", STATE_SIZE * STATE_SIZE),
    detectionIndex: -1,
  };
}
