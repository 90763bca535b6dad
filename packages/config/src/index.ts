// @vdet/config: every setting of every role and of the storage layer, read from VDET_* variables and flags
// through one grammar, each default stated once. Depends on zod, @vdet/errors and @vdet/protocol (φ and precision) only, so libraries can use it.
// Every default is public: the module holds nothing else.
export * from "./defaults.ts";
export {
  envBoolean,
  envEnum,
  envInt,
  envList,
  envPositiveInt,
  type WeightsEntry,
  weightPrecisions,
  weightReferences,
  weightsList,
} from "./grammar.ts";
export { ConfigError, describeConfig, envNames, loadConfig, maskUrlCredentials } from "./load.ts";
export { ENV_NAMES, SECRET_KEYS } from "./names.ts";
export {
  type AggregatorRoleConfig,
  type ApiRoleConfig,
  aggregatorConfigSchema,
  apiConfigSchema,
  type ProducerRoleConfig,
  producerConfigSchema,
  type WorkerRoleConfig,
  workerConfigSchema,
} from "./roles.ts";
export { loadS3Settings, type S3Settings, s3SettingsSchema } from "./s3.ts";
