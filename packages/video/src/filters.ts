// The decode filter chain and the per-frame lines it logs.
//
//   showinfo@src → select (sampling) → scale (optional) → format=rgb24 → showinfo@out
//
// Sampling uses `select` on the decoded frames' own timestamps instead of the `fps` filter: `fps` rewrites pts
// onto its output grid and duplicates or drops frames to keep a constant rate, so its pts are not the source's.
// `select` passes the chosen frames through untouched, and `-fps_mode passthrough` (or `-vsync passthrough`)
// stops ffmpeg from duplicating or dropping them on output. The two showinfo filters (checksums off, so they
// cost a log line each) report every decoded frame (source index, pts, size after autorotation: progress and
// limits) and every output frame (pts, size: how to split stdout).

export type Sampling = { fps: number } | { everyNth: number };

/** Output size: exactly `width`×`height`, or the longer side at most `maxSide` keeping the aspect ratio. */
export type OutputSize = { width: number; height: number } | { maxSide: number };

export function validateSampling(sampling: Sampling): string | undefined {
  if ("fps" in sampling) {
    if (!Number.isFinite(sampling.fps) || sampling.fps <= 0 || sampling.fps > 1000) {
      return `sampling.fps must be a number in (0, 1000], got ${sampling.fps}`;
    }
    return undefined;
  }
  if ("everyNth" in sampling) {
    if (!Number.isSafeInteger(sampling.everyNth) || sampling.everyNth < 1) {
      return `sampling.everyNth must be a positive integer, got ${sampling.everyNth}`;
    }
    return undefined;
  }
  return "sampling must be { fps } or { everyNth }";
}

export function validateSize(size: OutputSize): string | undefined {
  const even = (v: number) => Number.isSafeInteger(v) && v >= 2 && v <= 16384 && v % 2 === 0;
  if ("maxSide" in size) {
    return even(size.maxSide)
      ? undefined
      : `size.maxSide must be an even integer in [2, 16384], got ${size.maxSide}`;
  }
  if ("width" in size && "height" in size) {
    return even(size.width) && even(size.height)
      ? undefined
      : `size.width and size.height must be even integers in [2, 16384], got ${size.width}x${size.height}`;
  }
  return "size must be { width, height } or { maxSide }";
}

// A frame is kept when its time enters a new cell of the 1/fps grid: the first frame at or after each k/fps.
// ld(0) holds the first grid index not yet served; the epsilon absorbs float error in pts*time_base*fps.
// `Sampler` below is the same rule in TypeScript (the segment planner); change both together.
function selectExpression(sampling: Sampling, window?: SampleWindow): string {
  if ("everyNth" in sampling) {
    const n = window === undefined || window.firstSourceIndex === 0 ? "n" : `n+${window.firstSourceIndex}`;
    return `not(mod(${n}\\,${sampling.everyNth}))`;
  }
  if (window === undefined) {
    const gridIndex = `t*${sampling.fps}+1e-6`;
    return `if(gte(${gridIndex}\\,ld(0))\\,st(0\\,floor(${gridIndex})+1)*0+1\\,0)`;
  }
  // A window decodes with -copyts: raw pts, shifted here exactly as the sequential decode shifts them, so t is
  // the same double; ld(0) counts from gridNext (ld starts at 0).
  const t = `(pts-(${window.ptsOffset}))*TB`;
  const gridIndex = `${t}*${sampling.fps}+1e-6`;
  const base = window.gridNext;
  return `if(gte(${gridIndex}\\,ld(0)+${base})\\,st(0\\,floor(${gridIndex})+1-${base})*0+1\\,0)`;
}

/**
 * A run of frames inside a longer video that a decode starts in (a segment): only frames whose raw pts lie in
 * [fromPts, toPts] are counted and sampled, continuing the sequential decode's sampler state.
 */
export interface SampleWindow {
  /** Raw (unshifted) pts in the stream's time base; the decode runs with -copyts. */
  fromPts: number;
  toPts: number;
  /** Source index (among all decoded frames of the video) of the frame at fromPts. */
  firstSourceIndex: number;
  /** fps sampling: the first grid cell not yet served when the frame at fromPts arrives (Sampler.gridNext). */
  gridNext: number;
  /** The sequential decode's start shift in time-base units: its pts are raw pts minus this. */
  ptsOffset: number;
}

/**
 * The sampling rule of the select filter above, in TypeScript, over frames in display order: feed every decoded
 * frame's (shifted) pts, get whether the sequential decode keeps it. Same doubles, same operations, so the
 * answer is the filter's bit for bit.
 */
export class Sampler {
  /** Frames fed so far: the source index of the next frame. */
  sourceIndex: number;
  /** fps sampling: the first grid cell not yet served (the filter's ld(0)). */
  gridNext: number;
  private readonly secondsPerTick: number;

