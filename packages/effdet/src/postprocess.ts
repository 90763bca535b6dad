// Host-side post-processing of the deploy graph's candidates (spec section 7, steps 6–8): optional score
// threshold and class filter, per-class hard NMS, at most 100 detections per frame. Typed arrays throughout.

import { InvariantError } from "@vdet/errors";
import { type Detections, filterDetections, selectDetections } from "@vdet/protocol";
import { MAX_DETECTIONS, NMS_IOU_THRESHOLD } from "./config.ts";
import { batchedNms } from "./nms.ts";

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

/** Each frame's detections, sorted by score (descending); boxes in frame pixels, Float32Array. */
export function postprocess(
  batch: CandidateBatch,
  options: PostprocessOptions = {},
): Detections<Float32Array>[] {
  const { candidates: k } = batch;
  const expected = batch.batch * k;
  if (
    batch.scores.length !== expected ||
    batch.classes.length !== expected ||
    batch.boxes.length !== expected * 4
  ) {
    throw new InvariantError(`candidate arrays do not match batch ${batch.batch} × ${k} candidates`);
  }
  const frames: Detections<Float32Array>[] = [];
  for (let b = 0; b < batch.batch; b++) {
    let candidates: Detections<Float32Array> = {
      xyxy: batch.boxes.subarray(b * k * 4, (b + 1) * k * 4),
      scores: batch.scores.subarray(b * k, (b + 1) * k),
      classIds: batch.classes.subarray(b * k, (b + 1) * k),
    };
    if (options.scoreThreshold !== undefined || options.classes) {
      candidates = filterDetections(candidates, candidateMask(candidates, options));
    }
    const keep = batchedNms(candidates.xyxy, candidates.scores, candidates.classIds, {
      iouThreshold: options.iouThreshold ?? NMS_IOU_THRESHOLD,
      maxDetections: options.maxDetections ?? MAX_DETECTIONS,
    });
    frames.push(selectDetections(candidates, keep));
  }
  return frames;
}

/** 1 for the candidates the score threshold and class filter keep. */
function candidateMask(candidates: Detections, options: PostprocessOptions): Uint8Array {
  const threshold = options.scoreThreshold ?? Number.NEGATIVE_INFINITY;
  const allowed = options.classes;
  const { scores, classIds } = candidates;
  const keep = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    keep[i] = scores[i] >= threshold && (!allowed || allowed.has(classIds[i])) ? 1 : 0;
  }
  return keep;
}
