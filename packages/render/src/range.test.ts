// Preview and render cover the processed time range by default (up to one sampling interval after the last sampled
// frame), the whole video on request; boxes stay only until the next sampled frame, then, after the last one, for
// one sampling interval, and are gone.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { RgbImage } from "@vdet/protocol";
import { makeTestClip } from "@vdet/video/testing";
import { Annotator, samplingIntervalMs } from "./annotate.ts";
import { renderAnnotatedVideo } from "./render.ts";
import type { TrackFrame } from "./tracks.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-render-range-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const line = (frame: number, ptsMs: number): TrackFrame => ({
  frame,
  ptsMs,
  phi: 0,
  detections: [{ box: [10, 10, 60, 60], score: 0.9, class: 1, label: "person", trackId: 1 }],
});
const tracks = [line(0, 0), line(1, 500)];

const painted = (image: RgbImage) => image.data.some((v) => v !== 0);
const blank = (): RgbImage => ({ width: 160, height: 120, data: new Uint8Array(160 * 120 * 3) });

test("boxes: until the next sampled frame, then one sampling interval after the last, then gone", () => {
  assert.equal(samplingIntervalMs(tracks), 500);
  assert.equal(samplingIntervalMs([line(0, 0)]), 1000);
  const annotator = new Annotator(tracks, { trailLength: 0 });
  assert.equal(annotator.processedEndMs, 1000);
  for (const [pts, shown] of [
    [0, true],
    [400, true],
    [700, true],
    [1000, true],
    [1100, false],
    [5000, false],
  ] as const) {
    const image = blank();
    annotator.draw(image, pts);
    assert.equal(painted(image), shown, `at ${pts} ms`);
  }
});

test("render: the processed range by default, the whole video with range: video", {
  timeout: 120_000,
}, async () => {
  const clip = join(dir, "clip.mp4");
  await makeTestClip(clip, 3, 10, 160, 120);
  const processed = await renderAnnotatedVideo({ tracks, input: clip, output: join(dir, "p.mp4") });
  assert.equal(processed.frames, 10, "0 … 0.9 s: the sampled frames plus one interval");
  const whole = await renderAnnotatedVideo({
    tracks,
    input: clip,
    output: join(dir, "w.mp4"),
    range: "video",
  });
  assert.equal(whole.frames, 30);
});
