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
export * from "./backlog-metric.ts";
export * from "./health.ts";
export * from "./logging.ts";
export * from "./serve.ts";
export * from "./start.ts";
