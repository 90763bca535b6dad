export {
  type ArchiveChoice,
  type ArchiveChoiceInput,
  chooseArchivePhi,
  requiredFramesPerSecond,
  type ThroughputTarget,
} from "./archive-policy.ts";
export {
  formatProfile,
  LatencyProfile,
  type LatencyProfileOptions,
  type ProfileDrift,
  type ProfileRow,
  type ProfileTable,
  profileDrift,
  profileTableSchema,
  quantile,
} from "./latency-profile.ts";
export {
  type BatchDecision,
  type DecisionReason,
  inRange,
  type PendingFrame,
  PhiPolicy,
  type PhiPolicyOptions,
} from "./phi-policy.ts";
export { type Plan, type PlanInput, type PlanRow, planArchive, planLatency } from "./planner.ts";
export {
  currentLoad,
  describeHardware,
  loadProfile,
  ProfileFileError,
  type ProfileKeyParts,
  profileCacheDir,
  profileKey,
  profileStaleReason,
  readProfileFile,
  SCHEDULER_ERRORS,
  saveProfile,
} from "./profile-cache.ts";
