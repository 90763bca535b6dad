// A job's tracks.jsonl read back (clips are made by @vdet/video/testing).

import { type TracksLine, tracksLineSchema } from "@vdet/protocol";

export type TrackLine = TracksLine;

/** tracks.jsonl lines, each validated against the protocol's schema (a line of another shape fails the test). */
export function parseTracks(text: string): TrackLine[] {
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => tracksLineSchema.parse(JSON.parse(l)));
}
