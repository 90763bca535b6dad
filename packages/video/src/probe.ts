// probeVideo: what a video is (duration, frame rate, size as displayed, frame count, codec) through ffprobe,
// run by fluent-ffmpeg. Probing a Readable consumes the start of it: decode from a fresh stream afterwards.

import { PassThrough, type Readable } from "node:stream";
import ffmpeg from "fluent-ffmpeg";
import { ffmpegBinaries } from "./binaries.ts";
import {
  NoVideoStreamError,
  UnsupportedCodecError,
  VideoAbortedError,
  VideoDecodeError,
  type VideoError,
  VideoStallError,
  VideoUnreachableError,
} from "./errors.ts";
import { classifyFailure, StderrDigest } from "./ffmpeg-log.ts";
import {
  type InputKind,
  inputOptions,
  type NetworkOptions,
  type ResolvedInput,
  resolveInput,
  type VideoInput,
} from "./input.ts";

export interface Rational {
  num: number;
  den: number;
}

export interface VideoInfo {
  /** ffprobe's format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mpegts", "hls". */
  container: string;
  /** Undefined for live streams and containers that do not say. */
  durationSeconds: number | undefined;
  /** Timestamp of the first packet; decodeFrames' pts count from here (they start near 0). */
  startTimeSeconds: number | undefined;
  /** Index of the video stream decodeFrames reads (the first that is not cover art). */
  streamIndex: number;
  codec: string;
  /** Displayed size: coded size with the rotation metadata applied (a portrait phone video is taller than wide). */
  width: number;
  height: number;
  /** Rotation metadata in degrees as ffprobe reports it (display matrix, counter-clockwise); 0 when none. */
  rotation: number;
  /** Average frame rate, else the base ("r") frame rate; undefined when neither is known. */
  fps: number | undefined;
  avgFrameRate: Rational | undefined;
  baseFrameRate: Rational | undefined;
  /** Frames in the video stream when the container records it (MP4 does, Matroska and MPEG-TS do not). */
  frameCount: number | undefined;
  hasAudio: boolean;
}

export interface ProbeOptions {
  signal?: AbortSignal;
  /** Give up after this long; also the socket timeout ffprobe uses for URLs. Default 30 000. */
  timeoutMs?: number;
  allowedKinds?: readonly InputKind[];
  /** How ffmpeg reaches http(s) inputs (a policy proxy); see NetworkOptions. */
  network?: NetworkOptions;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Probes `input`. Throws NotAVideoError, NoVideoStreamError, UnsupportedCodecError, VideoNotFoundError,
 * VideoUnreachableError, VideoInputRejectedError, VideoStallError (timeout) or VideoAbortedError.
 */
export async function probeVideo(input: VideoInput, options: ProbeOptions = {}): Promise<VideoInfo> {
  const resolved = await resolveInput(input, options.allowedKinds);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const data = await runFfprobe(resolved, timeoutMs, options.signal, options.network);
  return describe(resolved, data, await decodableCodecs());
}

function runFfprobe(
  input: ResolvedInput,
  timeoutMs: number,
  signal?: AbortSignal,
  network?: NetworkOptions,
): Promise<ffmpeg.FfprobeData> {
  const binaries = ffmpegBinaries();
  // fluent-ffmpeg gives no handle on the ffprobe process. A stream goes through a PassThrough we can end, so
  // ffprobe sees EOF and exits on timeout or abort; URL reads are bounded by -rw_timeout.
  let feed: PassThrough | undefined;
  let source: string | Readable;
  if (typeof input.source === "string") {
    source = input.source;
  } else {
    feed = new PassThrough();
    input.source.pipe(feed);
    source = feed;
  }
  const stopFeed = () => {
    if (feed === undefined || typeof input.source === "string") return;
    input.source.unpipe(feed);
    feed.end();
  };
  const options = ["-hide_banner", "-loglevel", "level+warning", ...inputOptions(input, timeoutMs, network)];

  return new Promise<ffmpeg.FfprobeData>((resolve, reject) => {
    let done = false;
    const finish = (error: VideoError | undefined, data?: ffmpeg.FfprobeData) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      stopFeed();
      if (error !== undefined) reject(error);
      else resolve(data!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new VideoStallError(
            `ffprobe gave no answer within ${timeoutMs} ms; check the source or raise timeoutMs`,
            {
              input: input.display,
            },
          ),
        ),
      timeoutMs,
    );
    const onAbort = () =>
      finish(
        new VideoAbortedError("probing was aborted by the caller", {
          input: input.display,
          cause: signal?.reason,
        }),
      );
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    if (typeof input.source !== "string") {
      input.source.on("error", (error: Error) =>
        finish(
          new VideoUnreachableError("the input stream failed while ffprobe was reading it", {
            input: input.display,
            reason: error.message,
            cause: error,
          }),
        ),
      );
    }

    ffmpeg({ source })
      .setFfprobePath(binaries.ffprobePath)
      .ffprobe(options, (error: Error | null, data: ffmpeg.FfprobeData) => {
        if (error === null || error === undefined) {
          finish(undefined, data);
          return;
        }
        // fluent-ffmpeg: "ffprobe exited with code N\n<stderr>", or a spawn error.
        const [first = "", ...stderr] = error.message.split("\n");
        const exitCode = /exited with code (\d+)/.exec(first)?.[1];
        if (exitCode === undefined) {
          finish(
            new VideoDecodeError(`could not run ffprobe: ${error.message}`, {
              input: input.display,
              cause: error,
            }),
          );
          return;
        }
        const digest = new StderrDigest();
        digest.addText(stderr.join("\n"));
        finish(classifyFailure(digest, input, Number(exitCode), "ffprobe"));
      });
  });
}

