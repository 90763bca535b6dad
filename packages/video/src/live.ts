// recordLive: a live input (HLS, RTSP) cannot be read twice, so it is recorded: ffmpeg remuxes the video stream
// without decoding (-c copy) into MPEG-TS segments of about a second, cut at keyframes, keeping the source's
// timestamps. Each segment comes with a SegmentDescriptor planned by the same Sampler as a sequential decode,
// its state carried from segment to segment, so decoding the segments (decodeSegment(bytes, descriptor), in any
// order, anywhere) yields the frames a sequential decode of the stream would: same indices, pts and pixels.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ffmpegBinaries } from "./binaries.ts";
import {
  NotAVideoError,
  VideoAbortedError,
  VideoDecodeError,
  VideoInputRejectedError,
  VideoStallError,
} from "./errors.ts";
import {
  classifyFailure,
  PLAYLIST_LOST,
  parseLogLine,
  playlistLostError,
  redactor,
  StderrDigest,
} from "./ffmpeg-log.ts";
import { Sampler, type Sampling, validateSampling } from "./filters.ts";
import { listPackets, microsecondsToTicks, type PacketList } from "./frame-index.ts";
import { type Gap, GapDetector } from "./gaps.ts";
import {
  type InputKind,
  inputOptions,
  type NetworkOptions,
  type ResolvedInput,
  resolveInput,
} from "./input.ts";
import type { Rational } from "./probe.ts";
import type { SegmentDescriptor } from "./segments.ts";

export interface RecordOptions {
  sampling: Sampling;
  /** Target segment length; segments are cut at the first keyframe after it (one GOP when GOPs are longer). Default 1. */
  segmentSeconds?: number;
  signal?: AbortSignal;
  /** Fail with VideoStallError when no segment is written for this long. Default 30 000. */
  stallTimeoutMs?: number;
  /** Input kinds accepted; default every URL kind (hls, rtsp, url) and files. */
  allowedKinds?: readonly InputKind[];
  /** Holes in the recorded timeline (a 404 HLS segment, a truncated or stalled one, a timestamp jump). */
  onGap?: (gap: Gap) => void;
  /** How ffmpeg reaches http(s) inputs (a policy proxy); see NetworkOptions. */
  network?: NetworkOptions;
  /**
   * Where this recording continues an earlier one (a reconnect): its first sampled frame gets index
   * `firstIndex` and sequential time `startMs`, and the sampler goes on from `gridNext`. Absent: a fresh timeline
   * from the input's start (index 0, the source's own start time).
   */
  timeline?: RecordTimeline;
  /** HLS: which playlist segment to start at (ffmpeg's -live_start_index; -1: the newest). Default ffmpeg's (-3). */
  liveStartIndex?: number;
}

/** Where a recording's timeline continues (RecordedSegment.next says where the next one would). */
export interface RecordTimeline {
  firstIndex: number;
  startMs: number;
  gridNext: number;
  /**
   * The last recording's raw timestamps. When the new connection's timestamps carry on from them (the same
   * stream re-joined: an HLS origin that came back, a camera whose clock ran on), the timeline keeps the source's
   * own time, frames already recorded (at or before `lastPts`) are skipped, and `startMs` is not used; otherwise
   * (the stream restarted) the new connection's first frame is put at `startMs`.
   */
  continuity?: {
    timeBase: Rational;
    ptsOffset: number;
    lastPts: number;
    /** How far before `lastPts` a re-joined stream may start (twice the longest segment recorded), seconds. */
    overlapSeconds: number;
  };
}

/** A re-joined stream continues the last one when its first frame is at most this long after the last one. */
const CONTINUITY_AFTER_SECONDS = 3600;

export interface RecordedSegment {
  /** 0-based, consecutive. */
  sequence: number;
  /** MPEG-TS, starting at a keyframe: decodable on its own. */
  bytes: Buffer;
  /** Sequential pts of the segment's first frame, milliseconds. */
  startPtsMs: number;
  durationMs: number;
  /** The segment's sampled frames, for decodeSegment(bytes, descriptor); undefined when none is sampled. */
  descriptor: SegmentDescriptor | undefined;
  /** When the segment's file was complete (epoch ms): its last frame arrived just before. */
  arrivedAtMs: number;
  /** Where a recording continuing after this segment (a reconnect) starts its timeline, with no time lost. */
  next: RecordTimeline;
}

