// @vdet/metrics: Prometheus metrics of every role (prom-client): metric objects, queue depths, /metrics server.

export { type LiveRolesSource, liveRoles, watchLiveRoles } from "./live-roles.ts";
export {
  batchSize,
  chunkSeconds,
  deadlineMissesTotal,
  deadlineSlackSeconds,
  errorsTotal,
  framesTotal,
  inferenceSeconds,
  jobsTotal,
  metrics,
  phiDecisionsTotal,
  phiFramesTotal,
  phiLast,
  since,
  sinkSeconds,
  trackerSeconds,
} from "./pipeline-metrics.ts";
export {
  QUEUE_STATES,
  type QueueDepth,
  type QueueDepthSource,
  type QueueState,
  queueMessages,
  watchQueueDepths,
} from "./queue-depths.ts";
export { enableProcessMetrics, METRICS_CONTENT_TYPE, metricsText, registry } from "./registry.ts";
export { type MetricsServer, startMetricsServer } from "./server.ts";
