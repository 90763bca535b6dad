// MT/PT/ML rules: TrackEval (and the MOTChallenge devkit) count a trajectory as mostly tracked when its
// tracked ratio is strictly above 0.8, py-motmetrics when it is at least 0.8.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ClearMotAccumulator, trajectoryClass } from "./clear-mot.ts";

/** Object `oid` present in `frames` frames, matched to hypothesis 100 + oid in the first `matched`. */
function feed(
  acc: ClearMotAccumulator,
  trajectories: { oid: number; frames: number; matched: number }[],
): void {
  const length = Math.max(...trajectories.map((t) => t.frames));
  for (let f = 0; f < length; f++) {
    const present = trajectories.filter((t) => f < t.frames);
    const hyps = present.filter((t) => f < t.matched).map((t) => 100 + t.oid);
    const dists = present.flatMap((t) => hyps.map((h) => (h === 100 + t.oid ? 0.1 : Number.NaN)));
    acc.update(
      present.map((t) => t.oid),
      hyps,
      dists,
    );
  }
}

test("a trajectory tracked in exactly 80% of its frames is PT for TrackEval, MT for py-motmetrics", () => {
  const acc = new ClearMotAccumulator();
  feed(acc, [
    { oid: 1, frames: 5, matched: 4 }, // 0.8 exactly: the rules disagree
    { oid: 2, frames: 10, matched: 9 }, // 0.9: MT under both
    { oid: 3, frames: 10, matched: 2 }, // 0.2 exactly: PT under both
    { oid: 4, frames: 10, matched: 1 }, // 0.1: ML under both
  ]);
  const trackEval = acc.totals();
  assert.deepEqual(
    [trackEval.mostlyTracked, trackEval.partiallyTracked, trackEval.mostlyLost],
    [1, 2, 1],
    "TrackEval rule (default)",
  );
  assert.deepEqual(acc.totals("trackeval"), trackEval);
  const py = acc.totals("py-motmetrics");
  assert.deepEqual([py.mostlyTracked, py.partiallyTracked, py.mostlyLost], [2, 1, 1], "py-motmetrics rule");
  // Everything else is the same under both rules.
  assert.equal(py.numMatches, trackEval.numMatches);
  assert.equal(py.numMisses, trackEval.numMisses);
  assert.equal(py.numMatches, 4 + 9 + 2 + 1);
});

test("trajectoryClass thresholds", () => {
  assert.equal(trajectoryClass(0.8), "partiallyTracked");
  assert.equal(trajectoryClass(0.8, "py-motmetrics"), "mostlyTracked");
  assert.equal(trajectoryClass(0.8000001), "mostlyTracked");
  assert.equal(trajectoryClass(0.2), "partiallyTracked");
  assert.equal(trajectoryClass(0.2, "py-motmetrics"), "partiallyTracked");
  assert.equal(trajectoryClass(0.19999), "mostlyLost");
  assert.equal(trajectoryClass(0), "mostlyLost");
  assert.equal(trajectoryClass(1, "py-motmetrics"), "mostlyTracked");
});
