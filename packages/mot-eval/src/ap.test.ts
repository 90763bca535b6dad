import assert from "node:assert/strict";
import { test } from "node:test";
import type { Detections } from "@vdet/protocol";
import { averagePrecision, missShare } from "./ap.ts";

function dets(rows: [number, number, number, number, number, number][]): Detections {
  return {
    xyxy: Float32Array.from(rows.flatMap((r) => r.slice(0, 4))),
    scores: Float32Array.from(rows.map((r) => r[4])),
    classIds: Int32Array.from(rows.map((r) => r[5])),
  };
}

const truth = [
  dets([
    [0, 0, 10, 10, 0.9, 1],
    [20, 20, 40, 40, 0.8, 1],
    [50, 50, 60, 60, 0.7, 2],
  ]),
];

test("identical detections: AP 1 at every threshold, nothing missed", () => {
  const r = averagePrecision(truth, truth);
  assert.equal(r.ap50, 1);
  assert.equal(r.ap50to95, 1);
  assert.equal(r.groundTruth, 3);
  assert.equal(r.classes, 2);
  assert.deepEqual(missShare(truth, truth, 0.5), { confident: 3, missed: 0, share: 0 });
});

test("a shifted box counts at IoU 0.5 but not at the strict thresholds; a wrong class is a miss", () => {
  // [22, 20, 42, 40] against [20, 20, 40, 40] has IoU 360/440 = 0.818.
  const predicted = [
    dets([
      [0, 0, 10, 10, 0.9, 1],
      [22, 20, 42, 40, 0.8, 1],
      [50, 50, 60, 60, 0.7, 3],
    ]),
  ];
  const r = averagePrecision(truth, predicted, { minPerClass: 1 });
  // class 1: both found at 0.5 (AP 1); at 0.85…0.95 only the exact box: precision 1 up to recall 0.5, i.e. 51
  // of the 101 recall points. class 2: nothing (AP 0).
  assert.equal(r.perClass.find((c) => c.classId === 1)?.ap50, 1);
  assert.equal(r.perClass.find((c) => c.classId === 2)?.ap50, 0);
  assert.equal(r.ap50, 0.5);
  const class1 = r.perClass.find((c) => c.classId === 1)!.ap50to95;
  // thresholds 0.50…0.80 (7 of 10) find both boxes, 0.85…0.95 only one: (7·1 + 3·51/101)/10.
  assert.ok(Math.abs(class1 - (7 + (3 * 51) / 101) / 10) < 1e-9, `class 1 AP@[.5:.95] ${class1}`);
  assert.deepEqual(missShare(truth, predicted, 0.75), { confident: 2, missed: 0, share: 0 });
  assert.deepEqual(missShare(truth, predicted, 0.5), { confident: 3, missed: 1, share: 1 / 3 });
});

test("a false positive ranked above the hits lowers precision; ground truth below the score floor is ignored", () => {
  const predicted = [
    dets([
      [100, 100, 110, 110, 0.99, 1],
      [0, 0, 10, 10, 0.9, 1],
      [20, 20, 40, 40, 0.8, 1],
    ]),
  ];
  const r = averagePrecision(truth, predicted, { minGroundTruthScore: 0.75, minPerClass: 1 });
  assert.equal(r.groundTruth, 2);
  assert.equal(r.classes, 1);
  // precision at recall 0.5 and 1 is 2/3 after interpolation: 101 points all at 2/3.
  assert.ok(Math.abs(r.ap50 - 2 / 3) < 1e-9, `AP@0.5 ${r.ap50}`);
  assert.throws(() => averagePrecision(truth, []), RangeError);
  assert.ok(Number.isNaN(averagePrecision([dets([])], [dets([])]).ap50));
});

test("identical degenerate boxes (clipped to zero area) still match each other", () => {
  const flat = [dets([[5, 0, 5, 10, 0.5, 1]])];
  assert.equal(averagePrecision(flat, flat).ap50, 1);
});
