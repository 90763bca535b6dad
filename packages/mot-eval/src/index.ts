// @vdet/mot-eval: MOTChallenge file handling and metrics (CLEAR MOT, identity/IDF1, HOTA, VACE)
// following py-motmetrics and TrackEval conventions.

export {
  type ApOptions,
  type ApResult,
  averagePrecision,
  type ClassAp,
  COCO_IOU_THRESHOLDS,
  missShare,
} from "./ap.ts";
export {
  ClearMotAccumulator,
  type ClearMotCounts,
  type ClearMotMetrics,
  clearMotMetrics,
  DEFAULT_MOSTLY_TRACKED_RULE,
  type MostlyTrackedRule,
  sumClearMotCounts,
  trajectoryClass,
} from "./clear-mot.ts";
export {
  detectionFramesFromRows,
  motRowsFromResults,
  refineMotRows,
  subsampledLength,
  subsampleRows,
} from "./detections.ts";
export {
  combineSequences,
  type EvaluateOptions,
  evaluatePrepared,
  evaluateSequence,
  type MetricsSummary,
  type SequenceMetrics,
  summarize,
} from "./evaluate.ts";
export {
  evaluateFolder,
  type FolderEvaluation,
  findSequences,
  readSeqInfo,
  type SequenceFolder,
} from "./folder.ts";
export {
  combineHotaCounts,
  HOTA_ALPHAS,
  type HotaCounts,
  type HotaMetrics,
  hotaCounts,
  hotaMetrics,
} from "./hota.ts";
export {
  IdentityAccumulator,
  type IdentityCounts,
  type IdentityMetrics,
  identityMetrics,
} from "./identity.ts";
export {
  formatResultRow,
  formatResultRows,
  type GtLayout,
  type MotFileKind,
  MotFormatError,
  type MotRows,
  type ParseOptions,
  parseMotText,
  parseSeqInfo,
  type ResultRow,
  readMotFile,
  type SeqInfo,
} from "./mot-format.ts";
export {
  boxIouXywh,
  type EvalFrame,
  type EvalSequence,
  MOT17_DISTRACTOR_CLASSES,
  MOT17_PEDESTRIAN_CLASS,
  type PrepareOptions,
  prepareSequence,
} from "./prepare.ts";
export { formatSummaryTable } from "./table.ts";
export { sumVaceCounts, type VaceCounts, type VaceMetrics, vaceCounts, vaceMetrics } from "./vace.ts";
