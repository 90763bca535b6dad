// Average precision of detections against ground truth, COCO-style: per class, greedy matching in score order
// at each IoU threshold (a ground-truth box is taken once, by the highest-scoring prediction with IoU ≥ the
// threshold), 101-point interpolated precision/recall, averaged over the classes that have ground truth.
// `vdet model compare` uses it with one model's detections as the ground truth of another's.

import type { Detections } from "@vdet/protocol";

/** COCO's IoU thresholds 0.50, 0.55, …, 0.95. */
export const COCO_IOU_THRESHOLDS: readonly number[] = Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i);

export interface ApOptions {
  /** Ground-truth boxes with a score below this are not ground truth (default 0: all of them). */
  minGroundTruthScore?: number;
  /** Classes with fewer ground-truth boxes than this get no per-class row (they still count in the mean). */
  minPerClass?: number;
}

export interface ClassAp {
  classId: number;
  groundTruth: number;
  ap50: number;
  ap50to95: number;
}

export interface ApResult {
  /** Mean over classes with ground truth of AP at IoU 0.5. NaN when there is no ground truth at all. */
  ap50: number;
  /** Mean over classes and the ten COCO thresholds. */
  ap50to95: number;
  groundTruth: number;
  predictions: number;
  classes: number;
  perClass: ClassAp[];
}

function iou(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number): number {
  const ax1 = a[ai * 4];
  const ay1 = a[ai * 4 + 1];
  const ax2 = a[ai * 4 + 2];
  const ay2 = a[ai * 4 + 3];
  const bx1 = b[bi * 4];
  const by1 = b[bi * 4 + 1];
  const bx2 = b[bi * 4 + 2];
  const by2 = b[bi * 4 + 3];
  // Identical boxes match even when clipping made them degenerate (zero area, where IoU says nothing).
  if (ax1 === bx1 && ay1 === by1 && ax2 === bx2 && ay2 === by2) return 1;
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
  return union > 0 ? inter / union : 0;
}

interface Prediction {
  frame: number;
  index: number;
  score: number;
}

/** 101-point interpolated AP from a ranked list of hit/miss flags. */
function interpolatedAp(hits: readonly boolean[], groundTruth: number): number {
  if (groundTruth === 0) return Number.NaN;
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  hits.forEach((hit, i) => {
    if (hit) tp++;
    precision.push(tp / (i + 1));
    recall.push(tp / groundTruth);
  });
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i], precision[i + 1]);
  let sum = 0;
  let k = 0;
  for (let p = 0; p <= 100; p++) {
    const r = p / 100;
    while (k < recall.length && recall[k] < r - 1e-12) k++;
    sum += k < precision.length ? precision[k] : 0;
  }
  return sum / 101;
}

/** Greedy matching of one class at one threshold: per prediction (score order), hit or miss. */
function matchClass(
  truth: readonly Detections[],
  preds: readonly Detections[],
  truthIndex: readonly number[][],
  ranked: readonly Prediction[],
  threshold: number,
): boolean[] {
  const taken = truthIndex.map((idx) => new Uint8Array(idx.length));
  return ranked.map((p) => {
    const candidates = truthIndex[p.frame];
    let best = -1;
    let bestIou = threshold;
    for (let j = 0; j < candidates.length; j++) {
      if (taken[p.frame][j]) continue;
      const v = iou(preds[p.frame].xyxy, p.index, truth[p.frame].xyxy, candidates[j]);
      if (v >= bestIou) {
        bestIou = v;
        best = j;
      }
    }
    if (best < 0) return false;
    taken[p.frame][best] = 1;
    return true;
  });
}

/** AP@0.5 and AP@[.5:.95] of `predictions` against `truth`, frame by frame (the arrays are parallel). */
export function averagePrecision(
  truth: readonly Detections[],
  predictions: readonly Detections[],
  options: ApOptions = {},
): ApResult {
  if (truth.length !== predictions.length)
    throw new RangeError(`${truth.length} ground-truth frames but ${predictions.length} prediction frames`);
  const minScore = options.minGroundTruthScore ?? 0;
  const minPerClass = options.minPerClass ?? 10;
  const classes = new Set<number>();
  let groundTruth = 0;
  let predictionCount = 0;
  for (const t of truth)
    t.classIds.forEach((c, i) => {
      if (t.scores[i] >= minScore) {
        classes.add(c);
        groundTruth++;
      }
    });
  for (const p of predictions) predictionCount += p.classIds.length;
  const perClass: ClassAp[] = [];
  let sum50 = 0;
  let sumAll = 0;
  for (const classId of [...classes].sort((a, b) => a - b)) {
    const truthIndex = truth.map((t) => {
      const idx: number[] = [];
      t.classIds.forEach((c, i) => {
        if (c === classId && t.scores[i] >= minScore) idx.push(i);
      });
      return idx;
    });
    const count = truthIndex.reduce((n, idx) => n + idx.length, 0);
    const ranked: Prediction[] = [];
    predictions.forEach((p, frame) => {
      p.classIds.forEach((c, index) => {
        if (c === classId) ranked.push({ frame, index, score: p.scores[index] });
      });
    });
    ranked.sort((a, b) => b.score - a.score || a.frame - b.frame || a.index - b.index);
    const aps = COCO_IOU_THRESHOLDS.map((th) =>
      interpolatedAp(matchClass(truth, predictions, truthIndex, ranked, th), count),
    );
    const ap50 = aps[0];
    const ap50to95 = aps.reduce((a, b) => a + b, 0) / aps.length;
    sum50 += ap50;
    sumAll += ap50to95;
    if (count >= minPerClass) perClass.push({ classId, groundTruth: count, ap50, ap50to95 });
  }
  return {
    ap50: classes.size ? sum50 / classes.size : Number.NaN,
    ap50to95: classes.size ? sumAll / classes.size : Number.NaN,
    groundTruth,
    predictions: predictionCount,
    classes: classes.size,
    perClass,
  };
}

/**
 * The share of `truth`'s detections with score ≥ `minScore` that no prediction of the same class overlaps with
 * IoU ≥ `iouThreshold` (each prediction covers one truth box, greedily in truth-score order).
 */
export function missShare(
  truth: readonly Detections[],
  predictions: readonly Detections[],
  minScore: number,
  iouThreshold = 0.5,
): { confident: number; missed: number; share: number } {
  let confident = 0;
  let missed = 0;
  truth.forEach((t, frame) => {
    const p = predictions[frame];
    const used = new Uint8Array(p.classIds.length);
    const order = [...t.scores.keys()].filter((i) => t.scores[i] >= minScore);
    order.sort((a, b) => t.scores[b] - t.scores[a]);
    for (const i of order) {
      confident++;
      let best = -1;
      let bestIou = iouThreshold;
      for (let j = 0; j < used.length; j++) {
        if (used[j] || p.classIds[j] !== t.classIds[i]) continue;
        const v = iou(t.xyxy, i, p.xyxy, j);
        if (v >= bestIou) {
          bestIou = v;
          best = j;
        }
      }
      if (best < 0) missed++;
      else used[best] = 1;
    }
  });
  return { confident, missed, share: confident ? missed / confident : Number.NaN };
}
