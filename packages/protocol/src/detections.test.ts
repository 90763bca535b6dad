import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Detections,
  detectionCount,
  detectionsFromMessage,
  detectionsFromRows,
  detectionsToMessage,
  detectionsToRows,
  filterDetections,
  NO_TRACK,
  selectDetections,
} from "./detections.ts";

const three = (): Detections<Float32Array> => ({
  xyxy: Float32Array.of(0, 0, 10, 10, 5, 5, 20, 25, 1, 2, 3, 4),
  scores: Float32Array.of(0.9, 0.5, 0.25),
  classIds: Int32Array.of(1, 3, 1),
});

test("select and filter keep the array types and carry track ids along", () => {
  const picked = selectDetections(three(), [2, 0]);
  assert.ok(picked.xyxy instanceof Float32Array && picked.scores instanceof Float32Array);
  assert.deepEqual([...picked.xyxy], [1, 2, 3, 4, 0, 0, 10, 10]);
  assert.deepEqual([...picked.classIds], [1, 1]);
  assert.equal(picked.trackIds, undefined);

  const tracked = { ...three(), trackIds: Int32Array.of(7, NO_TRACK, 9) };
  const kept = filterDetections(tracked, Uint8Array.of(0, 1, 1));
  assert.equal(detectionCount(kept), 2);
  assert.deepEqual([...kept.scores], [Math.fround(0.5), Math.fround(0.25)]);
  assert.deepEqual([...kept.trackIds!], [NO_TRACK, 9]);
});

test("the message carries boxes to 2 decimals and scores to 4; reading it back keeps those values exactly", () => {
  const d: Detections<Float32Array> = {
    xyxy: Float32Array.of(10.123, 20.456, 300.999, 400.5),
    scores: Float32Array.of(0.87654),
    classIds: Int32Array.of(3),
  };
  const message = detectionsToMessage(d);
  assert.deepEqual(message, { boxes: [10.12, 20.46, 301, 400.5], scores: [0.8765], classes: [3] });
  const back = detectionsFromMessage(JSON.parse(JSON.stringify(message)));
  assert.ok(back.xyxy instanceof Float64Array);
  assert.deepEqual([...back.xyxy], [10.12, 20.46, 301, 400.5]);
  assert.deepEqual([...back.scores], [0.8765]);
});

test("tracks.jsonl rows: labels by class, null for untracked, and back to detections", () => {
  const d = {
    ...detectionsFromMessage({ boxes: [1, 2, 3, 4, 5, 6, 7, 8], scores: [0.5, 0.25], classes: [1, 2] }),
  };
  d.trackIds = Int32Array.of(4, NO_TRACK);
  const rows = detectionsToRows(d, (c) => `c${c}`);
  assert.equal(
    JSON.stringify(rows),
    '[{"box":[1,2,3,4],"score":0.5,"class":1,"label":"c1","trackId":4},{"box":[5,6,7,8],"score":0.25,"class":2,"label":"c2","trackId":null}]',
  );
  const back = detectionsFromRows(rows);
  assert.deepEqual([...back.xyxy], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...back.trackIds!], [4, NO_TRACK]);
  assert.deepEqual([...back.classIds], [1, 2]);
});
