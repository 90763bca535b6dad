// @vdet/tracker: ByteTrack-class multi-object tracking (Kalman filter, two-stage IoU association,
// SORT baseline preset) and the assignment solver shared with the evaluator.
export {
  CAMERA_MOTION,
  type CameraShift,
  type CameraShiftInput,
  estimateCameraShift,
} from "./camera-motion.ts";
export {
  type BoxParameterisation,
  boxToMeasurement,
  invertSymmetric4,
  KalmanFilter,
  meanToBox,
  XYAH,
  XYSR,
} from "./kalman-filter.ts";
export {
  AssignmentError,
  AssignmentSolver,
  boxIou,
  iouMatrix,
  linearSumAssignment,
  solveGated,
} from "./matching.ts";
export {
  DEFAULT_TRACKER_OPTIONS,
  type ResolvedTrackerOptions,
  resolveTrackerOptions,
  SORT_BASELINE_OPTIONS,
  scaleFrames,
  type TrackerOptions,
  TrackerOptionsError,
} from "./options.ts";
export {
  DEFAULT_REFINE_OPTIONS,
  type RefinedRow,
  type RefineOptions,
  type RefineRow,
  refineTracks,
} from "./refine.ts";
export { TrackerStateError, type TrackState } from "./track.ts";
export {
  DetectionInputError,
  type FrameTime,
  Tracker,
  type TrackerState,
  type TrackOutput,
} from "./tracker.ts";
