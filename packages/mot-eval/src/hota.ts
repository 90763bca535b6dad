// HOTA (Luiten et al., IJCV 2021), computed as TrackEval does: per frame, gt and tracker boxes are
// matched by Hungarian on (global id alignment × IoU); for each localisation threshold alpha in
// 0.05 … 0.95 the matches with IoU ≥ alpha count as TP, giving DetA, and the id-pair match counts
// give AssA. HOTA_alpha = sqrt(DetA_alpha · AssA_alpha); reported values are means over alpha.

import { AssignmentSolver } from "@vdet/tracker";
import type { EvalSequence } from "./prepare.ts";

const EPS = Number.EPSILON;
/** np.arange(0.05, 0.99, 0.05): 19 thresholds computed as start + i · step. */
export const HOTA_ALPHAS: readonly number[] = Object.freeze(
  Array.from({ length: 19 }, (_, i) => 0.05 + i * 0.05),
);

/** Additive per-alpha state; enough to combine sequences exactly as TrackEval does. */
export interface HotaCounts {
  tp: number[];
  fn: number[];
  fp: number[];
  /** Per-alpha association scores and localisation accuracy (weighted by tp when combining). */
  assA: number[];
  assRe: number[];
  assPr: number[];
  locA: number[];
}

export interface HotaMetrics {
  hota: number;
  detA: number;
  assA: number;
  detRe: number;
  detPr: number;
  assRe: number;
  assPr: number;
  locA: number;
  /** HOTA and LocA at the lowest threshold (alpha = 0.05). */
  hota0: number;
  locA0: number;
  perAlpha: {
    alpha: readonly number[];
    hota: number[];
    detA: number[];
    assA: number[];
    locA: number[];
  };
  counts: HotaCounts;
}

function zeros(): number[] {
  return new Array(HOTA_ALPHAS.length).fill(0);
}

function emptyHotaCounts(): HotaCounts {
  return {
    tp: zeros(),
    fn: zeros(),
    fp: zeros(),
    assA: zeros(),
    assRe: zeros(),
    assPr: zeros(),
    locA: zeros(),
  };
}

export function hotaCounts(seq: EvalSequence): HotaCounts {
  const A = HOTA_ALPHAS.length;
  const counts = emptyHotaCounts();
  if (seq.numHypDets === 0) {
    counts.fn.fill(seq.numGtDets);
    counts.locA.fill(1);
    return counts;
  }
  if (seq.numGtDets === 0) {
    counts.fp.fill(seq.numHypDets);
    counts.locA.fill(1);
    return counts;
  }
  const nG = seq.numGtIds;
  const nT = seq.numHypIds;
  const potential = new Float64Array(nG * nT);
  const gtCount = new Float64Array(nG);
  const trCount = new Float64Array(nT);

  // Pass 1: soft co-occurrence of id pairs, each frame's similarity normalised like a Jaccard index.
  for (const f of seq.frames) {
    const ng = f.gtIds.length;
    const nh = f.hypIds.length;
    const rowSum = new Float64Array(ng);
    const colSum = new Float64Array(nh);
    for (let i = 0; i < ng; i++) {
      for (let j = 0; j < nh; j++) {
        rowSum[i] += f.similarity[i * nh + j];
        colSum[j] += f.similarity[i * nh + j];
      }
    }
    for (let i = 0; i < ng; i++) {
      for (let j = 0; j < nh; j++) {
        const s = f.similarity[i * nh + j];
        const denom = colSum[j] + rowSum[i] - s;
        if (denom > EPS) potential[f.gtIds[i] * nT + f.hypIds[j]] += s / denom;
      }
    }
    for (let i = 0; i < ng; i++) gtCount[f.gtIds[i]]++;
    for (let j = 0; j < nh; j++) trCount[f.hypIds[j]]++;
  }
  const alignment = new Float64Array(nG * nT);
  for (let g = 0; g < nG; g++) {
    for (let t = 0; t < nT; t++) {
      const p = potential[g * nT + t];
      alignment[g * nT + t] = p / (gtCount[g] + trCount[t] - p);
    }
  }

  // Pass 2: per-frame matching and per-alpha counts.
  const solver = new AssignmentSolver();
  const matches = Array.from({ length: A }, () => new Float64Array(nG * nT));
  for (const f of seq.frames) {
    const ng = f.gtIds.length;
    const nh = f.hypIds.length;
    if (ng === 0) {
      for (let a = 0; a < A; a++) counts.fp[a] += nh;
      continue;
    }
    if (nh === 0) {
      for (let a = 0; a < A; a++) counts.fn[a] += ng;
      continue;
    }
    const negScore = new Float64Array(ng * nh);
    for (let i = 0; i < ng; i++) {
      for (let j = 0; j < nh; j++) {
        negScore[i * nh + j] = -alignment[f.gtIds[i] * nT + f.hypIds[j]] * f.similarity[i * nh + j];
      }
    }
    const colForRow = new Int32Array(ng);
    solver.solve(negScore, ng, nh, colForRow);
    for (let a = 0; a < A; a++) {
      const threshold = HOTA_ALPHAS[a] - EPS;
      let n = 0;
      let locSum = 0;
      for (let i = 0; i < ng; i++) {
        const j = colForRow[i];
        if (j < 0) continue;
        const s = f.similarity[i * nh + j];
        if (s < threshold) continue;
        n++;
        locSum += s;
        matches[a][f.gtIds[i] * nT + f.hypIds[j]]++;
      }
      counts.tp[a] += n;
      counts.fn[a] += ng - n;
      counts.fp[a] += nh - n;
      counts.locA[a] += locSum;
    }
  }

  for (let a = 0; a < A; a++) {
    const m = matches[a];
    let assA = 0;
    let assRe = 0;
    let assPr = 0;
    for (let g = 0; g < nG; g++) {
      for (let t = 0; t < nT; t++) {
        const c = m[g * nT + t];
        if (c === 0) continue;
        assA += (c * c) / Math.max(1, gtCount[g] + trCount[t] - c);
        assRe += (c * c) / Math.max(1, gtCount[g]);
        assPr += (c * c) / Math.max(1, trCount[t]);
      }
    }
    const tp = Math.max(1, counts.tp[a]);
    counts.assA[a] = assA / tp;
    counts.assRe[a] = assRe / tp;
    counts.assPr[a] = assPr / tp;
    counts.locA[a] = Math.max(1e-10, counts.locA[a]) / Math.max(1e-10, counts.tp[a]);
  }
  return counts;
}

