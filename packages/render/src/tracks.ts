// tracks.jsonl as the renderer reads it: one line per sampled frame (the protocol's TracksLine), in pts order.

import { type TracksLine, tracksLineSchema } from "@vdet/protocol";

export type TrackFrame = TracksLine;

export class InvalidTracksError extends Error {
  constructor(line: number, reason: string) {
    super(
      `tracks.jsonl line ${line}: ${reason} (expected vdet's tracks.jsonl: one JSON object per sampled frame)`,
    );
    this.name = "InvalidTracksError";
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
