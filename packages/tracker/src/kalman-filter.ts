// Constant-velocity Kalman filter for image boxes, as in SORT/DeepSORT/ByteTrack.
// State (8): centre x, centre y, aspect a = w/h, height h, and their velocities (per frame).
// Process and measurement noise scale with the box height, so the filter behaves the same for
// near (large) and far (small) objects. All operations work in place on Float64Arrays.

export const STATE_SIZE = 8;
export const MEASUREMENT_SIZE = 4;

export interface KalmanNoise {
  /** Position noise as a fraction of the box height (ByteTrack: 1/20). */
  positionWeight: number;
  /** Velocity noise as a fraction of the box height (ByteTrack: 1/160). */
  velocityWeight: number;
}

export const DEFAULT_KALMAN_NOISE: Readonly<KalmanNoise> = Object.freeze({
  positionWeight: 1 / 20,
  velocityWeight: 1 / 160,
});

/** Converts [x1, y1, x2, y2] to the measurement [cx, cy, w/h, h]. */
export function boxToMeasurement(box: ArrayLike<number>, offset: number, out: Float64Array): void {
  const w = box[offset + 2] - box[offset];
  const h = box[offset + 3] - box[offset + 1];
  out[0] = box[offset] + w / 2;
  out[1] = box[offset + 1] + h / 2;
  out[2] = w / h;
  out[3] = h;
}

/** Converts the position part of a state mean to [x1, y1, x2, y2]. */
export function meanToBox(mean: Float64Array, out: Float64Array | number[], offset = 0): void {
  const h = mean[3];
  const w = mean[2] * h;
  out[offset] = mean[0] - w / 2;
  out[offset + 1] = mean[1] - h / 2;
  out[offset + 2] = mean[0] + w / 2;
  out[offset + 3] = mean[1] + h / 2;
}

export class KalmanFilter {
  private readonly wp: number;
  private readonly wv: number;
  // Scratch for update(): innovation covariance S (4×4), its inverse, gain K (8×4), P·Hᵀ (8×4).
  private readonly s = new Float64Array(16);
  private readonly sInv = new Float64Array(16);
  private readonly gain = new Float64Array(32);
  private readonly pht = new Float64Array(32);
  private readonly innovation = new Float64Array(4);
  private readonly choleskyScratch = new Float64Array(32);

  constructor(noise: KalmanNoise = DEFAULT_KALMAN_NOISE) {
    this.wp = noise.positionWeight;
    this.wv = noise.velocityWeight;
  }

  /** Track birth: mean = [z, 0], diagonal covariance with wide velocity uncertainty. */
  initiate(measurement: ArrayLike<number>, mean: Float64Array, cov: Float64Array): void {
    const h = measurement[3];
    for (let k = 0; k < 4; k++) {
      mean[k] = measurement[k];
      mean[k + 4] = 0;
    }
    const p = 2 * this.wp * h;
    const v = 10 * this.wv * h;
    cov.fill(0);
    cov[0] = p * p;
    cov[9] = p * p;
    cov[18] = 1e-2 * 1e-2;
    cov[27] = p * p;
    cov[36] = v * v;
    cov[45] = v * v;
    cov[54] = 1e-5 * 1e-5;
    cov[63] = v * v;
  }

