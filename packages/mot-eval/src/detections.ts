// Conversions between MOTChallenge rows and the per-frame arrays a tracker consumes / produces.

import { allocateDetections, type Detections } from "@vdet/protocol";
import { type RefineOptions, refineTracks } from "@vdet/tracker";
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

/**
 * Keeps the rows of every `stride`-th frame starting at frame 1 + offset (1 + offset, 1 + offset + stride,
 * …) and renumbers those frames 1, 2, 3 …: a sequence as a job sampling every stride-th frame sees it,
 * its first sampled frame being the offset-th. Use the same stride and offset for detections, ground
 * truth and results.
 */
export function subsampleRows(rows: MotRows, stride: number, offset = 0): MotRows {
  if (!Number.isInteger(stride) || stride < 1)
    throw new RangeError(`stride must be a whole number ≥ 1, got ${stride}`);
  if (!Number.isInteger(offset) || offset < 0 || offset >= stride)
    throw new RangeError(`offset must be a whole number in [0, stride), got ${offset}`);
  const keep: number[] = [];
  for (let r = 0; r < rows.count; r++) {
    const f = rows.frame[r] - 1 - offset;
    if (f >= 0 && f % stride === 0) keep.push(r);
  }
  const n = keep.length;
  const out: MotRows = {
    ...rows,
    source:
      stride === 1
        ? rows.source
        : `${rows.source} (every ${stride}. frame${offset ? `, from frame ${offset + 1}` : ""})`,
    count: n,
    frame: new Int32Array(n),
    id: new Int32Array(n),
    box: new Float64Array(n * 4),
    conf: new Float64Array(n),
    classId: new Int32Array(n),
    visibility: new Float64Array(n),
    line: new Int32Array(n),
  };
  keep.forEach((r, k) => {
    out.frame[k] = (rows.frame[r] - 1 - offset) / stride + 1;
    out.id[k] = rows.id[r];
    for (let c = 0; c < 4; c++) out.box[k * 4 + c] = rows.box[r * 4 + c];
    out.conf[k] = rows.conf[r];
    out.classId[k] = rows.classId[r];
    out.visibility[k] = rows.visibility[r];
    out.line[k] = rows.line[r];
  });
  return out;
}

/** Number of frames of a `numFrames`-frame sequence that {@link subsampleRows} keeps. */
export function subsampledLength(numFrames: number, stride: number, offset = 0): number {
  return numFrames > offset ? Math.floor((numFrames - 1 - offset) / stride) + 1 : 0;
}

/** Result rows after the tracker's offline refinement (gap filling, tracklet linking, smoothing). */
export function refineMotRows(rows: MotRows, options: Partial<RefineOptions> = {}): MotRows {
  const input = [];
  for (let r = 0; r < rows.count; r++) {
    const [x, y, w, h] = rows.box.subarray(r * 4, r * 4 + 4);
    input.push({ frame: rows.frame[r], id: rows.id[r], box: [x, y, x + w, y + h], score: rows.conf[r] });
  }
  const refined = refineTracks(input, options);
  return motRowsFromResults(
    refined.map((r) => ({ frame: r.frame, id: r.id, box: r.box, conf: r.score })),
    `${rows.source} (refined)`,
  );
}
