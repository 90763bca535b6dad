// @vdet/protocol: job specs, job state and the messages between pipeline stages, validated with zod; the
// shapes every stage shares (Detections, RgbImage).
export * from "./coco-labels.ts";
export {
  allocateDetections,
  type DetectionArrays,
  type DetectionRow,
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
export * from "./job-spec.ts";
export * from "./job-state.ts";
export * from "./messages.ts";
export * from "./model-labels.ts";
export * from "./phi.ts";
export type { RgbImage } from "./rgb-image.ts";
export { ASSUMED_SOURCE_FPS, sampledFps } from "./sampling.ts";
