import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { haveFixtures, motDataDir } from "../testing/fixtures.ts";
import { evaluateSequence, summarize } from "./evaluate.ts";
import { parseMotText, readMotFile } from "./mot-format.ts";
import { prepareSequence } from "./prepare.ts";

test("MOT17: hypotheses on distractors are dropped, non-pedestrian gt is not scored", () => {
  // Frame 1: pedestrian (1), static person (7, distractor), car (3, ignored class), flag-0 pedestrian.
  const gt = parseMotText(
    [
      "1,1,100,100,50,100,1,1,1",
      "1,2,300,100,50,100,0,7,1",
      "1,3,500,100,80,50,0,3,1",
      "1,4,700,100,50,100,0,1,1",
      "2,1,105,100,50,100,1,1,1",
    ].join("\n"),
    { kind: "gt", source: "gt.txt" },
  );
  assert.equal(gt.layout, "mot17");
  const res = parseMotText(
    [
      "1,11,101,100,50,100,1", // on the pedestrian → TP
      "1,12,302,101,50,100,1", // on the static person → removed
      "1,13,500,100,80,50,1", // on the car → FP (cars are ignored, not distractors)
      "1,14,700,100,50,100,1", // on the flag-0 pedestrian → FP (TrackEval only removes distractor matches)
      "1,15,900,400,50,100,1", // nothing there → FP
      "2,11,106,100,50,100,1",
      "2,12,300,300,50,100,1", // the distractor is gone in frame 2 → FP
    ].join("\n"),
    { kind: "res", source: "res.txt" },
  );
  const seq = prepareSequence(gt, res);
  assert.equal(seq.removedDistractorHyps, 1);
  assert.equal(seq.ignoredGtRows, 3);
  assert.deepEqual([...seq.gtIdLabels], [1]);
  const s = summarize(evaluateSequence(gt, res));
  assert.equal(s.tp, 2);
  assert.equal(s.fp, 4);
  assert.equal(s.fn, 0);
  assert.equal(s.idsw, 0);

  // The same rows read as MOT15 (no classes): only the flag-0 rows are dropped, nothing is removed.
  const as15 = prepareSequence(gt, res, { layout: "mot15" });
  assert.equal(as15.removedDistractorHyps, 0);
  assert.equal(as15.numGtDets, 2);
});

test("MOT15: flag-0 gt rows are not scored; duplicate ids and frames past the end are errors", () => {
  const gt = parseMotText("1,1,0,0,10,10,1,-1,-1,-1\n1,2,50,0,10,10,0,-1,-1,-1\n", {
    kind: "gt",
    source: "gt.txt",
  });
  const res = parseMotText("1,5,0,0,10,10,1\n1,6,50,0,10,10,1\n", { kind: "res", source: "res.txt" });
  const s = summarize(evaluateSequence(gt, res));
  assert.deepEqual([s.tp, s.fp, s.fn], [1, 1, 0]);

  const dup = parseMotText("1,5,0,0,10,10,1\n1,5,50,0,10,10,1\n", { kind: "res", source: "res.txt" });
  assert.throws(() => prepareSequence(gt, dup), /res\.txt:2: tracker id 5 appears twice in frame 1/);
  const late = parseMotText("1,5,0,0,10,10,1\n9,5,0,0,10,10,1\n", { kind: "res", source: "res.txt" });
  assert.throws(() => prepareSequence(gt, late, { numTimesteps: 5 }), /res\.txt:2: frame 9 is after the end/);
});

test("IoU threshold: a hypothesis at IoU just below 0.5 is a miss plus a false positive", () => {
  // 10×10 boxes shifted by 3.4 px: IoU = 6.6·10 / (200 − 66) = 0.4925…
  const gt = parseMotText("1,1,0,0,10,10,1,-1,-1,-1\n2,1,0,0,10,10,1,-1,-1,-1\n", { kind: "gt" });
  const res = parseMotText("1,1,3.4,0,10,10,1\n2,1,3.2,0,10,10,1\n", { kind: "res" });
  const s = summarize(evaluateSequence(gt, res));
  assert.deepEqual([s.tp, s.fp, s.fn], [1, 1, 1]);
});

test("MOT17 ground truth scored against itself is perfect (and distractor copies are dropped)", (t) => {
  const sequences = ["MOT17-02", "MOT17-05", "MOT17-09"];
  if (!haveFixtures(t, ...sequences.map((s) => join(s, "gt", "gt.txt")))) return;
  for (const name of sequences) {
    const path = join(motDataDir, name, "gt", "gt.txt");
    const gt = readMotFile(path, { kind: "gt" });
    assert.equal(gt.layout, "mot17");
    // The result holds every pedestrian row plus every distractor row (new ids) as hypotheses.
    const lines = readFileSync(path, "utf8").trim().split("\n");
    const resLines: string[] = [];
    let pedestrians = 0;
    let distractors = 0;
    for (const line of lines) {
      const [frame, id, x, y, w, h, flag, cls] = line.split(",");
      if (cls === "1" && flag === "1") {
        resLines.push(`${frame},${id},${x},${y},${w},${h},1,-1,-1,-1`);
        pedestrians++;
      } else if (["2", "7", "8", "12"].includes(cls)) {
        resLines.push(`${frame},${100000 + Number(id)},${x},${y},${w},${h},1,-1,-1,-1`);
        distractors++;
      }
    }
    const res = parseMotText(resLines.join("\n"), { kind: "res", source: `${name} self` });
    const m = evaluateSequence(gt, res, { name });
    const s = summarize(m);
    assert.equal(m.removedDistractorHyps, distractors, `${name}: every distractor copy removed`);
    assert.equal(s.gtBoxes, pedestrians);
    assert.deepEqual([s.fp, s.fn, s.idsw, s.frag], [0, 0, 0, 0], name);
    for (const key of ["mota", "motp", "idf1", "hota", "detA", "assA", "locA"] as const) {
      assert.ok(Math.abs(s[key] - 1) < 1e-12, `${name} ${key} = ${s[key]}`);
    }
  }
});
