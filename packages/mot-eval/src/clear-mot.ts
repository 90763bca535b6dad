// CLEAR MOT (Bernardin & Stiefelhagen 2008) with py-motmetrics' event semantics, frame by frame:
//  1. a correspondence made in the previous frame is kept if still admissible;
//  2. the remaining objects and hypotheses are assigned by maximum cardinality, then minimum total
//     distance (Hungarian); a matched object whose last hypothesis was a different one is a SWITCH;
//  3. unmatched objects are MISSes, unmatched hypotheses FPs.
// Distances are given per frame; NaN marks a pair that may not be matched.
// MT/PT/ML follow TrackEval and the MOTChallenge devkit by default (see MostlyTrackedRule).

import { AssignmentSolver } from "@vdet/tracker";

export interface ClearMotCounts {
  numFrames: number;
  /** Ground-truth boxes. */
  numObjects: number;
  /** Hypothesis boxes. */
  numPredictions: number;
  /** Matches that are not switches. */
  numMatches: number;
  numSwitches: number;
  /** Hypothesis matched to an object other than its previous one. */
  numTransfer: number;
  /** Switch to a hypothesis never matched before. */
  numAscend: number;
  /** Transfer to an object never matched before. */
  numMigrate: number;
  numFalsePositives: number;
  numMisses: number;
  numFragmentations: number;
  /** Sum of distances over matches and switches. */
  distanceSum: number;
  numUniqueObjects: number;
  mostlyTracked: number;
  partiallyTracked: number;
  mostlyLost: number;
}

/**
 * When a ground-truth trajectory counts as mostly tracked. Both rules use the same tracked ratio
 * (frames where the object is matched, switches included, over the frames where it appears after
 * preprocessing) and the same ML rule (ratio < 0.2); they differ only at exactly 0.8:
 * - "trackeval": MT when ratio > 0.8 (TrackEval's CLEAR and the official MOTChallenge devkit);
 * - "py-motmetrics": MT when ratio ≥ 0.8 (py-motmetrics' mostly_tracked).
 */
export type MostlyTrackedRule = "trackeval" | "py-motmetrics";

export const DEFAULT_MOSTLY_TRACKED_RULE: MostlyTrackedRule = "trackeval";

/** MT / PT / ML class of one trajectory from its tracked ratio. */
export function trajectoryClass(
  trackedRatio: number,
  rule: MostlyTrackedRule = DEFAULT_MOSTLY_TRACKED_RULE,
): "mostlyTracked" | "partiallyTracked" | "mostlyLost" {
  const mostly = rule === "trackeval" ? trackedRatio > 0.8 : trackedRatio >= 0.8;
  if (mostly) return "mostlyTracked";
  return trackedRatio >= 0.2 ? "partiallyTracked" : "mostlyLost";
}

export interface ClearMotMetrics extends ClearMotCounts {
  /** Matches including switches (TP). */
  numDetections: number;
  mota: number;
  /** Mean distance of matches and switches (py-motmetrics "motp": lower is better for 1 − IoU). */
  motp: number;
  recall: number;
  precision: number;
}

interface ObjectState {
  /** Hypothesis this object was last matched to. */
  hypothesis: number;
  lastMatchedUpdate: number;
  frequency: number;
  tracked: number;
  everTracked: boolean;
  lastTracked: boolean;
}

export class ClearMotAccumulator {
  private readonly solver = new AssignmentSolver();
  private readonly objects = new Map<number, ObjectState>();
  /** Object each hypothesis was last assigned to in step 2 (py-motmetrics' hypothesis assignments). */
  private readonly hypothesisObject = new Map<number, number>();
  /** Hypotheses matched at least once (for ASCEND). */
  private readonly matchedHypotheses = new Set<number>();
  private readonly counts: ClearMotCounts = zeroCounts();
  private updates = 0;

