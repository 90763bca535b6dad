// @vdet/models: the model cache. Pulls the published EfficientDet checkpoints (sha256-verified, resumable,
// proxy-aware), converts them to the deploy ONNX graph, imports users' own checkpoints, lists and resolves models.
// See docs/models.md.

export { type CachedModel, checkModelName, ModelCache, modelCacheDir } from "./cache.ts";
export {
  type CatalogEntry,
  type CatalogOptions,
  catalogEntry,
  catalogOptionsFromEnv,
  PUBLISHED_BASE_URL,
  PUBLISHED_PHIS,
  parsePublishedName,
  publishedName,
  sha256PrefixFromName,
} from "./catalog.ts";
export { defaultLabels, inferNumClasses, parseLabels } from "./convert.ts";
export {
  type DefaultWeights,
  type DefaultWeightsOptions,
  defaultWeights,
  offlineFromEnv,
  SEEDED_WEIGHTS_LABEL,
  seededWeightsDescription,
  trainedWeightsHint,
} from "./default-weights.ts";
export { DEFAULT_STALL_TIMEOUT_MS, type DownloadProgress, download, proxyDispatcher } from "./download.ts";
export {
  ChecksumMismatchError,
  DownloadConnectionError,
  DownloadHttpError,
  DownloadStalledError,
  MODEL_CACHE_ERRORS,
  ModelCacheError,
  ModelConversionError,
  ModelInputError,
  ModelNotFoundError,
  TruncatedDownloadError,
} from "./errors.ts";
export { type ImportOptions, importModel } from "./import.ts";
export {
  findInt8Build,
  type Int8BuildKey,
  int8BuildKey,
  type StoreInt8Options,
  storeInt8Build,
} from "./int8-cache.ts";
export {
  MANIFEST_FILE,
  MODEL_FILE,
  type ModelManifest,
  modelManifestSchema,
  vdetVersion,
} from "./manifest.ts";
export { type PullEvent, type PullOptions, type PullResult, pullModel } from "./pull.ts";
export { type ModelReference, resolveModelReference } from "./resolve.ts";
