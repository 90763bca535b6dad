// Constant-velocity Kalman filter for image boxes (SORT, DeepSORT, ByteTrack).
// State (8): four box parameters and their velocities per frame. Two parameterisations:
//  - xyah (ByteTrack/DeepSORT): centre x, centre y, aspect w/h, height; noise proportional to the
//    height, so near (large) and far (small) objects behave alike;
//  - xysr (SORT): centre x, centre y, area s = w·h, ratio r = w/h; fixed noise, no velocity for r.
// All operations work in place on Float64Arrays (mean: 8, covariance: 8×8 row-major).

export const STATE_SIZE = 8;
export const MEASUREMENT_SIZE = 4;

/** How boxes map to the measurement, and the noise the filter assumes. */
export interface BoxParameterisation {
  readonly name: "xyah" | "xysr";
  /** [x1, y1, x2, y2] at box[offset…] → measurement z (4 numbers). */
  toMeasurement(box: ArrayLike<number>, offset: number, out: Float64Array): void;
  /** State mean → [x1, y1, x2, y2] at out[offset…]. */
  toBox(mean: Float64Array, out: Float64Array | number[], offset: number): void;
  /** Diagonal of the covariance of a new track with measurement z. */
  initialVariance(z: ArrayLike<number>, out: Float64Array): void;
  /** Diagonal of the process noise Q for one step from `mean`. */
  processVariance(mean: Float64Array, out: Float64Array): void;
  /** Diagonal of the measurement noise R at `mean`. */
  measurementVariance(mean: Float64Array, out: Float64Array): void;
  /** Adjusts the mean before a prediction; `lost`: the track had no detection in the last frame. */
  beforePredict(mean: Float64Array, lost: boolean): void;
}

/** Position / velocity noise as fractions of the box height (ByteTrack: 1/20, 1/160). */
const WP = 1 / 20;
const WV = 1 / 160;

/** Converts [x1, y1, x2, y2] to the measurement [cx, cy, w/h, h]. */
export function boxToMeasurement(box: ArrayLike<number>, offset: number, out: Float64Array): void {
  const w = box[offset + 2] - box[offset];
  const h = box[offset + 3] - box[offset + 1];
  out[0] = box[offset] + w / 2;
  out[1] = box[offset + 1] + h / 2;
  out[2] = w / h;
  out[3] = h;
}

/** Converts the position part of an xyah state mean to [x1, y1, x2, y2]. */
export function meanToBox(mean: Float64Array, out: Float64Array | number[], offset = 0): void {
  const h = mean[3];
  const w = mean[2] * h;
  out[offset] = mean[0] - w / 2;
  out[offset + 1] = mean[1] - h / 2;
  out[offset + 2] = mean[0] + w / 2;
  out[offset + 3] = mean[1] + h / 2;
}

const setDiagonal = (out: Float64Array, values: readonly number[]) => {
  for (let k = 0; k < values.length; k++) out[k] = values[k];
};

/** ByteTrack's filter: [cx, cy, a, h], noise scaled by the height. */
export const XYAH: BoxParameterisation = Object.freeze({
  name: "xyah" as const,
  toMeasurement: boxToMeasurement,
  toBox: meanToBox,
  initialVariance(z: ArrayLike<number>, out: Float64Array) {
    const p = 2 * WP * z[3];
    const v = 10 * WV * z[3];
    setDiagonal(out, [p * p, p * p, 1e-2 * 1e-2, p * p, v * v, v * v, 1e-5 * 1e-5, v * v]);
  },
  processVariance(mean: Float64Array, out: Float64Array) {
    const p = WP * mean[3];
    const v = WV * mean[3];
    setDiagonal(out, [p * p, p * p, 1e-2 * 1e-2, p * p, v * v, v * v, 1e-5 * 1e-5, v * v]);
  },
  measurementVariance(mean: Float64Array, out: Float64Array) {
    const p = WP * mean[3];
    setDiagonal(out, [p * p, p * p, 1e-1 * 1e-1, p * p]);
  },
  beforePredict(mean: Float64Array, lost: boolean) {
    // ByteTrack freezes the height velocity of a lost track.
    if (lost) mean[7] = 0;
  },
});

