// indexVideo: every frame of a re-readable input's video stream (raw pts, keyframe flag) in display order, from
// ffprobe's packet list (demux only, nothing decoded), plus the start shift the sequential decode applies.
// The segment planner (segments.ts) cuts this index into independently decodable segments.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { ffmpegBinaries } from "./binaries.ts";
import {
  VideoAbortedError,
  VideoNotIndexableError,
  VideoStallError,
  VideoUnreachableError,
} from "./errors.ts";
import { classifyFailure, StderrDigest } from "./ffmpeg-log.ts";
import { type InputKind, inputOptions, type ResolvedInput, resolveInput } from "./input.ts";
import { probeVideo, type Rational, type VideoInfo } from "./probe.ts";

/**
 * An input that can be read more than once: a local path, an http(s) URL served with byte ranges (an S3
 * presigned URL), or a factory that opens a fresh stream each time (an S3 GetObject body; no seeking then).
 */
export type ReReadableInput = string | (() => Readable);

/** Input kinds that can be indexed and decoded in segments (not live: hls, rtsp). */
export const SEGMENTABLE_KINDS: readonly InputKind[] = ["file", "url", "stream"];

export interface VideoIndex {
  info: VideoInfo;
  /** The video stream's time base; every pts below is in it. */
  timeBase: Rational;
  /**
   * The sequential decode's start shift (ffmpeg subtracts the input's start time, rounded to the time base):
   * a frame's `ptsSeconds` is (pts - ptsOffset) × timeBase.
   */
  ptsOffset: number;
  /** The input's start time in microseconds, as ffmpeg computes it (what `-ss` counts from). */
  startTimeUs: number;
  /** Raw pts of every frame the decoder outputs, in display order (packets the demuxer marks discard are left out). */
  pts: Float64Array;
  /** 1 where the frame's packet is a keyframe. */
  keyframe: Uint8Array;
  /**
   * Keyframe packets in decode order, discarded ones included (an edit list's lead-in): where a decode can
   * start. Per keyframe: its pts (to choose it) and min(pts, dts) (to seek to it).
   */
  keyframePts: Float64Array;
  keyframeSeekPts: Float64Array;
  /** The first packet is a keyframe: a decode starting at keyframe 0 needs no seek. */
  startsWithKeyframe: boolean;
}

export interface IndexOptions {
  signal?: AbortSignal;
  /** Give up after this long without output from ffprobe. Default 30 000. */
  timeoutMs?: number;
  allowedKinds?: readonly InputKind[];
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Probes and indexes `input`. Throws probeVideo's errors, VideoNotIndexableError when the frames cannot be
 * located exactly (packets without pts, duplicate pts), VideoStallError or VideoAbortedError.
 */
export async function indexVideo(input: ReReadableInput, options: IndexOptions = {}): Promise<VideoIndex> {
  const allowedKinds = (options.allowedKinds ?? SEGMENTABLE_KINDS).filter((k) =>
    SEGMENTABLE_KINDS.includes(k),
  );
  const open = () => (typeof input === "function" ? input() : input);
  const info = await probeVideo(open(), {
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    allowedKinds,
  });
  const resolved = await resolveInput(open(), allowedKinds);
  const packets = await listPackets(resolved, info.streamIndex, options);
  return buildIndex(info, packets, resolved);
}

export interface PacketList {
  timeBase: Rational | undefined;
  startTime: string | undefined;
  /** pts, dts, flags per packet, decode order (NaN for N/A). */
  pts: number[];
  dts: number[];
  key: boolean[];
  discard: boolean[];
}

/** The packets of one stream (decode order) with the stream's time base and the input's start time. */
export function listPackets(
  input: ResolvedInput,
  streamIndex: number,
  options: IndexOptions,
  /** Force the demuxer (a short recorded MPEG-TS segment is too short for format probing). */
  format?: string,
): Promise<PacketList> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const args = [
    "-hide_banner",
    "-loglevel",
    "level+error",
    ...inputOptions(input, timeoutMs),
    ...(format === undefined ? [] : ["-f", format]),
    "-select_streams",
    String(streamIndex),
    "-show_entries",
    "packet=pts,dts,flags:stream=time_base:format=start_time",
    "-of",
    "compact=p=1:nk=0",
    typeof input.source === "string" ? input.source : "pipe:0",
  ];
  const child = spawn(ffmpegBinaries().ffprobePath, args, { stdio: ["pipe", "pipe", "pipe"] });
  const list: PacketList = {
    timeBase: undefined,
    startTime: undefined,
    pts: [],
    dts: [],
    key: [],
    discard: [],
  };
  const digest = new StderrDigest();
  return new Promise((resolve, reject) => {
    let done = false;
    let lastOutput = Date.now();
    const finish = (error: unknown) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (child.exitCode === null) child.kill("SIGKILL");
      if (typeof input.source !== "string") {
        input.source.unpipe(child.stdin);
        input.source.destroy(); // a factory's stream is ours: the rest of it is not needed
      }
      if (error === undefined) resolve(list);
      else reject(error);
    };
    const onAbort = () =>
      finish(
        new VideoAbortedError("indexing was aborted by the caller", {
          input: input.display,
          cause: options.signal?.reason,
        }),
      );
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setInterval(
      () => {
        if (Date.now() - lastOutput > timeoutMs) {
          finish(
            new VideoStallError(
              `ffprobe listed no packet for ${timeoutMs} ms; check the source or raise timeoutMs`,
              { input: input.display },
            ),
          );
        }
      },
      Math.min(1000, timeoutMs),
    );
    child.on("error", (error) =>
      finish(
        new VideoUnreachableError(`could not run ffprobe: ${error.message}`, {
          input: input.display,
          cause: error,
        }),
      ),
    );
    child.stdin.on("error", () => {}); // ffprobe may exit before reading all of a stream; its exit code decides
    if (typeof input.source === "string") child.stdin.end();
    else {
      input.source.on("error", (error: Error) =>
        finish(
          new VideoUnreachableError("the input stream failed while ffprobe was reading it", {
            input: input.display,
            reason: error.message,
            cause: error,
          }),
        ),
      );
      input.source.pipe(child.stdin);
    }
    createInterface({ input: child.stderr }).on("line", (line) => digest.addText(line));
    createInterface({ input: child.stdout }).on("line", (line) => {
      lastOutput = Date.now();
      parseLine(line, list);
    });
    child.on("close", (code) => {
      if (code === 0) finish(undefined);
      else finish(classifyFailure(digest, input, code, "ffprobe"));
    });
  });
}

