import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { REFINED_MOT_FILE, refineJobOutput } from "./refine-output.ts";

/** MOT rows of a 40×100 box moving 4 px per frame to the right, for the given frames. */
const rows = (id: number, frames: readonly number[]) =>
  frames.map((f) => `${f},${id},${100 + 4 * f},50,40,100,0.9,-1,-1,-1\n`).join("");
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

test("vdet run --refine: gaps filled, tracklets of one class joined, of different classes kept apart", () => {
  const dir = mkdtempSync(join(tmpdir(), "vdet-refine-"));
  try {
    // Track 1 (class 0) stops at frame 10; track 2 (class 0) goes on where it would be at frame 16.
    // Track 3 is the same motion as 1 later on, but of class 2: it must not be joined to track 2.
    writeFileSync(
      join(dir, "tracks.mot.txt"),
      rows(1, range(1, 10)) + rows(2, [...range(16, 20), ...range(23, 30)]) + rows(3, range(36, 40)),
    );
    const trackList = [
      { trackId: 1, class: 0 },
      { trackId: 2, class: 0 },
      { trackId: 3, class: 2 },
    ];
    writeFileSync(join(dir, "summary.json"), JSON.stringify({ tracks: 3, trackList }));
    const result = refineJobOutput(dir, 30);
    assert.equal(result.path, join(dir, REFINED_MOT_FILE));
    const lines = readFileSync(result.path, "utf8").trim().split("\n");
    assert.equal(lines.length, result.rows);
    const framesOf = (id: number) =>
      lines.filter((l) => l.split(",")[1] === String(id)).map((l) => Number(l.split(",")[0]));
    assert.deepEqual(framesOf(1), range(1, 30));
    assert.deepEqual(framesOf(2), []);
    assert.deepEqual(framesOf(3), range(36, 40));
    // The filled frame 13 lies on the motion line.
    const f13 = lines.find((l) => l.startsWith("13,1,"));
    assert.equal(f13, "13,1,152,50,40,100,0.9,-1,-1,-1");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
