// @vdet/video: probe videos and decode them to sampled, scaled RGB24 frames through ffmpeg (fluent-ffmpeg).
export {
  type BinarySource,
  bundledFallbackWarning,
  describeFfmpeg,
  type FfmpegBinaries,
  type FfmpegDescription,
  ffmpegBinaries,
} from "./binaries.ts";
export { type DecodedFrame, type DecodeOptions, decodeFrames } from "./decode.ts";
export {
  FfmpegMissingError,
  NotAVideoError,
  NoVideoStreamError,
  UnsupportedCodecError,
  VIDEO_ERRORS,
  VideoAbortedError,
  VideoDecodeError,
  VideoError,
  type VideoErrorCode,
  type VideoErrorDetails,
  VideoInputRejectedError,
  VideoLimitError,
  VideoNotFoundError,
  VideoStallError,
  VideoUnreachableError,
} from "./errors.ts";
export type { OutputSize, Sampling } from "./filters.ts";
export {
  ALL_INPUT_KINDS,
  type InputKind,
  type NetworkOptions,
  redactUrl,
  VIDEO_DEMUXERS,
  type VideoInput,
} from "./input.ts";
export { type ProbeOptions, probeVideo, type Rational, type VideoInfo } from "./probe.ts";
