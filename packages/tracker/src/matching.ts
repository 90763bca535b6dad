// Association primitives: box IoU and optimal assignment (min-cost bipartite matching).
// The solver is the shortest-augmenting-path method with dual potentials (Jonker & Volgenant 1987,
// rectangular form of Crouse 2016 as used by SciPy's linear_sum_assignment, same tie-breaking),
// so the evaluator and the tracker agree with the reference Python tools even on ties.

import { AssignmentError } from "./errors.ts";

export { AssignmentError };

/**
 * Reusable buffers for {@link AssignmentSolver}; grows on demand so that repeated solves of
 * similar sizes (one per video frame) allocate nothing.
 */
export class AssignmentSolver {
  private u = new Float64Array(16);
  private v = new Float64Array(16);
  private shortest = new Float64Array(16);
  private path = new Int32Array(16);
  private col4row = new Int32Array(16);
  private row4col = new Int32Array(16);
  private remaining = new Int32Array(16);
  private rowVisited = new Uint8Array(16);
  private colVisited = new Uint8Array(16);
  private transposed = new Float64Array(256);

  /**
   * Minimum-cost assignment for a dense row-major `rows × cols` cost matrix.
   * Writes into `colForRow[r]` the column assigned to row r, or -1 (only when rows > cols).
   * Every row (or every column when rows > cols) is assigned; +Infinity entries are allowed
   * as long as a finite assignment exists.
   */
  solve(cost: ArrayLike<number>, rows: number, cols: number, colForRow: Int32Array): void {
    colForRow.fill(-1, 0, rows);
    if (rows === 0 || cols === 0) return;
    if (cost.length < rows * cols) {
      throw new AssignmentError(`cost matrix has ${cost.length} entries, expected ${rows}×${cols}`);
    }
    const transpose = rows > cols;
    let matrix: ArrayLike<number> = cost;
    let nr = rows;
    let nc = cols;
    if (transpose) {
      if (this.transposed.length < rows * cols) this.transposed = new Float64Array(rows * cols * 2);
      const t = this.transposed;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = cost[r * cols + c];
      matrix = t;
      nr = cols;
      nc = rows;
    }
    for (let k = 0; k < nr * nc; k++) {
      const x = matrix[k];
      if (Number.isNaN(x) || x === Number.NEGATIVE_INFINITY) {
        throw new AssignmentError(`cost matrix entry ${k} is ${x}; use +Infinity for forbidden pairs`);
      }
    }
    this.ensure(nr, nc);
    this.solveWide(matrix, nr, nc);
    const col4row = this.col4row;
    if (transpose) {
      for (let c = 0; c < nr; c++) colForRow[col4row[c]] = c;
    } else {
      for (let r = 0; r < nr; r++) colForRow[r] = col4row[r];
    }
  }

  private ensure(nr: number, nc: number): void {
    if (this.u.length < nr) {
      const n = Math.max(nr, this.u.length * 2);
      this.u = new Float64Array(n);
      this.col4row = new Int32Array(n);
      this.rowVisited = new Uint8Array(n);
    }
    if (this.v.length < nc) {
      const n = Math.max(nc, this.v.length * 2);
      this.v = new Float64Array(n);
      this.shortest = new Float64Array(n);
      this.path = new Int32Array(n);
      this.row4col = new Int32Array(n);
      this.remaining = new Int32Array(n);
      this.colVisited = new Uint8Array(n);
    }
  }

  /** Core solver for nr <= nc: one Dijkstra-like shortest augmenting path per row. */
  private solveWide(cost: ArrayLike<number>, nr: number, nc: number): void {
    const { u, v, shortest, path, col4row, row4col, remaining, rowVisited, colVisited } = this;
    u.fill(0, 0, nr);
    v.fill(0, 0, nc);
    path.fill(-1, 0, nc);
    col4row.fill(-1, 0, nr);
    row4col.fill(-1, 0, nc);

    for (let curRow = 0; curRow < nr; curRow++) {
      let minVal = 0;
      let i = curRow;
      let numRemaining = nc;
      // Reverse order makes a constant matrix solve to the identity (as SciPy does).
      for (let it = 0; it < nc; it++) remaining[it] = nc - it - 1;
      rowVisited.fill(0, 0, nr);
      colVisited.fill(0, 0, nc);
      shortest.fill(Number.POSITIVE_INFINITY, 0, nc);

      let sink = -1;
      while (sink === -1) {
        let index = -1;
        let lowest = Number.POSITIVE_INFINITY;
        rowVisited[i] = 1;
        const rowBase = i * nc;
        const ui = u[i];
        for (let it = 0; it < numRemaining; it++) {
          const j = remaining[it];
          const r = minVal + cost[rowBase + j] - ui - v[j];
          if (r < shortest[j]) {
            path[j] = i;
            shortest[j] = r;
          }
          // Among equally short paths prefer one that ends at a free column.
          if (shortest[j] < lowest || (shortest[j] === lowest && row4col[j] === -1)) {
            lowest = shortest[j];
            index = it;
          }
        }
        minVal = lowest;
        if (minVal === Number.POSITIVE_INFINITY || index < 0) {
          throw new AssignmentError(`no finite assignment exists for row ${curRow}`);
        }
        const j = remaining[index];
        if (row4col[j] === -1) sink = j;
        else i = row4col[j];
        colVisited[j] = 1;
        remaining[index] = remaining[--numRemaining];
      }

      // Update the dual variables.
      u[curRow] += minVal;
      for (let r = 0; r < nr; r++) {
        if (rowVisited[r] && r !== curRow) u[r] += minVal - shortest[col4row[r]];
      }
      for (let c = 0; c < nc; c++) {
        if (colVisited[c]) v[c] -= minVal - shortest[c];
      }
      // Augment along the path back to curRow.
      let j = sink;
      for (;;) {
        const r = path[j];
        row4col[j] = r;
        const previous = col4row[r];
        col4row[r] = j;
        j = previous;
        if (r === curRow) break;
      }
    }
  }
}

