// Detections of one frame as one struct of arrays, in the spirit of supervision's `Detections`: the same type from
// the model's post-processing through the worker, the aggregator, the tracker, the MOT writer and the renderer.
// Plain typed-array helpers; objects per detection appear only at the JSON edges (the queue message, tracks.jsonl).

import type { FrameDetectionsMessage } from "./messages.ts";
import type { DetectionRow } from "./tracks-line.ts";

/**
 * Boxes and scores: Float32Array as the model computes them; Float64Array where they were read back from JSON (a
 * message, tracks.jsonl), so that the decimal values the worker sent are the ones tracked and written.
 */
export type DetectionValues = Float32Array | Float64Array;

export interface Detections<V extends DetectionValues = DetectionValues> {
  /** N×4: x1, y1, x2, y2 per detection, pixels. */
  xyxy: V;
  /** N scores in [0, 1]. */
  scores: V;
  /** N class ids (1-based for COCO models; 0 where the source has no classes). */
  classIds: Int32Array;
  /** N track ids (≥ 1), NO_TRACK for a detection no track took; absent before tracking. */
  trackIds?: Int32Array;
}

/** The track id of a detection that no track took (track ids start at 1). */
export const NO_TRACK = 0;

export function detectionCount(detections: Detections): number {
  return detections.scores.length;
}

type ValuesConstructor<V extends DetectionValues> = new (length: number) => V;

/** N zeroed detections whose boxes and scores are `Values` (Float32Array or Float64Array, see DetectionValues). */
export function allocateDetections<V extends DetectionValues>(
  count: number,
  Values: ValuesConstructor<V>,
): Detections<V> {
  return { xyxy: new Values(count * 4), scores: new Values(count), classIds: new Int32Array(count) };
}

/** The detections at `indices`, in that order (a copy in the same arrays' types). */
export function selectDetections<V extends DetectionValues>(
  detections: Detections<V>,
  indices: ArrayLike<number>,
): Detections<V> {
  const count = indices.length;
  const out = allocateDetections(count, detections.xyxy.constructor as ValuesConstructor<V>);
  const trackIds = detections.trackIds ? new Int32Array(count) : undefined;
  for (let j = 0; j < count; j++) {
    const i = indices[j];
    out.xyxy.set(detections.xyxy.subarray(i * 4, i * 4 + 4), j * 4);
    out.scores[j] = detections.scores[i];
    out.classIds[j] = detections.classIds[i];
    if (trackIds) trackIds[j] = detections.trackIds![i];
  }
  if (trackIds) out.trackIds = trackIds;
  return out;
}

/** The detections whose `keep` entry is non-zero. */
export function filterDetections<V extends DetectionValues>(
  detections: Detections<V>,
  keep: Uint8Array,
): Detections<V> {
  let count = 0;
  for (let i = 0; i < keep.length; i++) if (keep[i]) count++;
  const indices = new Int32Array(count);
  for (let i = 0, j = 0; i < keep.length; i++) if (keep[i]) indices[j++] = i;
  return selectDetections(detections, indices);
}

/** What a detection message carries of a frame's detections (the rest of the message is the frame's). */
export type DetectionArrays = Pick<FrameDetectionsMessage, "boxes" | "scores" | "classes">;

const round = (value: number, decimals: number) => {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
};

/** To the queue message: boxes in source pixels to 2 decimals, scores to 4 (the wire's precision). */
export function detectionsToMessage(detections: Detections): DetectionArrays {
  return {
    boxes: Array.from(detections.xyxy, (v) => round(v, 2)),
    scores: Array.from(detections.scores, (v) => round(v, 4)),
    classes: Array.from(detections.classIds),
  };
}

/** From a (validated) queue message: the values as sent, exactly (Float64Array). */
export function detectionsFromMessage(message: DetectionArrays): Detections<Float64Array> {
  return {
    xyxy: Float64Array.from(message.boxes),
    scores: Float64Array.from(message.scores),
    classIds: Int32Array.from(message.classes),
  };
}

/** tracks.jsonl's detection objects; `label` names a class id. */
export function detectionsToRows(detections: Detections, label: (classId: number) => string): DetectionRow[] {
  const count = detectionCount(detections);
  const rows = new Array<DetectionRow>(count);
  for (let i = 0; i < count; i++) {
    const classId = detections.classIds[i];
    const trackId = detections.trackIds?.[i] ?? NO_TRACK;
    rows[i] = {
      box: Array.from(detections.xyxy.subarray(i * 4, i * 4 + 4)),
      score: detections.scores[i],
      class: classId,
      label: label(classId),
      trackId: trackId === NO_TRACK ? null : trackId,
    };
  }
  return rows;
}

/** Detections (with track ids) of tracks.jsonl's detection objects, values exactly as read. */
export function detectionsFromRows(rows: readonly Omit<DetectionRow, "label">[]): Detections<Float64Array> {
  const detections = allocateDetections(rows.length, Float64Array);
  const trackIds = new Int32Array(rows.length);
  rows.forEach((row, i) => {
    for (let k = 0; k < 4; k++) detections.xyxy[i * 4 + k] = row.box[k];
    detections.scores[i] = row.score;
    detections.classIds[i] = row.class;
    trackIds[i] = row.trackId ?? NO_TRACK;
  });
  detections.trackIds = trackIds;
  return detections;
}
