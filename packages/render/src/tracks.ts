// tracks.jsonl as the renderer reads it: one line per sampled frame (the protocol's TracksLine), in pts order.

import { defineErrorCodes, VdetError } from "@vdet/errors";
import { type TracksLine, tracksLineSchema } from "@vdet/protocol";

export type TrackFrame = TracksLine;

export const RENDER_ERRORS = defineErrorCodes("render", {
  TRACKS_JSONL_INVALID: { retryable: false, description: "a tracks.jsonl line is not vdet's format" },
});

export class InvalidTracksError extends VdetError {
  constructor(line: number, reason: string) {
    super(
      RENDER_ERRORS.TRACKS_JSONL_INVALID,
      `tracks.jsonl line ${line}: ${reason} (expected vdet's tracks.jsonl: one JSON object per sampled frame)`,
    );
  }
}

/** Parses tracks.jsonl text, validating each line; frames come back sorted by pts. */
export function parseTracksJsonl(text: string): TrackFrame[] {
  const frames: TrackFrame[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InvalidTracksError(i + 1, (error as Error).message);
    }
    const parsed = tracksLineSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InvalidTracksError(
        i + 1,
        `${issue.path.map(String).join(".") || "(line)"}: ${issue.message}`,
      );
    }
    frames.push(parsed.data);
  });
  return frames.sort((a, b) => a.ptsMs - b.ptsMs);
}