let codecsOfFfmpeg: Promise<ReadonlySet<string>> | undefined;

/** Codecs the decoding ffmpeg can decode (it may be another build than ffprobe). */
function decodableCodecs(): Promise<ReadonlySet<string>> {
  codecsOfFfmpeg ??= new Promise((resolve, reject) => {
    ffmpeg()
      .setFfmpegPath(ffmpegBinaries().ffmpegPath)
      .availableCodecs((error, codecs) => {
        if (error) {
          codecsOfFfmpeg = undefined;
          reject(new VideoDecodeError(`could not list ffmpeg's codecs: ${error.message}`, { cause: error }));
          return;
        }
        resolve(new Set(Object.keys(codecs).filter((name) => codecs[name]?.canDecode)));
      });
  });
  return codecsOfFfmpeg;
}

function describe(input: ResolvedInput, data: ffmpeg.FfprobeData, decodable: ReadonlySet<string>): VideoInfo {
  const video = data.streams.find(
    (s) => s.codec_type === "video" && Number(s.disposition?.attached_pic ?? 0) !== 1,
  );
  if (video === undefined) {
    throw new NoVideoStreamError(
      "the input has no video stream (audio only, or cover art only); submit a video",
      {
        input: input.display,
      },
    );
  }
  const codec = String(video.codec_name ?? "unknown");
  if (codec === "unknown" || codec === "none" || !decodable.has(codec)) {
    const tag = video.codec_tag_string === undefined ? "" : ` (tag ${video.codec_tag_string})`;
    throw new UnsupportedCodecError(
      `the video codec "${codec}"${tag} cannot be decoded by this ffmpeg; re-encode the video (e.g. to H.264) or install a fuller ffmpeg`,
      { input: input.display },
    );
  }
  const rotation = numberOr(video.rotation, numberOr(video.tags?.rotate, 0));
  const quarterTurn = Math.abs(rotation) % 180 === 90;
  const codedWidth = numberOr(video.width, 0);
  const codedHeight = numberOr(video.height, 0);
  const avgFrameRate = rational(video.avg_frame_rate);
  const baseFrameRate = rational(video.r_frame_rate);
  const rate = avgFrameRate ?? baseFrameRate;
  const frameCount = numberOr(video.nb_frames, 0);
  return {
    container: String(data.format.format_name ?? "unknown"),
    durationSeconds: positive(numberOr(data.format.duration, numberOr(video.duration, Number.NaN))),
    startTimeSeconds: finite(numberOr(data.format.start_time, numberOr(video.start_time, Number.NaN))),
    streamIndex: video.index,
    codec,
    width: quarterTurn ? codedHeight : codedWidth,
    height: quarterTurn ? codedWidth : codedHeight,
    rotation,
    fps: rate === undefined ? undefined : rate.num / rate.den,
    avgFrameRate,
    baseFrameRate,
    frameCount: frameCount > 0 ? frameCount : undefined,
    hasAudio: data.streams.some((s) => s.codec_type === "audio"),
  };
}

/** ffprobe prints "N/A" for unknown values; fluent-ffmpeg passes numbers through as numbers, the rest as text. */
function numberOr(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === "" || value === "N/A") return fallback;
  const n = Number(value);
  return Number.isFinite(n) ? n : fallback;
}

function finite(value: number): number | undefined {
  return Number.isFinite(value) ? value : undefined;
}

function positive(value: number): number | undefined {
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

function rational(text: unknown): Rational | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(String(text ?? ""));
  if (match === null) return undefined;
  const num = Number(match[1]);
  const den = Number(match[2]);
  return num > 0 && den > 0 ? { num, den } : undefined;
}