const DEFAULT_STALL_TIMEOUT_MS = 30_000;
const START = /^\s*Duration: (?:N\/A|(\d+):(\d+):(\d+(?:\.\d+)?)), start: (-?\d+)\.(\d{6})/;

/**
 * Records `input` until it ends (or the consumer stops, or `signal` aborts). Throws the typed errors of
 * decodeFrames (VideoUnreachableError, VideoStallError, VideoAbortedError, …) after the segments before them.
 */
export async function* recordLive(input: string, options: RecordOptions): AsyncGenerator<RecordedSegment> {
  const problem = validateSampling(options.sampling);
  const segmentSeconds = options.segmentSeconds ?? 1;
  if (problem !== undefined || !(segmentSeconds > 0)) {
    throw new VideoInputRejectedError(
      `invalid record options: ${problem ?? `segmentSeconds ${segmentSeconds}`}`,
    );
  }
  const resolved = await resolveInput(input, options.allowedKinds ?? ["hls", "rtsp", "url", "file"]);
  const dir = await mkdtemp(join(tmpdir(), "vdet-record-"));
  const recorder = new Recorder(resolved, dir, segmentSeconds, options);
  try {
    for (;;) {
      const segment = await recorder.next();
      if (segment === undefined) return;
      yield segment;
    }
  } finally {
    await recorder.close();
    await rm(dir, { recursive: true, force: true });
  }
}

class Recorder {
  private readonly child: ChildProcess;
  private readonly digest = new StderrDigest();
  private readonly lines: string[] = [];
  private wake: (() => void) | undefined;
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private failure: unknown;
  private startTimeUs: number | undefined;
  private expectedEndSeconds: number | undefined;
  private sampler: Sampler | undefined;
  private sampledFrames: number;
  /** The shift from raw pts to sequential time, fixed by the first segment. */
  private ptsOffset: number | undefined;
  /** Re-joined stream: frames at or before this raw pts were recorded by the last connection. */
  private skipThrough = Number.NEGATIVE_INFINITY;
  private longestSegmentMs: number;
  private playlistLost = false;
  private sequence = 0;
  private lastProgressAt = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly gaps: GapDetector | undefined;
  private readonly onAbort = () => this.stop(abortError(this.options.signal, this.input));

