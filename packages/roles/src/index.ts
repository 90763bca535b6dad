// @vdet/roles: start-up of the long-running roles, shared by services/* and the CLI. Their configuration is
// @vdet/config's (re-exported here for the CLI and the tests that start roles).
export {
  type AggregatorRoleConfig,
  type ApiRoleConfig,
  aggregatorConfigSchema,
  apiConfigSchema,
  ConfigError,
  describeConfig,
  loadConfig,
  type ProducerRoleConfig,
  producerConfigSchema,
  type WorkerRoleConfig,
  workerConfigSchema,
} from "@vdet/config";
export { startAggregatorRole } from "./aggregator-role.ts";
export { startApiRole } from "./api-role.ts";
export {
  BACKLOG_PER_WORKER_METRIC,
  type BacklogPublisherOptions,
  type BacklogSample,
  backlogMetricData,
  sampleBacklog,
  startBacklogPublisher,
} from "./backlog-metric.ts";
export { checkRoleRedis, type RunningRole } from "./connections.ts";
export { type HealthServer, type HealthTarget, startHealthServer } from "./health.ts";
export { createLogger } from "./logging.ts";
export { startProducerRole } from "./producer-role.ts";
export { runUntilSignal } from "./run-until-signal.ts";
export { type RoleName, serveRole } from "./serve.ts";
export { prepareWorker, startWorkerRole } from "./worker-role.ts";
