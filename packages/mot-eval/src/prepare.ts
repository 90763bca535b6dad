// Turns gt and result rows of one sequence into per-frame evaluation input: which gt and tracker
// ids are present and their IoU matrix, after the MOTChallenge preprocessing:
//  - gt rows with flag 0 are dropped (MOT15 and MOT17);
//  - MOT16/17: only class 1 (pedestrian) gt is scored; tracker boxes that match (Hungarian on IoU,
//    IoU ≥ 0.5) a gt box of a distractor class (2 person on vehicle, 7 static person, 8 distractor,
//    12 reflection) are dropped first, as TrackEval's MotChallenge2DBox does.

import { AssignmentSolver } from "@vdet/tracker";
import { type GtLayout, MotFormatError, type MotRows } from "./mot-format.ts";

export const MOT17_PEDESTRIAN_CLASS = 1;
export const MOT17_DISTRACTOR_CLASSES: readonly number[] = [2, 7, 8, 12];

const EPS = Number.EPSILON;

export interface EvalFrame {
  frame: number;
  /** Dense gt ids (0 … numGtIds-1) present in this frame. */
  gtIds: Int32Array;
  /** Dense tracker ids present in this frame. */
  hypIds: Int32Array;
  /** IoU, row-major gtIds.length × hypIds.length. */
  similarity: Float64Array;
}

export interface EvalSequence {
  name: string;
  /** Sequence length in frames (seqinfo seqLength, or the last frame seen). */
  numTimesteps: number;
  /** Frames that hold at least one gt or tracker box, in order. */
  frames: EvalFrame[];
  numGtIds: number;
  numHypIds: number;
  numGtDets: number;
  numHypDets: number;
  /** Original ids of the dense gt / tracker ids. */
  gtIdLabels: Int32Array;
  hypIdLabels: Int32Array;
  /** Tracker boxes removed because they matched a distractor. */
  removedDistractorHyps: number;
  /** gt rows not scored (flag 0, or not a pedestrian in MOT17). */
  ignoredGtRows: number;
}

export interface PrepareOptions {
  name?: string;
  /** Sequence length; result rows after it are an error. Default: last frame in either file. */
  numTimesteps?: number;
  /** Overrides the gt layout found by the parser. */
  layout?: GtLayout;
}

/** IoU of x, y, w, h boxes, computed as TrackEval's _calculate_box_ious does. */
export function boxIouXywh(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number): number {
  const ax0 = a[ai];
  const ay0 = a[ai + 1];
  const ax1 = ax0 + a[ai + 2];
  const ay1 = ay0 + a[ai + 3];
  const bx0 = b[bi];
  const by0 = b[bi + 1];
  const bx1 = bx0 + b[bi + 2];
  const by1 = by0 + b[bi + 3];
  const areaA = (ax1 - ax0) * (ay1 - ay0);
  const areaB = (bx1 - bx0) * (by1 - by0);
  const inter =
    Math.max(Math.min(ax1, bx1) - Math.max(ax0, bx0), 0) *
    Math.max(Math.min(ay1, by1) - Math.max(ay0, by0), 0);
  const union = areaA + areaB - inter;
  if (areaA <= EPS || areaB <= EPS || union <= EPS) return 0;
  return inter / union;
}

/** Row indices grouped by frame: rows of frame f are order[start[f] .. start[f+1]). */
function groupByFrame(rows: MotRows, numTimesteps: number): { start: Int32Array; order: Int32Array } {
  const start = new Int32Array(numTimesteps + 2);
  for (let r = 0; r < rows.count; r++) start[rows.frame[r] + 1]++;
  for (let f = 1; f < start.length; f++) start[f] += start[f - 1];
  const fill = start.slice();
  const order = new Int32Array(rows.count);
  for (let r = 0; r < rows.count; r++) order[fill[rows.frame[r]]++] = r;
  return { start, order };
}

function checkUniqueIds(rows: MotRows, order: Int32Array, from: number, to: number, what: string): void {
  if (to - from < 2) return;
  const seen = new Set<number>();
  for (let k = from; k < to; k++) {
    const r = order[k];
    if (seen.has(rows.id[r])) {
      throw new MotFormatError(
        `${rows.source}:${rows.line[r]}: ${what} id ${rows.id[r]} appears twice in frame ${rows.frame[r]}`,
      );
    }
    seen.add(rows.id[r]);
  }
}

