// Tracker + evaluator end to end on the MOT15 TUD sequences of the shared data (not copied into the
// repo: CC BY-NC-SA). Skips visibly without the data; fails instead when VDET_REQUIRE_FIXTURES=1.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import {
  combineSequences,
  detectionFramesFromRows,
  evaluateSequence,
  motRowsFromResults,
  type ResultRow,
  readMotFile,
  readSeqInfo,
  type SequenceMetrics,
  summarize,
} from "@vdet/mot-eval";
import { Tracker } from "@vdet/tracker";
import { haveMotData, motDir } from "./support/mot.ts";

const SEQUENCES = ["TUD-Campus", "TUD-Stadtmitte"];

function trackAndEvaluate(name: string, make: (fps: number) => Tracker): SequenceMetrics {
  const dir = join(motDir, name);
  const info = readSeqInfo(dir);
  const frames = detectionFramesFromRows(
    readMotFile(join(dir, "det", "det.txt"), { kind: "det" }),
    info.seqLength,
  );
  const tracker = make(info.frameRate ?? 30);
  const rows: ResultRow[] = [];
  frames.forEach((frame, f) => {
    for (const t of tracker.update(frame))
      rows.push({ frame: f + 1, id: t.trackId, box: t.box, conf: t.score });
  });
  const gt = readMotFile(join(dir, "gt", "gt.txt"), { kind: "gt" });
  return evaluateSequence(gt, motRowsFromResults(rows), { name, numTimesteps: info.seqLength });
}

test("the SORT configuration reproduces SORT's published TUD-Campus results", (t) => {
  if (!haveMotData(t, SEQUENCES)) return;
  // github.com/abewley/sort README, "Main Results" (MOTChallenge devkit), TUD-Campus row:
  // Rcll 68.5 Prcn 94.3 | GT 8 MT 6 PT 2 ML 0 | FP 15 FN 113 IDs 6 FM 9 | MOTA 62.7 MOTP 73.7
  const s = summarize(trackAndEvaluate("TUD-Campus", (fps) => Tracker.sortBaseline({ fps })));
  assert.deepEqual([s.gtIds, s.mt, s.pt, s.ml, s.fp, s.fn, s.idsw, s.frag], [8, 6, 2, 0, 15, 113, 6, 9]);
  assert.equal((100 * s.recall).toFixed(1), "68.5");
  assert.equal((100 * s.precision).toFixed(1), "94.3");
  assert.equal((100 * s.mota).toFixed(1), "62.7");
  assert.equal((100 * s.motp).toFixed(1), "73.7");
});

test("the default tracker beats the SORT baseline on combined MOTA, IDF1 and HOTA", (t) => {
  if (!haveMotData(t, SEQUENCES)) return;
  const combined = (make: (fps: number) => Tracker) =>
    summarize(combineSequences(SEQUENCES.map((name) => trackAndEvaluate(name, make))));
  const ours = combined((fps) => new Tracker({ fps }));
  const sort = combined((fps) => Tracker.sortBaseline({ fps }));
  t.diagnostic(
    `ours MOTA ${ours.mota.toFixed(4)} IDF1 ${ours.idf1.toFixed(4)} HOTA ${ours.hota.toFixed(4)}; ` +
      `SORT MOTA ${sort.mota.toFixed(4)} IDF1 ${sort.idf1.toFixed(4)} HOTA ${sort.hota.toFixed(4)}`,
  );
  assert.ok(ours.mota > sort.mota, `MOTA ${ours.mota} vs SORT ${sort.mota}`);
  assert.ok(ours.idf1 > sort.idf1, `IDF1 ${ours.idf1} vs SORT ${sort.idf1}`);
  assert.ok(ours.hota > sort.hota, `HOTA ${ours.hota} vs SORT ${sort.hota}`);
});
