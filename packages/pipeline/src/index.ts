// @vdet/pipeline: the stages (producer, worker, aggregator) and local mode.
export { type AggregatorConfig, startAggregator } from "./aggregator.ts";
export type {
  AggregatorCheckpoint,
  AggregatorCheckpoints,
  AggregatorSnapshot,
  CheckpointSave,
  Outcome,
  TrackSummary,
} from "./aggregator-checkpoint.ts";
export { PIPELINE_ERRORS } from "./error-codes.ts";
export {
  type BatchRecord,
  FrameScheduler,
  type FrameSchedulerOptions,
  type ScheduledFrame,
  type ScheduledResult,
  type SkippedFrame,
} from "./frame-scheduler.ts";
export {
  checkDecodedDuration,
  checkInputSize,
  checkProbedInput,
  expectedSampledFrames,
  type InputLimits,
  limitInputBytes,
} from "./input-limits.ts";
export type { JobOutput, JobOutputFactory, JobOutputResume } from "./job-output.ts";
export { REFINED_MOT_FILE, refineJobTracks } from "./job-refine.ts";
export { deploymentModels, simulatedModels } from "./labels.ts";
export { boxesToSource, letterboxFor, padToSquare } from "./letterbox.ts";
export type { StreamEventSink } from "./live-connection.ts";
export {
  backoffMs,
  captureWaitMs,
  chooseLiveTransport,
  isLiveInput,
  type ReconnectPolicy,
  reconnectPolicy,
} from "./live-policy.ts";
export {
  type RecordedSegmentStore,
  type SweepableSegmentStore,
  startSegmentSweeper,
} from "./live-recording.ts";
export { type LocalRunOptions, type LocalRunResult, runLocal } from "./local-run.ts";
export { type StageLogger, silentLogger } from "./logger.ts";
export { withModelMetrics } from "./model-metrics.ts";
export {
  createModelProvider,
  createSimulatedModelProvider,
  ModelLoadError,
  type ModelProvider,
  type ModelSourceOptions,
} from "./models.ts";
export { type ProducerConfig, type Stage, startProducer } from "./producer.ts";
export {
  noiseFrame,
  type ProfileOptions,
  type ProfileResult,
  profileBatchSizes,
  profileModels,
} from "./profiling.ts";
export { openJobOutput, openSinkOutput, type SinkOutputOptions } from "./sink-output.ts";
export { startWorker, type WorkerConfig, type WorkerStage } from "./worker.ts";
