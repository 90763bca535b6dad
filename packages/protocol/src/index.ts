// @vdet/protocol: job specs, job records, the messages between pipeline stages and the job's result files
// (tracks.jsonl lines, summary.json, manifest.json), validated with zod; the shapes every stage shares
// (Detections, RgbImage).
export {
  COCO_CLASS_COUNT,
  COCO_USED_IDS,
  cocoIdsByName,
  cocoLabel,
  UnknownClassError,
} from "./coco-labels.ts";
export {
  allocateDetections,
  type DetectionArrays,
  type Detections,
  type DetectionValues,
  detectionCount,
  detectionsFromMessage,
  detectionsFromRows,
  detectionsToMessage,
  detectionsToRows,
  filterDetections,
  NO_TRACK,
  selectDetections,
} from "./detections.ts";
export { PROTOCOL_ERRORS } from "./error-codes.ts";
export { describeJobError, ERROR_SUBJECTS, errorSubject } from "./error-subject.ts";
export { type JobManifest, jobManifestSchema } from "./job-manifest.ts";
export {
  InvalidJobSpecError,
  inputSchema,
  issuesOf,
  type JobSpec,
  type JobSpecInput,
  jobSpecSchema,
  LIVE_TRANSPORTS,
  type LiveTransport,
  outputSchema,
  parseJobSpec,
  type ReconnectSpec,
  reconnectSchema,
  type Sampling,
  samplingSchema,
  type Throughput,
  throughputSchema,
} from "./job-spec.ts";
export {
  isTerminal,
  JOB_STATES,
  type JobConnection,
  type JobError,
  type JobProgress,
  type JobRecord,
  type JobRendering,
  type JobStateName,
  type JobWaiting,
  jobConnectionSchema,
  jobErrorSchema,
  jobProgressSchema,
  jobRecordSchema,
  jobRenderingSchema,
  jobStalled,
  jobStateSchema,
  jobWaiting,
  jobWaitingSchema,
  LIVE_CONNECTION_STATES,
  type LiveConnectionState,
  ROLE_KINDS,
  type RoleKind,
  type RoleLiveness,
  TERMINAL_STATES,
  type TerminalState,
  type VideoSummary,
  videoSummarySchema,
  WAITING_FOR_WORKER,
} from "./job-state.ts";
export { type JobSummary, jobSummarySchema, trackSummarySchema } from "./job-summary.ts";
export {
  type DetectionBatch,
  type DetectionBatchInput,
  detectionBatchSchema,
  FRAME_ENCODINGS,
  type FrameChunk,
  type FrameDetectionsMessage,
  type FrameEncoding,
  type FrameFailure,
  type FrameRef,
  frameChunkSchema,
  frameDetectionsSchema,
  frameFailureSchema,
  frameRefSchema,
  type Gap,
  gapSchema,
  type JobEvent,
  jobEventSchema,
  jobIdSchema,
  type Letterbox,
  letterboxSchema,
  PoisonMessageError,
  parseMessage,
  type SegmentSource,
  type SegmentWork,
  segmentSchema,
  segmentSourceSchema,
} from "./messages.ts";
export { type ModelLabels, modelLabelsSchema } from "./model-labels.ts";
export {
  boxUnitsFor,
  type FrameDetectionsToPack,
  PACKED_DETECTION_BYTES,
  type PackedFrames,
  packedFramesSchema,
  packFrames,
  SCORE_UNITS,
  unpackFrames,
} from "./packed-detections.ts";
export {
  PHI_VALUES,
  type PhiRange,
  type PhiValue,
  parsePhi,
  phiLabel,
  phiRangeSchema,
  phiRank,
  phiSchema,
  UnknownPhiError,
} from "./phi.ts";
export type { RgbImage } from "./rgb-image.ts";
export { ASSUMED_SOURCE_FPS, sampledFps } from "./sampling.ts";
export { type DetectionRow, detectionRowSchema, type TracksLine, tracksLineSchema } from "./tracks-line.ts";
