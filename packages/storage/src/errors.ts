// Typed storage errors. Each message says what went wrong and what to do about it; `code` is stable for
// callers that branch on the kind of failure.

export type StorageErrorCode =
  | "invalid-location"
  | "invalid-key"
  | "not-found"
  | "conflict"
  | "object-changed"
  | "parts-missing"
  | "request-failed"
  | "invalid-config";

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An output/input location string that is not `s3://bucket/prefix` or a plain directory path. */
export class InvalidLocationError extends StorageError {
  constructor(
    readonly location: string,
    reason: string,
  ) {
    super("invalid-location", `invalid storage location ${JSON.stringify(location)}: ${reason}`);
  }
}

/** An object key that is empty, absolute, escapes its root or uses reserved names. */
export class InvalidKeyError extends StorageError {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super("invalid-key", `invalid object key ${JSON.stringify(key)}: ${reason}`);
  }
}

export class ObjectNotFoundError extends StorageError {
  constructor(
    readonly uri: string,
    options?: { cause?: unknown },
  ) {
    super("not-found", `no object at ${uri}: check the location, or write it first`, options);
  }
}

/** A create-if-absent write found a different object already in place. */
export class ObjectConflictError extends StorageError {
  constructor(readonly uri: string) {
    super(
      "conflict",
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
      "object-changed",
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
      "parts-missing",
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
    super("request-failed", message, options);
  }
}

export class StorageConfigError extends StorageError {
  constructor(message: string) {
    super("invalid-config", message);
  }
}
