// Hand-written event sequences with their expected values, embedded so the metric logic is tested
// even without the shared data. Source: expected-metrics.json in the shared MOT data, which takes them
// from py-motmetrics motmetrics/tests/test_metrics.py (test_mota_motp, test_ids; MIT, commit
// b68701366b3eee2e41e3273e3a7c9d27fc9cd71a) and TrackEval tests/test_metrics.py (with_confusion,
// split_tracks; MIT, commit 12c8791b303e0a0b50f753af204249e622d0281a; HOTA values computed with
// that TrackEval commit).

import assert from "node:assert/strict";
import { test } from "node:test";
import { accumulateEvents, type SyntheticCase, sequenceFromTrackEvalInputs } from "../testing/fixtures.ts";
import { ClearMotAccumulator } from "./clear-mot.ts";
import { evaluatePrepared } from "./evaluate.ts";

const PY_MOTMETRICS_CASES: Record<string, SyntheticCase> = {
  mota_motp: {
    frames: [
      { frame: 0, objects: [], hypotheses: [1, 2], distances: [] },
      { frame: 1, objects: [1, 2], hypotheses: [], distances: [] },
      {
        frame: 2,
        objects: [1, 2],
        hypotheses: [1, 2],
        distances: [
          [1, 0.5],
          [0.3, 1],
        ],
      },
      {
        frame: 3,
        objects: [1, 2],
        hypotheses: [1, 2],
        distances: [
          [0.2, null],
          [null, 0.1],
        ],
      },
      {
        frame: 4,
        objects: [1, 2],
        hypotheses: [1, 2],
        distances: [
          [5, 1],
          [1, 5],
        ],
      },
      { frame: 5, objects: [], hypotheses: [], distances: [] },
    ],
    expected: {
      num_matches: 4,
      num_false_positives: 2,
      num_misses: 2,
      num_switches: 2,
      num_detections: 6,
      num_objects: 8,
      num_predictions: 8,
      mota: 0.25,
      motp: 1.8499999999999999,
      num_frames: 6,
    },
  },
  ids: {
    frames: [
      { frame: 0, objects: [], hypotheses: [], distances: [] },
      {
        frame: 1,
        objects: [1, 2],
        hypotheses: [1, 2],
        distances: [
          [1, 0],
          [0, 1],
        ],
      },
      {
        frame: 2,
        objects: [1, 2],
        hypotheses: [1, 2],
        distances: [
          [0.4, null],
          [null, 0.4],
        ],
      },
      {
        frame: 3,
        objects: [1, 2],
        hypotheses: [1, 2],
        distances: [
          [0, 1],
          [1, 0],
        ],
      },
      {
        frame: 4,
        objects: [1, 2],
        hypotheses: [2, 3],
        distances: [
          [1, 0],
          [0.4, 0.7],
        ],
      },
      {
        frame: 5,
        objects: [1, 3],
        hypotheses: [2, 3],
        distances: [
          [1, 0],
          [0.4, 0.7],
        ],
      },
      { frame: 6, objects: [], hypotheses: [], distances: [] },
    ],
    expected: {
      num_matches: 7,
      num_false_positives: 0,
      num_misses: 0,
      num_switches: 3,
      num_transfer: 3,
      num_ascend: 1,
      num_migrate: 1,
      num_detections: 10,
      num_objects: 10,
      num_predictions: 10,
      mota: 0.7,
      motp: 0.16,
      num_frames: 7,
    },
  },
};

