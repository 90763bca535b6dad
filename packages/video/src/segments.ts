// Segments: the sequential decode of a re-readable input cut into pieces that decode independently and
// frame-exactly. planSegments runs the sequential decode's sampler (filters.ts Sampler) over the index and
// cuts the sampled frames into runs; decodeSegment seeks to the keyframe at or before a run's first frame and
// yields exactly that run's frames: the same index, sourceIndex, ptsSeconds and pixels as decodeFrames.

import { Readable } from "node:stream";
import {
  type DecodedFrame,
  type DecodeOptions,
  DecodeSession,
  sessionFrames,
  type WindowPlan,
} from "./decode.ts";
import { VideoInputRejectedError } from "./errors.ts";
import { Sampler, type Sampling, validateSampling } from "./filters.ts";
import type { ReReadableInput, VideoIndex } from "./frame-index.ts";
import type { Rational } from "./probe.ts";

/** What a worker needs to decode one segment: plain data, a few hundred bytes as JSON. */
export interface SegmentDescriptor {
  /** 0-based position of the segment in its plan. */
  sequence: number;
  sampling: Sampling;
  timeBase: Rational;
  /** The sequential decode's start shift, time-base units (VideoIndex.ptsOffset). */
  ptsOffset: number;
  /** Sampled indices [firstIndex, firstIndex + frameCount). */
  firstIndex: number;
  frameCount: number;
  /** Source indices of the first and last sampled frame (every frame between is decoded, some sampled). */
  firstSourceIndex: number;
  lastSourceIndex: number;
  /** Raw pts of the first and last sampled frame. */
  fromPts: number;
  toPts: number;
  /** Sampler state at the first frame (fps sampling: the first grid cell not yet served). */
  gridNext: number;
  /** The demuxer to use instead of probing (recorded live segments: "mpegts"). */
  container?: "mpegts";
  /** Seconds from the input's start to seek to (ffmpeg -ss); absent: decode from the start. */
  seekSeconds?: number;
  /** Sequential pts of the first and last sampled frame, milliseconds. */
  startMs: number;
  endMs: number;
}

export interface SegmentPlanOptions {
  sampling: Sampling;
  /**
   * Target span of a segment (first to last sampled frame). Once reached, the next segment starts at the first
   * sampled frame at or after a keyframe, so it decodes no lead-in; at twice the target it is cut regardless.
   * Default 4.
   */
  segmentSeconds?: number;
  /** Cut when a segment holds this many sampled frames. Default: no frame limit. */
  segmentFrames?: number;
}

export interface SegmentPlan {
  segments: SegmentDescriptor[];
  /** Sampled frames in all segments: what the sequential decode yields. */
  sampledFrames: number;
  /** Decoded frames of the whole input. */
  sourceFrames: number;
}

export const DEFAULT_SEGMENT_SECONDS = 4;

/** Cuts an indexed input into segments; the union of their frames is the sequential decode's. */
export function planSegments(index: VideoIndex, options: SegmentPlanOptions): SegmentPlan {
  const problem =
    validateSampling(options.sampling) ??
    positive("segmentSeconds", options.segmentSeconds) ??
    (options.segmentFrames === undefined || Number.isSafeInteger(options.segmentFrames)
      ? positive("segmentFrames", options.segmentFrames)
      : `segmentFrames must be a positive integer, got ${options.segmentFrames}`);
  if (problem !== undefined) throw new VideoInputRejectedError(`invalid segment plan options: ${problem}`);
  const { timeBase, ptsOffset } = index;
  const spanTicks = ((options.segmentSeconds ?? DEFAULT_SEGMENT_SECONDS) * timeBase.den) / timeBase.num;
  const maxFrames = options.segmentFrames ?? Number.POSITIVE_INFINITY;
  const sampler = new Sampler(options.sampling, timeBase);
  const segments: SegmentDescriptor[] = [];
  let open: SegmentDescriptor | undefined;
  let sampledFrames = 0;
  /** A keyframe was shown since the last sampled frame: a segment starting here needs no lead-in. */
  let atKeyframe = false;
  for (let i = 0; i < index.pts.length; i++) {
    const pts = index.pts[i]!;
    if (index.keyframe[i] === 1) atKeyframe = true;
    const gridNext = sampler.gridNext;
    if (!sampler.take(pts - ptsOffset)) continue;
    if (open !== undefined) {
      const span = pts - open.fromPts;
      const full = open.frameCount >= maxFrames || span >= 2 * spanTicks || (span >= spanTicks && atKeyframe);
      if (full) open = undefined;
    }
    atKeyframe = false;
    if (open === undefined) {
      open = {
        sequence: segments.length,
        sampling: options.sampling,
        timeBase,
        ptsOffset,
        firstIndex: sampledFrames,
        frameCount: 0,
        firstSourceIndex: i,
        lastSourceIndex: i,
        fromPts: pts,
        toPts: pts,
        gridNext,
        ...seekFor(index, pts),
        startMs: ticksToMs(pts - ptsOffset, timeBase),
        endMs: 0,
      };
      segments.push(open);
    }
    open.frameCount += 1;
    open.lastSourceIndex = i;
    open.toPts = pts;
    open.endMs = ticksToMs(pts - ptsOffset, timeBase);
    sampledFrames += 1;
  }
  return { segments, sampledFrames, sourceFrames: index.pts.length };
}

