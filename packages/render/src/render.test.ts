// The annotated video: every source frame is written, each shows the boxes of the latest sampled frame at or
// before it (held until the next), in the track's colour, and nothing where the tracks have no box. Checked by
// decoding the rendered MP4 and reading pixels where the tracks say the boxes are.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { RgbImage } from "@vdet/protocol";
import { decodeFrames, ffmpegBinaries, probeVideo } from "@vdet/video";
import { makeLavfiClip } from "@vdet/video/testing";
import { trackColor } from "./annotate.ts";
import { drawText, fillRect, strokeRect } from "./draw.ts";
import { renderAnnotatedVideo } from "./render.ts";
import type { TrackFrame } from "./tracks.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-render-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const GREY = 128;
const pixel = (image: RgbImage, x: number, y: number) => {
  const i = (y * image.width + x) * 3;
  return [image.data[i], image.data[i + 1], image.data[i + 2]];
};
const distance = (a: readonly number[], b: readonly number[]) =>
  Math.max(...a.map((v, i) => Math.abs(v - b[i])));

test("drawing: rectangles are clipped, outlines leave the inside alone, text sets pixels", () => {
  const image: RgbImage = { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3) };
  fillRect(image, -5, -5, 3, 3, [255, 0, 0]);
  assert.deepEqual(pixel(image, 0, 0), [255, 0, 0]);
  assert.deepEqual(pixel(image, 3, 3), [0, 0, 0]);
  strokeRect(image, 10, 10, 30, 25, [0, 255, 0], 2);
  assert.deepEqual(pixel(image, 10, 17), [0, 255, 0]);
  assert.deepEqual(pixel(image, 11, 17), [0, 255, 0]);
  assert.deepEqual(pixel(image, 12, 17), [0, 0, 0]);
  const text: RgbImage = { width: 20, height: 9, data: new Uint8Array(20 * 9 * 3) };
  drawText(text, "#1", 1, 1, [255, 255, 255]);
  const set = text.data.reduce((n, v) => n + (v === 255 ? 1 : 0), 0) / 3;
  assert.ok(set > 10 && set < 2 * 35, `${set} pixels set`);
});

test("render: every source frame, boxes held until the next sampled frame, gone when the tracks say so", async () => {
  const clip = join(dir, "grey.mp4");
  await makeLavfiClip(clip, "color=c=0x808080:size=640x480:rate=10:duration=2");
  // Sampled at 5 fps: track 1 moves 40 px right per sampled frame; track 2 stands still for the first second.
  const box1 = (k: number) => [40 + 40 * k, 200, 160 + 40 * k, 400];
  const box2 = [400, 40, 600, 160];
  const tracks: TrackFrame[] = Array.from({ length: 10 }, (_, k) => ({
    frame: k,
    ptsMs: k * 200,
    phi: 0,
    detections: [
      { box: box1(k), score: 0.9, class: 3, label: "car", trackId: 1 },
      ...(k < 5 ? [{ box: box2, score: 0.8, class: 1, label: "person", trackId: 2 }] : []),
    ],
  }));
  const out = join(dir, "annotated.mp4");
  let progress = 0;
  const result = await renderAnnotatedVideo({
    tracks,
    input: clip,
    output: out,
    onProgress: (d) => (progress = d),
  });
  assert.equal(result.frames, 20);
  assert.equal(progress, 20);
  const info = await probeVideo(out);
  assert.equal(info.width, 640);
  assert.equal(info.height, 480);
  assert.equal(info.frameCount, 20);

  const color1 = trackColor(1);
  const color2 = trackColor(2);
  let checked = 0;
  for await (const frame of decodeFrames(out, { sampling: { everyNth: 1 } })) {
    const k = Math.floor(frame.index / 2); // the sampled frame in effect (pts 100 ms apart, sampled 200 ms)
    const [x1, y1, x2, y2] = box1(k);
    const midY = (y1 + y2) / 2 + 30;
    const leftEdge = pixel(frame, x1 + 1, midY);
    assert.ok(distance(leftEdge, color1) < 60, `frame ${frame.index}: left edge ${leftEdge} vs ${color1}`);
    const rightEdge = pixel(frame, x2 - 2, midY);
    assert.ok(distance(rightEdge, color1) < 60, `frame ${frame.index}: right edge ${rightEdge}`);
    // Inside the box (away from the trail through the centres) and where the next sampled box will be: grey.
    assert.ok(
      distance(pixel(frame, x1 + 20, y1 + 40), [GREY, GREY, GREY]) < 12,
      `frame ${frame.index} inside`,
    );
    if (k < 9) {
      const ahead = pixel(frame, x2 + 20, midY);
      assert.ok(distance(ahead, [GREY, GREY, GREY]) < 12, `frame ${frame.index}: box drawn ahead of time`);
    }
    const edge2 = pixel(frame, box2[0] + 1, 120);
    if (k < 5) assert.ok(distance(edge2, color2) < 60, `frame ${frame.index}: track 2 edge ${edge2}`);
    else assert.ok(distance(edge2, [GREY, GREY, GREY]) < 12, `frame ${frame.index}: track 2 should be gone`);
    // The label sits above the box: its background (the row under the text) in the track's colour.
    const labelRow = Array.from({ length: 30 }, (_, i) => pixel(frame, x1 + i, y1 - 1));
    const coloured = labelRow.filter((p) => distance(p, color1) < 60).length;
    assert.ok(coloured >= 18, `frame ${frame.index}: label background ${coloured}/30`);
    checked++;
  }
  assert.equal(checked, 20);
  // One frame as an image for people (README): both tracks, track 1 with its trail.
  const artifacts = fileURLToPath(new URL("../../../test/artifacts/", import.meta.url));
  mkdirSync(artifacts, { recursive: true });
  await promisify(execFile)(ffmpegBinaries().ffmpegPath, [
    ...["-hide_banner", "-loglevel", "error", "-y", "-ss", "0.9", "-i", out, "-frames:v", "1"],
    join(artifacts, "annotated-frame.png"),
  ]);
});
