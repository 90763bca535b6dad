import assert from "node:assert/strict";
import { test } from "node:test";
import { refineMotRows, subsampledLength, subsampleRows } from "./detections.ts";
import { parseMotText } from "./mot-format.ts";

test("subsampleRows keeps frames 1, 1 + s, 1 + 2s … and renumbers them 1, 2, 3 …", () => {
  const text = Array.from({ length: 10 }, (_, k) => `${k + 1},7,${k},0,10,20,1,1,0.5`).join("\n");
  const gt = parseMotText(text, { kind: "gt" });
  const every3 = subsampleRows(gt, 3);
  assert.deepEqual([...every3.frame], [1, 2, 3, 4]);
  assert.deepEqual(
    [...every3.box].filter((_, i) => i % 4 === 0),
    [0, 3, 6, 9],
  );
  assert.deepEqual([...every3.visibility], [0.5, 0.5, 0.5, 0.5]);
  assert.equal(every3.layout, "mot17");
  assert.equal(subsampledLength(10, 3), 4);
  assert.equal(subsampledLength(9, 3), 3);
  assert.deepEqual([...subsampleRows(gt, 1).frame], [...gt.frame]);
  assert.throws(() => subsampleRows(gt, 0), /stride must be a whole number ≥ 1/);
});

test("subsampleRows with an offset starts at frame 1 + offset; the offsets of a stride cover every frame once", () => {
  const text = Array.from({ length: 10 }, (_, k) => `${k + 1},7,${k},0,10,20,1,1,0.5`).join("\n");
  const gt = parseMotText(text, { kind: "gt" });
  const from2 = subsampleRows(gt, 3, 1);
  assert.deepEqual([...from2.frame], [1, 2, 3]);
  assert.deepEqual(
    [...from2.box].filter((_, i) => i % 4 === 0),
    [1, 4, 7],
  );
  assert.equal(subsampledLength(10, 3, 1), 3);
  assert.equal(subsampledLength(10, 3, 2), 3);
  assert.equal(subsampledLength(2, 3, 2), 0);
  const seen = [0, 1, 2].flatMap((o) => [...subsampleRows(gt, 3, o).box].filter((_, i) => i % 4 === 0));
  assert.deepEqual(
    seen.sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.equal(
    [0, 1, 2].reduce((n, o) => n + subsampledLength(10, 3, o), 0),
    10,
  );
  assert.throws(() => subsampleRows(gt, 3, 3), /offset must be a whole number in \[0, stride\)/);
});

test("refineMotRows fills a short gap of a result track", () => {
  const res = parseMotText("1,1,0,0,10,20,0.9\n2,1,2,0,10,20,0.9\n5,1,8,0,10,20,0.9", { kind: "res" });
  const refined = refineMotRows(res, { fps: 30, smoothingSigmaFrames: 0 });
  assert.deepEqual([...refined.frame], [1, 2, 3, 4, 5]);
  assert.deepEqual(
    [...refined.box].filter((_, i) => i % 4 === 0),
    [0, 2, 4, 6, 8],
  );
});
