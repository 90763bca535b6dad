// Runs every metric family on one prepared sequence, combines sequences, and flattens the result
// into the summary row that tables and JSON output show.

import {
  ClearMotAccumulator,
  type ClearMotMetrics,
  clearMotMetrics,
  type MostlyTrackedRule,
  sumClearMotCounts,
} from "./clear-mot.ts";
import { combineHotaCounts, type HotaMetrics, hotaCounts, hotaMetrics } from "./hota.ts";
import { IdentityAccumulator, type IdentityMetrics, identityMetrics } from "./identity.ts";
import type { MotRows } from "./mot-format.ts";
import { type EvalSequence, type PrepareOptions, prepareSequence } from "./prepare.ts";
import { sumVaceCounts, type VaceMetrics, vaceCounts, vaceMetrics } from "./vace.ts";

export interface EvaluateOptions {
  /** Minimum IoU for a CLEAR / identity match (MOTChallenge: 0.5). */
  iouThreshold?: number;
  /** MT rule: TrackEval's ratio > 0.8 (default) or py-motmetrics' ≥ 0.8. */
  mostlyTrackedRule?: MostlyTrackedRule;
}

export interface SequenceMetrics {
  name: string;
  numTimesteps: number;
  clear: ClearMotMetrics;
  /** Sum of IoU over CLEAR matches (TrackEval MOTP = this / TP). */
  clearIouSum: number;
  identity: IdentityMetrics;
  hota: HotaMetrics;
  vace: VaceMetrics;
  removedDistractorHyps: number;
  ignoredGtRows: number;
}

/** Evaluates a prepared sequence (per-frame ids and IoU). */
export function evaluatePrepared(seq: EvalSequence, options: EvaluateOptions = {}): SequenceMetrics {
  const maxDistance = 1 - (options.iouThreshold ?? 0.5);
  const clear = new ClearMotAccumulator();
  const identity = new IdentityAccumulator();
  for (const f of seq.frames) {
    // Distance 1 − IoU; a pair is admissible when the distance is at most 1 − threshold.
    const dists = f.similarity.map((s) => {
      const d = 1 - s;
      return d > maxDistance ? Number.NaN : d;
    });
    clear.update(f.gtIds, f.hypIds, dists);
    identity.update(f.gtIds, f.hypIds, dists);
  }
  const clearMetrics = clear.result(options.mostlyTrackedRule);
  return {
    name: seq.name,
    numTimesteps: seq.numTimesteps,
    clear: clearMetrics,
    clearIouSum: clearMetrics.numDetections - clearMetrics.distanceSum,
    identity: identity.result(),
    hota: hotaMetrics(hotaCounts(seq)),
    vace: vaceMetrics(vaceCounts(seq, options.iouThreshold ?? 0.5)),
    removedDistractorHyps: seq.removedDistractorHyps,
    ignoredGtRows: seq.ignoredGtRows,
  };
}

/** Prepares (flag-0 rows, MOT17 distractors) and evaluates one sequence. */
export function evaluateSequence(
  gt: MotRows,
  res: MotRows,
  options: PrepareOptions & EvaluateOptions = {},
): SequenceMetrics {
  return evaluatePrepared(prepareSequence(gt, res, options), options);
}

/** Pools several sequences: counts summed, ratios recomputed, HOTA combined as TrackEval does. */
export function combineSequences(parts: readonly SequenceMetrics[], name = "COMBINED"): SequenceMetrics {
  return {
    name,
    numTimesteps: parts.reduce((s, p) => s + p.numTimesteps, 0),
    clear: clearMotMetrics(sumClearMotCounts(parts.map((p) => p.clear))),
    clearIouSum: parts.reduce((s, p) => s + p.clearIouSum, 0),
    identity: identityMetrics({
      idtp: parts.reduce((s, p) => s + p.identity.idtp, 0),
      idfp: parts.reduce((s, p) => s + p.identity.idfp, 0),
      idfn: parts.reduce((s, p) => s + p.identity.idfn, 0),
    }),
    hota: hotaMetrics(combineHotaCounts(parts.map((p) => p.hota.counts))),
    vace: vaceMetrics(sumVaceCounts(parts.map((p) => p.vace))),
    removedDistractorHyps: parts.reduce((s, p) => s + p.removedDistractorHyps, 0),
    ignoredGtRows: parts.reduce((s, p) => s + p.ignoredGtRows, 0),
  };
}

/** The usual MOTChallenge columns for one sequence (ratios in [0, 1]). */
export interface MetricsSummary {
  name: string;
  frames: number;
  hota: number;
  detA: number;
  assA: number;
  locA: number;
  mota: number;
  /** TrackEval / MOTChallenge MOTP: mean IoU of the CLEAR matches (higher is better). */
  motp: number;
  idf1: number;
  idp: number;
  idr: number;
  recall: number;
  precision: number;
  gtBoxes: number;
  predictedBoxes: number;
  tp: number;
  fp: number;
  fn: number;
  idsw: number;
  frag: number;
  gtIds: number;
  mt: number;
  pt: number;
  ml: number;
}

export function summarize(m: SequenceMetrics): MetricsSummary {
  const c = m.clear;
  return {
    name: m.name,
    frames: m.numTimesteps,
    hota: m.hota.hota,
    detA: m.hota.detA,
    assA: m.hota.assA,
    locA: m.hota.locA,
    mota: c.mota,
    motp: m.clearIouSum / c.numDetections,
    idf1: m.identity.idf1,
    idp: m.identity.idp,
    idr: m.identity.idr,
    recall: c.recall,
    precision: c.precision,
    gtBoxes: c.numObjects,
    predictedBoxes: c.numPredictions,
    tp: c.numDetections,
    fp: c.numFalsePositives,
    fn: c.numMisses,
    idsw: c.numSwitches,
    frag: c.numFragmentations,
    gtIds: c.numUniqueObjects,
    mt: c.mostlyTracked,
    pt: c.partiallyTracked,
    ml: c.mostlyLost,
  };
}
