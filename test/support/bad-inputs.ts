// Bad input files made on the spot (nothing binary is committed): not-videos, broken videos, videos over the
// limits, an unknown codec. Each is small and takes milliseconds to make with the ffmpeg the pipeline uses.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { H264, makeLavfiClip, makeTestClip, testPattern } from "@vdet/video/testing";

/** Deterministic pseudo-random bytes (no magic number of any format). */
export function noise(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface BadInputFiles {
  random: string;
  text: string;
  png: string;
  empty: string;
  truncated: string;
  audioOnly: string;
  unknownCodec: string;
  tooWide: string;
  hugeHeader: string;
  tooManyFrames: string;
  tooLong: string;
  tooBig: string;
  directory: string;
  /** A valid MP4 with its index first (streamable), for the stalling HTTP server. */
  faststart: string;
}

/** Writes the corpus into `dir`; `maxInputBytes` is the producer's byte limit the "too big" file exceeds. */
export async function makeBadInputs(dir: string, maxInputBytes: number): Promise<BadInputFiles> {
  const p = (name: string) => join(dir, name);
  const files: BadInputFiles = {
    random: p("random.mp4"),
    text: p("notes.mp4"),
    png: p("picture.png"),
    empty: p("empty.mp4"),
    truncated: p("truncated.mp4"),
    audioOnly: p("audio.m4a"),
    unknownCodec: p("unknown-codec.avi"),
    tooWide: p("wide.mp4"),
    hugeHeader: p("huge.y4m"),
    tooManyFrames: p("many-frames.mp4"),
    tooLong: p("long.mp4"),
    tooBig: p("big.mp4"),
    directory: p("a-directory.mp4"),
    faststart: p("faststart.mp4"),
  };
  await writeFile(files.random, noise(64 * 1024));
  await writeFile(files.text, "this is not a video, just words\n".repeat(100));
  await writeFile(files.empty, "");
  await mkdir(files.directory);
  // A raw YUV header announcing 8000×8000 frames: the probe reads the size without decoding anything.
  await writeFile(
    files.hugeHeader,
    Buffer.concat([Buffer.from("YUV4MPEG2 W8000 H8000 F25:1 Ip A1:1 C420jpeg\nFRAME\n"), Buffer.alloc(4096)]),
  );
  const whole = p("whole.mp4");
  await Promise.all([
    makeTestClip(whole, 2, 10, 160, 120),
    makeLavfiClip(files.png, testPattern(64, 48), ["-frames:v", "1"]),
    makeLavfiClip(files.audioOnly, "sine=duration=1", ["-c:a", "aac"]),
    makeTestClip(files.unknownCodec, 0.5, 10, 64, 48, ["-c:v", "mpeg4"]),
    makeTestClip(files.tooWide, 0.2, 10, 720, 480),
    makeTestClip(files.tooManyFrames, 4, 10, 64, 48),
    makeTestClip(files.tooLong, 12, 1, 64, 48),
    makeTestClip(files.faststart, 2, 10, 160, 120, [...H264, "-movflags", "+faststart"]),
  ]);
  const bytes = await readFile(whole);
  // The index (moov) of a plain MP4 is at the end: half the file has none.
  await writeFile(files.truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  // A valid video padded past the byte limit: the size alone must stop it.
  await writeFile(files.tooBig, Buffer.concat([bytes, Buffer.alloc(maxInputBytes + 1 - bytes.length)]));
  // An AVI whose codec tag names no codec ffmpeg knows.
  const avi = await readFile(files.unknownCodec);
  await writeFile(
    files.unknownCodec,
    Buffer.from(avi.toString("latin1").replaceAll("FMP4", "ZZZZ"), "latin1"),
  );
  return files;
}
