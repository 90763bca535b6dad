// Test videos made on the spot with ffmpeg's lavfi sources (the same ffmpeg the pipeline uses).

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type TracksLine, tracksLineSchema } from "@vdet/protocol";
import { ffmpegBinaries } from "@vdet/video";

const run = promisify(execFile);

/** An H.264 MP4 of ffmpeg's moving test pattern: `seconds` long at `rate` fps, width×height. */
export async function makeTestClip(
  path: string,
  seconds: number,
  rate = 10,
  width = 320,
  height = 240,
): Promise<string> {
  await run(ffmpegBinaries().ffmpegPath, [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${width}x${height}:rate=${rate}:duration=${seconds}`,
    "-c:v",
    "libx264",
    "-pix_fmt",
    "yuv420p",
    path,
  ]);
  return path;
}

export type TrackLine = TracksLine;

/** tracks.jsonl lines, each validated against the protocol's schema (a line of another shape fails the test). */
export function parseTracks(text: string): TrackLine[] {
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => tracksLineSchema.parse(JSON.parse(l)));
}
