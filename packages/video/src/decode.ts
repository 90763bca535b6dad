// decodeFrames: sampled, optionally scaled RGB24 frames from ffmpeg, as an async iterable with backpressure.
// ffmpeg (through fluent-ffmpeg) writes raw rgb24 to a pipe; its showinfo lines on stderr say where each frame
// starts, its size and its source pts. A consumer that stops pulling stops ffmpeg: frames queue up to a small
// bound, then the stdout pipe is paused, the pipe fills and ffmpeg blocks on write.

import { Writable } from "node:stream";
import type { RgbImage } from "@vdet/protocol";
import ffmpeg from "fluent-ffmpeg";
import { describeFfmpeg, hasHwaccel } from "./binaries.ts";
import {
  HwaccelUnavailableError,
  VideoAbortedError,
  VideoDecodeError,
  type VideoError,
  VideoInputRejectedError,
  VideoLimitError,
  VideoStallError,
  VideoUnreachableError,
} from "./errors.ts";
import {
  classifyCutShort,
  classifyFailure,
  PLAYLIST_LOST,
  parseLogLine,
  playlistLostError,
  redactor,
  StderrDigest,
} from "./ffmpeg-log.ts";
import {
  buildFilterChain,
  type FrameInfo,
  OUTPUT_INFO,
  type OutputSize,
  parseShowinfo,
  type SampleWindow,
  type Sampling,
  SOURCE_INFO,
  validateSampling,
  validateSize,
} from "./filters.ts";
import { type Gap, GapDetector } from "./gaps.ts";
import {
  type InputKind,
  inputOptions,
  type NetworkOptions,
  type ResolvedInput,
  resolveInput,
  type VideoInput,
} from "./input.ts";

export interface DecodeOptions {
  sampling: Sampling;
  /** Scale once inside ffmpeg. Omitted: frames keep the source size (after rotation metadata is applied). */
  size?: OutputSize;
  signal?: AbortSignal;
  /** Fail with VideoLimitError when a decoded source frame is wider or taller than this (after rotation). */
  maxWidth?: number;
  maxHeight?: number;
  /** Fail with VideoLimitError when the input yields more sampled frames than this (the first maxFrames arrive). */
  maxFrames?: number;
  /**
   * Fail with VideoStallError when ffmpeg neither decodes a frame nor writes output for this long while the
   * consumer is waiting (time paused by backpressure does not count). Also the socket timeout for URLs.
   * Default 30 000.
   */
  stallTimeoutMs?: number;
  /** Input kinds accepted; e.g. `["url", "stream"]` for a service that must never read local files. */
  allowedKinds?: readonly InputKind[];
  /** Decoder threads (ffmpeg `-threads`); default: ffmpeg's choice (one per core). */
  threads?: number;
  /** How ffmpeg reaches http(s) inputs (a policy proxy); see NetworkOptions. */
  network?: NetworkOptions;
  /**
   * Decode on the GPU: "cuda" is NVDEC (`-hwaccel cuda`); frames are copied back to memory before sampling, so
   * the output is the same kind of RGB frame. Fails with HwaccelUnavailableError where the ffmpeg build lacks
   * it. Unverified here (no GPU in CI).
   */
  hwaccel?: Hwaccel;
  /**
   * Called for every hole in the timeline: frames that should have come and did not (an HLS segment that 404s,
   * arrives truncated or stalls; a timestamp jump). Decoding goes on; the caller records or fails.
   */
  onGap?: (gap: Gap) => void;
}

export const HWACCELS = ["cuda"] as const;
export type Hwaccel = (typeof HWACCELS)[number];

/**
 * A decode of part of a re-readable input (a segment, see segments.ts): seek, count and sample only a window of
 * frames, and check that what came out is what the plan says.
 */
export interface WindowPlan {
  window: SampleWindow;
  /** Demuxer to force (-f) instead of probing. */
  container?: "mpegts";
  /** Input seek (seconds from the input's start, ffmpeg -ss before -i); omitted: read from the start. */
  seekSeconds?: number;
  /** Sampled index of the window's first sampled frame. */
  firstIndex: number;
  /** Sampled frames the window must yield. */
  frameCount: number;
  /** Source index of the window's last frame (at toPts). */
  lastSourceIndex: number;
  /** The stream time base the window's pts are in (checked against ffmpeg's). */
  timeBase: { num: number; den: number };
}