/** SORT's filter: [cx, cy, s = w·h, r = w/h]; r has no velocity (state 7 stays 0). */
export const XYSR: BoxParameterisation = Object.freeze({
  name: "xysr" as const,
  toMeasurement(box: ArrayLike<number>, offset: number, out: Float64Array) {
    const w = box[offset + 2] - box[offset];
    const h = box[offset + 3] - box[offset + 1];
    out[0] = box[offset] + w / 2;
    out[1] = box[offset + 1] + h / 2;
    out[2] = w * h;
    out[3] = w / h;
  },
  toBox(mean: Float64Array, out: Float64Array | number[], offset: number) {
    const w = Math.sqrt(mean[2] * mean[3]);
    const h = mean[2] / w;
    out[offset] = mean[0] - w / 2;
    out[offset + 1] = mean[1] - h / 2;
    out[offset + 2] = mean[0] + w / 2;
    out[offset + 3] = mean[1] + h / 2;
  },
  initialVariance(_z: ArrayLike<number>, out: Float64Array) {
    // filterpy defaults (P = I) scaled as in SORT: P[4:, 4:] *= 1000, P *= 10.
    setDiagonal(out, [10, 10, 10, 10, 1e4, 1e4, 1e4, 0]);
  },
  processVariance(_mean: Float64Array, out: Float64Array) {
    setDiagonal(out, [1, 1, 1, 1, 1e-2, 1e-2, 1e-4, 0]);
  },
  measurementVariance(_mean: Float64Array, out: Float64Array) {
    setDiagonal(out, [1, 1, 10, 10]);
  },
  beforePredict(mean: Float64Array) {
    // SORT: an area about to become non-positive stops shrinking.
    if (mean[6] + mean[2] <= 0) mean[6] = 0;
  },
});

export class KalmanFilter {
  // Scratch: S (4×4), S⁻¹, gain K (8×4), P·Hᵀ (8×4), innovation, noise diagonals.
  private readonly s = new Float64Array(16);
  private readonly sInv = new Float64Array(16);
  private readonly gain = new Float64Array(32);
  private readonly pht = new Float64Array(32);
  private readonly innovation = new Float64Array(4);
  private readonly choleskyScratch = new Float64Array(32);
  private readonly variance = new Float64Array(8);

  constructor(readonly parameterisation: BoxParameterisation = XYAH) {}

  /** Track birth: mean = [z, 0], diagonal covariance with wide velocity uncertainty. */
  initiate(measurement: ArrayLike<number>, mean: Float64Array, cov: Float64Array): void {
    for (let k = 0; k < 4; k++) {
      mean[k] = measurement[k];
      mean[k + 4] = 0;
    }
    this.parameterisation.initialVariance(measurement, this.variance);
    cov.fill(0);
    for (let k = 0; k < 8; k++) cov[k * 9] = this.variance[k];
  }

  /**
   * One step of x' = F x, P' = F P Fᵀ + Q with F = [[I, I], [0, I]]. Using the block structure,
   * with P = [[A, B], [C, D]]: F P Fᵀ = [[A + B + C + D, B + D], [C + D, D]]. (For xysr the
   * eighth state has zero mean and variance, so the same F leaves r without velocity.)
   */
  predict(mean: Float64Array, cov: Float64Array, lost = false): void {
    this.parameterisation.beforePredict(mean, lost);
    // Q is evaluated at the state before the step (as DeepSORT/ByteTrack do).
    this.parameterisation.processVariance(mean, this.variance);
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
    for (let k = 0; k < 8; k++) cov[k * 9] += this.variance[k];
  }

  /**
   * Measurement update with z in the parameterisation's form: S = H P Hᵀ + R, K = P Hᵀ S⁻¹,
   * x += K (z − H x), P −= K S Kᵀ (= K (P Hᵀ)ᵀ).
   */
  update(mean: Float64Array, cov: Float64Array, measurement: ArrayLike<number>): void {
    const { s, sInv, gain, pht, innovation } = this;
    // H selects the first four state entries, so P Hᵀ is the first four columns of P.
    for (let r = 0; r < 8; r++) for (let c = 0; c < 4; c++) pht[r * 4 + c] = cov[r * 8 + c];
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) s[r * 4 + c] = cov[r * 8 + c];
    this.parameterisation.measurementVariance(mean, this.variance);
    for (let k = 0; k < 4; k++) s[k * 5] += this.variance[k];
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