  /**
   * One step of x' = F x, P' = F P Fᵀ + Q with F = [[I, I], [0, I]]. Using the block structure,
   * with P = [[A, B], [C, D]]: F P Fᵀ = [[A + B + C + D, B + D], [C + D, D]].
   */
  predict(mean: Float64Array, cov: Float64Array): void {
    const h = mean[3];
    const p = this.wp * h;
    const v = this.wv * h;
    for (let k = 0; k < 4; k++) mean[k] += mean[k + 4];
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        const a = cov[r * 8 + c];
        const b = cov[r * 8 + c + 4];
        const cc = cov[(r + 4) * 8 + c];
        const d = cov[(r + 4) * 8 + c + 4];
        cov[r * 8 + c] = a + b + cc + d;
        cov[r * 8 + c + 4] = b + d;
        cov[(r + 4) * 8 + c] = cc + d;
      }
    }
    cov[0] += p * p;
    cov[9] += p * p;
    cov[18] += 1e-2 * 1e-2;
    cov[27] += p * p;
    cov[36] += v * v;
    cov[45] += v * v;
    cov[54] += 1e-5 * 1e-5;
    cov[63] += v * v;
  }

  /**
   * Measurement update with z = [cx, cy, a, h]: S = H P Hᵀ + R, K = P Hᵀ S⁻¹,
   * x += K (z − H x), P −= K S Kᵀ (= K (P Hᵀ)ᵀ).
   */
  update(mean: Float64Array, cov: Float64Array, measurement: ArrayLike<number>): void {
    const { s, sInv, gain, pht, innovation } = this;
    const h = mean[3];
    const p = this.wp * h;
    // H selects the first four state entries, so P Hᵀ is the first four columns of P.
    for (let r = 0; r < 8; r++) for (let c = 0; c < 4; c++) pht[r * 4 + c] = cov[r * 8 + c];
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) s[r * 4 + c] = cov[r * 8 + c];
    s[0] += p * p;
    s[5] += p * p;
    s[10] += 1e-1 * 1e-1;
    s[15] += p * p;
    invertSymmetric4(s, sInv, this.choleskyScratch);
    for (let r = 0; r < 8; r++) {
      for (let c = 0; c < 4; c++) {
        let acc = 0;
        for (let k = 0; k < 4; k++) acc += pht[r * 4 + k] * sInv[k * 4 + c];
        gain[r * 4 + c] = acc;
      }
    }
    for (let k = 0; k < 4; k++) innovation[k] = measurement[k] - mean[k];
    for (let r = 0; r < 8; r++) {
      let acc = 0;
      for (let k = 0; k < 4; k++) acc += gain[r * 4 + k] * innovation[k];
      mean[r] += acc;
    }
    for (let r = 0; r < 8; r++) {
      for (let c = 0; c < 8; c++) {
        let acc = 0;
        for (let k = 0; k < 4; k++) acc += gain[r * 4 + k] * pht[c * 4 + k];
        cov[r * 8 + c] -= acc;
      }
    }
  }
}

/**
 * Inverse of a symmetric positive-definite 4×4 matrix through its Cholesky factor L (S = L Lᵀ,
 * S⁻¹ = L⁻ᵀ L⁻¹). Throws if S is not positive definite (a diverged filter).
 */
export function invertSymmetric4(s: Float64Array, out: Float64Array, scratch = new Float64Array(32)): void {
  // scratch[0..15] holds L, scratch[16..31] holds L⁻¹ (both lower triangular).
  const L = 0;
  const LI = 16;
  scratch.fill(0);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j <= i; j++) {
      let acc = s[i * 4 + j];
      for (let k = 0; k < j; k++) acc -= scratch[L + i * 4 + k] * scratch[L + j * 4 + k];
      if (i === j) {
        if (!(acc > 0)) throw new RangeError("Kalman innovation covariance is not positive definite");
        scratch[L + i * 4 + i] = Math.sqrt(acc);
      } else {
        scratch[L + i * 4 + j] = acc / scratch[L + j * 4 + j];
      }
    }
  }
  for (let i = 0; i < 4; i++) {
    scratch[LI + i * 4 + i] = 1 / scratch[L + i * 4 + i];
    for (let j = 0; j < i; j++) {
      let acc = 0;
      for (let k = j; k < i; k++) acc -= scratch[L + i * 4 + k] * scratch[LI + k * 4 + j];
      scratch[LI + i * 4 + j] = acc / scratch[L + i * 4 + i];
    }
  }
  // S⁻¹ = (L⁻¹)ᵀ L⁻¹.
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let acc = 0;
      for (let k = Math.max(r, c); k < 4; k++) acc += scratch[LI + k * 4 + r] * scratch[LI + k * 4 + c];
      out[r * 4 + c] = acc;
    }
  }
}
