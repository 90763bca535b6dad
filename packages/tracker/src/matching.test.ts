import assert from "node:assert/strict";
import { test } from "node:test";
import { mulberry32 } from "@vdet/effdet";
import {
  AssignmentError,
  AssignmentSolver,
  boxIou,
  iouMatrix,
  linearSumAssignment,
  solveGated,
} from "./matching.ts";

/** Small deterministic PRNG in [0, 1) (effdet's mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

/** Minimum total cost over all assignments of min(rows, cols) pairs, by enumeration. */
function bruteForceMin(cost: number[][]): number {
  const rows = cost.length;
  const cols = cost[0].length;
  const k = Math.min(rows, cols);
  let best = Number.POSITIVE_INFINITY;
  const usedCols = new Array(cols).fill(false);
  const usedRows = new Array(rows).fill(false);
  // Choose, in order, k pairs: iterate over the smaller side and pick a partner on the other.
  const small = rows <= cols ? "rows" : "cols";
  const recurse = (i: number, total: number) => {
    if (i === k) {
      best = Math.min(best, total);
      return;
    }
    const other = small === "rows" ? cols : rows;
    for (let j = 0; j < other; j++) {
      const used = small === "rows" ? usedCols : usedRows;
      if (used[j]) continue;
      used[j] = true;
      const c = small === "rows" ? cost[i][j] : cost[j][i];
      recurse(i + 1, total + c);
      used[j] = false;
    }
  };
  recurse(0, 0);
  return best;
}

function randomMatrix(
  rand: () => number,
  rows: number,
  cols: number,
  kind: "real" | "int" | "inf",
): number[][] {
  return Array.from({ length: rows }, () =>
    Array.from({ length: cols }, () => {
      if (kind === "int") return Math.floor(rand() * 4);
      if (kind === "inf" && rand() < 0.3) return Number.POSITIVE_INFINITY;
      return rand() * 10 - 2;
    }),
  );
}

test("assignment matches brute force on 600 random small matrices (square, wide, tall, ties, forbidden pairs)", () => {
  const rand = prng(12345);
  let checked = 0;
  for (let trial = 0; trial < 600; trial++) {
    const rows = 1 + Math.floor(rand() * 6);
    const cols = 1 + Math.floor(rand() * 6);
    const kind = (["real", "int", "inf"] as const)[trial % 3];
    const cost = randomMatrix(rand, rows, cols, kind);
    const best = bruteForceMin(cost);
    if (!Number.isFinite(best)) {
      assert.throws(() => linearSumAssignment(cost), AssignmentError);
      continue;
    }
    const { rows: r, cols: c } = linearSumAssignment(cost);
    assert.equal(
      r.length,
      Math.min(rows, cols),
      `trial ${trial}: every row/col of the smaller side assigned`,
    );
    assert.equal(new Set(c).size, c.length, `trial ${trial}: columns distinct`);
    assert.equal(new Set(r).size, r.length, `trial ${trial}: rows distinct`);
    const total = r.reduce((s, ri, k) => s + cost[ri][c[k]], 0);
    assert.ok(Math.abs(total - best) < 1e-9, `trial ${trial}: cost ${total} ≠ optimum ${best}`);
    checked++;
  }
  assert.ok(checked > 450);
});

test("assignment follows SciPy's conventions: identity on a constant matrix, row order output", () => {
  assert.deepEqual(
    linearSumAssignment([
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]),
    { rows: [0, 1, 2], cols: [0, 1, 2] },
  );
  // Tall matrix: pairs reported in row order, unassigned rows left out.
  assert.deepEqual(linearSumAssignment([[5], [1], [3]]), { rows: [1], cols: [0] });
  assert.deepEqual(linearSumAssignment([]), { rows: [], cols: [] });
  assert.throws(() => linearSumAssignment([[Number.NaN]]), /NaN/);
});

test("solver reuses its buffers across calls of different sizes", () => {
  const solver = new AssignmentSolver();
  const out = new Int32Array(8);
  solver.solve([3, 1, 2, 0], 2, 2, out);
  assert.deepEqual([...out.subarray(0, 2)], [1, 0]);
  const big = new Float64Array(64).map((_, k) => ((k * 37) % 11) + (k % 8 === Math.floor(k / 8) ? -100 : 0));
  solver.solve(big, 8, 8, out);
  assert.deepEqual([...out], [0, 1, 2, 3, 4, 5, 6, 7]);
  solver.solve([2, 1], 1, 2, out);
  assert.equal(out[0], 1);
});

/** Best objective of a gated matching: matched costs + limit/2 per unmatched row or column. */
function bruteForceGated(cost: number[][], limit: number): number {
  const rows = cost.length;
  const cols = cost[0].length;
  let best = Number.POSITIVE_INFINITY;
  const used = new Array(cols).fill(false);
  const recurse = (i: number, total: number, matched: number) => {
    if (i === rows) {
      best = Math.min(best, total + ((rows - matched + cols - matched) * limit) / 2);
      return;
    }
    recurse(i + 1, total, matched);
    for (let j = 0; j < cols; j++) {
      if (used[j] || !(cost[i][j] <= limit)) continue;
      used[j] = true;
      recurse(i + 1, total + cost[i][j], matched + 1);
      used[j] = false;
    }
  };
  recurse(0, 0, 0);
  return best;
}

test("gated matching equals the lapjv cost_limit optimum (brute force) and never uses forbidden pairs", () => {
  const rand = prng(777);
  const solver = new AssignmentSolver();
  for (let trial = 0; trial < 400; trial++) {
    const rows = 1 + Math.floor(rand() * 5);
    const cols = 1 + Math.floor(rand() * 5);
    const limit = 0.5;
    const cost = Array.from({ length: rows }, () =>
      Array.from({ length: cols }, () => (rand() < 0.15 ? Number.NaN : rand())),
    );
    const flat = Float64Array.from(cost.flat());
    const colForRow = new Int32Array(rows);
    const matches = solveGated(solver, flat, rows, cols, limit, new Float64Array(rows * cols), colForRow);
    let total = 0;
    let count = 0;
    const seen = new Set<number>();
    for (let r = 0; r < rows; r++) {
      const c = colForRow[r];
      if (c < 0) continue;
      assert.ok(
        cost[r][c] <= limit,
        `trial ${trial}: pair (${r}, ${c}) with cost ${cost[r][c]} above the limit`,
      );
      assert.ok(!seen.has(c));
      seen.add(c);
      total += cost[r][c];
      count++;
    }
    assert.equal(matches, count);
    const objective = total + ((rows - count + cols - count) * limit) / 2;
    const best = bruteForceGated(cost, limit);
    assert.ok(Math.abs(objective - best) < 1e-9, `trial ${trial}: ${objective} ≠ ${best}`);
  }
});

test("IoU of x1,y1,x2,y2 boxes", () => {
  assert.equal(boxIou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
  assert.equal(boxIou([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150);
  assert.equal(boxIou([0, 0, 10, 10], [10, 0, 20, 10]), 0, "touching boxes do not overlap");
  assert.equal(boxIou([0, 0, 10, 10], [2, 2, 4, 4]), 4 / 100);
  const out = new Float64Array(4);
  iouMatrix([0, 0, 10, 10, 100, 100, 110, 110], [1, 0], 2, [0, 0, 10, 10, 5, 0, 15, 10], [0, 1], 2, out);
  assert.deepEqual([...out], [0, 0, 1, 50 / 150]);
});
