// Typed storage errors. Each message says what went wrong and what to do about it; `code` is stable for
// callers that branch on the kind of failure. None that leaves this package is retryable: the storage layer has
// already retried what retrying can fix (with backoff, see retry.ts), so doing the same again would only repeat
// the failure.

import { defineErrorCodes, VdetError } from "@vdet/errors";

export const STORAGE_ERRORS = defineErrorCodes("storage", {
  INVALID_LOCATION: {
    retryable: false,
    description: "a location is not s3://bucket/prefix or a plain directory path (bad bucket, '..', scheme)",
  },
  INVALID_KEY: {
    retryable: false,
    description: "an object key is empty, absolute, escapes its root or is reserved",
  },
  OBJECT_NOT_FOUND: { retryable: false, statusCode: 404, description: "no object at the location read" },
  OBJECT_CONFLICT: {
    retryable: false,
    description: "a create-if-absent write found different content in place (another writer)",
  },
  OBJECT_CHANGED: { retryable: false, description: "an object was replaced while it was read in ranges" },
  PARTS_MISSING: {
    retryable: false,
    description: "parts a checkpoint says were written are missing from the store (modified from outside)",
  },
  STORAGE_REQUEST_FAILED: {
    retryable: false,
    description: "a storage request failed after its retries, or with an error retrying cannot fix",
  },
  STORAGE_NO_RETRY: {
    retryable: false,
    description: "the S3 retry strategy declines a retry (the SDK then fails the request with its own error)",
  },
  BODY_IDLE_TIMEOUT: {
    retryable: true,
    description: "an S3 response body delivered nothing for the idle timeout; the stream resumes it",
  },
});

export type StorageErrorCode = (typeof STORAGE_ERRORS)[keyof typeof STORAGE_ERRORS];

export class StorageError extends VdetError {
  declare readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** An output/input location string that is not `s3://bucket/prefix` or a plain directory path. */
export class InvalidLocationError extends StorageError {
  constructor(
    readonly location: string,
    reason: string,
  ) {
    super(STORAGE_ERRORS.INVALID_LOCATION, `invalid storage location ${JSON.stringify(location)}: ${reason}`);
  }
}

/** An object key that is empty, absolute, escapes its root or uses reserved names. */
export class InvalidKeyError extends StorageError {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(STORAGE_ERRORS.INVALID_KEY, `invalid object key ${JSON.stringify(key)}: ${reason}`);
  }
}

export class ObjectNotFoundError extends StorageError {
  constructor(
    readonly uri: string,
    options?: { cause?: unknown },
  ) {
    super(
      STORAGE_ERRORS.OBJECT_NOT_FOUND,
      `no object at ${uri}: check the location, or write it first`,
      options,
    );
  }
}

/** A create-if-absent write found a different object already in place. */
export class ObjectConflictError extends StorageError {
  constructor(readonly uri: string) {
    super(
      STORAGE_ERRORS.OBJECT_CONFLICT,
      `${uri} already exists with different content: another writer is producing this output, or the output ` +
        "is not deterministic; stop the other writer or write to a new location",
    );
  }
}

/** An object was replaced while it was being read in several ranged requests. */
export class ObjectChangedError extends StorageError {
  constructor(
    readonly uri: string,
    readonly offsetBytes: number,
  ) {
    super(
      STORAGE_ERRORS.OBJECT_CHANGED,
      `${uri} changed while it was being read (at byte ${offsetBytes}): the bytes read so far belong to another ` +
        "version; read it again from the start once it is no longer being written",
    );
  }
}

/** Parts a part writer expects (from its checkpoint) are not in the store. */
export class PartsMissingError extends StorageError {
  constructor(
    readonly uri: string,
    readonly missing: readonly number[],
  ) {
    super(
      STORAGE_ERRORS.PARTS_MISSING,
      `${uri}: part(s) ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", …" : ""} are missing from ` +
        "the store although the checkpoint says they were written; the output was modified from outside: " +
        "re-run the job from the start",
    );
  }
}

/** A storage request failed after retries (or with an error that retrying cannot fix). */
export class StorageRequestError extends StorageError {
  constructor(
    readonly operation: string,
    readonly uri: string,
    readonly attempts: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(STORAGE_ERRORS.STORAGE_REQUEST_FAILED, message, options);
  }
}
