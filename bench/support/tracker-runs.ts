// Shared by the tracker benchmarks: the trackers compared, one pass of a tracker over a sequence's
// frames as MOT result rows, and the offline refinement of such rows.

import type { ResultRow } from "@vdet/mot-eval";
import type { Detections } from "@vdet/protocol";
import { refineTracks, Tracker } from "@vdet/tracker";

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

/** The offline refinement (`--refine`) of result rows at the given frame rate. */
export function refineRows(rows: readonly ResultRow[], fps: number): ResultRow[] {
  return refineTracks(
    rows.map((r) => ({ frame: r.frame, id: r.id, box: r.box, score: r.conf })),
    { fps },
  ).map((r) => ({ frame: r.frame, id: r.id, box: r.box, conf: r.score }));
}
