// Segmented decoding and compressed frames (issue 16), measured in one run:
// - index: indexVideo (ffprobe packet list, demux only) on a generated 10-minute 720p30 H.264 clip (cached under
//   .cache/bench), and planSegments on its index: time, segments, descriptor bytes.
// - seek overhead: the first 60 s of that clip decoded sequentially (decodeFrames) against the sum of its
//   segments decoded one after another (decodeSegment), same sampling and size; the ratio is the price of
//   starting every segment at a keyframe. Also checks that both give the same frame count.
// - JPEG frames: encodeJpeg / decodeImage on real frames (the car fixture scaled to 512×512 and 1280×720):
//   bytes and CPU ms per frame at two qualities, against the raw RGB size.
// Options: --passes N (3), --fps N (5), --segment-seconds N (4). Last stdout line: one JSON object.

import { existsSync, mkdirSync, renameSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { decodeImage, encodeJpeg } from "@vdet/image";
import type { RgbImage } from "@vdet/protocol";
import { decodeFrames, decodeSegment, describeFfmpeg, indexVideo, planSegments } from "@vdet/video";
import { makeTestClip, runFfmpeg } from "@vdet/video/testing";

const { values } = parseArgs({
  options: {
    passes: { type: "string", default: "3" },
    fps: { type: "string", default: "5" },
    "segment-seconds": { type: "string", default: "4" },
  },
});
const passes = Number(values.passes);
const fps = Number(values.fps);
const segmentSeconds = Number(values["segment-seconds"]);
const root = fileURLToPath(new URL("..", import.meta.url));
const cache = join(root, ".cache", "bench");
const ffmpeg = await describeFfmpeg();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

async function cached(name: string, make: (path: string) => Promise<unknown>): Promise<string> {
  const path = join(cache, name);
  if (!existsSync(path)) {
    mkdirSync(cache, { recursive: true });
    const partial = join(cache, `partial-${name}`);
    await make(partial);
    renameSync(partial, path);
  }
  return path;
}

const longClip = await cached("testsrc2-720p30-600s.mp4", (path) =>
  makeTestClip(path, 600, 30, 1280, 720, [
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-g",
    "60",
    "-pix_fmt",
    "yuv420p",
    "-f",
    "mp4",
  ]),
);
const minuteClip = await cached("testsrc2-720p30-60s.mp4", (path) =>
  runFfmpeg(["-i", longClip, "-t", "60", "-c", "copy", "-f", "mp4", path]),
);
const load = { before: loadavg()[0]!, cores: cpus().length };

// Index and plan the 10-minute clip.
const indexMs: number[] = [];
let index = await indexVideo(longClip);
for (let pass = 0; pass < passes; pass++) {
  const started = performance.now();
  index = await indexVideo(longClip);
  indexMs.push(performance.now() - started);
}
const planStarted = performance.now();
const plan = planSegments(index, { sampling: { fps }, segmentSeconds });
const planMs = performance.now() - planStarted;
const descriptorBytes = plan.segments.map((s) => Buffer.byteLength(JSON.stringify(s)));
const indexRow = {
  clip: "testsrc2 1280x720 30 fps 600 s H.264 (GOP 60)",
  frames: index.pts.length,
  keyframes: index.keyframePts.length,
  indexMs: round(median(indexMs)),
  planMs: round(planMs, 2),
  segments: plan.segments.length,
  sampledFrames: plan.sampledFrames,
  descriptorBytesMean: round(descriptorBytes.reduce((a, b) => a + b, 0) / descriptorBytes.length),
  descriptorBytesMax: Math.max(...descriptorBytes),
};
console.log(`index: ${JSON.stringify(indexRow)}`);

// Seek overhead on the first minute.
const size = { maxSide: 512 };
const minuteIndex = await indexVideo(minuteClip);
const minutePlan = planSegments(minuteIndex, { sampling: { fps }, segmentSeconds });
const sequentialMs: number[] = [];
const segmentedMs: number[] = [];
for (let pass = 0; pass < passes; pass++) {
  let started = performance.now();
  let frames = 0;
  for await (const _ of decodeFrames(minuteClip, { sampling: { fps }, size })) frames += 1;
  sequentialMs.push(performance.now() - started);
  started = performance.now();
  let segmentFrames = 0;
  for (const segment of minutePlan.segments) {
    for await (const _ of decodeSegment(minuteClip, segment, { size })) segmentFrames += 1;
  }
  segmentedMs.push(performance.now() - started);
  if (frames !== segmentFrames || frames !== minutePlan.sampledFrames) {
    throw new Error(
      `sequential ${frames} frames, segments ${segmentFrames}, planned ${minutePlan.sampledFrames}`,
    );
  }
}
const seekRow = {
  clip: "first 60 s of the same clip",
  sampling: { fps },
  maxSide: size.maxSide,
  segments: minutePlan.segments.length,
  sampledFrames: minutePlan.sampledFrames,
  sequentialMs: round(median(sequentialMs)),
  segmentsSerialMs: round(median(segmentedMs)),
  ratio: round(median(segmentedMs) / median(sequentialMs), 3),
};
console.log(`seek overhead: ${JSON.stringify(seekRow)}`);

// JPEG frames.
async function realFrames(width: number, height: number): Promise<RgbImage[]> {
  const frames: RgbImage[] = [];
  const fixture = join(root, "test", "fixtures", "video", "car-detection.mp4");
  for await (const frame of decodeFrames(fixture, { sampling: { fps: 1 }, size: { width, height } })) {
    frames.push(frame);
    if (frames.length === 10) break;
  }
  return frames;
}
const jpegRows = [];
for (const [width, height] of [
  [512, 512],
  [1280, 720],
] as const) {
  const frames = await realFrames(width, height);
  for (const quality of [75, 85]) {
    const encodeMs: number[] = [];
    const decodeMs: number[] = [];
    const bytes: number[] = [];
    for (let pass = 0; pass < passes; pass++) {
      for (const frame of frames) {
        let started = performance.now();
        const jpeg = encodeJpeg(frame, quality);
        encodeMs.push(performance.now() - started);
        started = performance.now();
        decodeImage(jpeg);
        decodeMs.push(performance.now() - started);
        bytes.push(jpeg.length);
      }
    }
    const row = {
      size: `${width}x${height}`,
      quality,
      rawBytes: width * height * 3,
      jpegBytesMean: Math.round(bytes.reduce((a, b) => a + b, 0) / bytes.length),
      encodeMsMedian: round(median(encodeMs), 2),
      decodeMsMedian: round(median(decodeMs), 2),
    };
    console.log(`jpeg: ${JSON.stringify(row)}`);
    jpegRows.push(row);
  }
}

console.log(
  JSON.stringify({
    ffmpeg: `${ffmpeg.ffmpegSource} ${ffmpeg.ffmpegVersion}`,
    passes,
    load: { ...load, after: loadavg()[0] },
    index: indexRow,
    seekOverhead: seekRow,
    jpeg: {
      encoder: "jpeg-js (pure JS), 4:2:0 baseline",
      frames: "car-detection.mp4 scaled",
      rows: jpegRows,
    },
  }),
);