function positive(name: string, value: number | undefined): string | undefined {
  if (value === undefined || (Number.isFinite(value) && value > 0)) return undefined;
  return `${name} must be a positive number, got ${value}`;
}

function ticksToMs(ticks: number, timeBase: Rational): number {
  return (ticks * timeBase.num * 1000) / timeBase.den;
}

/**
 * Where to start decoding for a frame at `pts`: the last keyframe (decode order) shown at or before it. With
 * open GOPs a frame shown before its GOP's keyframe references the previous GOP; choosing by shown time puts
 * the seek in that previous GOP. Seeks target min(pts, dts) of the keyframe, so a demuxer that seeks by either
 * lands on it (or earlier, which costs time, never frames).
 */
function seekFor(index: VideoIndex, pts: number): { seekSeconds?: number } {
  let keyframe = -1;
  for (let k = 0; k < index.keyframePts.length; k++) if (index.keyframePts[k]! <= pts) keyframe = k;
  if (keyframe < 0 || (keyframe === 0 && index.startsWithKeyframe)) return {};
  const { num, den } = index.timeBase;
  const us = Math.round((index.keyframeSeekPts[keyframe]! * num * 1e6) / den) - index.startTimeUs;
  return us > 0 ? { seekSeconds: us / 1e6 } : {};
}

/** Decode options for a segment: a descriptor brings its own sampling. */
export type SegmentDecodeOptions = Omit<DecodeOptions, "sampling" | "maxFrames">;

/**
 * Decodes one segment: exactly its frames, as decodeFrames would yield them. `input` is the indexed input (a
 * path or URL is seeked; a stream factory or bytes are read from their start). Throws decodeFrames' typed errors,
 * and VideoDecodeError when the frames that came out are not the planned ones (a changed input, a missed seek).
 */
export async function* decodeSegment(
  input: ReReadableInput | Buffer,
  segment: SegmentDescriptor,
  options: SegmentDecodeOptions = {},
): AsyncGenerator<DecodedFrame> {
  const source =
    typeof input === "function" ? input() : Buffer.isBuffer(input) ? Readable.from([input]) : input;
  const plan: WindowPlan = {
    window: {
      fromPts: segment.fromPts,
      toPts: segment.toPts,
      firstSourceIndex: segment.firstSourceIndex,
      gridNext: segment.gridNext,
      ptsOffset: segment.ptsOffset,
    },
    ...(segment.seekSeconds === undefined ? {} : { seekSeconds: segment.seekSeconds }),
    ...(segment.container === undefined ? {} : { container: segment.container }),
    firstIndex: segment.firstIndex,
    frameCount: segment.frameCount,
    lastSourceIndex: segment.lastSourceIndex,
    timeBase: segment.timeBase,
  };
  yield* sessionFrames(await DecodeSession.start(source, { ...options, sampling: segment.sampling }, plan));
}
