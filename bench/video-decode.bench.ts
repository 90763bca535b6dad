// Decode throughput of @vdet/video: decodeFrames (sample + scale to RGB24, frames handed to JS) against the same
// ffmpeg command run bare with its output read and discarded, in the same run. Clips: the real 768x432 fixtures
// and a generated 1080p30 H.264 clip (cached under .cache/). Options: --fps N (5), --max-side N (512),
// --passes N (3). Last stdout line: one JSON object.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { decodeFrames, describeFfmpeg } from "@vdet/video";
import { makeTestClip } from "@vdet/video/testing";

const { values } = parseArgs({
  options: {
    fps: { type: "string", default: "5" },
    "max-side": { type: "string", default: "512" },
    passes: { type: "string", default: "3" },
  },
});
const fps = Number(values.fps);
const maxSide = Number(values["max-side"]);
const passes = Number(values.passes);
const root = fileURLToPath(new URL("..", import.meta.url));
const ffmpeg = await describeFfmpeg();

function run(args: string[], onStdout?: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg.ffmpegPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => onStdout?.(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${stderr}`)),
    );
  });
}

async function syntheticClip(): Promise<string> {
  const dir = join(root, ".cache", "bench");
  const path = join(dir, "testsrc2-1080p30-10s.mp4");
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    await makeTestClip(path, 10, 30, 1920, 1080, [
      "-c:v",
      "libx264",
      "-preset",
      "veryfast",
      "-pix_fmt",
      "yuv420p",
    ]);
  }
  return path;
}

/** The same sampling and scaling as decodeFrames, without showinfo, output discarded. */
async function bareFfmpeg(path: string): Promise<{ frames: number; seconds: number }> {
  const grid = `t*${fps}+1e-6`;
  const select = `select=if(gte(${grid}\\,ld(0))\\,st(0\\,floor(${grid})+1)*0+1\\,0)`;
  const scale = `scale=w=if(gte(iw\\,ih)\\,trunc(min(${maxSide}\\,iw)/2)*2\\,-2):h=if(gte(iw\\,ih)\\,-2\\,trunc(min(${maxSide}\\,ih)/2)*2):flags=area`;
  let bytes = 0;
  const started = performance.now();
  await run(
    [
      ...["-hide_banner", "-nostdin", "-loglevel", "error", "-i", path, "-map", "0:V:0"],
      ...[
        "-vf",
        `${select},${scale},format=rgb24`,
        ffmpeg.hasFpsMode ? "-fps_mode" : "-vsync",
        "passthrough",
      ],
      ...["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    ],
    (chunk) => {
      bytes += chunk.length;
    },
  );
  return { frames: bytes, seconds: (performance.now() - started) / 1000 };
}

async function library(path: string): Promise<{ frames: number; seconds: number; frameBytes: number }> {
  let frames = 0;
  let frameBytes = 0;
  let checksum = 0;
  const started = performance.now();
  for await (const frame of decodeFrames(path, { sampling: { fps }, size: { maxSide } })) {
    frames += 1;
    frameBytes = frame.data.length;
    checksum += frame.data[frame.data.length >> 1]!; // touch the pixels, as a consumer would
  }
  if (Number.isNaN(checksum)) throw new Error("unreachable");
  return { frames, seconds: (performance.now() - started) / 1000, frameBytes };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const clips = [
  join(root, "test", "fixtures", "video", "car-detection.mp4"),
  join(root, "test", "fixtures", "video", "one-by-one-person-detection.mp4"),
  await syntheticClip(),
];
const results = [];
await library(clips[0]!); // warm-up: fluent-ffmpeg's one-time capability checks
for (const clip of clips) {
  const ours: number[] = [];
  const bare: number[] = [];
  let frames = 0;
  let frameBytes = 0;
  for (let pass = 0; pass < passes; pass++) {
    const lib = await library(clip);
    const raw = await bareFfmpeg(clip);
    frames = lib.frames;
    frameBytes = lib.frameBytes;
    if (raw.frames !== lib.frames * lib.frameBytes) {
      throw new Error(
        `${clip}: bare ffmpeg wrote ${raw.frames} bytes, decodeFrames gave ${lib.frames} frames`,
      );
    }
    ours.push(lib.frames / lib.seconds);
    bare.push(lib.frames / raw.seconds);
  }
  const row = {
    clip: clip.split("/").at(-1),
    sampledFrames: frames,
    frameBytes,
    decodeFramesFps: Number(median(ours).toFixed(1)),
    bareFfmpegFps: Number(median(bare).toFixed(1)),
    ratio: Number((median(ours) / median(bare)).toFixed(3)),
  };
  console.log(
    `${row.clip}: ${row.sampledFrames} frames, decodeFrames ${row.decodeFramesFps} frames/s, bare ffmpeg ${row.bareFfmpegFps} frames/s (ratio ${row.ratio})`,
  );
  results.push(row);
}
console.log(
  JSON.stringify({
    ffmpeg: `${ffmpeg.ffmpegSource} ${ffmpeg.ffmpegVersion}`,
    sampling: { fps },
    maxSide,
    passes,
    clips: results,
  }),
);
