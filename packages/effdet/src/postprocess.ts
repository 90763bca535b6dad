// Host-side post-processing of the deploy graph's candidates (spec section 7, steps 6–8): optional score
// threshold and class filter, per-class hard NMS, at most 100 detections per frame. Typed arrays throughout.

import { MAX_DETECTIONS, NMS_IOU_THRESHOLD } from "./config.ts";
import { batchedNms } from "./nms.ts";

/** Detections of one frame, sorted by score (descending); boxes are x1, y1, x2, y2 in frame pixels. */
export interface FrameDetections {
  count: number;
  boxes: Float32Array;
  scores: Float32Array;
  classes: Int32Array;
}

export interface CandidateBatch {
  boxes: Float32Array; // [N, k, 4]
  scores: Float32Array; // [N, k], descending per frame
  classes: Int32Array; // [N, k], 1-based class ids
  batch: number;
  candidates: number;
}

export interface PostprocessOptions {
  iouThreshold?: number;
  maxDetections?: number;
  /** Keep only candidates with score ≥ this (effdet itself uses none). */
  scoreThreshold?: number;
  /** Keep only these class ids (1-based). */
  classes?: ReadonlySet<number>;
}

export function postprocess(batch: CandidateBatch, options: PostprocessOptions = {}): FrameDetections[] {
  const { candidates: k } = batch;
  const expected = batch.batch * k;
  if (
    batch.scores.length !== expected ||
    batch.classes.length !== expected ||
    batch.boxes.length !== expected * 4
  ) {
    throw new Error(`candidate arrays do not match batch ${batch.batch} × ${k} candidates`);
  }
  const frames: FrameDetections[] = [];
  for (let b = 0; b < batch.batch; b++) {
    let boxes = batch.boxes.subarray(b * k * 4, (b + 1) * k * 4);
    let scores = batch.scores.subarray(b * k, (b + 1) * k);
    let classes = batch.classes.subarray(b * k, (b + 1) * k);
    if (options.scoreThreshold !== undefined || options.classes) {
      ({ boxes, scores, classes } = filterCandidates(boxes, scores, classes, options));
    }
    const keep = batchedNms(boxes, scores, classes, {
      iouThreshold: options.iouThreshold ?? NMS_IOU_THRESHOLD,
      maxDetections: options.maxDetections ?? MAX_DETECTIONS,
    });
    frames.push(gather(boxes, scores, classes, keep));
  }
  return frames;
}

function filterCandidates(
  boxes: Float32Array,
  scores: Float32Array,
  classes: Int32Array,
  options: PostprocessOptions,
): { boxes: Float32Array; scores: Float32Array; classes: Int32Array } {
  const threshold = options.scoreThreshold ?? Number.NEGATIVE_INFINITY;
  const allowed = options.classes;
  const keep: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] >= threshold && (!allowed || allowed.has(classes[i]))) keep.push(i);
  }
  return gather(boxes, scores, classes, keep);
}

function gather(
  boxes: Float32Array,
  scores: Float32Array,
  classes: Int32Array,
  indices: ArrayLike<number>,
): FrameDetections {
  const count = indices.length;
  const out: FrameDetections = {
    count,
    boxes: new Float32Array(count * 4),
    scores: new Float32Array(count),
    classes: new Int32Array(count),
  };
  for (let j = 0; j < count; j++) {
    const i = indices[j];
    out.boxes.set(boxes.subarray(i * 4, i * 4 + 4), j * 4);
    out.scores[j] = scores[i];
    out.classes[j] = classes[i];
  }
  return out;
}