/** A decoded frame: an RgbImage (owning its ArrayBuffer at offset 0, so it can be transferred) and where it was. */
export interface DecodedFrame extends RgbImage {
  /** 0-based index among the sampled frames. */
  index: number;
  /** 0-based index of this frame among all frames the decoder produced. */
  sourceIndex: number;
  /** Source timestamp, seconds from the input's start (ffmpeg's default shift to zero); NaN when the frame had none. */
  ptsSeconds: number;
}

const DEFAULT_STALL_TIMEOUT_MS = 30_000;
/** The input summary line: "  Duration: 00:00:06.00, start: 1.480000, bitrate: ..." (N/A for live streams). */
const DURATION = /^\s*Duration: (\d+):(\d+):(\d+(?:\.\d+)?),/;
/** ffmpeg's lines when a hwaccel device cannot be created (ffmpeg 5–7: libcuda missing, no GPU). */
const HWACCEL_DEVICE_FAILURE =
  /Cannot load libcuda|Could not dynamically load CUDA|Device creation failed|No device available for decoder|Device setup failed/;
/** Frames decoded ahead of the consumer before ffmpeg's stdout is paused. */
const QUEUED_FRAMES = 2;
/** Bytes of stdout kept while their showinfo line has not arrived yet (the two pipes are read independently). */
const MAX_UNDESCRIBED_BYTES = 8 * 1024 * 1024;

/**
 * Decodes `input` to sampled RGB24 frames. ffmpeg starts on the first pull; leaving the loop early (break,
 * throw) or aborting kills it. Errors are typed (see errors.ts); frames decoded before an ffmpeg failure are
 * delivered first.
 */
export async function* decodeFrames(input: VideoInput, options: DecodeOptions): AsyncGenerator<DecodedFrame> {
  yield* sessionFrames(await DecodeSession.start(input, options));
}

/** A started session's frames, one per pull; the session is closed (ffmpeg killed) however the loop ends. */
export async function* sessionFrames(session: DecodeSession): AsyncGenerator<DecodedFrame> {
  try {
    for (;;) {
      const frame = await session.next();
      if (frame === undefined) return;
      yield frame;
    }
  } finally {
    await session.close();
  }
}

type Failure = { error: VideoError; immediate: boolean };

export class DecodeSession {
  private readonly ready: DecodedFrame[] = [];
  /** showinfo@src frames not yet matched to an output frame. */
  private readonly sourceFrames: FrameInfo[] = [];
  /** Output frames announced on stderr whose bytes are not complete yet. */
  private readonly announced: { info: FrameInfo; sourceIndex: number }[] = [];
  private readonly chunks: Buffer[] = [];
  private chunkOffset = 0;
  private pendingBytes = 0;
  private heldWrite: (() => void) | undefined;
  private waiter:
    | { resolve: (frame: DecodedFrame | undefined) => void; reject: (e: unknown) => void }
    | undefined;
  private readonly digest = new StderrDigest();
  private timeBase: { num: number; den: number } | undefined;
  private announcedCount = 0;
  private producedCount = 0;
  /** Window decodes: showinfo@src's n of the frame at the window's fromPts, once it arrived. */
  private windowBaseN: number | undefined;
  /** Window decodes: every planned frame has arrived (ffmpeg is stopped: the rest of the input is not needed). */
  private windowDone = false;
  private lastSourceIndex = -1;
  private readonly gaps: GapDetector | undefined;
  /** HLS: the playlist's total duration (ffmpeg's "Duration:" line), where the frames should end. */
  private expectedEndSeconds: number | undefined;
  private gapsEnded = false;
  /** HLS: a live playlist reload failed; ffmpeg then ends the input as if it were complete. */
  private playlistLost = false;
  private failure: Failure | undefined;
  private deferredLimit: VideoLimitError | undefined;
  private exitFailure: VideoError | undefined;
  private ffmpegExited = false;
  private stdoutEnded = false;
  private killed = false;
  private started = false;
  /** The consumer is gone: whatever ffmpeg still writes is dropped. */
  private closed = false;
  private lastProgressAt = Date.now();
  private readonly stallTimer: NodeJS.Timeout;
  private readonly exited: Promise<void>;
  private readonly command: ffmpeg.FfmpegCommand;
  private readonly onAbort = () => this.abort();

