// Per-class hard non-maximum suppression with torchvision `batched_nms` semantics: boxes of one class suppress
// each other greedily in descending score order when IoU > threshold; classes never interact. IoU is
// inter / (areaA + areaB − inter) with area = (x2 − x1)(y2 − y1), evaluated in float32 like torchvision's kernel.
// Typed arrays only: candidates are ordered once (radix sort on the score bits), then each one is checked
// against the kept boxes of its own class, stopping when maxDetections are kept.

import { MAX_DETECTIONS, NMS_IOU_THRESHOLD } from "./config.ts";

export interface NmsOptions {
  /** Suppress a box whose IoU with a kept, higher-scoring box of its class is above this (default 0.5). */
  iouThreshold?: number;
  /** Keep at most this many boxes, the highest-scoring survivors (default 100). */
  maxDetections?: number;
  /** Ignore candidates scoring below this (default: none). NaN scores are always ignored. */
  scoreThreshold?: number;
}

const fround = Math.fround;

/**
 * Returns the indices of the kept boxes, highest score first (equal scores: lower index first).
 * `boxes` holds N × [x1, y1, x2, y2]; `scores` and `classes` hold N values.
 */
export function batchedNms(
  boxes: Float32Array,
  scores: Float32Array,
  classes: Int32Array,
  opts: NmsOptions = {},
): Int32Array {
  const n = scores.length;
  if (boxes.length !== n * 4 || classes.length !== n) {
    throw new RangeError(
      `NMS input sizes disagree: ${n} scores, ${classes.length} classes, ${boxes.length / 4} boxes (×4 values)`,
    );
  }
  const iouThreshold = opts.iouThreshold ?? NMS_IOU_THRESHOLD;
  const maxDetections = opts.maxDetections ?? MAX_DETECTIONS;
  if (!Number.isFinite(iouThreshold))
    throw new RangeError(`iouThreshold must be a number, got ${iouThreshold}`);
  if (
    !(Number.isInteger(maxDetections) && maxDetections >= 0) &&
    maxDetections !== Number.POSITIVE_INFINITY
  ) {
    throw new RangeError(`maxDetections must be a non-negative integer, got ${maxDetections}`);
  }

  const order = candidatesByScore(scores, opts.scoreThreshold ?? Number.NEGATIVE_INFINITY);
  const slot = classSlots(classes, order);
  const capacity = Math.min(maxDetections, order.length);
  const keep = new Int32Array(capacity);
  // Kept boxes packed for the inner loop (float32, as torchvision stores them), chained per class:
  // lastKept[class slot] is the newest kept box of that class, previousKept[k] the one kept before k.
  const keptBox = new Float32Array(capacity * 4);
  const keptArea = new Float32Array(capacity);
  const previousKept = new Int32Array(capacity);
  const lastKept = new Int32Array(slot.count).fill(-1);
  let kept = 0;

  for (let o = 0; o < order.length && kept < capacity; o++) {
    const i = order[o];
    const x1 = boxes[i * 4];
    const y1 = boxes[i * 4 + 1];
    const x2 = boxes[i * 4 + 2];
    const y2 = boxes[i * 4 + 3];
    const area = fround(fround(x2 - x1) * fround(y2 - y1));
    const s = slot.of[o];
    let k = lastKept[s];
    for (; k >= 0; k = previousKept[k]) {
      const w = Math.max(0, fround(Math.min(x2, keptBox[k * 4 + 2]) - Math.max(x1, keptBox[k * 4])));
      const h = Math.max(0, fround(Math.min(y2, keptBox[k * 4 + 3]) - Math.max(y1, keptBox[k * 4 + 1])));
      const inter = fround(w * h);
      // 0 / 0 (two empty boxes) is NaN, and NaN > threshold is false: empty boxes never suppress.
      if (fround(inter / fround(fround(keptArea[k] + area) - inter)) > iouThreshold) break;
    }
    if (k >= 0) continue; // suppressed by kept box k
    keep[kept] = i;
    keptBox[kept * 4] = x1;
    keptBox[kept * 4 + 1] = y1;
    keptBox[kept * 4 + 2] = x2;
    keptBox[kept * 4 + 3] = y2;
    keptArea[kept] = area;
    previousKept[kept] = lastKept[s];
    lastKept[s] = kept;
    kept++;
  }
  return kept === capacity ? keep : keep.slice(0, kept);
}

/** Dense class numbers 0…count−1 for the ordered candidates (`of[o]` for `order[o]`). */
function classSlots(classes: Int32Array, order: Int32Array): { of: Int32Array; count: number } {
  const of = new Int32Array(order.length);
  let min = 0x7fffffff;
  let max = -0x80000000;
  for (let o = 0; o < order.length; o++) {
    const c = classes[order[o]];
    if (c < min) min = c;
    if (c > max) max = c;
  }
  if (order.length > 0 && max - min < 1 << 16) {
    for (let o = 0; o < order.length; o++) of[o] = classes[order[o]] - min;
    return { of, count: max - min + 1 };
  }
  const dense = new Map<number, number>(); // class ids spread too widely for a table
  for (let o = 0; o < order.length; o++) {
    const c = classes[order[o]];
    let s = dense.get(c);
    if (s === undefined) {
      s = dense.size;
      dense.set(c, s);
    }
    of[o] = s;
  }
  return { of, count: dense.size };
}

const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;

/**
 * Indices of the scores ≥ threshold (NaN excluded), by descending score, ties by ascending index.
 * Scores that are already non-increasing (the deploy graph's top-k output) need one pass; otherwise a stable
 * LSD radix sort on the float32 bit patterns, three passes of 11 bits.
 */
function candidatesByScore(scores: Float32Array, threshold: number): Int32Array {
  const n = scores.length;
  let count = 0;
  let sorted = true;
  let previous = Number.POSITIVE_INFINITY;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const score = scores[i];
    if (!(score >= threshold)) continue; // also drops NaN
    if (score > previous) sorted = false;
    previous = score;
    order[count++] = i;
  }
  if (sorted) return count === n ? order : order.slice(0, count);

  // Key: ascending key = descending score. Positive floats order like their bits, negative ones reversed.
  const bits = new Uint32Array(scores.buffer, scores.byteOffset, n);
  let keys = new Uint32Array(count);
  for (let j = 0; j < count; j++) {
    let b = bits[order[j]];
    if (b === 0x80000000) b = 0; // −0 ranks with +0
    const ascending = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
    keys[j] = ~ascending >>> 0;
  }
  let indices = order.subarray(0, count);
  let keysOut = new Uint32Array(count);
  let indicesOut = new Int32Array(count);
  const counts = new Int32Array(RADIX);
  for (let shift = 0; shift < 32; shift += RADIX_BITS) {
    counts.fill(0);
    for (let j = 0; j < count; j++) counts[(keys[j] >>> shift) & (RADIX - 1)]++;
    if (counts[(keys[0] >>> shift) & (RADIX - 1)] === count) continue; // every key has this digit
    for (let d = 0, total = 0; d < RADIX; d++) {
      const c = counts[d];
      counts[d] = total;
      total += c;
    }
    for (let j = 0; j < count; j++) {
      const to = counts[(keys[j] >>> shift) & (RADIX - 1)]++;
      keysOut[to] = keys[j];
      indicesOut[to] = indices[j];
    }
    [keys, keysOut] = [keysOut, keys];
    [indices, indicesOut] = [indicesOut, indices];
  }
  return indices.slice();
}
