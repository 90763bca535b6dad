// Shared by the tracker benchmarks: the trackers compared, one pass of a tracker over a sequence's
// frames as MOT result rows, and the offline refinement of such rows.

import { mulberry32 } from "@vdet/effdet";
import { type MotRows, parseMotText, type ResultRow } from "@vdet/mot-eval";
import type { Detections } from "@vdet/protocol";
import { type RefineOptions, refineTracks, Tracker } from "@vdet/tracker";

export type TrackerVariant = "vdet" | "sort";

export function makeTracker(variant: TrackerVariant, fps: number): Tracker {
  return variant === "vdet" ? new Tracker({ fps }) : Tracker.sortBaseline({ fps });
}

/** Runs a fresh tracker over the frames (index 0 = frame 1) and returns its MOT result rows. */
export function trackRows(tracker: Tracker, frames: readonly Detections[]): ResultRow[] {
  const rows: ResultRow[] = [];
  for (let f = 0; f < frames.length; f++) {
    for (const t of tracker.update(frames[f]))
      rows.push({ frame: f + 1, id: t.trackId, box: t.box, conf: t.score });
  }
  return rows;
}

/** The offline refinement (`--refine`) of result rows at the given frame rate (other options: the defaults). */
export function refineRows(
  rows: readonly ResultRow[],
  fps: number,
  options: Partial<RefineOptions> = {},
): ResultRow[] {
  return refineTracks(
    rows.map((r) => ({ frame: r.frame, id: r.id, box: r.box, score: r.conf })),
    { ...options, fps },
  ).map((r) => ({ frame: r.frame, id: r.id, box: r.box, conf: r.score }));
}

/**
 * The first frames a job sampling every stride-th frame can start at (offsets 0 … stride − 1): the sampled
 * figures are pooled over all of them, so every frame of a sequence counts once at every stride.
 */
export function strideOffsets(stride: number): number[] {
  return Array.from({ length: stride }, (_, k) => k);
}

/** A seeded PRNG in [0, 1) so every run sees the same detections. */
export function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

export function synthesiseDetections(
  gt: MotRows,
  frames: number,
  width: number,
  height: number,
  seed: number,
): MotRows {
  const random = prng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const lines: string[] = [];
  for (let k = 0; k < gt.count; k++) {
    if (gt.classId[k] !== 1 || gt.conf[k] === 0) continue;
    const visibility = gt.visibility[k];
    if (random() > 0.15 + 0.8 * visibility) continue;
    const [x, y, w, h] = gt.box.subarray(k * 4, k * 4 + 4);
    const jitter = 0.04 * h;
    const x1 = x + 0.5 * jitter * gauss();
    const y1 = y + jitter * gauss();
    const x2 = x + w + 0.5 * jitter * gauss();
    const y2 = y + h + jitter * gauss();
    if (x2 - x1 < 2 || y2 - y1 < 2) continue;
    const score = 0.3 + 0.7 * visibility * (0.6 + 0.4 * random());
    lines.push(`${gt.frame[k]},-1,${x1},${y1},${x2 - x1},${y2 - y1},${score}`);
  }
  for (let f = 1; f <= frames; f++) {
    const falsePositives = Math.floor(random() * 3);
    for (let i = 0; i < falsePositives; i++) {
      const w = 20 + random() * 80;
      lines.push(
        `${f},-1,${random() * (width - w)},${random() * (height - 2.5 * w)},${w},${2.5 * w},${0.3 + 0.5 * random()}`,
      );
    }
  }
  return parseMotText(lines.join("\n"), { kind: "det", source: "synthetic" });
}

const SAMPLING_METRICS = ["hota", "idf1", "mota"] as const;
type SamplingMetric = (typeof SAMPLING_METRICS)[number];

/** How "vdet degrades less than SORT when sampled" is decided; printed in the benchmarks' JSON. */
export const DEGRADATION_RULE =
  "absolute loss per metric against the same tracker at stride 1 (combined HOTA, IDF1, MOTA as fractions: " +
  "value at stride 1 minus value at stride s; negative = gain); true when vdet's loss < SORT's loss, " +
  "strictly, for each of HOTA, IDF1 and MOTA at each sub-sampled stride";

/**
 * Loss of each tracker against its own stride-1 figures, per stride and metric, and whether vdet
 * loses less than SORT by {@link DEGRADATION_RULE}. `sampled[stride][variant]` holds combined figures.
 */
export function samplingDegradation(
  sampled: Record<string, Record<string, Record<string, number>>>,
  strides: readonly number[],
) {
  const round = (v: number) => Number(v.toFixed(4));
  const degradation: Record<string, Record<string, Record<SamplingMetric, number>>> = {};
  const degradesLessAt: Record<string, Record<SamplingMetric, boolean>> = {};
  for (const stride of strides.filter((s) => s !== 1)) {
    degradation[stride] = {};
    for (const v of ["vdet", "sort"]) {
      degradation[stride][v] = Object.fromEntries(
        SAMPLING_METRICS.map((k) => [k, round(sampled[1][v][k] - sampled[stride][v][k])]),
      ) as Record<SamplingMetric, number>;
    }
    degradesLessAt[stride] = Object.fromEntries(
      SAMPLING_METRICS.map((k) => [k, degradation[stride].vdet[k] < degradation[stride].sort[k]]),
    ) as Record<SamplingMetric, boolean>;
  }
  const degradesLess = Object.values(degradesLessAt).every((m) => SAMPLING_METRICS.every((k) => m[k]));
  return { degradation, degradationRule: DEGRADATION_RULE, degradesLessAt, degradesLess };
}
