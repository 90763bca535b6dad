// Camera-motion compensation from the detections alone (no image access): the shift of the image
// between two processed frames is the translation that most established tracks agree on, found by a
// vote over track → detection displacements. A moving camera (or a frame rate so low that the camera
// moves far between frames) otherwise leaves every prediction off its detection at once.

/** How the shift is estimated and when it counts as camera motion; relative sizes are of the track's box height. */
export const CAMERA_MOTION = Object.freeze({
  /** A track takes part after this many consecutive matches (its velocity has been observed). */
  minTrackHits: 2,
  /** Only displacements within this many box heights of the prediction are candidates. */
  searchRadius: 1.5,
  /** A detection pairs with a track only if their heights differ by less than this factor. */
  minHeightRatio: 0.8,
  /** Two displacements agree when they differ by at most this many box heights in x and in y. */
  agreement: 0.1,
  /** At least this many tracks must agree on the shift … */
  minAgreeingTracks: 4,
  /** … and at least this share of the tracks that take part. */
  minAgreeingShare: 0.3,
  /**
   * The shift is applied only if fewer than this share of its supporters' count also agree on no
   * shift at all: with a still camera most tracks fit their prediction, and a group that walks
   * together must not move everyone else's prediction.
   */
  maxStillShare: 0.6,
  /**
   * At most this many displacements are tried as the shift (evenly spread over all of them); each is
   * still scored against all, so a crowded frame costs this many × the pairs, not pairs².
   */
  maxCandidates: 256,
});

/** Inputs of {@link estimateCameraShift}; boxes are x1, y1, x2, y2. */
export interface CameraShiftInput {
  /** Predicted boxes of the tracks, 4 per track. */
  trackBoxes: ArrayLike<number>;
  /** Indices (into trackBoxes) of the tracks that take part. */
  tracks: ArrayLike<number>;
  trackCount: number;
  /** Detection boxes, 4 per detection. */
  detectionBoxes: ArrayLike<number>;
  /** Indices (into detectionBoxes) of the detections that take part. */
  detections: ArrayLike<number>;
  detectionCount: number;
}

export interface CameraShift {
  dx: number;
  dy: number;
  /** Tracks that agreed on the shift. */
  support: number;
}

/** Growable scratch for the candidate pairs (grown as pairs are found, not sized for tracks × detections). */
export class CameraShiftScratch {
  dx = new Float64Array(64);
  dy = new Float64Array(64);
  tol = new Float64Array(64);
  track = new Int32Array(64);
  mark = new Int32Array(0);
  closest = new Int32Array(0);

  reserveTracks(tracks: number): void {
    if (this.mark.length < tracks) {
      this.mark = new Int32Array(Math.max(16, tracks * 2));
      this.closest = new Int32Array(this.mark.length);
    }
  }

  /** Doubles the pair arrays, keeping the first `used` entries. */
  growPairs(used: number): void {
    const n = this.dx.length * 2;
    const dx = new Float64Array(n);
    const dy = new Float64Array(n);
    const tol = new Float64Array(n);
    const track = new Int32Array(n);
    dx.set(this.dx.subarray(0, used));
    dy.set(this.dy.subarray(0, used));
    tol.set(this.tol.subarray(0, used));
    track.set(this.track.subarray(0, used));
    this.dx = dx;
    this.dy = dy;
    this.tol = tol;
    this.track = track;
  }
}

/**
 * The camera shift (pixels, detection minus prediction) between the tracks' predictions and the
 * detections, or undefined when no shift is clearly supported (a still camera, too few tracks, no
 * agreement). Each candidate shift is one track → detection displacement; its support is the number
 * of distinct tracks with a displacement within {@link CAMERA_MOTION}.agreement of it; the winner's
 * shift is the mean over its supporters (each by its displacement closest to the winner).
 */
export function estimateCameraShift(
  input: CameraShiftInput,
  scratch: CameraShiftScratch = new CameraShiftScratch(),
): CameraShift | undefined {
  const c = CAMERA_MOTION;
  const { trackBoxes: tb, detectionBoxes: db } = input;
  if (input.trackCount < c.minAgreeingTracks) return undefined;
  let pairs = 0;
  let maxTrack = 0;
  for (let i = 0; i < input.trackCount; i++) maxTrack = Math.max(maxTrack, input.tracks[i] + 1);
  scratch.reserveTracks(maxTrack);
  for (let i = 0; i < input.trackCount; i++) {
    const t = input.tracks[i];
    const h = tb[t * 4 + 3] - tb[t * 4 + 1];
    if (!(h > 0)) continue;
    const cx = (tb[t * 4] + tb[t * 4 + 2]) / 2;
    const cy = (tb[t * 4 + 1] + tb[t * 4 + 3]) / 2;
    const radius = c.searchRadius * h;
    for (let k = 0; k < input.detectionCount; k++) {
      const d = input.detections[k];
      const dh = db[d * 4 + 3] - db[d * 4 + 1];
      if (dh < h * c.minHeightRatio || dh * c.minHeightRatio > h) continue;
      const dx = (db[d * 4] + db[d * 4 + 2]) / 2 - cx;
      const dy = (db[d * 4 + 1] + db[d * 4 + 3]) / 2 - cy;
      if (Math.abs(dx) > radius || Math.abs(dy) > radius) continue;
      if (pairs === scratch.dx.length) scratch.growPairs(pairs);
      scratch.dx[pairs] = dx;
      scratch.dy[pairs] = dy;
      scratch.tol[pairs] = c.agreement * h;
      scratch.track[pairs] = t;
      pairs++;
    }
  }
  if (pairs === 0) return undefined;
  const { dx, dy, tol, track, mark } = scratch;
  const support = (x: number, y: number, stamp: number): number => {
    let n = 0;
    for (let j = 0; j < pairs; j++) {
      if (mark[track[j]] === stamp) continue;
      if (Math.abs(dx[j] - x) <= tol[j] && Math.abs(dy[j] - y) <= tol[j]) {
        mark[track[j]] = stamp;
        n++;
      }
    }
    return n;
  };
  mark.fill(-1, 0, maxTrack);
  let best = -1;
  let bestSupport = 0;
  const step = Math.max(1, Math.ceil(pairs / c.maxCandidates));
  for (let i = 0; i < pairs; i += step) {
    const n = support(dx[i], dy[i], i);
    if (n > bestSupport) {
      bestSupport = n;
      best = i;
    }
  }
  if (bestSupport < c.minAgreeingTracks || bestSupport < c.minAgreeingShare * input.trackCount)
    return undefined;
  if (support(0, 0, pairs) >= c.maxStillShare * bestSupport) return undefined;
  // The supporters' displacements closest to the winner, one per track, averaged.
  const bx = dx[best];
  const by = dy[best];
  const closest = scratch.closest;
  closest.fill(-1, 0, maxTrack);
  for (let j = 0; j < pairs; j++) {
    if (Math.abs(dx[j] - bx) > tol[j] || Math.abs(dy[j] - by) > tol[j]) continue;
    const k = closest[track[j]];
    if (k < 0 || Math.hypot(dx[j] - bx, dy[j] - by) < Math.hypot(dx[k] - bx, dy[k] - by))
      closest[track[j]] = j;
  }
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let t = 0; t < maxTrack; t++) {
    const j = closest[t];
    if (j < 0) continue;
    sx += dx[j];
    sy += dy[j];
    n++;
  }
  return { dx: sx / n, dy: sy / n, support: n };
}
