// Identity metrics (Ristani et al. 2016): IDF1, IDP, IDR from the one-to-one assignment of gt
// trajectories to tracker trajectories that maximises the number of frames in which the pair is
// admissible (IDTP). Fed frame by frame with the same distance matrices as CLEAR MOT.

import { AssignmentSolver } from "@vdet/tracker";

export interface IdentityCounts {
  idtp: number;
  idfp: number;
  idfn: number;
}

export interface IdentityMetrics extends IdentityCounts {
  idf1: number;
  idp: number;
  idr: number;
}

/** Pair keys pack (object index, hypothesis index); hypothesis indices stay below 2^21. */
const PAIR_STRIDE = 2 ** 21;

export class IdentityAccumulator {
  private readonly objectIndex = new Map<number, number>();
  private readonly hypothesisIndex = new Map<number, number>();
  private readonly pairCounts = new Map<number, number>();
  private numObjects = 0;
  private numPredictions = 0;

  /** One frame: ids and the row-major distance matrix (a finite entry = admissible pair). */
  update(oids: ArrayLike<number>, hids: ArrayLike<number>, dists: ArrayLike<number>): void {
    const no = oids.length;
    const nh = hids.length;
    this.numObjects += no;
    this.numPredictions += nh;
    const oi = new Int32Array(no);
    const hi = new Int32Array(nh);
    for (let i = 0; i < no; i++) oi[i] = indexOf(this.objectIndex, oids[i]);
    for (let j = 0; j < nh; j++) hi[j] = indexOf(this.hypothesisIndex, hids[j]);
    if (this.hypothesisIndex.size >= PAIR_STRIDE) throw new RangeError("too many hypothesis ids for IDF1");
    for (let i = 0; i < no; i++) {
      for (let j = 0; j < nh; j++) {
        if (!Number.isFinite(dists[i * nh + j])) continue;
        const key = oi[i] * PAIR_STRIDE + hi[j];
        this.pairCounts.set(key, (this.pairCounts.get(key) ?? 0) + 1);
      }
    }
  }

  totals(): IdentityCounts {
    const idtp = maxWeightMatching(this.objectIndex.size, this.hypothesisIndex.size, this.pairCounts);
    return { idtp, idfp: this.numPredictions - idtp, idfn: this.numObjects - idtp };
  }

  result(): IdentityMetrics {
    return identityMetrics(this.totals());
  }
}

function indexOf(map: Map<number, number>, id: number): number {
  let k = map.get(id);
  if (k === undefined) {
    k = map.size;
    map.set(id, k);
  }
  return k;
}

/** Maximum total weight of a one-to-one assignment, over the pairs with a positive count. */
function maxWeightMatching(rows: number, cols: number, weights: Map<number, number>): number {
  if (weights.size === 0) return 0;
  const cost = new Float64Array(rows * cols);
  for (const [key, w] of weights) {
    const r = Math.floor(key / PAIR_STRIDE);
    const c = key - r * PAIR_STRIDE;
    cost[r * cols + c] = -w;
  }
  const colForRow = new Int32Array(rows);
  new AssignmentSolver().solve(cost, rows, cols, colForRow);
  let total = 0;
  for (let r = 0; r < rows; r++) if (colForRow[r] >= 0) total -= cost[r * cols + colForRow[r]];
  return total;
}

/** IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN); 0/0 gives NaN. */
export function identityMetrics(c: IdentityCounts): IdentityMetrics {
  return {
    ...c,
    idf1: (2 * c.idtp) / (2 * c.idtp + c.idfp + c.idfn),
    idp: c.idtp / (c.idtp + c.idfp),
    idr: c.idtp / (c.idtp + c.idfn),
  };
}