/** Combines sequences: sums of TP/FN/FP, association and localisation scores weighted by TP. */
export function combineHotaCounts(parts: readonly HotaCounts[]): HotaCounts {
  const out = emptyHotaCounts();
  for (let a = 0; a < HOTA_ALPHAS.length; a++) {
    let locWeighted = 0;
    for (const p of parts) {
      out.tp[a] += p.tp[a];
      out.fn[a] += p.fn[a];
      out.fp[a] += p.fp[a];
      out.assA[a] += p.assA[a] * p.tp[a];
      out.assRe[a] += p.assRe[a] * p.tp[a];
      out.assPr[a] += p.assPr[a] * p.tp[a];
      locWeighted += p.locA[a] * p.tp[a];
    }
    const tp = Math.max(1, out.tp[a]);
    out.assA[a] /= tp;
    out.assRe[a] /= tp;
    out.assPr[a] /= tp;
    out.locA[a] = Math.max(1e-10, locWeighted) / Math.max(1e-10, out.tp[a]);
  }
  return out;
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Final HOTA fields from the per-alpha counts (means over alpha, as TrackEval reports). */
export function hotaMetrics(c: HotaCounts): HotaMetrics {
  const A = HOTA_ALPHAS.length;
  const detRe = zeros();
  const detPr = zeros();
  const detA = zeros();
  const hota = zeros();
  for (let a = 0; a < A; a++) {
    detRe[a] = c.tp[a] / Math.max(1, c.tp[a] + c.fn[a]);
    detPr[a] = c.tp[a] / Math.max(1, c.tp[a] + c.fp[a]);
    detA[a] = c.tp[a] / Math.max(1, c.tp[a] + c.fn[a] + c.fp[a]);
    hota[a] = Math.sqrt(detA[a] * c.assA[a]);
  }
  return {
    hota: mean(hota),
    detA: mean(detA),
    assA: mean(c.assA),
    detRe: mean(detRe),
    detPr: mean(detPr),
    assRe: mean(c.assRe),
    assPr: mean(c.assPr),
    locA: mean(c.locA),
    hota0: hota[0],
    locA0: c.locA[0],
    perAlpha: { alpha: HOTA_ALPHAS, hota, detA, assA: [...c.assA], locA: [...c.locA] },
    counts: c,
  };
}