  private constructor(
    private readonly input: ResolvedInput,
    private readonly options: DecodeOptions,
    private readonly stallTimeoutMs: number,
    hasFpsMode: boolean,
    ffmpegPath: string,
    private readonly plan: WindowPlan | undefined,
  ) {
    const sink = new Writable({
      // fluent-ffmpeg kills ffmpeg 20 ms after its output stream emits 'close', even when ffmpeg is about to
      // exit cleanly; without 'close' it waits for the exit.
      emitClose: false,
      // With the default 16 KiB every 64 KiB pipe chunk pauses and resumes stdout (measured ~25% slower at
      // 512x288); 1 MiB more is buffered before a held write stops ffmpeg.
      highWaterMark: 1 << 20,
      write: (chunk: Buffer, _encoding, callback) => this.onStdout(chunk, callback),
      final: (callback) => {
        this.stdoutEnded = true;
        this.pump();
        callback();
      },
    });
    // HLS: a segment read that waits half the stall timeout is given up (ffmpeg goes on with the next segment,
    // and the hole is reported as a gap) before the whole decode counts as stalled. Other URLs: a timed-out read
    // would look like the end of the input, so the socket timeout lies beyond the stall timeout.
    const networkTimeoutMs = input.kind === "hls" ? stallTimeoutMs / 2 : 2 * stallTimeoutMs;
    this.gaps =
      options.onGap === undefined
        ? undefined
        : new GapDetector(options.onGap, input.kind === "hls" ? networkTimeoutMs : undefined);
    const threads = options.threads === undefined ? [] : ["-threads", String(options.threads)];
    const hwaccel = options.hwaccel === undefined ? [] : ["-hwaccel", options.hwaccel];
    // A window keeps the raw timestamps (-copyts) so its filters and checks use the index's pts; the seek lands
    // on the keyframe at or before the planned seek point and nothing is trimmed (-noaccurate_seek).
    const seek =
      plan === undefined
        ? []
        : plan.seekSeconds === undefined || typeof input.source !== "string"
          ? ["-copyts"]
          : ["-copyts", "-noaccurate_seek", "-ss", plan.seekSeconds.toFixed(6)];
    this.command = ffmpeg({ source: input.source, stdoutLines: 20 })
      .setFfmpegPath(ffmpegPath)
      .inputOptions([
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "level+info",
        ...inputOptions(input, networkTimeoutMs, options.network),
        ...threads,
        ...hwaccel,
        ...seek,
        ...(plan?.container === undefined ? [] : ["-f", plan.container]),
      ])
      .videoFilters(buildFilterChain(options.sampling, options.size, plan?.window))
      .outputOptions([
        "-map",
        "0:V:0",
        "-an",
        "-sn",
        "-dn",
        ...(hasFpsMode ? ["-fps_mode", "passthrough"] : ["-vsync", "passthrough"]),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
      ])
      .output(sink, { end: true });

    this.exited = new Promise((resolve) => {
      this.command.on("start", () => {
        this.started = true;
        this.lastProgressAt = Date.now(); // fluent-ffmpeg's capability checks before the spawn are not a stall
        if (this.killed) this.command.kill("SIGKILL"); // closed while fluent-ffmpeg was still preparing
      });
      this.command.on("stderr", (line: string) => this.onStderr(line));
      this.command.on("end", () => {
        this.ffmpegExited = true;
        this.pump();
        resolve();
      });
      this.command.on("error", (error: Error & { inputStreamError?: unknown }) => {
        this.ffmpegExited = true;
        if (!this.killed) this.exitFailure = this.describeExit(error);
        this.pump();
        resolve();
      });
    });
    if (typeof input.source !== "string") {
      // Listen from the start: a stream that fails before ffmpeg is spawned would otherwise be an uncaught error.
      input.source.on("error", (error: Error) => this.fail(inputStreamError(error, input), false));
    }
    this.stallTimer = setInterval(() => this.checkStall(), Math.min(1000, Math.max(20, stallTimeoutMs / 4)));
    options.signal?.addEventListener("abort", this.onAbort, { once: true });
    this.command.run();
  }

