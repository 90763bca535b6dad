// Segments, the pipeline's side: how a worker decodes one (the job's input read again, or a recorded live
// segment's bytes from the frame store) with @vdet/video's segment decoder, and the one rule that turns a decoded
// frame's time into the ptsMs every message and tracks.jsonl carry.

import type { SegmentWork } from "@vdet/protocol";
import type { DecodedFrame, OutputSize } from "@vdet/video";

/** Decodes a segment's sampled frames, scaled to `size` (the letterbox content size). */
export type SegmentDecoder = (segment: SegmentWork, size: OutputSize) => AsyncIterable<DecodedFrame>;

/** A decoded frame's presentation time as messages carry it: ms with µs precision; 0 when the frame had none. */
export function framePtsMs(ptsSeconds: number): number {
  return Number.isFinite(ptsSeconds) ? Math.round(ptsSeconds * 1e6) / 1e3 : 0;
}
