import assert from "node:assert/strict";
import { test } from "node:test";
import { boxToMeasurement, invertSymmetric4, KalmanFilter, meanToBox, XYSR } from "./kalman-filter.ts";

const close = (actual: number, expected: number, what: string, tol = 1e-9) =>
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} ≠ ${expected}`,
  );

const at = (cov: Float64Array, r: number, c: number) => cov[r * 8 + c];

/** A filter's state initiated from the box x 100, y 200, aspect 0.5, height 80. */
function initiated() {
  const kf = new KalmanFilter();
  const mean = new Float64Array(8);
  const cov = new Float64Array(64);
  kf.initiate([100, 200, 0.5, 80], mean, cov);
  return { kf, mean, cov };
}

test("box ↔ measurement conversion", () => {
  const m = new Float64Array(4);
  boxToMeasurement([10, 20, 50, 100], 0, m);
  assert.deepEqual([...m], [30, 60, 0.5, 80]);
  const box = new Float64Array(4);
  meanToBox(Float64Array.from([30, 60, 0.5, 80, 0, 0, 0, 0]), box);
  assert.deepEqual([...box], [10, 20, 50, 100]);
});

test("initiate: mean = [z, 0], covariance from the box height (h = 80)", () => {
  const { mean, cov } = initiated();
  assert.deepEqual([...mean], [100, 200, 0.5, 80, 0, 0, 0, 0]);
  // position std 2·h/20 = 8 → 64; velocity std 10·h/160 = 5 → 25; aspect 1e-2 / 1e-5.
  const diag = [64, 64, 1e-4, 64, 25, 25, 1e-10, 25];
  for (let k = 0; k < 8; k++) close(at(cov, k, k), diag[k], `P[${k}][${k}]`);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) if (r !== c) assert.equal(at(cov, r, c), 0);
});

test("predict: x += v, P = F P Fᵀ + Q (hand-computed)", () => {
  const { kf, mean, cov } = initiated();
  kf.predict(mean, cov);
  assert.deepEqual([...mean], [100, 200, 0.5, 80, 0, 0, 0, 0]);
  // x: P_xx = 64 + 25 + (80/20)² = 105; P_x,vx = 25; P_vx = 25 + (80/160)² = 25.25.
  close(at(cov, 0, 0), 105, "P_xx");
  close(at(cov, 0, 4), 25, "P_x,vx");
  close(at(cov, 4, 0), 25, "P_vx,x");
  close(at(cov, 4, 4), 25.25, "P_vx,vx");
  close(at(cov, 3, 3), 105, "P_hh");
  close(at(cov, 3, 7), 25, "P_h,vh");
  // aspect: 1e-4 + 1e-10 + (1e-2)²
  close(at(cov, 2, 2), 2e-4 + 1e-10, "P_aa", 1e-12);
  close(at(cov, 6, 6), 2e-10, "P_va", 1e-12);
  assert.equal(at(cov, 0, 1), 0);

  // With a velocity the mean moves; Q uses the height before the step.
  const m2 = Float64Array.from([0, 0, 1, 10, 1, 2, 0, 0.5]);
  const c2 = new Float64Array(64);
  kf.predict(m2, c2);
  assert.deepEqual([...m2], [1, 2, 1, 10.5, 1, 2, 0, 0.5]);
  close(at(c2, 0, 0), 0.25, "Q_xx = (10/20)²");
  close(at(c2, 4, 4), (10 / 160) ** 2, "Q_vx");
});

test("update: Kalman gain and posterior (hand-computed, coordinates decouple)", () => {
  const { kf, mean, cov } = initiated();
  kf.predict(mean, cov);
  kf.update(mean, cov, [110, 200, 0.5, 80]);
  // S_xx = 105 + (80/20)² = 121, K_x = 105/121, K_vx = 25/121, innovation 10.
  close(mean[0], 100 + 1050 / 121, "x");
  close(mean[4], 250 / 121, "vx");
  close(mean[1], 200, "y");
  close(mean[3], 80, "h");
  // P' = P − K S Kᵀ: P_xx = 105·16/121, P_x,vx = 25·16/121, P_vx = 25.25 − 625/121.
  close(at(cov, 0, 0), 1680 / 121, "P_xx");
  close(at(cov, 0, 4), 400 / 121, "P_x,vx");
  close(at(cov, 4, 0), 400 / 121, "P_vx,x");
  close(at(cov, 4, 4), 25.25 - 625 / 121, "P_vx,vx");
  // aspect: S = 2e-4 + 1e-10 + 1e-2, gain = P_aa / S.
  const paa = 2e-4 + 1e-10;
  close(at(cov, 2, 2), paa - (paa * paa) / (paa + 1e-2), "P_aa", 1e-12);
});

test("invertSymmetric4 inverts an SPD matrix and rejects a singular one", () => {
  const s = Float64Array.from([4, 1, 0.5, 0, 1, 3, 0.2, 0.1, 0.5, 0.2, 2, 0.3, 0, 0.1, 0.3, 1]);
  const inv = new Float64Array(16);
  invertSymmetric4(s, inv);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let acc = 0;
      for (let k = 0; k < 4; k++) acc += s[r * 4 + k] * inv[k * 4 + c];
      close(acc, r === c ? 1 : 0, `(S·S⁻¹)[${r}][${c}]`, 1e-12);
    }
  }
  assert.throws(() => invertSymmetric4(new Float64Array(16), inv), /not positive definite/);
});

test("xysr (SORT): box ↔ [cx, cy, area, ratio] and SORT's fixed noise (hand-computed)", () => {
  const z = new Float64Array(4);
  XYSR.toMeasurement([10, 20, 50, 100], 0, z);
  assert.deepEqual([...z], [30, 60, 3200, 0.5]);
  const box = new Float64Array(4);
  XYSR.toBox(Float64Array.from([30, 60, 3200, 0.5, 0, 0, 0, 0]), box, 0);
  assert.deepEqual([...box], [10, 20, 50, 100]);

  const kf = new KalmanFilter(XYSR);
  const mean = new Float64Array(8);
  const cov = new Float64Array(64);
  kf.initiate([100, 200, 1000, 0.5], mean, cov);
  // P0 = 10·diag(1, 1, 1, 1, 1000, 1000, 1000); the eighth state is unused.
  assert.deepEqual(
    Array.from({ length: 8 }, (_, k) => at(cov, k, k)),
    [10, 10, 10, 10, 1e4, 1e4, 1e4, 0],
  );
  kf.predict(mean, cov);
  // Q = diag(1, 1, 1, 1, 0.01, 0.01, 1e-4): P_xx = 10 + 1e4 + 1, P_x,vx = 1e4, P_vx = 1e4 + 0.01, P_rr = 11.
  close(at(cov, 0, 0), 10011, "P_xx");
  close(at(cov, 0, 4), 1e4, "P_x,vx");
  close(at(cov, 4, 4), 1e4 + 0.01, "P_vx");
  close(at(cov, 2, 2), 10011, "P_ss");
  close(at(cov, 3, 3), 11, "P_rr (no velocity)");
  assert.equal(at(cov, 3, 7), 0);
  kf.update(mean, cov, [110, 200, 1000, 0.5]);
  // R = diag(1, 1, 10, 10): S_xx = 10012, K_x = 10011/10012, K_vx = 1e4/10012.
  close(mean[0], 100 + (10 * 10011) / 10012, "x");
  close(mean[4], (10 * 1e4) / 10012, "vx");
  close(at(cov, 0, 0), 10011 - (10011 * 10011) / 10012, "P_xx after update");
  close(at(cov, 3, 3), 11 - (11 * 11) / 21, "P_rr after update");
  assert.equal(mean[7], 0);

  // SORT stops an area from shrinking through zero.
  const shrinking = Float64Array.from([0, 0, 10, 1, 0, 0, -20, 0]);
  kf.predict(shrinking, new Float64Array(64));
  assert.equal(shrinking[2], 10);
  assert.equal(shrinking[6], 0);
});