function field(line: string, name: string): string | undefined {
  const at = line.indexOf(`|${name}=`);
  if (at < 0) return undefined;
  const start = at + name.length + 2;
  const end = line.indexOf("|", start);
  return line.slice(start, end < 0 ? undefined : end);
}

function parseLine(line: string, list: PacketList): void {
  if (line.startsWith("packet|")) {
    const flags = field(line, "flags") ?? "";
    list.pts.push(integer(field(line, "pts")));
    list.dts.push(integer(field(line, "dts")));
    list.key.push(flags.includes("K"));
    list.discard.push(flags.includes("D"));
  } else if (line.startsWith("stream|")) {
    const match = /^(\d+)\/(\d+)$/.exec(field(line, "time_base") ?? "");
    if (match !== null) list.timeBase = { num: Number(match[1]), den: Number(match[2]) };
  } else if (line.startsWith("format|")) {
    list.startTime = field(line, "start_time");
  }
}

function integer(text: string | undefined): number {
  const n = Number(text);
  return text === undefined || text === "" || !Number.isSafeInteger(n) ? Number.NaN : n;
}

/** av_rescale_q(value, 1/1 000 000, tb) with ffmpeg's default rounding (nearest, halves away from zero). */
export function microsecondsToTicks(us: number, timeBase: Rational): number {
  const sign = us < 0 ? -1n : 1n;
  const a = BigInt(Math.abs(us)) * BigInt(timeBase.den);
  const c = 1_000_000n * BigInt(timeBase.num);
  return Number(sign * ((a + c / 2n) / c));
}

function buildIndex(info: VideoInfo, packets: PacketList, input: ResolvedInput): VideoIndex {
  const notIndexable = (why: string) =>
    new VideoNotIndexableError(`cannot locate every frame exactly: ${why}; decode this input sequentially`, {
      input: input.display,
    });
  const { timeBase } = packets;
  if (timeBase === undefined) throw notIndexable("ffprobe reported no time base for the video stream");
  const startTimeUs = Math.round(Number(packets.startTime) * 1e6);
  if (!Number.isSafeInteger(startTimeUs)) throw notIndexable("the input has no start time");
  const frames: { pts: number; key: boolean }[] = [];
  const keyframePts: number[] = [];
  const keyframeSeekPts: number[] = [];
  for (let i = 0; i < packets.pts.length; i++) {
    const pts = packets.pts[i]!;
    if (Number.isNaN(pts)) throw notIndexable(`packet ${i} of the video stream has no pts`);
    if (packets.key[i]) {
      const dts = packets.dts[i]!;
      keyframePts.push(pts);
      keyframeSeekPts.push(Number.isNaN(dts) ? pts : Math.min(pts, dts));
    }
    if (!packets.discard[i]) frames.push({ pts, key: packets.key[i]! });
  }
  if (frames.length === 0) throw notIndexable("the video stream has no frames");
  frames.sort((a, b) => a.pts - b.pts);
  for (let i = 1; i < frames.length; i++) {
    if (frames[i]!.pts === frames[i - 1]!.pts) throw notIndexable(`two frames share pts ${frames[i]!.pts}`);
  }
  return {
    info,
    timeBase,
    ptsOffset: microsecondsToTicks(startTimeUs, timeBase),
    startTimeUs,
    pts: Float64Array.from(frames, (f) => f.pts),
    keyframe: Uint8Array.from(frames, (f) => (f.key ? 1 : 0)),
    keyframePts: Float64Array.from(keyframePts),
    keyframeSeekPts: Float64Array.from(keyframeSeekPts),
    startsWithKeyframe: packets.key[0] === true,
  };
}
