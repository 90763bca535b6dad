// Typed errors for probing and decoding. Each names what went wrong, carries ffmpeg's own reason line when
// ffmpeg gave one, and says what to do; `code` is stable for callers that switch on it (job failure reasons).

import { defineErrorCodes, VdetError } from "@vdet/errors";

export const VIDEO_ERRORS = defineErrorCodes("video", {
  FFMPEG_MISSING: { retryable: false, description: "no usable ffmpeg/ffprobe binary" },
  INPUT_REJECTED: {
    retryable: false,
    description: "the input was refused before ffmpeg ran (scheme or kind not allowed, bad options)",
  },
  NOT_FOUND: { retryable: false, description: "a missing local file, or a URL answering 404/410" },
  UNREACHABLE: {
    retryable: true,
    description: "network failure: refused, unresolvable, timed out, HTTP errors, a failing input stream",
  },
  NOT_A_VIDEO: { retryable: false, description: "the bytes are not a video container ffmpeg accepts" },
  NO_VIDEO_STREAM: { retryable: false, description: "a valid container without a video stream" },
  UNSUPPORTED_CODEC: { retryable: false, description: "a video codec the ffmpeg in use cannot decode" },
  LIMIT_EXCEEDED: {
    retryable: false,
    description: "a configured limit (resolution, frames, bytes) was exceeded",
  },
  STALLED: { retryable: true, description: "ffmpeg made no progress for the stall timeout" },
  ABORTED: { retryable: false, description: "the caller cancelled the decode (AbortSignal)" },
  NOT_INDEXABLE: {
    retryable: false,
    description:
      "the input cannot be cut into segments frame-exactly (no timestamps, duplicate pts); decode it sequentially",
  },
  HWACCEL_UNAVAILABLE: {
    retryable: false,
    description: "a GPU decoder (hwaccel) was asked for and this ffmpeg build lacks it",
  },
  DECODE_FAILED: { retryable: false, description: "ffmpeg failed for a reason no other code describes" },
});

export type VideoErrorCode = (typeof VIDEO_ERRORS)[keyof typeof VIDEO_ERRORS];

export interface VideoErrorDetails {
  /** The input as given, with credentials and query strings redacted. */
  input?: string;
  /** ffmpeg's own reason (its error lines, prefixes stripped), when it gave one. */
  reason?: string;
  exitCode?: number | null;
  /** The last lines ffmpeg/ffprobe wrote to stderr (info lines included), for logs. */
  stderrTail?: readonly string[];
  cause?: unknown;
}

export class VideoError extends VdetError {
  declare readonly code: VideoErrorCode;
  readonly input: string | undefined;
  readonly reason: string | undefined;
  readonly exitCode: number | null | undefined;
  readonly stderrTail: readonly string[];

  constructor(code: VideoErrorCode, message: string, details: VideoErrorDetails = {}) {
    const where = details.input === undefined ? "" : ` [input: ${details.input}]`;
    const why = details.reason === undefined ? "" : ` (ffmpeg: ${details.reason})`;
    super(code, `${message}${why}${where}`, { cause: details.cause });
    this.input = details.input;
    this.reason = details.reason;
    this.exitCode = details.exitCode;
    this.stderrTail = details.stderrTail ?? [];
  }
}

/** A class for one code, whose errors take a message and details (as codedError does for VdetError). */
function videoError(code: VideoErrorCode) {
  return class extends VideoError {
    constructor(message: string, details?: VideoErrorDetails) {
      super(code, message, details);
    }
  };
}

/** No usable ffmpeg/ffprobe binary. */
export class FfmpegMissingError extends videoError(VIDEO_ERRORS.FFMPEG_MISSING) {}

/** The input was refused before ffmpeg ran (scheme or kind not allowed, bad options). */
export class VideoInputRejectedError extends videoError(VIDEO_ERRORS.INPUT_REJECTED) {}

/** Missing local file, or a URL answering 404/410. */
export class VideoNotFoundError extends videoError(VIDEO_ERRORS.NOT_FOUND) {}

/** Network failure: refused, unresolvable, timed out, HTTP errors other than not-found, a failing input stream. */
export class VideoUnreachableError extends videoError(VIDEO_ERRORS.UNREACHABLE) {}

/** The bytes are not a video container ffmpeg accepts: empty, truncated, text, image, unknown format. */
export class NotAVideoError extends videoError(VIDEO_ERRORS.NOT_A_VIDEO) {}

/** A valid container without a video stream (audio-only, cover art only). */
export class NoVideoStreamError extends videoError(VIDEO_ERRORS.NO_VIDEO_STREAM) {}

/** A video stream whose codec the ffmpeg in use cannot decode. */
export class UnsupportedCodecError extends videoError(VIDEO_ERRORS.UNSUPPORTED_CODEC) {}

/** A configured limit (resolution, sampled frame count) was exceeded. */
export class VideoLimitError extends videoError(VIDEO_ERRORS.LIMIT_EXCEEDED) {}

/** ffmpeg made no progress for the stall timeout while the consumer was waiting. */
export class VideoStallError extends videoError(VIDEO_ERRORS.STALLED) {}

/** The caller's AbortSignal fired; ffmpeg was killed. `cause` is the signal's reason. */
export class VideoAbortedError extends videoError(VIDEO_ERRORS.ABORTED) {}

/** ffmpeg failed for a reason none of the other classes describe. */
export class VideoDecodeError extends videoError(VIDEO_ERRORS.DECODE_FAILED) {}

/** A GPU decoder (`hwaccel`) was asked for and the ffmpeg build in use lacks it (`ffmpeg -hwaccels`). */
export class HwaccelUnavailableError extends videoError(VIDEO_ERRORS.HWACCEL_UNAVAILABLE) {}

/** The input cannot be cut into segments frame-exactly (packets without pts, duplicate pts): decode it sequentially. */
export class VideoNotIndexableError extends videoError(VIDEO_ERRORS.NOT_INDEXABLE) {}
