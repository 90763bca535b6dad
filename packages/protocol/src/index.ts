// @vdet/protocol: job specs, job records, the messages between pipeline stages and the job's result files
// (tracks.jsonl lines, summary.json, manifest.json), validated with zod; the shapes every stage shares
// (Detections, RgbImage).
export * from "./coco-labels.ts";
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
export * from "./job-manifest.ts";
export * from "./job-spec.ts";
export * from "./job-state.ts";
export * from "./job-summary.ts";
export * from "./messages.ts";
export * from "./model-labels.ts";
export * from "./phi.ts";
export type { RgbImage } from "./rgb-image.ts";
export { ASSUMED_SOURCE_FPS, sampledFps } from "./sampling.ts";
export * from "./tracks-line.ts";