  constructor(
    readonly sampling: Sampling,
    timeBase: { num: number; den: number },
    state: { sourceIndex: number; gridNext: number } = { sourceIndex: 0, gridNext: 0 },
  ) {
    this.secondsPerTick = timeBase.num / timeBase.den; // av_q2d
    this.sourceIndex = state.sourceIndex;
    this.gridNext = state.gridNext;
  }

  /** Whether the next frame, at `pts` (time-base units, already shifted to the input's start), is sampled. */
  take(pts: number): boolean {
    const n = this.sourceIndex;
    this.sourceIndex += 1;
    if ("everyNth" in this.sampling) return n % this.sampling.everyNth === 0;
    const gridIndex = pts * this.secondsPerTick * this.sampling.fps + 1e-6;
    if (!(gridIndex >= this.gridNext)) return false;
    this.gridNext = Math.floor(gridIndex) + 1;
    return true;
  }
}

function scaleFilter(size: OutputSize): string {
  if ("maxSide" in size) {
    const m = size.maxSide;
    // Never upscale; the longer side becomes min(m, itself) rounded down to even, the other follows (-2: even).
    const w = `if(gte(iw\\,ih)\\,trunc(min(${m}\\,iw)/2)*2\\,-2)`;
    const h = `if(gte(iw\\,ih)\\,-2\\,trunc(min(${m}\\,ih)/2)*2)`;
    return `scale=w=${w}:h=${h}:flags=area`;
  }
  return `scale=w=${size.width}:h=${size.height}:flags=area`;
}

export const SOURCE_INFO = "src";
export const OUTPUT_INFO = "out";

/**
 * With a window, frames before fromPts are dropped before showinfo@src, so its n counts the window's frames from
 * firstSourceIndex; frames after toPts are not sampled (but for one sentinel, see below).
 */
export function buildFilterChain(
  sampling: Sampling,
  size: OutputSize | undefined,
  window?: SampleWindow,
): string {
  const range = window === undefined ? [] : [`select=gte(pts\\,${window.fromPts})`];
  // After the window's last frame, the first frame decoded is let through as a sentinel (ld(1) marks it sent):
  // ffmpeg writes an output frame only once the next one reaches the output (or at the end of the input), so
  // without it the window's last frame would wait for ffmpeg to decode the rest of the input. The decode session
  // ignores the sentinel and stops ffmpeg once the window's last frame is in.
  const select =
    window === undefined
      ? selectExpression(sampling)
      : `if(gt(pts\\,${window.toPts})\\,if(ld(1)\\,0\\,st(1\\,1))\\,${selectExpression(sampling, window)})`;
  const parts = [...range, `showinfo@${SOURCE_INFO}=checksum=0`, `select=${select}`];
  if (size !== undefined) parts.push(scaleFilter(size));
  parts.push("format=rgb24", `showinfo@${OUTPUT_INFO}=checksum=0`);
  return parts.join(",");
}

export interface FrameInfo {
  /** Frame number at this showinfo: the decoded-frame index at `src`, the output-frame index at `out`. */
  n: number;
  /** In time-base units; null when the frame has no timestamp. */
  pts: number | null;
  /** ffmpeg's own rendering (6 significant digits), used only when no time base was logged. */
  ptsTime: number;
  width: number;
  height: number;
}

const INSTANCE = /^(?:Parsed_)?showinfo(?:_\d+)?@(\w+)$/;
const FRAME = /^n:\s*(\d+)\s+pts:\s*(-?\d+|NOPTS)\s+pts_time:(\S+).*?\ss:(\d+)x(\d+)/;
const TIME_BASE = /^config in time_base: (\d+)\/(\d+)/;

export type ShowinfoLine =
  | { instance: string; kind: "frame"; frame: FrameInfo }
  | { instance: string; kind: "timeBase"; num: number; den: number };

/** Parses a showinfo log message given the log context; undefined for anything else. */
export function parseShowinfo(context: string, message: string): ShowinfoLine | undefined {
  const instance = INSTANCE.exec(context)?.[1];
  if (instance === undefined) return undefined;
  const frame = FRAME.exec(message);
  if (frame !== null) {
    return {
      instance,
      kind: "frame",
      frame: {
        n: Number(frame[1]),
        pts: frame[2] === "NOPTS" ? null : Number(frame[2]),
        ptsTime: Number(frame[3]),
        width: Number(frame[4]),
        height: Number(frame[5]),
      },
    };
  }
  const tb = TIME_BASE.exec(message);
  if (tb !== null) return { instance, kind: "timeBase", num: Number(tb[1]), den: Number(tb[2]) };
  return undefined;
}
