// Conversions between MOTChallenge rows and the per-frame arrays a tracker consumes / produces.

import { allocateDetections, type Detections } from "@vdet/protocol";
import type { MotRows, ResultRow } from "./mot-format.ts";

/**
 * Groups detection rows into frames 1 … numFrames (index 0 = frame 1); frames without rows are
 * empty. numFrames defaults to the last frame that has a detection.
 */
export function detectionFramesFromRows(rows: MotRows, numFrames?: number): Detections<Float32Array>[] {
  let last = 0;
  for (let r = 0; r < rows.count; r++) last = Math.max(last, rows.frame[r]);
  const n = numFrames ?? last;
  const perFrame = new Int32Array(n + 1);
  for (let r = 0; r < rows.count; r++) if (rows.frame[r] <= n) perFrame[rows.frame[r]]++;
  const frames: Detections<Float32Array>[] = [];
  for (let f = 1; f <= n; f++) frames.push(allocateDetections(perFrame[f], Float32Array));
  const fill = new Int32Array(n + 1);
  for (let r = 0; r < rows.count; r++) {
    const f = rows.frame[r];
    if (f > n) continue;
    const k = fill[f]++;
    const target = frames[f - 1];
    const [x, y, w, h] = [rows.box[r * 4], rows.box[r * 4 + 1], rows.box[r * 4 + 2], rows.box[r * 4 + 3]];
    target.xyxy[k * 4] = x;
    target.xyxy[k * 4 + 1] = y;
    target.xyxy[k * 4 + 2] = x + w;
    target.xyxy[k * 4 + 3] = y + h;
    target.scores[k] = rows.conf[r];
    target.classIds[k] = Math.max(rows.classId[r], 0);
  }
  return frames;
}

/** Builds result rows in memory (as if written with formatResultRows and read back, unrounded). */
export function motRowsFromResults(results: readonly ResultRow[], source = "<results>"): MotRows {
  const n = results.length;
  const rows: MotRows = {
    source,
    count: n,
    frame: new Int32Array(n),
    id: new Int32Array(n),
    box: new Float64Array(n * 4),
    conf: new Float64Array(n),
    classId: new Int32Array(n).fill(-1),
    visibility: new Float64Array(n).fill(-1),
    line: new Int32Array(n),
  };
  results.forEach((r, k) => {
    rows.frame[k] = r.frame;
    rows.id[k] = r.id;
    rows.box[k * 4] = r.box[0];
    rows.box[k * 4 + 1] = r.box[1];
    rows.box[k * 4 + 2] = r.box[2] - r.box[0];
    rows.box[k * 4 + 3] = r.box[3] - r.box[1];
    rows.conf[k] = r.conf;
    rows.line[k] = k + 1;
  });
  return rows;
}