  static async start(input: VideoInput, options: DecodeOptions, plan?: WindowPlan): Promise<DecodeSession> {
    const invalid = validateOptions(options);
    if (invalid !== undefined) throw new VideoInputRejectedError(`invalid decode options: ${invalid}`);
    if (options.signal?.aborted) throw abortedError(options.signal, undefined);
    const resolved = await resolveInput(input, options.allowedKinds);
    const ffmpegInfo = await describeFfmpeg();
    if (options.hwaccel !== undefined && !(await hasHwaccel(options.hwaccel))) {
      throw new HwaccelUnavailableError(
        `this ffmpeg (${ffmpegInfo.ffmpegPath}) was built without the "${options.hwaccel}" hwaccel (see ffmpeg -hwaccels); install an ffmpeg with NVDEC support or decode on the CPU`,
        { input: resolved.display },
      );
    }
    if (options.signal?.aborted) throw abortedError(options.signal, resolved);
    const stall = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    return new DecodeSession(resolved, options, stall, ffmpegInfo.hasFpsMode, ffmpegInfo.ffmpegPath, plan);
  }

  /** The next frame, undefined at the end, or the failure once the frames before it are consumed. */
  next(): Promise<DecodedFrame | undefined> {
    if (this.failure?.immediate) return Promise.reject(this.failure.error);
    const frame = this.ready.shift();
    if (frame !== undefined) {
      this.pump();
      return Promise.resolve(frame);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (this.finished()) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.pump();
    });
  }

  /** Kills ffmpeg if it still runs and waits for it to exit. */
  async close(): Promise<void> {
    this.options.signal?.removeEventListener("abort", this.onAbort);
    clearInterval(this.stallTimer);
    this.closed = true;
    if (!this.ffmpegExited) this.kill();
    this.discardOutput();
    await this.exited;
  }

  private finished(): boolean {
    return (this.windowDone || (this.ffmpegExited && this.stdoutEnded)) && this.ready.length === 0;
  }

  private kill(): void {
    if (this.killed) return;
    this.killed = true;
    clearInterval(this.stallTimer);
    // Before 'start' fluent-ffmpeg has no process yet; the 'start' handler kills it then.
    if (this.started && !this.ffmpegExited) this.command.kill("SIGKILL");
  }

  private fail(error: VideoError, immediate: boolean): void {
    if (this.failure !== undefined) return;
    this.failure = { error, immediate };
    if (immediate) this.ready.length = 0;
    this.kill();
    this.discardOutput();
    this.pump();
  }

  private abort(): void {
    this.fail(abortedError(this.options.signal, this.input), true);
  }

  private onStderr(line: string): void {
    const parsed = parseLogLine(line);
    this.digest.add(line, parsed);
    if (this.gaps !== undefined && parsed.level !== "info") this.gaps.log(parsed.message);
    if (PLAYLIST_LOST.test(parsed.message)) this.playlistLost = true;
    if (this.input.kind === "hls" && this.expectedEndSeconds === undefined) {
      const duration = DURATION.exec(parsed.message);
      if (duration !== null) {
        this.expectedEndSeconds = Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]);
      }
    }
    const info = parseShowinfo(parsed.context, parsed.message);
    if (info === undefined || this.failure !== undefined) return;
    if (info.kind === "timeBase") {
      this.timeBase = { num: info.num, den: info.den };
      const planned = this.plan?.timeBase;
      if (planned !== undefined && planned.num * info.den !== planned.den * info.num) {
        this.failPlan(
          `ffmpeg filters in time base ${info.num}/${info.den}, the index has ${planned.num}/${planned.den}`,
        );
      }
      return;
    }
    this.lastProgressAt = Date.now();
    if (info.instance === SOURCE_INFO) this.onSourceFrame(info.frame);
    else if (info.instance === OUTPUT_INFO) this.onOutputFrame(info.frame);
  }

  private onSourceFrame(frame: FrameInfo): void {
    const { maxWidth, maxHeight } = this.options;
    if (
      (maxWidth !== undefined && frame.width > maxWidth) ||
      (maxHeight !== undefined && frame.height > maxHeight)
    ) {
      const limit = `${maxWidth ?? "any"}x${maxHeight ?? "any"}`;
      this.fail(
        new VideoLimitError(`video is ${frame.width}x${frame.height}, larger than the allowed ${limit}`, {
          input: this.input.display,
        }),
        false,
      );
      return;
    }
    if (this.plan !== undefined && frame.pts === this.plan.window.fromPts) this.windowBaseN ??= frame.n;
    if (this.afterWindow(frame)) this.endPipedInput();
    this.gaps?.frame(this.ptsSeconds(frame), Date.now());
    this.sourceFrames.push(frame);
  }

  /**
   * A window's input that vdet pipes into ffmpeg (a stream, not a path or URL ffmpeg reads) ends once a frame after
   * the window is decoded: every frame of the window is then decoded, and the end of input makes ffmpeg flush
   * them out. The window's sentinel (buildFilterChain) usually does that already, but not always: a stream that
   * stops sending (the rest not yet there, or a source that stays open) left the window's last frame inside
   * ffmpeg now and then, until the decode stalled.
   */
  private endPipedInput(): void {
    if (typeof this.input.source === "string") return;
    const stdin = (this.command as unknown as { ffmpegProc?: { stdin?: Writable } }).ffmpegProc?.stdin;
    if (stdin === undefined || stdin.writableEnded) return;
    this.input.source.unpipe(stdin);
    stdin.end();
  }

  /** A window's frame past its last planned one: the sentinel at the output, the input's end at the source. */
  private afterWindow(frame: FrameInfo): boolean {
    return this.plan !== undefined && frame.pts !== null && frame.pts > this.plan.window.toPts;
  }

  private onOutputFrame(frame: FrameInfo): void {
    // The window's sentinel (buildFilterChain): it only pushes the window's last frame out of ffmpeg.
    if (this.afterWindow(frame)) return;
    // select passes frames through unchanged, so the output frame's pts identifies its source frame.
    const at = this.sourceFrames.findIndex((s) => s.pts === frame.pts);
    if (at < 0) {
      this.fail(
        new VideoDecodeError(
          `output frame ${frame.n} (pts ${frame.pts}) matches no decoded frame; report this`,
          {
            input: this.input.display,
            stderrTail: this.digest.tailLines().map(redactor(this.input)),
          },
        ),
        false,
      );
      return;
    }
    const sourceIndex = this.sourceIndexOf(this.sourceFrames[at]!);
    if (sourceIndex === undefined) return;
    this.sourceFrames.splice(0, at + 1);
    this.announcedCount += 1;
    const { maxFrames } = this.options;
    if (maxFrames !== undefined && this.announcedCount > maxFrames) {
      // Let the first maxFrames frames finish arriving on stdout, then stop (pump).
      this.deferredLimit ??= new VideoLimitError(
        `video yields more than the allowed ${maxFrames} sampled frames`,
        {
          input: this.input.display,
        },
      );
    } else {
      this.announced.push({ info: frame, sourceIndex });
    }
    this.pump();
  }

  /** Source index of a decoded frame: showinfo's n, or in a window counted from the frame at fromPts. */
  private sourceIndexOf(frame: FrameInfo): number | undefined {
    if (this.plan === undefined) return frame.n;
    const { window } = this.plan;
    const inWindow = frame.pts !== null && frame.pts >= window.fromPts && frame.pts <= window.toPts;
    if (this.windowBaseN === undefined || !inWindow) {
      this.failPlan(
        `frame at pts ${frame.pts} was sampled before the window's first frame (pts ${window.fromPts}) was decoded`,
      );
      return undefined;
    }
    return window.firstSourceIndex + frame.n - this.windowBaseN;
  }

  private failPlan(problem: string): void {
    this.fail(
      new VideoDecodeError(
        `segment decode does not match its plan: ${problem}; the index is stale or the seek missed`,
        {
          input: this.input.display,
          stderrTail: this.digest.tailLines().map(redactor(this.input)),
        },
      ),
      false,
    );
  }

  private onStdout(chunk: Buffer, callback: () => void): void {
    if (this.failure !== undefined || this.closed || this.windowDone) {
      callback();
      return;
    }
    this.lastProgressAt = Date.now();
    this.chunks.push(chunk);
    this.pendingBytes += chunk.length;
    this.heldWrite = callback;
    this.pump();
  }

  /** Moves bytes into frames, frames to the waiting consumer, and decides whether ffmpeg may write more. */
  private pump(): void {
    if (this.failure === undefined) this.assembleFrames();
    if (this.failure === undefined && this.deferredLimit !== undefined && this.announced.length === 0) {
      this.fail(this.deferredLimit, false); // the first maxFrames frames are complete
    }
    if (this.failure === undefined && this.ffmpegExited && this.stdoutEnded) this.settle();

    if (this.waiter !== undefined) {
      const frame = this.failure?.immediate ? undefined : this.ready.shift();
      if (frame !== undefined) {
        this.resolveWaiter(frame);
      } else if (this.failure !== undefined) {
        const waiter = this.waiter;
        this.waiter = undefined;
        waiter.reject(this.failure.error);
      } else if (this.finished()) {
        this.resolveWaiter(undefined);
      }
    }

    const undescribed = this.announced.length === 0 && this.pendingBytes > MAX_UNDESCRIBED_BYTES;
    if (this.ready.length < QUEUED_FRAMES && !undescribed) this.releaseWrite();
  }

  private resolveWaiter(frame: DecodedFrame | undefined): void {
    const waiter = this.waiter!;
    this.waiter = undefined;
    waiter.resolve(frame);
  }

  private releaseWrite(): void {
    const callback = this.heldWrite;
    if (callback === undefined) return;
    this.heldWrite = undefined;
    this.lastProgressAt = Date.now(); // time spent paused by backpressure is not a stall
    callback();
  }

  private assembleFrames(): void {
    while (this.announced.length > 0) {
      const { info, sourceIndex } = this.announced[0]!;
      const size = info.width * info.height * 3;
      if (this.pendingBytes < size) return;
      this.announced.shift();
      const buffer = Buffer.allocUnsafeSlow(size);
      this.takeBytes(buffer);
      this.ready.push({
        index: this.producedCount + (this.plan?.firstIndex ?? 0),
        sourceIndex,
        ptsSeconds: this.ptsSeconds(info),
        width: info.width,
        height: info.height,
        data: new Uint8Array(buffer.buffer, buffer.byteOffset, size),
      });
      this.producedCount += 1;
      this.lastSourceIndex = sourceIndex;
      if (this.plan !== undefined && this.producedCount === this.plan.frameCount) {
        this.completeWindow(info);
        return;
      }
    }
  }

  /** The window's last planned frame arrived: check it, then stop ffmpeg (it would decode to the end). */
  private completeWindow(last: FrameInfo): void {
    const plan = this.plan!;
    if (last.pts !== plan.window.toPts || this.lastSourceIndex !== plan.lastSourceIndex) {
      this.failPlan(
        `its last sampled frame is source frame ${this.lastSourceIndex} at pts ${last.pts}, planned ${plan.lastSourceIndex} at pts ${plan.window.toPts}`,
      );
      return;
    }
    this.windowDone = true;
    this.kill();
    this.discardOutput();
  }

  private ptsSeconds(info: FrameInfo): number {
    if (info.pts === null) return Number.NaN;
    const offset = this.plan?.window.ptsOffset ?? 0;
    if (this.timeBase === undefined) return this.plan === undefined ? info.ptsTime : Number.NaN;
    return ((info.pts - offset) * this.timeBase.num) / this.timeBase.den;
  }

  private takeBytes(target: Uint8Array): void {
    let filled = 0;
    while (filled < target.length) {
      const chunk = this.chunks[0]!;
      const count = Math.min(chunk.length - this.chunkOffset, target.length - filled);
      target.set(chunk.subarray(this.chunkOffset, this.chunkOffset + count), filled);
      filled += count;
      this.chunkOffset += count;
      if (this.chunkOffset === chunk.length) {
        this.chunks.shift();
        this.chunkOffset = 0;
      }
    }
    this.pendingBytes -= target.length;
  }

  private discardOutput(): void {
    this.chunks.length = 0;
    this.chunkOffset = 0;
    this.pendingBytes = 0;
    this.announced.length = 0;
    this.releaseWrite();
  }

  /** ffmpeg has exited and stdout is drained: success, its failure, or output that does not add up. */
  private settle(): void {
    clearInterval(this.stallTimer);
    if (this.windowDone) return;
    const cutShort = classifyCutShort(this.digest, this.input);
    if (this.exitFailure !== undefined) {
      this.fail(this.exitFailure, false);
    } else if (this.deferredLimit !== undefined) {
      this.fail(this.deferredLimit, false);
    } else if (cutShort !== undefined) {
      this.fail(cutShort, false);
    } else if (this.playlistLost) {
      this.fail(playlistLostError(this.digest, this.input), false);
    } else if (this.plan !== undefined && !this.windowDone) {
      this.failPlan(
        `it yielded ${this.producedCount} of ${this.plan.frameCount} sampled frames before ffmpeg ended`,
      );
    } else if (this.announced.length > 0 || this.pendingBytes > 0) {
      this.fail(
        new VideoDecodeError(
          `ffmpeg output ended inside a frame (${this.pendingBytes} bytes left, ${this.announced.length} frames announced); report this`,
          { input: this.input.display, stderrTail: this.digest.tailLines().map(redactor(this.input)) },
        ),
        false,
      );
    } else if (!this.gapsEnded) {
      this.gapsEnded = true;
      this.gaps?.end(this.expectedEndSeconds);
    }
  }

  private checkStall(): void {
    if (this.failure !== undefined || this.ffmpegExited || !this.started) return;
    if (this.ready.length >= QUEUED_FRAMES) {
      this.lastProgressAt = Date.now(); // paused by backpressure: the consumer is not pulling
      return;
    }
    const idleMs = Date.now() - this.lastProgressAt;
    if (idleMs < this.stallTimeoutMs) return;
    const redact = redactor(this.input);
    this.fail(
      new VideoStallError(
        `no progress from ffmpeg for ${idleMs} ms (stallTimeoutMs ${this.stallTimeoutMs}): the input stopped delivering data; check the source, or raise stallTimeoutMs for slow live streams`,
        {
          input: this.input.display,
          reason: this.digest.reason(redact),
          stderrTail: this.digest.tailLines().map(redact),
        },
      ),
      false,
    );
  }

  private describeExit(error: Error & { inputStreamError?: unknown }): VideoError {
    if (error.inputStreamError !== undefined) return inputStreamError(error.inputStreamError, this.input);
    const tail = this.digest.tailLines();
    const deviceFailure = tail.find((line) => HWACCEL_DEVICE_FAILURE.test(line));
    if (this.options.hwaccel !== undefined && deviceFailure !== undefined) {
      // The build has the hwaccel, the machine has no usable device (no GPU, no driver library).
      return new HwaccelUnavailableError(
        `ffmpeg could not open a "${this.options.hwaccel}" device: this machine has no usable GPU or driver; decode on the CPU or fix the driver`,
        {
          input: this.input.display,
          reason: deviceFailure.trim(),
          stderrTail: tail.map(redactor(this.input)),
        },
      );
    }
    const exitCode = Number(/exited with code (\d+)/.exec(error.message)?.[1] ?? Number.NaN);
    if (Number.isNaN(exitCode) && this.digest.tailLines().length === 0) {
      // fluent-ffmpeg failed before or while starting ffmpeg (binary missing, capability check).
      return new VideoDecodeError(`could not run ffmpeg: ${error.message}`, {
        input: this.input.display,
        cause: error,
      });
    }
    return classifyFailure(this.digest, this.input, Number.isNaN(exitCode) ? null : exitCode, "ffmpeg");
  }
}

