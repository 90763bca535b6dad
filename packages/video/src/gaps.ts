// Gap accounting: no silent frame loss. ffmpeg's HLS demuxer skips a segment it cannot fetch (404), keeps what
// arrived of a truncated one and moves on from one that stalls past its read timeout, all without failing; the
// decode then just has fewer frames. GapDetector watches every decoded frame's timestamp and ffmpeg's log and
// reports each hole in the timeline as a Gap with the most specific reason it can tell.

/**
 * - `unreachable`: ffmpeg could not open a segment (HTTP 404/410/5xx, refused connection).
 * - `truncated`: a segment or the input ended before its declared length ("Stream ends prematurely", or an HLS
 *   stream ending short of its playlist's total duration).
 * - `stalled`: a read waited out its timeout before the frames after the hole arrived.
 * - `timestamp-jump`: the timestamps jump with no error (a discontinuity in the source, or frames lost silently).
 */
export const GAP_REASONS = ["unreachable", "truncated", "stalled", "timestamp-jump"] as const;
export type GapReason = (typeof GAP_REASONS)[number];

export interface Gap {
  /** Where frames should have continued, and where they did: sequential pts in milliseconds. */
  fromMs: number;
  toMs: number;
  reason: GapReason;
  /** ffmpeg's line that gave the reason, when one did. */
  detail?: string;
}

/** ffmpeg lines that explain a hole (ffmpeg 5–7, http and hls demuxers). */
const FAULTS: readonly { pattern: RegExp; reason: GapReason }[] = [
  { pattern: /Failed to open segment|HTTP error [45]\d\d|Connection refused/, reason: "unreachable" },
  {
    pattern: /Stream ends prematurely|Packet corrupt|Invalid data found when processing input/,
    reason: "truncated",
  },
];

/** A step this many times the usual one is a hole (VFR jitter of a few tens of percent is not). */
const GAP_FACTOR = 1.5;
const STEPS_KEPT = 15;
/** An HLS stream ending this much (and 1.5 steps) short of its playlist's duration ends with a gap. */
const END_SLACK_SECONDS = 0.5;

/** Frames whose arrival times are looked back on when a hole shows (a decoder holds a few frames). */
const WAITS_KEPT = 8;
/** Normal steps after which a burst of holes is over (one truncated segment can leave several). */
const BURST_END_STEPS = 5;

export class GapDetector {
  private lastPts: number | undefined;
  private lastAt: number | undefined;
  private readonly steps: number[] = [];
  private readonly waitsMs: number[] = [];
  private pending: { reason: GapReason; detail: string } | undefined;
  /** The cause of the last hole, while frames around it are still irregular. */
  private burst: { reason: GapReason; detail?: string } | undefined;
  private cleanSteps = 0;

  /**
   * `stalledAfterMs`: the network read timeout; frames arriving this long (or longer) after the one before,
   * just before a hole shows, mean ffmpeg waited a read out.
   */
  constructor(
    private readonly report: (gap: Gap) => void,
    private readonly stalledAfterMs: number | undefined,
  ) {}

  /** A log message from ffmpeg. */
  log(message: string): void {
    if (this.pending !== undefined) return; // the first explanation of a hole is the most specific
    const fault = FAULTS.find((f) => f.pattern.test(message));
    if (fault !== undefined) this.pending = { reason: fault.reason, detail: message.trim() };
  }

  /** A decoded frame (every frame, not only sampled ones) at `ptsSeconds` (sequential time), seen at `nowMs`. */
  frame(ptsSeconds: number, nowMs: number): void {
    if (!Number.isFinite(ptsSeconds)) return;
    if (this.lastAt !== undefined) {
      this.waitsMs.push(nowMs - this.lastAt);
      if (this.waitsMs.length > WAITS_KEPT) this.waitsMs.shift();
    }
    const last = this.lastPts;
    this.lastPts = ptsSeconds;
    this.lastAt = nowMs;
    if (last === undefined) return;
    const step = ptsSeconds - last;
    if (step <= 0) return;
    const usual = this.usualStep();
    if (usual !== undefined && step > GAP_FACTOR * usual) {
      this.emit(last + usual, ptsSeconds, "timestamp-jump");
      return; // a hole is not a step
    }
    this.steps.push(step);
    if (this.steps.length > STEPS_KEPT) this.steps.shift();
    this.cleanSteps += 1;
    if (this.cleanSteps >= BURST_END_STEPS) this.burst = undefined;
  }

  /** The input ended; `expectedEndSeconds` (an HLS playlist's total duration) says where it should have. */
  end(expectedEndSeconds: number | undefined): void {
    const usual = this.usualStep();
    if (expectedEndSeconds === undefined || this.lastPts === undefined || usual === undefined) return;
    const reached = this.lastPts + usual;
    if (expectedEndSeconds - reached > Math.max(GAP_FACTOR * usual, END_SLACK_SECONDS)) {
      this.emit(reached, expectedEndSeconds, "truncated");
    }
  }

  private emit(fromSeconds: number, toSeconds: number, fallback: GapReason): void {
    const stalled =
      this.stalledAfterMs !== undefined && this.waitsMs.some((ms) => ms >= 0.8 * this.stalledAfterMs!);
    const cause: { reason: GapReason; detail?: string } = stalled
      ? { reason: "stalled", ...(this.pending === undefined ? {} : { detail: this.pending.detail }) }
      : (this.pending ?? this.burst ?? { reason: fallback });
    this.pending = undefined;
    this.waitsMs.length = 0;
    this.burst = cause;
    this.cleanSteps = 0;
    this.report({
      fromMs: fromSeconds * 1000,
      toMs: toSeconds * 1000,
      reason: cause.reason,
      ...(cause.detail === undefined ? {} : { detail: cause.detail }),
    });
  }

  /** The median of the recent steps; undefined until three are known. */
  private usualStep(): number | undefined {
    if (this.steps.length < 3) return undefined;
    const sorted = [...this.steps].sort((a, b) => a - b);
    return sorted[sorted.length >> 1];
  }
}
