// tracks.jsonl as the renderer and the viewer read it: one line per sampled frame, in pts order.

import { defineErrorCodes, VdetError } from "@vdet/errors";
import type { DetectionRow } from "@vdet/protocol";

export interface TrackFrame {
  frame: number;
  ptsMs: number;
  phi?: number | string;
  /** Set on a frame that failed; it has no detections. */
  error?: string;
  detections: DetectionRow[];
}

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

/** Parses tracks.jsonl text; frames come back sorted by pts. */
export function parseTracksJsonl(text: string): TrackFrame[] {
  const frames: TrackFrame[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let value: TrackFrame;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InvalidTracksError(i + 1, (error as Error).message);
    }
    if (typeof value.ptsMs !== "number" || !Array.isArray(value.detections)) {
      throw new InvalidTracksError(i + 1, "no ptsMs or detections");
    }
    frames.push(value);
  });
  return frames.sort((a, b) => a.ptsMs - b.ptsMs);
}
