import assert from "node:assert/strict";
import { test } from "node:test";
import { mulberry32 } from "@vdet/effdet";
import { CAMERA_MOTION, type CameraShiftInput, estimateCameraShift } from "./camera-motion.ts";

/** A seeded PRNG in [0, 1) (effdet's mulberry32, as matching.test.ts uses) so failures reproduce. */
function random(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

type Box = [number, number, number, number];

/** Pedestrian-like boxes (height 60–200 px) spread over a 1920×1080 image. */
function people(n: number, next: () => number): Box[] {
  return Array.from({ length: n }, () => {
    const h = 60 + 140 * next();
    const x = 40 + 1700 * next();
    const y = 40 + 800 * next();
    return [x, y, x + 0.4 * h, y + h];
  });
}

function input(predicted: readonly Box[], detected: readonly Box[]): CameraShiftInput {
  return {
    trackBoxes: predicted.flat(),
    tracks: predicted.map((_, i) => i),
    trackCount: predicted.length,
    detectionBoxes: detected.flat(),
    detections: detected.map((_, i) => i),
    detectionCount: detected.length,
  };
}

/** Each box moved by (dx, dy) plus its own motion of up to `own` box heights and edge jitter of 2 % of the height. */
function moved(boxes: readonly Box[], dx: number, dy: number, own: number, next: () => number): Box[] {
  return boxes.map(([x1, y1, x2, y2]) => {
    const h = y2 - y1;
    const ox = (next() * 2 - 1) * own * h + dx;
    const oy = (next() * 2 - 1) * own * h + dy;
    const j = () => (next() * 2 - 1) * 0.02 * h;
    return [x1 + ox + j(), y1 + oy + j(), x2 + ox + j(), y2 + oy + j()];
  });
}

test("a camera pan is recovered from the detections, with missed people and false positives among them", () => {
  for (const [seed, dx, dy] of [
    [1, 45, -12],
    [2, -80, 0],
    [3, 0, 30],
    [4, 25, 25],
  ] as const) {
    const next = random(seed);
    const predicted = people(12, next);
    const detected = moved(predicted, dx, dy, 0.02, next).slice(0, 9); // 3 people not detected
    detected.push(...people(4, next)); // false positives anywhere
    const shift = estimateCameraShift(input(predicted, detected));
    assert.ok(shift, `seed ${seed}: a shift is found`);
    assert.ok(
      Math.abs(shift.dx - dx) < 4 && Math.abs(shift.dy - dy) < 4,
      `seed ${seed}: ${shift.dx}, ${shift.dy}`,
    );
    assert.ok(shift.support >= 8, `seed ${seed}: support ${shift.support}`);
  }
});

test("a still camera gives no shift, also when some people walk in the same direction", () => {
  for (const seed of [5, 6, 7]) {
    const next = random(seed);
    const predicted = people(10, next);
    const still = moved(predicted.slice(0, 6), 0, 0, 0.01, next);
    const walking = moved(predicted.slice(6), 35, 0, 0.01, next); // 4 walk together, 6 stand
    assert.equal(estimateCameraShift(input(predicted, [...still, ...walking])), undefined, `seed ${seed}`);
    assert.equal(estimateCameraShift(input(predicted, moved(predicted, 0, 0, 0.03, next))), undefined);
  }
});

test("no shift without enough agreeing tracks or without agreement", () => {
  const next = random(8);
  const two = people(CAMERA_MOTION.minAgreeingTracks - 1, next);
  assert.equal(estimateCameraShift(input(two, moved(two, 60, 0, 0, next))), undefined, "too few tracks");
  // Every person moves their own way by up to 1 box height: nothing common to agree on.
  const crowd = people(10, next);
  assert.equal(estimateCameraShift(input(crowd, moved(crowd, 0, 0, 1, next))), undefined, "no agreement");
  assert.equal(estimateCameraShift(input(crowd, [])), undefined, "no detections");
});

test("a crowded frame (600 small people, thousands of candidate pairs, candidates capped) still finds the pan", () => {
  const next = random(9);
  // Small people (30–40 px) packed densely: many detections within reach of every track.
  const predicted: Box[] = Array.from({ length: 600 }, (_, i) => {
    const h = 30 + 10 * next();
    const x = 20 + (i % 40) * 24 + 4 * next();
    const y = 20 + Math.floor(i / 40) * 30 + 4 * next();
    return [x, y, x + 0.4 * h, y + h];
  });
  const shift = estimateCameraShift(input(predicted, moved(predicted, 9, -5, 0.01, next)));
  assert.ok(shift && Math.abs(shift.dx - 9) < 2 && Math.abs(shift.dy + 5) < 2, JSON.stringify(shift));
  assert.ok(shift.support > 500, `support ${shift.support}`);
});