  /**
   * Adds one frame: object ids, hypothesis ids and the row-major distance matrix
   * (objects × hypotheses, NaN/Infinity = not admissible).
   */
  update(oids: ArrayLike<number>, hids: ArrayLike<number>, dists: ArrayLike<number>): void {
    const no = oids.length;
    const nh = hids.length;
    if (dists.length !== no * nh) {
      throw new RangeError(`distance matrix has ${dists.length} entries, expected ${no}×${nh}`);
    }
    const previousUpdate = this.updates;
    const now = ++this.updates;
    const c = this.counts;
    c.numFrames++;
    c.numObjects += no;
    c.numPredictions += nh;
    const oMasked = new Uint8Array(no);
    const hMasked = new Uint8Array(nh);
    const states: ObjectState[] = new Array(no);
    for (let i = 0; i < no; i++) {
      let s = this.objects.get(oids[i]);
      if (!s) {
        s = {
          hypothesis: Number.NaN,
          lastMatchedUpdate: -1,
          frequency: 0,
          tracked: 0,
          everTracked: false,
          lastTracked: false,
        };
        this.objects.set(oids[i], s);
      }
      s.frequency++;
      states[i] = s;
    }

    if (no > 0 && nh > 0) {
      // 1. Keep last frame's correspondences that are still admissible.
      for (let i = 0; i < no; i++) {
        const s = states[i];
        if (s.lastMatchedUpdate !== previousUpdate || previousUpdate === 0) continue;
        let j = -1;
        for (let k = 0; k < nh; k++) {
          if (!hMasked[k] && hids[k] === s.hypothesis) {
            j = k;
            break;
          }
        }
        if (j < 0 || !Number.isFinite(dists[i * nh + j])) continue;
        oMasked[i] = 1;
        hMasked[j] = 1;
        c.numMatches++;
        c.distanceSum += dists[i * nh + j];
        this.track(s);
        s.lastMatchedUpdate = now;
        this.matchedHypotheses.add(hids[j]);
      }

      // 2. Assign the rest: most pairs first, then least total distance.
      const free = new Float64Array(no * nh);
      let maxAbs = 0;
      let anyFinite = false;
      for (let i = 0; i < no; i++) {
        for (let j = 0; j < nh; j++) {
          const d = oMasked[i] || hMasked[j] ? Number.NaN : dists[i * nh + j];
          free[i * nh + j] = d;
          if (Number.isFinite(d)) {
            anyFinite = true;
            maxAbs = Math.max(maxAbs, Math.abs(d));
          }
        }
      }
      if (anyFinite) {
        // Same "forbidden" cost as py-motmetrics: larger than any gain from using one more pair.
        const forbidden = 2 * Math.min(no, nh) * (maxAbs + 1) + 1;
        const cost = free.map((d) => (Number.isFinite(d) ? d : forbidden));
        const colForRow = new Int32Array(no);
        this.solver.solve(cost, no, nh, colForRow);
        for (let i = 0; i < no; i++) {
          const j = colForRow[i];
          if (j < 0 || !Number.isFinite(free[i * nh + j])) continue;
          const o = oids[i];
          const h = hids[j];
          const s = states[i];
          const isSwitch = !Number.isNaN(s.hypothesis) && s.hypothesis !== h;
          if (isSwitch) {
            c.numSwitches++;
            if (!this.matchedHypotheses.has(h)) c.numAscend++;
          } else {
            c.numMatches++;
          }
          const previousObject = this.hypothesisObject.get(h);
          if (previousObject !== undefined && previousObject !== o) {
            c.numTransfer++;
            if (s.lastMatchedUpdate < 0) c.numMigrate++;
          }
          c.distanceSum += free[i * nh + j];
          this.track(s);
          s.lastMatchedUpdate = now;
          s.hypothesis = h;
          this.hypothesisObject.set(h, o);
          this.matchedHypotheses.add(h);
          oMasked[i] = 1;
          hMasked[j] = 1;
        }
      }
    }

    // 3./4. Misses and false positives.
    for (let i = 0; i < no; i++) {
      if (oMasked[i]) continue;
      c.numMisses++;
      states[i].lastTracked = false;
    }
    for (let j = 0; j < nh; j++) if (!hMasked[j]) c.numFalsePositives++;
  }

  /** Marks an object tracked in this frame; a return after a miss is a fragmentation. */
  private track(s: ObjectState): void {
    if (s.everTracked && !s.lastTracked) this.counts.numFragmentations++;
    s.everTracked = true;
    s.lastTracked = true;
    s.tracked++;
  }

  /** Counts so far, with MT/PT/ML from the per-object tracked ratios under `rule`. */
  totals(rule: MostlyTrackedRule = DEFAULT_MOSTLY_TRACKED_RULE): ClearMotCounts {
    const c = { ...this.counts };
    c.numUniqueObjects = this.objects.size;
    for (const s of this.objects.values()) {
      c[trajectoryClass(s.frequency > 0 ? s.tracked / s.frequency : 0, rule)]++;
    }
    return c;
  }

  result(rule: MostlyTrackedRule = DEFAULT_MOSTLY_TRACKED_RULE): ClearMotMetrics {
    return clearMotMetrics(this.totals(rule));
  }
}

/** Ratios from counts (also used to combine sequences); 0/0 gives NaN as in py-motmetrics. */
export function clearMotMetrics(c: ClearMotCounts): ClearMotMetrics {
  const numDetections = c.numMatches + c.numSwitches;
  return {
    ...c,
    numDetections,
    mota: 1 - (c.numMisses + c.numFalsePositives + c.numSwitches) / c.numObjects,
    motp: c.distanceSum / numDetections,
    recall: numDetections / c.numObjects,
    precision: numDetections / c.numPredictions,
  };
}

function zeroCounts(): ClearMotCounts {
  return {
    numFrames: 0,
    numObjects: 0,
    numPredictions: 0,
    numMatches: 0,
    numSwitches: 0,
    numTransfer: 0,
    numAscend: 0,
    numMigrate: 0,
    numFalsePositives: 0,
    numMisses: 0,
    numFragmentations: 0,
    distanceSum: 0,
    numUniqueObjects: 0,
    mostlyTracked: 0,
    partiallyTracked: 0,
    mostlyLost: 0,
  };
}

/** Sums the counts of several sequences (events pooled, ratios recomputed by clearMotMetrics). */
export function sumClearMotCounts(parts: readonly ClearMotCounts[]): ClearMotCounts {
  const total = zeroCounts();
  for (const p of parts)
    for (const key of Object.keys(total) as (keyof ClearMotCounts)[]) total[key] += p[key];
  return total;
}
