// Zones and lines drawn with live counts: the Annotator runs @vdet/analytics over the tracks as it draws, so each
// frame's labels are the counts as of that frame.

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseZonesFile, resolveZones } from "@vdet/analytics";
import type { RgbImage } from "@vdet/protocol";
import { Annotator } from "./annotate.ts";
import type { TrackFrame } from "./tracks.ts";
import { LINE_COLOR, lineLabel, ZONE_COLOR, zoneLabel } from "./zones.ts";

const blank = (): RgbImage => ({ width: 200, height: 100, data: new Uint8Array(200 * 100 * 3) });
const pixel = (image: RgbImage, x: number, y: number) => [
  ...image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3),
];

/** One track walking right, 10 px per sampled frame (100 ms apart). */
const frames: TrackFrame[] = Array.from({ length: 16 }, (_, frame) => ({
  frame,
  ptsMs: frame * 100,
  phi: 0,
  detections: [
    { box: [10 * frame, 30, 10 * frame + 20, 60], score: 1, class: 1, label: "person", trackId: 7 },
  ],
}));

test("the annotator draws zones and lines with the counts as of each frame", () => {
  const zones = resolveZones(
    parseZonesFile({
      inertiaFrames: 2,
      zones: [
        {
          name: "pen",
          polygon: [
            [40, 10],
            [90, 10],
            [90, 90],
            [40, 90],
          ],
        },
      ],
      lines: [{ name: "gate", from: [120, 99], to: [120, 0] }],
    }),
  );
  const annotator = new Annotator(frames, { zones, trailLength: 0 });
  const seen: string[] = [];
  for (const f of frames) {
    const image = blank();
    annotator.draw(image, f.ptsMs);
    seen.push(`${zoneLabel("pen", annotator.counts, 0)} | ${lineLabel("gate", annotator.counts, 0)}`);
    assert.deepEqual(pixel(image, 90, 80), [...ZONE_COLOR], "the zone's right edge");
    assert.deepEqual(pixel(image, 120, 95), [...LINE_COLOR], "the line");
  }
  // Anchor: bottom centre, x = 10 f + 10; inside the zone (40…90) from f = 3 (counted at once: entered at f = 3
  // after 2 frames inside), out after f = 8; across x = 120 at f = 11, counted at f = 12.
  assert.equal(seen[0], "pen in 0 out 0 now 0 | gate in 0 out 0");
  assert.equal(seen[4], "pen in 1 out 0 now 1 | gate in 0 out 0");
  assert.equal(seen[10], "pen in 1 out 1 now 0 | gate in 0 out 0");
  assert.equal(seen[15], "pen in 1 out 1 now 0 | gate in 1 out 0");
  assert.equal(zoneLabel("pen", null, 0), "pen", "without counts, the name alone");
});
