// @vdet/video: probe videos and decode them to sampled, scaled RGB24 frames through ffmpeg (fluent-ffmpeg).
export {
  type BinarySource,
  bundledFallbackWarning,
  describeFfmpeg,
  type FfmpegBinaries,
  type FfmpegDescription,
  ffmpegBinaries,
} from "./binaries.ts";
export { type DecodedFrame, type DecodeOptions, decodeFrames, HWACCELS, type Hwaccel } from "./decode.ts";
export {
  FfmpegMissingError,
  HwaccelUnavailableError,
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
  VideoNotIndexableError,
  VideoStallError,
  VideoUnreachableError,
} from "./errors.ts";
export { type OutputSize, Sampler, type Sampling } from "./filters.ts";
export {
  type IndexOptions,
  indexVideo,
  type ReReadableInput,
  SEGMENTABLE_KINDS,
  type VideoIndex,
} from "./frame-index.ts";
export { GAP_REASONS, type Gap, type GapReason } from "./gaps.ts";
export {
  ALL_INPUT_KINDS,
  type InputKind,
  type NetworkOptions,
  redactUrl,
  VIDEO_DEMUXERS,
  type VideoInput,
} from "./input.ts";
export { type RecordedSegment, type RecordOptions, type RecordTimeline, recordLive } from "./live.ts";
export { type ProbeOptions, probeVideo, type Rational, type VideoInfo } from "./probe.ts";
export {
  DEFAULT_SEGMENT_SECONDS,
  decodeSegment,
  planSegments,
  type SegmentDecodeOptions,
  type SegmentDescriptor,
  type SegmentPlan,
  type SegmentPlanOptions,
} from "./segments.ts";
