// The sink interface: a small object-store surface that the aggregator writes job outputs through. Keys are
// relative to the sink's root (an S3 prefix or a directory); see keys.ts for what a key may be.

import type { Readable } from "node:stream";

export interface PutOptions {
  /** MIME type stored with the object (S3 only; the local directory keeps no metadata). */
  contentType?: string;
  /**
   * Create only: if an object is already at the key, leave it and compare. Identical content (an earlier
   * attempt of this same write) gives `{ written: false }`; different content throws ObjectConflictError.
   * S3 uses `If-None-Match: *` (stores that ignore it, like s3rver, simply overwrite); the local directory
   * uses an atomic link().
   */
  ifAbsent?: boolean;
}

export interface PutResult {
  /** False when `ifAbsent` found the same bytes already there. */
  readonly written: boolean;
}

export interface UploadOptions {
  contentType?: string;
}

export interface ObjectInfo {
  /** Relative to the sink's root, like the keys given to put(). */
  readonly key: string;
  readonly sizeBytes: number;
  readonly lastModified: Date;
}

export interface ListOptions {
  /** Objects per page (S3 allows at most 1000). */
  pageSize?: number;
  /** List keys after this one (relative key), e.g. to resume a listing. */
  startAfter?: string;
}

export interface Sink {
  /** Where the objects are, for people: `s3://bucket/prefix/` or a directory path. */
  readonly uri: string;
  /** Writes a whole object atomically: readers see the old object, or none, or all of the new one. */
  put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<PutResult>;
  /** Writes a whole object from a stream of unknown length, atomically (multipart on S3). */
  upload(key: string, body: Readable | AsyncIterable<Uint8Array>, options?: UploadOptions): Promise<void>;
  /** Reads a whole object; ObjectNotFoundError when there is none. */
  get(key: string): Promise<Uint8Array>;
  /** Streams an object; the stream fails with ObjectNotFoundError when there is none. */
  read(key: string): Readable;
  exists(key: string): Promise<boolean>;
  /** Objects whose keys start with `prefix`, in key order, one array per page. */
  list(prefix?: string, options?: ListOptions): AsyncGenerator<ObjectInfo[], void, undefined>;
  /** Removes an object; removing a missing object is not an error (as on S3). */
  delete(key: string): Promise<void>;
}

export const DEFAULT_PAGE_SIZE = 1000;
