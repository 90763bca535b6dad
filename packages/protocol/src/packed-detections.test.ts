// Packed detections: what a worker packs is what the aggregator unpacks, within the wire's stated precision, in
// ≤ 24 bytes per detection; a payload that disagrees with its counts is refused by the schema.

import assert from "node:assert/strict";
import { test } from "node:test";
import { allocateDetections } from "./detections.ts";
import { parseMessage } from "./messages.ts";
import {
  boxUnitsFor,
  PACKED_DETECTION_BYTES,
  packedFramesSchema,
  packFrames,
  unpackFrames,
} from "./packed-detections.ts";

function detections(boxes: number[], scores: number[], classes: number[]) {
  const d = allocateDetections(scores.length, Float32Array);
  d.xyxy.set(boxes);
  d.scores.set(scores);
  d.classIds.set(classes);
  return d;
}

test("box units: the finest power-of-two grid whose values fit a uint16 for the source's longer side", () => {
  assert.equal(boxUnitsFor(640, 480), 64);
  assert.equal(boxUnitsFor(1280, 720), 32);
  assert.equal(boxUnitsFor(1920, 1080), 32);
  assert.equal(boxUnitsFor(3840, 2160), 16);
  assert.equal(boxUnitsFor(7680, 4320), 8);
  assert.equal(boxUnitsFor(65535, 10), 1);
});

test("pack → unpack gives every frame back, boxes to 1/units px, scores to 4 decimals, in ≤ 24 bytes each", () => {
  const source = { sourceWidth: 1280, sourceHeight: 720 };
  const frames = [
    {
      index: 7,
      ptsMs: 233.333,
      phi: 0 as const,
      detections: detections([10.3, 20.01, 300.5, 719.99, 0, 0, 1280, 720], [0.91234, 0.5], [1, 80]),
    },
    { index: 8, ptsMs: 266.667, phi: "7x" as const, detections: detections([], [], []) },
    { index: 9, ptsMs: 300, phi: 3 as const, detections: detections([-5, 2, 1400, 3], [1], [65535]) },
  ];
  const packed = parseMessage(
    packedFramesSchema,
    "packed",
    JSON.parse(JSON.stringify(packFrames(frames, source))),
  );
  assert.equal(Buffer.from(packed.data, "base64").length, 3 * PACKED_DETECTION_BYTES);
  assert.ok(packed.data.length / 3 <= 24, "base64 characters per detection");
  const back = unpackFrames(packed);
  assert.deepEqual(
    back.map((f) => [f.index, f.ptsMs, f.phi, f.classes]),
    [
      [7, 233.333, 0, [1, 80]],
      [8, 266.667, "7x", []],
      [9, 300, 3, [65535]],
    ],
  );
  const units = boxUnitsFor(1280, 720);
  for (const [i, v] of frames[0].detections.xyxy.entries())
    assert.ok(Math.abs(back[0].boxes[i] - v) <= 0.5 / units, `box ${i}`);

  assert.deepEqual(back[0].scores, [0.9123, 0.5]);
  // The worker clips boxes to the source before packing; below 0 cannot be packed and becomes 0.
  assert.deepEqual(back[2].boxes, [0, 2, 1400, 3]);
  assert.equal(back[0].slackMs, undefined);
});

test("latency frames carry their slack; a payload that disagrees with its counts is poison", () => {
  const d = detections([1, 2, 3, 4], [0.5], [1]);
  const packed = packFrames([{ index: 0, ptsMs: 0, phi: 1, detections: d, slackMs: -12.6 }], {
    sourceWidth: 64,
    sourceHeight: 64,
  });
  assert.deepEqual(unpackFrames(packed)[0].slackMs, -13);
  assert.throws(
    () => parseMessage(packedFramesSchema, "packed", { ...packed, counts: [2] }),
    /data: holds 12 bytes, not 2 detections × 12/,
  );
  assert.throws(
    () => parseMessage(packedFramesSchema, "packed", { ...packed, phi: [] }),
    /disagree in length/,
  );
});
