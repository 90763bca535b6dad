// Detections on the wire, compactly: one message per work unit (chunk or segment) carries every frame's
// detections packed into one binary payload (base64 in the JSON message), 12 bytes per detection:
//   uint16 x1, y1, x2, y2  (source pixels × boxUnits, boxUnits a power of two: the finest grid that fits the source)
//   uint16 score            (score × 10 000: the 4 decimals the JSON form carried)
//   uint16 class id
// little-endian. The per-frame fields (index, ptsMs, φ, detection count, slack) are short JSON arrays beside it.
// Packing and unpacking live here only; `Detections` (detections.ts) stays the in-memory form, and
// `FrameDetectionsMessage` (plain arrays, exactly the decoded values) is what the aggregator reorders and
// checkpoints.

import { z } from "zod";
import type { Detections } from "./detections.ts";
import type { FrameDetectionsMessage } from "./messages.ts";
import { type PhiValue, phiSchema } from "./phi.ts";

/** Bytes per packed detection (the wire budget is ≤ 24; base64 makes these 16 characters). */
export const PACKED_DETECTION_BYTES = 12;
/** Scores travel as integers in 1/SCORE_UNITS. */
export const SCORE_UNITS = 10_000;
/** The finest box grid: 1/64 pixel. */
const MAX_BOX_UNITS = 64;
const UINT16_MAX = 0xffff;

/**
 * Box units per source pixel for a source of width × height: the largest power of two ≤ 64 with which the
 * source's longer side still fits a uint16 (1920 px → 32, i.e. 1/32 px; 7680 px → 8). Deterministic from the
 * source size, so every path (local, distributed, any worker) packs a frame's boxes to the same values.
 */
export function boxUnitsFor(sourceWidth: number, sourceHeight: number): number {
  const side = Math.max(1, sourceWidth, sourceHeight);
  let units = MAX_BOX_UNITS;
  while (units > 1 && side * units > UINT16_MAX) units /= 2;
  return units;
}

export const packedFramesSchema = z
  .object({
    /** Box units per source pixel (boxUnitsFor of the job's source size). */
    boxUnits: z.number().int().min(1).max(MAX_BOX_UNITS),
    /** Per frame: the sampled index, ptsMs, φ and number of detections; equal lengths. */
    indices: z.array(z.number().int().min(0)),
    ptsMs: z.array(z.number().min(0)),
    phi: z.array(phiSchema),
    counts: z.array(z.number().int().min(0)),
    /** Latency jobs: per frame, deadline minus the time its detections were ready, ms. */
    slackMs: z.array(z.number().int()).optional(),
    /** base64 of sum(counts) × 12 bytes (see the top of packed-detections.ts). */
    data: z.string(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const n = p.indices.length;
    if (
      p.ptsMs.length !== n ||
      p.phi.length !== n ||
      p.counts.length !== n ||
      (p.slackMs && p.slackMs.length !== n)
    )
      ctx.addIssue({ code: "custom", message: "indices, ptsMs, phi, counts and slackMs disagree in length" });
    const detections = p.counts.reduce((s, c) => s + c, 0);
    const bytes = Buffer.byteLength(p.data, "base64");
    if (bytes !== detections * PACKED_DETECTION_BYTES)
      ctx.addIssue({
        code: "custom",
        path: ["data"],
        message: `holds ${bytes} bytes, not ${detections} detections × ${PACKED_DETECTION_BYTES}`,
      });
  });
export type PackedFrames = z.infer<typeof packedFramesSchema>;

/** One frame's detections as a worker has them, boxes already in source pixels. */
export interface FrameDetectionsToPack {
  index: number;
  ptsMs: number;
  phi: PhiValue;
  detections: Detections;
  slackMs?: number;
}

const clampUnit = (value: number, max: number) => Math.min(Math.max(Math.round(value), 0), max);

/** Packs frames' detections (boxes in source pixels of a sourceWidth × sourceHeight source). */
export function packFrames(
  frames: readonly FrameDetectionsToPack[],
  source: { sourceWidth: number; sourceHeight: number },
): PackedFrames {
  const boxUnits = boxUnitsFor(source.sourceWidth, source.sourceHeight);
  const total = frames.reduce((s, f) => s + f.detections.scores.length, 0);
  const bytes = Buffer.alloc(total * PACKED_DETECTION_BYTES);
  let at = 0;
  const latency = frames.some((f) => f.slackMs !== undefined);
  for (const { detections } of frames) {
    const count = detections.scores.length;
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < 4; k++) {
        bytes.writeUInt16LE(clampUnit(detections.xyxy[i * 4 + k] * boxUnits, UINT16_MAX), at);
        at += 2;
      }
      bytes.writeUInt16LE(clampUnit(detections.scores[i] * SCORE_UNITS, SCORE_UNITS), at);
      bytes.writeUInt16LE(clampUnit(detections.classIds[i], UINT16_MAX), at + 2);
      at += 4;
    }
  }
  const packed: PackedFrames = {
    boxUnits,
    indices: frames.map((f) => f.index),
    ptsMs: frames.map((f) => f.ptsMs),
    phi: frames.map((f) => f.phi),
    counts: frames.map((f) => f.detections.scores.length),
    data: bytes.toString("base64"),
  };
  if (latency) packed.slackMs = frames.map((f) => Math.round(f.slackMs ?? 0));
  return packed;
}

/** The frames of a (validated) packed payload, each with its detections as plain arrays of the decoded values. */
export function unpackFrames(packed: PackedFrames): FrameDetectionsMessage[] {
  const bytes = Buffer.from(packed.data, "base64");
  const out: FrameDetectionsMessage[] = [];
  let at = 0;
  packed.indices.forEach((index, f) => {
    const count = packed.counts[f];
    const boxes = new Array<number>(count * 4);
    const scores = new Array<number>(count);
    const classes = new Array<number>(count);
    for (let i = 0; i < count; i++) {
      for (let k = 0; k < 4; k++) {
        boxes[i * 4 + k] = bytes.readUInt16LE(at) / packed.boxUnits;
        at += 2;
      }
      scores[i] = bytes.readUInt16LE(at) / SCORE_UNITS;
      classes[i] = bytes.readUInt16LE(at + 2);
      at += 4;
    }
    const frame: FrameDetectionsMessage = {
      index,
      ptsMs: packed.ptsMs[f],
      phi: packed.phi[f],
      boxes,
      scores,
      classes,
    };
    if (packed.slackMs) frame.slackMs = packed.slackMs[f];
    out.push(frame);
  });
  return out;
}
