// Object storage for vdet: where job outputs are written (S3 or a local directory, behind one Sink interface)
// and how S3 inputs are read (resumable streams, paged video listings).

export {
  InvalidKeyError,
  InvalidLocationError,
  ObjectChangedError,
  ObjectConflictError,
  ObjectNotFoundError,
  PartsMissingError,
  STORAGE_ERRORS,
  StorageError,
  type StorageErrorCode,
  StorageRequestError,
} from "./errors.ts";
export { validateKey, validatePrefix } from "./keys.ts";
export { directoryOutsideRoots, LocalDirSink } from "./local-dir-sink.ts";
export {
  bucketNameProblem,
  formatLocation,
  isS3Uri,
  type LocalLocation,
  parseLocation,
  parseS3ObjectUri,
  type S3Location,
  type StorageLocation,
} from "./location.ts";
export { type OpenSinkOptions, openSink } from "./open-sink.ts";
export { type FinishResult, PartWriter, type PartWriterOptions } from "./part-writer.ts";
export {
  type ObjectReader,
  openLocalObject,
  StorageResolver,
  type StorageResolverOptions,
} from "./resolver.ts";
export { type BackoffOptions, BackoffRetryStrategy, backoffDelayMs } from "./retry.ts";
export { createS3Client, describeS3Config, type S3Config, s3ConfigFromEnv } from "./s3-config.ts";
export { type ObjectStreamOptions, openS3Input, openS3Range, s3ObjectSize } from "./s3-object-stream.ts";
export { S3Sink, type S3SinkOptions } from "./s3-sink.ts";
export { type ListVideosOptions, listS3Videos, type S3Video } from "./s3-videos.ts";
export { S3SegmentStore, type SweepResult } from "./segment-store.ts";
export type { ListOptions, ObjectInfo, PutOptions, PutResult, Sink, UploadOptions } from "./sink.ts";
export { VIDEO_EXTENSIONS } from "./video-extensions.ts";
