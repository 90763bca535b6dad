#!/usr/bin/env node
// A tracks.jsonl for the docs' analytics picture: the white car of test/fixtures/video/car-detection.mp4 found by a
// brightness threshold (not a detector: the weights here are untrained), one track, its first 10 s at 5 fps.
//   node scripts/docs-car-track.mjs > docs/car-detection.tracks.jsonl
import { spawn } from "node:child_process";

const [W, H, FPS] = [768, 432, 5];
const ff = spawn("ffmpeg", [
  ...["-v", "error", "-t", "10", "-i", "test/fixtures/video/car-detection.mp4"],
  ...["-vf", `fps=${FPS}`, "-f", "rawvideo", "-pix_fmt", "gray", "-"],
]);
const frameBytes = W * H;
let buffer = Buffer.alloc(0);
let frame = 0;
const lines = [];
/** The bounding box of rows and columns with at least `min` bright pixels (thin lane markings drop out). */
function carBox(gray) {
  const rows = new Uint32Array(H);
  const cols = new Uint32Array(W);
  for (let y = 0; y < H; y++)
    for (let x = 120; x < W - 120; x++)
      if (gray[y * W + x] > 190) {
        rows[y]++;
        cols[x]++;
      }
  const span = (counts, min) => {
    let [lo, hi] = [-1, -1];
    counts.forEach((n, i) => {
      if (n < min) return;
      if (lo < 0) lo = i;
      hi = i;
    });
    return [lo, hi];
  };
  const [y1, y2] = span(rows, 12);
  const [x1, x2] = span(cols, 12);
  if (y1 < 0 || x1 < 0 || (x2 - x1) * (y2 - y1) < 1500) return null;
  return [x1, y1, x2 + 1, y2 + 1];
}
ff.stdout.on("data", (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  while (buffer.length >= frameBytes) {
    const box = carBox(buffer.subarray(0, frameBytes));
    buffer = buffer.subarray(frameBytes);
    const detections = box ? [{ box, score: 1, class: 3, label: "car", trackId: 1 }] : [];
    lines.push(JSON.stringify({ frame, ptsMs: (frame * 1000) / FPS, detections }));
    frame++;
  }
});
ff.on("close", (code) => {
  if (code !== 0) process.exit(code ?? 1);
  process.stdout.write(`${lines.join("\n")}\n`);
});
