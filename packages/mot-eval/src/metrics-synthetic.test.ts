// Hand-written event sequences with their expected values, kept in ../testing/synthetic-cases.json so
// the metric logic is tested even without the shared data. Source: expected-metrics.json in the shared
// MOT data, which takes them from py-motmetrics motmetrics/tests/test_metrics.py (test_mota_motp, test_ids; MIT, commit
// b68701366b3eee2e41e3273e3a7c9d27fc9cd71a) and TrackEval tests/test_metrics.py (with_confusion,
// split_tracks; MIT, commit 12c8791b303e0a0b50f753af204249e622d0281a; HOTA values computed with
// that TrackEval commit).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { accumulateEvents, type SyntheticCase, sequenceFromTrackEvalInputs } from "../testing/fixtures.ts";
import { ClearMotAccumulator, type ClearMotMetrics } from "./clear-mot.ts";
import { evaluatePrepared } from "./evaluate.ts";

const cases = JSON.parse(
  readFileSync(new URL("../testing/synthetic-cases.json", import.meta.url), "utf8"),
) as {
  "py-motmetrics": Record<string, SyntheticCase>;
  trackeval: Record<string, SyntheticCase>;
};
const PY_MOTMETRICS_CASES = cases["py-motmetrics"];
const TRACKEVAL_CASES = cases.trackeval;

const close = (actual: number, expected: number, label: string) =>
  assert.ok(Math.abs(actual - expected) <= 1e-9, `${label}: got ${actual}, expected ${expected}`);

/** Which counts each py-motmetrics case checks (its test_metrics.py asserts these). */
const PY_MOTMETRICS_TESTS: { name: string; what: string; counts: (keyof ClearMotMetrics)[] }[] = [
  {
    name: "mota_motp",
    what: "kept correspondences, switches, FP/miss-only frames",
    counts: [
      "numMatches",
      "numSwitches",
      "numFalsePositives",
      "numMisses",
      "numDetections",
      "numObjects",
      "numPredictions",
      "numFrames",
    ],
  },
  {
    name: "ids",
    what: "switch, transfer, ascend and migrate events",
    counts: ["numMatches", "numSwitches", "numTransfer", "numAscend", "numMigrate"],
  },
];

/** numFalsePositives → num_false_positives: py-motmetrics' name for one of our counts. */
const pyMotmetricsName = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

for (const { name, what, counts } of PY_MOTMETRICS_TESTS) {
  test(`py-motmetrics ${name}: ${what}`, () => {
    const c = PY_MOTMETRICS_CASES[name];
    const { clear } = accumulateEvents(c.frames!);
    const e = c.expected!;
    for (const field of counts) assert.equal(clear[field], e[pyMotmetricsName(field)], field);
    close(clear.mota, e.mota as number, "mota");
    close(clear.motp, e.motp as number, "motp");
  });
}

test("TrackEval with_confusion and split_tracks: CLEAR, Identity, VACE, HOTA", () => {
  for (const [name, c] of Object.entries(TRACKEVAL_CASES)) {
    const m = evaluatePrepared(sequenceFromTrackEvalInputs(name, c.inputs!));
    const clear = c.expected_from_test!.clear;
    assert.equal(m.clear.numDetections, clear.CLR_TP, `${name} CLR_TP`);
    assert.equal(m.clear.numMisses, clear.CLR_FN, `${name} CLR_FN`);
    assert.equal(m.clear.numFalsePositives, clear.CLR_FP, `${name} CLR_FP`);
    assert.equal(m.clear.numSwitches, clear.IDSW, `${name} IDSW`);
    close(m.clear.mota, clear.MOTA as number, `${name} MOTA`);
    const id = c.expected_from_test!.identity;
    assert.equal(m.identity.idtp, id.IDTP, `${name} IDTP`);
    close(m.identity.idf1, id.IDF1 as number, `${name} IDF1`);
    close(m.identity.idp, id.IDP as number, `${name} IDP`);
    close(m.vace.stda, c.expected_from_test!.vace.STDA as number, `${name} STDA`);
    close(m.vace.ata, c.expected_from_test!.vace.ATA as number, `${name} ATA`);
    const h = c.computed_hota!;
    close(m.hota.hota, h.HOTA as number, `${name} HOTA`);
    close(m.hota.detA, h.DetA as number, `${name} DetA`);
    close(m.hota.assA, h.AssA as number, `${name} AssA`);
    close(m.hota.assRe, h.AssRe as number, `${name} AssRe`);
    close(m.hota.assPr, h.AssPr as number, `${name} AssPr`);
    close(m.hota.locA, h.LocA as number, `${name} LocA`);
  }
});

test("MOTA pools errors over all frames (Bernardin & Stiefelhagen fig. 3) and 0/0 ratios are NaN", () => {
  const acc = new ClearMotAccumulator();
  for (let f = 0; f < 4; f++) acc.update([1, 2, 3, 4], [], []);
  for (let f = 0; f < 4; f++) acc.update([4], [4], [0]);
  close(acc.result().mota, 0.2, "mota");
  const empty = new ClearMotAccumulator().result();
  assert.ok(Number.isNaN(empty.mota) && Number.isNaN(empty.motp));
  assert.throws(() => acc.update([1], [1, 2], [0]), /expected 1×2/);
});