  constructor(
    private readonly input: ResolvedInput,
    private readonly dir: string,
    segmentSeconds: number,
    private readonly options: RecordOptions,
  ) {
    this.sampledFrames = options.timeline?.firstIndex ?? 0;
    this.longestSegmentMs = (options.timeline?.continuity?.overlapSeconds ?? 0) * 500;
    const stallTimeoutMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    const networkTimeoutMs = input.kind === "hls" ? stallTimeoutMs / 2 : 2 * stallTimeoutMs;
    this.gaps =
      options.onGap === undefined
        ? undefined
        : new GapDetector(options.onGap, input.kind === "hls" ? networkTimeoutMs : undefined);
    const args = [
      ...["-hide_banner", "-nostdin", "-nostats", "-loglevel", "level+info"],
      ...inputOptions(input, networkTimeoutMs, options.network),
      // Keep the source's timestamps: the descriptors shift them exactly as a sequential decode does.
      ...(input.kind === "hls" && options.liveStartIndex !== undefined
        ? ["-live_start_index", String(options.liveStartIndex)]
        : []),
      ...["-copyts", "-i", input.source as string],
      ...["-map", "0:V:0", "-c", "copy", "-f", "segment", "-segment_time", String(segmentSeconds)],
      ...["-segment_format", "mpegts", "-segment_format_options", "mpegts_copyts=1"],
      ...["-muxdelay", "0", "-muxpreload", "0", "-segment_list", "pipe:1", "-segment_list_type", "csv"],
      join(dir, "%06d.ts"),
    ];
    this.child = spawn(ffmpegBinaries().ffmpegPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => {
      this.child.on("error", (error) => {
        this.failure ??= new VideoDecodeError(`could not run ffmpeg: ${error.message}`, { cause: error });
        this.exitCode = null;
        this.poke();
        resolve(null);
      });
      this.child.on("close", (code) => {
        this.exitCode = code;
        this.poke();
        resolve(code);
      });
    });
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      this.lastProgressAt = Date.now();
      this.lines.push(line);
      this.poke();
    });
    createInterface({ input: this.child.stderr! }).on("line", (line) => this.onStderr(line));
    this.timer = setInterval(
      () => {
        if (Date.now() - this.lastProgressAt < stallTimeoutMs || this.exitCode !== undefined) return;
        this.stop(
          new VideoStallError(
            `no segment recorded for ${stallTimeoutMs} ms (stallTimeoutMs): the live input stopped delivering data`,
            { input: input.display, reason: this.digest.reason(redactor(input)) },
          ),
        );
      },
      Math.min(1000, stallTimeoutMs / 4),
    );
    options.signal?.addEventListener("abort", this.onAbort, { once: true });
    if (options.signal?.aborted) this.onAbort();
  }

  async next(): Promise<RecordedSegment | undefined> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      const line = this.lines.shift();
      if (line !== undefined) {
        const segment = await this.take(line);
        if (segment !== undefined) return segment;
        continue;
      }
      if (this.exitCode !== undefined) {
        if (this.exitCode !== 0) {
          throw classifyFailure(this.digest, this.input, this.exitCode, "ffmpeg");
        }
        if (this.playlistLost) throw playlistLostError(this.digest, this.input);
        this.gaps?.end(this.expectedEndSeconds);
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.options.signal?.removeEventListener("abort", this.onAbort);
    if (this.exitCode === undefined) this.child.kill("SIGKILL");
    await this.exited;
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private stop(error: unknown): void {
    this.failure ??= error;
    if (this.exitCode === undefined) this.child.kill("SIGKILL");
    this.poke();
  }

  private onStderr(line: string): void {
    const parsed = parseLogLine(line);
    this.digest.add(line, parsed);
    if (parsed.level !== "info") this.gaps?.log(parsed.message);
    if (PLAYLIST_LOST.test(parsed.message)) this.playlistLost = true;
    if (this.startTimeUs !== undefined) return;
    const start = START.exec(parsed.message);
    if (start === null) return;
    const sign = start[4]!.startsWith("-") ? -1 : 1;
    this.startTimeUs = Number(start[4]) * 1_000_000 + sign * Number(start[5]);
    if (start[1] !== undefined && this.input.kind === "hls") {
      this.expectedEndSeconds = Number(start[1]) * 3600 + Number(start[2]) * 60 + Number(start[3]);
    }
  }

  /** A csv line of the segment list: "000003.ts,3.400000,4.040000". */
  private async take(line: string): Promise<RecordedSegment | undefined> {
    const [name, start, end] = line.split(",");
    if (name === undefined || !/^\d{6}\.ts$/.test(name)) return undefined;
    const path = join(this.dir, name);
    const bytes = await readFile(path);
    const resolved = await resolveInput(path, ["file"]);
    let packets: PacketList;
    try {
      packets = await listPackets(resolved, 0, { signal: this.options.signal }, "mpegts");
    } catch (error) {
      // The segment muxer can close with a last file that holds tables but no whole packet: nothing to decode.
      // (Frames lost inside a broken segment still show as a gap from the next segment's timestamps.)
      if (error instanceof NotAVideoError) return undefined;
      throw error;
    } finally {
      await rm(path, { force: true });
    }
    if (packets.pts.length === 0) return undefined;
    const timeBase = packets.timeBase;
    if (timeBase === undefined || this.startTimeUs === undefined) {
      throw new VideoDecodeError(
        "the recorded segment has no time base, or ffmpeg reported no start time; report this",
        {
          input: this.input.display,
        },
      );
    }
    const all = packets.pts
      .filter((pts, i) => !packets.discard[i] && Number.isFinite(pts))
      .sort((a, b) => a - b);
    const timeline = this.options.timeline;
    if (this.ptsOffset === undefined && (timeline === undefined || all.length > 0)) {
      const c = timeline?.continuity;
      const first = all[0]!;
      const seconds = (ticks: number) => (ticks * timeBase.num) / timeBase.den;
      if (
        c !== undefined &&
        c.timeBase.num === timeBase.num &&
        c.timeBase.den === timeBase.den &&
        seconds(first - c.lastPts) >= -c.overlapSeconds &&
        seconds(first - c.lastPts) <= CONTINUITY_AFTER_SECONDS
      ) {
        // The same stream re-joined: its own timestamps go on; what was recorded already is skipped.
        this.ptsOffset = c.ptsOffset;
        this.skipThrough = c.lastPts;
      } else {
        // A continued timeline puts this connection's first frame at timeline.startMs; a fresh one starts where
        // the sequential decode does (the input's start time).
        this.ptsOffset =
          timeline === undefined
            ? microsecondsToTicks(this.startTimeUs, timeBase)
            : first - microsecondsToTicks(Math.round(timeline.startMs * 1000), timeBase);
      }
    }
    if (this.ptsOffset === undefined) return undefined; // nothing to anchor a continued timeline on yet
    const frames = all.filter((pts) => pts > this.skipThrough);
    // A segment that only repeats what the last connection recorded: nothing new in it.
    if (frames.length === 0) return undefined;
    const ptsOffset = this.ptsOffset;
    this.sampler ??= new Sampler(this.options.sampling, timeBase, {
      sourceIndex: 0,
      gridNext: timeline?.gridNext ?? 0,
    });
    const sampler = this.sampler;
    let descriptor: SegmentDescriptor | undefined;
    const now = Date.now();
    for (const pts of frames) {
      const sourceIndex = sampler.sourceIndex;
      const gridNext = sampler.gridNext;
      this.gaps?.frame(((pts - ptsOffset) * timeBase.num) / timeBase.den, now);
      if (!sampler.take(pts - ptsOffset)) continue;
      const ms = ((pts - ptsOffset) * timeBase.num * 1000) / timeBase.den;
      descriptor ??= {
        sequence: this.sequence,
        sampling: this.options.sampling,
        timeBase,
        ptsOffset,
        firstIndex: this.sampledFrames,
        frameCount: 0,
        firstSourceIndex: sourceIndex,
        lastSourceIndex: sourceIndex,
        fromPts: pts,
        toPts: pts,
        gridNext,
        container: "mpegts",
        startMs: ms,
        endMs: ms,
      };
      descriptor.frameCount += 1;
      descriptor.lastSourceIndex = sourceIndex;
      descriptor.toPts = pts;
      descriptor.endMs = ms;
      this.sampledFrames += 1;
    }
    const first = frames[0];
    const last = frames.at(-1);
    const startPtsMs =
      first === undefined ? Number(start) * 1000 : ((first - ptsOffset) * timeBase.num * 1000) / timeBase.den;
    const lastMs =
      last === undefined ? startPtsMs : ((last - ptsOffset) * timeBase.num * 1000) / timeBase.den;
    // One frame interval past the last frame: the mean step of this segment (or the step of 25 fps).
    const stepMs = frames.length > 1 ? (lastMs - startPtsMs) / (frames.length - 1) : 40;
    const segment: RecordedSegment = {
      sequence: this.sequence,
      bytes,
      startPtsMs,
      // The list's first start is 0 whatever the stream's start; the first frame's raw time is the truth.
      durationMs:
        (Number(end) -
          Math.max(Number(start), first === undefined ? 0 : (first * timeBase.num) / timeBase.den)) *
        1000,
      descriptor,
      arrivedAtMs: now,
      next: {
        firstIndex: this.sampledFrames,
        startMs: lastMs + stepMs,
        gridNext: sampler.gridNext,
        // RTSP: ffmpeg counts each session's timestamps from its first RTP packet, so a new session starts again
        // near zero whether or not the camera's clock ran on. Its timestamps never continue the last session's:
        // taken for a re-join, a session after a short first one would have its first seconds skipped and the
        // time lost hidden. A reconnected RTSP source is always placed after the old timeline by the time lost.
        ...(this.input.kind === "rtsp"
          ? {}
          : {
              continuity: {
                timeBase,
                ptsOffset,
                lastPts: last!,
                overlapSeconds: (2 * this.longestSegmentMs) / 1000,
              },
            }),
      },
    };
    this.longestSegmentMs = Math.max(this.longestSegmentMs, segment.durationMs);
    if (segment.next.continuity) segment.next.continuity.overlapSeconds = (2 * this.longestSegmentMs) / 1000;
    this.sequence += 1;
    return segment;
  }
}

function abortError(signal: AbortSignal | undefined, input: ResolvedInput): VideoAbortedError {
  return new VideoAbortedError("recording was aborted by the caller", {
    input: input.display,
    cause: signal?.reason,
  });
}
