// Test support: one input of each kind that is not a decodable video, written into a folder, each with the
// typed error that both probing and decoding must give for it (probe.test.ts and decode-flow.test.ts).

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  NotAVideoError,
  NoVideoStreamError,
  UnsupportedCodecError,
  VideoNotFoundError,
} from "../src/errors.ts";
import { makeLavfiClip, makeNumberedClip } from "./clips.ts";

export interface BadInput {
  path: string;
  error: new (...args: never[]) => Error;
}

/** Writes the bad inputs into `dir`; `mp4` is a readable MP4 with its index at the end, to cut in half. */
export async function makeBadInputs(dir: string, mp4: string) {
  const empty = join(dir, "empty.mp4");
  await writeFile(empty, "");
  const text = join(dir, "readme.md");
  await writeFile(text, "# not a video\n".repeat(100));
  const bytes = await readFile(mp4);
  const truncated = join(dir, "truncated.mp4");
  await writeFile(truncated, bytes.subarray(0, bytes.length >> 1));
  const audio = join(dir, "audio.m4a");
  await makeLavfiClip(audio, "sine=duration=1", ["-c:a", "aac"]);
  // An AVI whose codec tag names no codec ffmpeg knows.
  const avi = join(dir, "unknown.avi");
  await makeNumberedClip(avi, { frames: 5, rate: 25, width: 64, height: 48, output: ["-c:v", "mpeg4"] });
  const aviBytes = await readFile(avi);
  await writeFile(avi, Buffer.from(aviBytes.toString("latin1").replaceAll("FMP4", "ZZZZ"), "latin1"));
  return {
    missing: { path: join(dir, "missing.mp4"), error: VideoNotFoundError },
    empty: { path: empty, error: NotAVideoError },
    text: { path: text, error: NotAVideoError },
    truncated: { path: truncated, error: NotAVideoError },
    audio: { path: audio, error: NoVideoStreamError },
    avi: { path: avi, error: UnsupportedCodecError },
  } satisfies Record<string, BadInput>;
}