function inputStreamError(error: unknown, input: ResolvedInput): VideoUnreachableError {
  return new VideoUnreachableError("the input stream failed while ffmpeg was reading it", {
    input: input.display,
    reason: error instanceof Error ? error.message : String(error),
    cause: error,
  });
}

function abortedError(signal: AbortSignal | undefined, input: ResolvedInput | undefined): VideoAbortedError {
  return new VideoAbortedError("decoding was aborted by the caller", {
    input: input?.display,
    cause: signal?.reason,
  });
}

function validateOptions(options: DecodeOptions): string | undefined {
  if (options === null || typeof options !== "object" || options.sampling === undefined) {
    return "options.sampling is required ({ fps } or { everyNth })";
  }
  const problem = validateSampling(options.sampling) ?? (options.size && validateSize(options.size));
  if (problem) return problem;
  if (options.hwaccel !== undefined && !HWACCELS.includes(options.hwaccel)) {
    return `hwaccel must be one of ${HWACCELS.join(", ")}, got ${String(options.hwaccel)}`;
  }
  for (const key of ["maxWidth", "maxHeight", "maxFrames", "stallTimeoutMs", "threads"] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < (key === "threads" ? 0 : 1))) {
      return `${key} must be a positive integer, got ${value}`;
    }
  }
  return undefined;
}
