// @vdet/jobs: what a deployment keeps in Redis (job records, published models, aggregator checkpoints) and the
// one map of its Redis keys. Depends on @vdet/protocol and ioredis only, so the api can use it without the stages.
export {
  type AggregatorCheckpoints,
  type CheckpointSave,
  RedisAggregatorCheckpoints,
  type StoredCheckpoint,
  type StoredTrack,
} from "./checkpoints.ts";
export {
  HEARTBEAT_DEFAULTS,
  type Heartbeat,
  type HeartbeatOptions,
  readHeartbeats,
  readRoleLiveness,
  startHeartbeat,
} from "./heartbeats.ts";
export {
  ActiveJobLimitError,
  type Capacity,
  type CreateOptions,
  type JobPage,
  type JobStore,
  MemoryJobStore,
  newJobId,
  type ProducerCheckpoint,
  type ProgressField,
  RedisJobStore,
} from "./job-store.ts";
export {
  CHECKPOINT_PARTS,
  type CheckpointPart,
  DEFAULT_PREFIX,
  DeploymentKeys,
  deleteDeploymentKeys,
  type KeyLayoutOptions,
  PREFIX_PATTERN,
  type RedisClient,
} from "./keys.ts";
export {
  ClassNameError,
  COCO_SOURCE,
  cocoModel,
  type DeploymentModels,
  jobClassIds,
  labelOf,
  modelFor,
} from "./labels.ts";
export { MemoryModelRegistry, type ModelRegistry, RedisModelRegistry } from "./model-registry.ts";
export {
  jobDeliveries,
  MAX_DELIVERIES,
  MemoryNotificationStore,
  type NotificationStore,
  type NotificationSubject,
  type OutboxEntry,
  RedisNotificationStore,
} from "./notifications.ts";
