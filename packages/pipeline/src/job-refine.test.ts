import assert from "node:assert/strict";
import { test } from "node:test";
import { refineJobTracks } from "./job-refine.ts";

/** MOT rows of a 40×100 box moving 4 px per frame to the right, for the given frames. */
const rows = (id: number, frames: readonly number[]) =>
  frames.map((f) => `${f},${id},${100 + 4 * f},50,40,100,0.9,-1,-1,-1\n`).join("");
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

test("job refine: gaps filled, tracklets of one class joined, of different classes kept apart", () => {
  // Track 1 (class 0) stops at frame 10; track 2 (class 0) goes on where it would be at frame 16.
  // Track 3 is the same motion as 1 later on, but of class 2: it must not be joined to track 2.
  const mot = rows(1, range(1, 10)) + rows(2, [...range(16, 20), ...range(23, 30)]) + rows(3, range(36, 40));
  const classOf = new Map([
    [1, 0],
    [2, 0],
    [3, 2],
  ]);
  const result = refineJobTracks(mot, classOf, 30);
  const lines = result.text.trim().split("\n");
  assert.equal(lines.length, result.rows);
  const framesOf = (id: number) =>
    lines.filter((l) => l.split(",")[1] === String(id)).map((l) => Number(l.split(",")[0]));
  assert.deepEqual(framesOf(1), range(1, 30));
  assert.deepEqual(framesOf(2), []);
  assert.deepEqual(framesOf(3), range(36, 40));
  // The filled frame 13 lies on the motion line.
  const f13 = lines.find((l) => l.startsWith("13,1,"));
  assert.equal(f13, "13,1,152,50,40,100,0.9,-1,-1,-1");
});

test("job refine: a job without tracks writes an empty file", () => {
  assert.deepEqual(refineJobTracks("", new Map(), 5), { text: "", rows: 0 });
});
