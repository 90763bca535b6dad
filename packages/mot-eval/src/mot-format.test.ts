import assert from "node:assert/strict";
import { test } from "node:test";
import { detectionFramesFromRows, motRowsFromResults } from "./detections.ts";
import {
  formatResultRow,
  formatResultRows,
  MotFormatError,
  parseMotText,
  parseSeqInfo,
} from "./mot-format.ts";

test("parses MOT15 gt, MOT17 gt (layout from the column count), det and result rows", () => {
  const mot15 = parseMotText("1,1,399,182,121,229,1,-1,-1,-1\n2,1,400,183,121,229,0,-1,-1,-1\n", {
    kind: "gt",
  });
  assert.equal(mot15.layout, "mot15");
  assert.equal(mot15.count, 2);
  assert.deepEqual([...mot15.box.subarray(0, 4)], [399, 182, 121, 229]);
  assert.deepEqual([...mot15.conf], [1, 0]);
  assert.deepEqual([...mot15.classId], [-1, -1]);

  const mot17 = parseMotText("1,1,912,484,97,109,0,7,1\n1,2,1338,418,167,379,1,1,0.5\n", { kind: "gt" });
  assert.equal(mot17.layout, "mot17");
  assert.deepEqual([...mot17.classId], [7, 1]);
  assert.deepEqual([...mot17.visibility], [1, 0.5]);

  const det = parseMotText("\n1,-1,281.931,187.466,79.93,209.537,0.997784,-1,-1,-1\r\n\n", { kind: "det" });
  assert.equal(det.count, 1);
  assert.equal(det.line[0], 2, "line numbers count blank lines");
  assert.ok(Math.abs(det.conf[0] - 0.997784) < 1e-12);

  // Whitespace-separated results and results without a confidence column.
  const res = parseMotText("3 7 10.5 20 30 40\n4\t7\t11\t21\t30\t40\t0.8", { kind: "res" });
  assert.deepEqual([...res.frame], [3, 4]);
  assert.deepEqual([...res.conf], [1, 0.8]);
});

test("malformed rows are reported with file name and line number", () => {
  const bad = (text: string, kind: "gt" | "det" | "res", pattern: RegExp) =>
    assert.throws(
      () => parseMotText(text, { kind, source: "seq/det/det.txt" }),
      (e: Error) => e instanceof MotFormatError && pattern.test(e.message),
    );
  bad("1,-1,1,2,3,4,0.9\n2,-1,1,2", "det", /^seq\/det\/det\.txt:2: expected at least 7 values/);
  bad(
    "1,-1,1,2,3,4,0.9\n\n2,-1,x,2,3,4,0.9",
    "det",
    /^seq\/det\/det\.txt:3: column 3 \(x\) is not a number: "x"/,
  );
  bad("0,1,1,2,3,4,1", "gt", /:1: frame must be a whole number ≥ 1/);
  bad("1.5,1,1,2,3,4,1", "res", /:1: frame must be a whole number/);
  bad("1,1,1,2,-3,4,1", "res", /:1: negative box size/);
  bad("1,1,1,2,3,4,1,,1", "gt", /:1: column 8 \(class\) is not a number/);
});

test("seqinfo.ini", () => {
  const info = parseSeqInfo(
    "[Sequence]\nname=MOT17-02-FRCNN\nimDir=img1\nframeRate=30\nseqLength=600\nimWidth=1920\n",
  );
  assert.deepEqual(info, { name: "MOT17-02-FRCNN", frameRate: 30, seqLength: 600, imWidth: 1920 });
  assert.throws(
    () => parseSeqInfo("[Sequence]\nframeRate=fast\n", "x/seqinfo.ini"),
    /x\/seqinfo\.ini:2: frameRate/,
  );
});

test("result rows round-trip through text, and detections group into frames as x1,y1,x2,y2", () => {
  const text = formatResultRows([
    { frame: 1, id: 3, box: [10, 20, 40.25, 60], conf: 0.9 },
    { frame: 3, id: 4, box: [0, 0, 5, 5], conf: 1 },
  ]);
  assert.equal(text, "1,3,10,20,30.25,40,0.9,-1,-1,-1\n3,4,0,0,5,5,1,-1,-1,-1\n");
  // Boxes to 3 decimals, confidence to 4 (scores travel between stages at 4); the box is read at an offset.
  assert.equal(
    formatResultRow(3, 7, [0, 0, 0, 0, 10.12, 20.5, 30.123456, 40], 4, 0.87654),
    "3,7,10.12,20.5,20.003,19.5,0.8765,-1,-1,-1\n",
  );
  const parsed = parseMotText(text, { kind: "res" });
  const direct = motRowsFromResults([
    { frame: 1, id: 3, box: [10, 20, 40.25, 60], conf: 0.9 },
    { frame: 3, id: 4, box: [0, 0, 5, 5], conf: 1 },
  ]);
  assert.deepEqual([...parsed.box], [...direct.box]);
  assert.deepEqual([...parsed.id], [...direct.id]);

  const det = parseMotText("2,-1,10,20,30,40,0.9\n2,-1,0,0,1,1,0.6\n4,-1,5,5,5,5,0.7\n", { kind: "det" });
  const frames = detectionFramesFromRows(det, 5);
  assert.equal(frames.length, 5);
  assert.equal(frames[0].scores.length, 0);
  assert.deepEqual([...frames[1].xyxy], [10, 20, 40, 60, 0, 0, 1, 1]);
  assert.deepEqual([...frames[3].xyxy], [5, 5, 10, 10]);
  assert.ok(Math.abs(frames[1].scores[1] - 0.6) < 1e-7);
});