export function prepareSequence(gt: MotRows, res: MotRows, options: PrepareOptions = {}): EvalSequence {
  const layout = options.layout ?? gt.layout ?? "mot15";
  let lastFrame = 0;
  for (let r = 0; r < gt.count; r++) lastFrame = Math.max(lastFrame, gt.frame[r]);
  for (let r = 0; r < res.count; r++) lastFrame = Math.max(lastFrame, res.frame[r]);
  const numTimesteps = options.numTimesteps ?? lastFrame;
  if (lastFrame > numTimesteps) {
    for (const rows of [res, gt]) {
      for (let r = 0; r < rows.count; r++) {
        if (rows.frame[r] > numTimesteps) {
          throw new MotFormatError(
            `${rows.source}:${rows.line[r]}: frame ${rows.frame[r]} is after the end of the sequence (${numTimesteps} frames)`,
          );
        }
      }
    }
  }

  const gtGroups = groupByFrame(gt, numTimesteps);
  const resGroups = groupByFrame(res, numTimesteps);
  const solver = new AssignmentSolver();
  const gtDense = new Map<number, number>();
  const hypDense = new Map<number, number>();
  const rawFrames: { frame: number; gtRows: number[]; hypRows: number[]; similarity: Float64Array }[] = [];
  let removedDistractorHyps = 0;
  let ignoredGtRows = 0;

  for (let f = 1; f <= numTimesteps; f++) {
    const g0 = gtGroups.start[f];
    const g1 = gtGroups.start[f + 1];
    const h0 = resGroups.start[f];
    const h1 = resGroups.start[f + 1];
    if (g0 === g1 && h0 === h1) continue;
    checkUniqueIds(res, resGroups.order, h0, h1, "tracker");
    checkUniqueIds(gt, gtGroups.order, g0, g1, "gt");
    const ng = g1 - g0;
    const nh = h1 - h0;
    const sim = new Float64Array(ng * nh);
    for (let i = 0; i < ng; i++) {
      const gr = gtGroups.order[g0 + i];
      for (let j = 0; j < nh; j++)
        sim[i * nh + j] = boxIouXywh(gt.box, gr * 4, res.box, resGroups.order[h0 + j] * 4);
    }

    const removeHyp = new Uint8Array(nh);
    if (layout === "mot17" && ng > 0 && nh > 0) {
      const score = new Float64Array(ng * nh);
      for (let k = 0; k < ng * nh; k++) score[k] = sim[k] < 0.5 - EPS ? 0 : -sim[k];
      const colForRow = new Int32Array(ng);
      solver.solve(score, ng, nh, colForRow);
      for (let i = 0; i < ng; i++) {
        const j = colForRow[i];
        if (j < 0 || -score[i * nh + j] <= EPS) continue;
        if (MOT17_DISTRACTOR_CLASSES.includes(gt.classId[gtGroups.order[g0 + i]])) removeHyp[j] = 1;
      }
    }

    const gtRows: number[] = [];
    const keptG: number[] = [];
    for (let i = 0; i < ng; i++) {
      const gr = gtGroups.order[g0 + i];
      const scored = gt.conf[gr] !== 0 && (layout !== "mot17" || gt.classId[gr] === MOT17_PEDESTRIAN_CLASS);
      if (scored) {
        gtRows.push(gr);
        keptG.push(i);
      } else {
        ignoredGtRows++;
      }
    }
    const hypRows: number[] = [];
    const keptH: number[] = [];
    for (let j = 0; j < nh; j++) {
      if (removeHyp[j]) {
        removedDistractorHyps++;
        continue;
      }
      hypRows.push(resGroups.order[h0 + j]);
      keptH.push(j);
    }
    if (gtRows.length === 0 && hypRows.length === 0) continue;
    const similarity = new Float64Array(gtRows.length * hypRows.length);
    for (let a = 0; a < keptG.length; a++) {
      for (let b = 0; b < keptH.length; b++) similarity[a * keptH.length + b] = sim[keptG[a] * nh + keptH[b]];
    }
    for (const r of gtRows) gtDense.set(gt.id[r], 0);
    for (const r of hypRows) hypDense.set(res.id[r], 0);
    rawFrames.push({ frame: f, gtRows, hypRows, similarity });
  }

  // Dense ids in ascending order of the original ids (as TrackEval relabels them).
  const gtIdLabels = Int32Array.from([...gtDense.keys()].sort((a, b) => a - b));
  const hypIdLabels = Int32Array.from([...hypDense.keys()].sort((a, b) => a - b));
  for (const [k, id] of gtIdLabels.entries()) gtDense.set(id, k);
  for (const [k, id] of hypIdLabels.entries()) hypDense.set(id, k);
  let numGtDets = 0;
  let numHypDets = 0;
  const frames: EvalFrame[] = rawFrames.map(({ frame, gtRows, hypRows, similarity }) => {
    numGtDets += gtRows.length;
    numHypDets += hypRows.length;
    return {
      frame,
      gtIds: Int32Array.from(gtRows, (r) => gtDense.get(gt.id[r])!),
      hypIds: Int32Array.from(hypRows, (r) => hypDense.get(res.id[r])!),
      similarity,
    };
  });
  return {
    name: options.name ?? gt.source,
    numTimesteps,
    frames,
    numGtIds: gtIdLabels.length,
    numHypIds: hypIdLabels.length,
    numGtDets,
    numHypDets,
    gtIdLabels,
    hypIdLabels,
    removedDistractorHyps,
    ignoredGtRows,
  };
}
