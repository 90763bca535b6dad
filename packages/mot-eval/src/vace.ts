// VACE metrics (Manohar et al. 2006) in TrackEval's "relaxed" form: STDA/ATA from the temporal IoU
// of gt and tracker trajectories (frames with IoU ≥ 0.5 over frames where either exists), and
// FDA/SFDA from per-frame optimal spatial overlap.

import { AssignmentSolver } from "@vdet/tracker";
import type { EvalSequence } from "./prepare.ts";

export interface VaceCounts {
  stda: number;
  fda: number;
  numTrackerIds: number;
  numGtIds: number;
  numNonEmptyFrames: number;
}

export interface VaceMetrics extends VaceCounts {
  /** Average tracking accuracy: STDA / mean number of ids. */
  ata: number;
  /** Sequence frame detection accuracy: FDA / non-empty frames. */
  sfda: number;
}

export function vaceCounts(seq: EvalSequence, threshold = 0.5): VaceCounts {
  const nG = seq.numGtIds;
  const nT = seq.numHypIds;
  const potential = new Float64Array(nG * nT);
  const both = new Float64Array(nG * nT);
  const gtCount = new Float64Array(nG);
  const trCount = new Float64Array(nT);
  const solver = new AssignmentSolver();
  let fda = 0;
  let nonEmpty = 0;
  for (const f of seq.frames) {
    const ng = f.gtIds.length;
    const nh = f.hypIds.length;
    for (let i = 0; i < ng; i++) {
      gtCount[f.gtIds[i]]++;
      for (let j = 0; j < nh; j++) {
        const key = f.gtIds[i] * nT + f.hypIds[j];
        both[key]++;
        if (f.similarity[i * nh + j] >= threshold) potential[key]++;
      }
    }
    for (let j = 0; j < nh; j++) trCount[f.hypIds[j]]++;
    if (ng === 0 && nh === 0) continue;
    nonEmpty++;
    if (ng === 0 || nh === 0) continue;
    const neg = f.similarity.map((s) => -s);
    const colForRow = new Int32Array(ng);
    solver.solve(neg, ng, nh, colForRow);
    let overlap = 0;
    for (let i = 0; i < ng; i++) if (colForRow[i] >= 0) overlap += f.similarity[i * nh + colForRow[i]];
    fda += overlap / (0.5 * (ng + nh));
  }
  let stda = 0;
  if (nG > 0 && nT > 0) {
    const negTemporalIou = new Float64Array(nG * nT);
    for (let g = 0; g < nG; g++) {
      for (let t = 0; t < nT; t++) {
        const union = gtCount[g] + trCount[t] - both[g * nT + t];
        negTemporalIou[g * nT + t] = -potential[g * nT + t] / union;
      }
    }
    const colForRow = new Int32Array(nG);
    solver.solve(negTemporalIou, nG, nT, colForRow);
    for (let g = 0; g < nG; g++) if (colForRow[g] >= 0) stda -= negTemporalIou[g * nT + colForRow[g]];
  }
  return { stda, fda, numTrackerIds: nT, numGtIds: nG, numNonEmptyFrames: nonEmpty };
}

export function sumVaceCounts(parts: readonly VaceCounts[]): VaceCounts {
  const out: VaceCounts = { stda: 0, fda: 0, numTrackerIds: 0, numGtIds: 0, numNonEmptyFrames: 0 };
  for (const p of parts) for (const k of Object.keys(out) as (keyof VaceCounts)[]) out[k] += p[k];
  return out;
}

export function vaceMetrics(c: VaceCounts): VaceMetrics {
  return {
    ...c,
    ata: c.stda / (0.5 * (c.numTrackerIds + c.numGtIds)),
    sfda: c.fda / c.numNonEmptyFrames,
  };
}