/**
 * Convenience wrapper: solves a cost matrix given as rows of numbers and returns the assigned
 * (row, col) pairs in row order, like scipy.optimize.linear_sum_assignment.
 */
export function linearSumAssignment(cost: ReadonlyArray<ReadonlyArray<number>>): {
  rows: number[];
  cols: number[];
} {
  const nr = cost.length;
  const nc = nr === 0 ? 0 : cost[0].length;
  const flat = new Float64Array(nr * nc);
  for (let r = 0; r < nr; r++) {
    if (cost[r].length !== nc)
      throw new AssignmentError(`row ${r} has ${cost[r].length} entries, expected ${nc}`);
    for (let c = 0; c < nc; c++) flat[r * nc + c] = cost[r][c];
  }
  const colForRow = new Int32Array(nr);
  new AssignmentSolver().solve(flat, nr, nc, colForRow);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let r = 0; r < nr; r++) {
    if (colForRow[r] >= 0) {
      rows.push(r);
      cols.push(colForRow[r]);
    }
  }
  return { rows, cols };
}

/**
 * Gated matching: minimum total cost over pairs whose cost is at most `costLimit` (NaN counts as
 * forbidden), where rows and columns may stay unmatched. Same optimum as lapjv with `cost_limit`
 * (ByteTrack's `linear_assignment`): forbidden pairs are clipped to the limit, which costs exactly
 * what leaving both ends unmatched costs, the full problem is solved and clipped pairs are dropped.
 * `scratch` needs rows × cols entries. Writes colForRow (-1 = unmatched), returns the match count.
 */
export function solveGated(
  solver: AssignmentSolver,
  cost: Float64Array,
  rows: number,
  cols: number,
  costLimit: number,
  scratch: Float64Array,
  colForRow: Int32Array,
): number {
  const n = rows * cols;
  for (let k = 0; k < n; k++) {
    const c = cost[k];
    // biome-ignore lint/complexity/useMathMinMax: NaN must become costLimit; Math.min would keep NaN.
    scratch[k] = c <= costLimit ? c : costLimit;
  }
  solver.solve(scratch, rows, cols, colForRow);
  let matches = 0;
  for (let r = 0; r < rows; r++) {
    const c = colForRow[r];
    if (c < 0) continue;
    if (cost[r * cols + c] <= costLimit) matches++;
    else colForRow[r] = -1;
  }
  return matches;
}

/**
 * IoU of axis-aligned boxes [x1, y1, x2, y2] (no +1 pixel convention). `a` and `b` hold 4 numbers per
 * box; `out[i * countB + j]` receives IoU(a_i, b_j). Degenerate boxes have IoU 0 with everything.
 */
export function iouMatrix(
  a: ArrayLike<number>,
  aIndices: ArrayLike<number>,
  countA: number,
  b: ArrayLike<number>,
  bIndices: ArrayLike<number>,
  countB: number,
  out: Float64Array,
): void {
  for (let i = 0; i < countA; i++) {
    const ai = aIndices[i] * 4;
    const ax1 = a[ai];
    const ay1 = a[ai + 1];
    const ax2 = a[ai + 2];
    const ay2 = a[ai + 3];
    const areaA = (ax2 - ax1) * (ay2 - ay1);
    const rowBase = i * countB;
    for (let j = 0; j < countB; j++) {
      const bj = bIndices[j] * 4;
      const bx1 = b[bj];
      const by1 = b[bj + 1];
      const bx2 = b[bj + 2];
      const by2 = b[bj + 3];
      const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
      const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
      if (iw <= 0 || ih <= 0) {
        out[rowBase + j] = 0;
        continue;
      }
      const inter = iw * ih;
      const union = areaA + (bx2 - bx1) * (by2 - by1) - inter;
      out[rowBase + j] = union > 0 ? inter / union : 0;
    }
  }
}

/** IoU of two [x1, y1, x2, y2] boxes. */
export function boxIou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const out = new Float64Array(1);
  iouMatrix(a, [0], 1, b, [0], 1, out);
  return out[0];
}