const TRACKEVAL_CASES: Record<string, SyntheticCase> = {
  with_confusion: {
    inputs: {
      num_timesteps: 5,
      num_gt_ids: 2,
      num_tracker_ids: 2,
      gt_ids: [[0, 1], [0, 1], [0, 1], [0], [0]],
      tracker_ids: [[0, 1], [0, 1], [0, 1], [0, 1], [1]],
      similarity_scores: [
        [
          [0.0, 0.0],
          [1.0, 0.0],
        ],
        [
          [0.0, 0.0],
          [1.0, 1.0],
        ],
        [
          [1.0, 0.0],
          [0.0, 0.0],
        ],
        [[0.0, 1.0]],
        [[1.0]],
      ],
    },
    expected_from_test: {
      clear: { CLR_TP: 5, CLR_FN: 3, CLR_FP: 4, IDSW: 1, MOTA: 0.0 },
      identity: { IDTP: 4, IDFN: 4, IDFP: 5, IDR: 0.5, IDP: 0.4444444444444444, IDF1: 0.47058823529411764 },
      vace: { STDA: 0.9, ATA: 0.45 },
    },
    computed_hota: {
      HOTA: 0.3446012188022555,
      DetA: 0.41666666666666674,
      AssA: 0.28500000000000003,
      LocA: 1.0,
      DetRe: 0.625,
      DetPr: 0.5555555555555556,
      AssRe: 0.4666666666666666,
      AssPr: 0.41,
    },
  },
  split_tracks: {
    inputs: {
      num_timesteps: 5,
      num_gt_ids: 2,
      num_tracker_ids: 5,
      gt_ids: [[0, 1], [0, 1], [1], [0, 1], [0, 1]],
      tracker_ids: [
        [0, 4],
        [0, 4],
        [1, 3],
        [1, 3],
        [1, 2, 3],
      ],
      similarity_scores: [
        [
          [1.0, 0.0],
          [0.0, 1.0],
        ],
        [
          [1.0, 0.0],
          [0.0, 1.0],
        ],
        [[1.0, 0.0]],
        [
          [0.0, 1.0],
          [1.0, 0.0],
        ],
        [
          [0.0, 0.0, 1.0],
          [0.0, 1.0, 0.0],
        ],
      ],
    },
    expected_from_test: {
      clear: { CLR_TP: 9, CLR_FN: 0, CLR_FP: 2, IDSW: 3, MOTA: 0.4444444444444444 },
      identity: { IDTP: 4, IDFN: 5, IDFP: 7, IDR: 0.4444444444444444, IDP: 0.36363636363636365, IDF1: 0.4 },
      vace: { STDA: 0.9, ATA: 0.2571428571428572 },
    },
    computed_hota: {
      HOTA: 0.5613835722137898,
      DetA: 0.8181818181818182,
      AssA: 0.3851851851851852,
      LocA: 1.0,
      DetRe: 1.0,
      DetPr: 0.8181818181818182,
      AssRe: 0.4222222222222222,
      AssPr: 0.8518518518518517,
    },
  },
};

const close = (actual: number, expected: number, label: string) =>
  assert.ok(Math.abs(actual - expected) <= 1e-9, `${label}: got ${actual}, expected ${expected}`);

test("py-motmetrics mota_motp: kept correspondences, switches, FP/miss-only frames", () => {
  const c = PY_MOTMETRICS_CASES.mota_motp;
  const { clear } = accumulateEvents(c.frames!);
  const e = c.expected!;
  assert.equal(clear.numMatches, e.num_matches);
  assert.equal(clear.numSwitches, e.num_switches);
  assert.equal(clear.numFalsePositives, e.num_false_positives);
  assert.equal(clear.numMisses, e.num_misses);
  assert.equal(clear.numDetections, e.num_detections);
  assert.equal(clear.numObjects, e.num_objects);
  assert.equal(clear.numPredictions, e.num_predictions);
  assert.equal(clear.numFrames, e.num_frames);
  close(clear.mota, e.mota as number, "mota");
  close(clear.motp, e.motp as number, "motp");
});

test("py-motmetrics ids: switch, transfer, ascend and migrate events", () => {
  const c = PY_MOTMETRICS_CASES.ids;
  const { clear } = accumulateEvents(c.frames!);
  const e = c.expected!;
  assert.equal(clear.numMatches, e.num_matches);
  assert.equal(clear.numSwitches, e.num_switches);
  assert.equal(clear.numTransfer, e.num_transfer);
  assert.equal(clear.numAscend, e.num_ascend);
  assert.equal(clear.numMigrate, e.num_migrate);
  close(clear.mota, e.mota as number, "mota");
  close(clear.motp, e.motp as number, "motp");
});

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
