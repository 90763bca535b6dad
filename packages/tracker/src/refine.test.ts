import assert from "node:assert/strict";
import { test } from "node:test";
import { TrackerOptionsError } from "./options.ts";
import { type RefineRow, refineTracks } from "./refine.ts";

/** A 40×100 box whose top-left corner moves by (vx, vy) per frame from (x, y) at frame 1. */
const moving = (id: number, frames: readonly number[], x: number, y: number, vx: number, vy: number) =>
  frames.map(
    (f): RefineRow => ({
      frame: f,
      id,
      box: [x + vx * (f - 1), y + vy * (f - 1), x + vx * (f - 1) + 40, y + vy * (f - 1) + 100],
      score: 0.9,
    }),
  );

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

test("a short gap inside a track is filled by interpolation, a long one is left open", () => {
  const rows = [...moving(1, [...range(1, 5), ...range(9, 12)], 10, 20, 2, 1)];
  const out = refineTracks(rows, { fps: 30, smoothingSigmaFrames: 0, maxLinkGapFrames: 0 });
  assert.deepEqual(
    out.map((r) => r.frame),
    range(1, 12),
  );
  assert.deepEqual(
    out.filter((r) => r.interpolated).map((r) => r.frame),
    [6, 7, 8],
  );
  const f7 = out.find((r) => r.frame === 7);
  assert.deepEqual(f7?.box, [22, 26, 62, 126]);
  // Gaps longer than maxGapFrames stay gaps.
  const open = refineTracks(rows, { fps: 30, smoothingSigmaFrames: 0, maxLinkGapFrames: 0, maxGapFrames: 2 });
  assert.equal(open.length, rows.length);
});

test("smoothing keeps constant-velocity tracks exact (also at their ends) and reduces jitter", () => {
  const straight = moving(3, range(1, 30), 100, 50, 3, -1);
  const out = refineTracks(straight, { fps: 30, smoothingSigmaFrames: 3 });
  for (let k = 0; k < out.length; k++)
    for (let c = 0; c < 4; c++) assert.ok(Math.abs(out[k].box[c] - straight[k].box[c]) < 1e-9);
  // Alternating ±2 px jitter on x: the smoothed track is much closer to the true line.
  const jittered = straight.map((r, k) => {
    const d = k % 2 === 0 ? 2 : -2;
    return { ...r, box: [r.box[0] + d, r.box[1], r.box[2] + d, r.box[3]] };
  });
  const smoothed = refineTracks(jittered, { fps: 30, smoothingSigmaFrames: 3 });
  const error = (rows: readonly { box: ArrayLike<number> }[]) =>
    rows.reduce((s, r, k) => s + Math.abs(r.box[0] - straight[k].box[0]), 0) / rows.length;
  assert.ok(error(smoothed) < 0.5 * error(jittered), `${error(smoothed)} vs ${error(jittered)}`);
});

test("a track that ends and one that starts where it would be are joined under the first id", () => {
  const rows = [
    ...moving(1, range(1, 10), 100, 100, 4, 0),
    // The same object after a 15-frame occlusion, reported under a new id.
    ...moving(2, range(26, 40), 100, 100, 4, 0),
    // Another object far away that also starts after the gap: must stay separate.
    ...moving(3, range(26, 40), 600, 300, -4, 0),
  ];
  const out = refineTracks(rows, { fps: 30, smoothingSigmaFrames: 0 });
  const ids = new Set(out.map((r) => r.id));
  assert.deepEqual([...ids].sort(), [1, 3]);
  const joined = out.filter((r) => r.id === 1);
  assert.deepEqual(
    joined.map((r) => r.frame),
    range(1, 40),
  );
  assert.deepEqual(joined.find((r) => r.frame === 18)?.box, [168, 100, 208, 200]);
  // Without linking the ids stay apart.
  const unlinked = refineTracks(rows, { fps: 30, smoothingSigmaFrames: 0, maxLinkGapFrames: 0 });
  assert.deepEqual([...new Set(unlinked.map((r) => r.id))].sort(), [1, 2, 3]);
});

test("gap lengths are given at 30 fps and scale with the stream's rate", () => {
  // At 10 fps a 20-frame (30 fps) gap limit is 7 frames: a 6-frame gap is filled, an 8-frame one not.
  const rows = [...moving(1, [1, 2, 9, 10], 0, 0, 1, 0), ...moving(2, [1, 2, 11, 12], 300, 0, 1, 0)];
  const out = refineTracks(rows, { fps: 10, smoothingSigmaFrames: 0, maxLinkGapFrames: 0 });
  assert.equal(out.filter((r) => r.id === 1).length, 10);
  assert.equal(out.filter((r) => r.id === 2).length, 4);
});

test("bad options and rows are refused with a clear error", () => {
  assert.throws(() => refineTracks([], { fps: 0 }), TrackerOptionsError);
  assert.throws(() => refineTracks([], { maxGapFrames: -1 }), /maxGapFrames/);
  assert.throws(() => refineTracks([], { linkIou: 2 }), /linkIou/);
  assert.throws(() => refineTracks([], { sigma: 1 } as never), /unknown refine option "sigma"/);
  const twice = [...moving(1, [1, 2], 0, 0, 1, 0), ...moving(1, [2], 0, 0, 1, 0)];
  assert.throws(() => refineTracks(twice), /track 1 has two rows in frame 2/);
});
