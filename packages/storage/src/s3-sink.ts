// The S3 sink: the Sink interface over @aws-sdk/client-s3, with @aws-sdk/lib-storage's Upload for streams.
// S3 makes every PUT and every completed multipart upload visible whole or not at all; the client's retry
// strategy (retry.ts) retries buffered requests, and reads resume themselves (s3-object-stream.ts).

import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ObjectConflictError } from "./errors.ts";
import { validateKey, validatePrefix } from "./keys.ts";
import { formatLocation, type S3Location } from "./location.ts";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "./retry.ts";
import { isNotFound, isPreconditionFailed, wrapS3Error } from "./s3-errors.ts";
import { type ObjectStreamOptions, readS3Object } from "./s3-object-stream.ts";
import {
  DEFAULT_PAGE_SIZE,
  type ListOptions,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
  type Sink,
  type UploadOptions,
} from "./sink.ts";

export interface S3SinkOptions {
  /** Multipart part size for upload() (S3's minimum is 5 MiB). */
  partSizeBytes?: number;
  /** Parts in flight at once for upload(). */
  uploadConcurrency?: number;
  /** Resume and timeout settings for get() and read(). */
  read?: ObjectStreamOptions;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;

export class S3Sink implements Sink {
  readonly uri: string;
  private readonly partSizeBytes: number;
  private readonly uploadConcurrency: number;

  constructor(
    readonly client: S3Client,
    readonly location: S3Location,
    private readonly options: S3SinkOptions = {},
  ) {
    this.uri = formatLocation(location);
    this.partSizeBytes = options.partSizeBytes ?? 8 * 1024 * 1024;
    if (this.partSizeBytes < MIN_PART_SIZE) {
      throw new RangeError(`partSizeBytes must be at least ${MIN_PART_SIZE} (S3's minimum part size)`);
    }
    this.uploadConcurrency = options.uploadConcurrency ?? 4;
  }

  private objectKey(key: string): string {
    return this.location.prefix + validateKey(key);
  }

  private uriOf(key: string): string {
    return `s3://${this.location.bucket}/${this.location.prefix}${key}`;
  }

  async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<PutResult> {
    const Key = this.objectKey(key);
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.location.bucket,
            Key,
            Body: bytes,
            ContentType: options.contentType,
            IfNoneMatch: options.ifAbsent ? "*" : undefined,
          }),
        );
        return { written: true };
      } catch (error) {
        if (options.ifAbsent && isPreconditionFailed(error)) {
          // Our own earlier attempt (its response lost, then retried) or another writer: compare.
          const existing = await this.get(key);
          if (Buffer.from(existing).equals(bytes)) return { written: false };
          throw new ObjectConflictError(this.uriOf(key));
        }
        // S3 answers 409 while another conditional write to the same key is in progress: try again.
        const racing = (error as Error).name === "ConditionalRequestConflict";
        if (!racing || attempt >= DEFAULT_BACKOFF.maxAttempts)
          throw wrapS3Error("PutObject", this.uriOf(key), error);
        await sleep(backoffDelayMs(attempt - 1, DEFAULT_BACKOFF.baseDelayMs, DEFAULT_BACKOFF.maxDelayMs));
      }
    }
  }

  async upload(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options: UploadOptions = {},
  ): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.location.bucket,
        Key: this.objectKey(key),
        Body: body instanceof Readable ? body : Readable.from(body, { objectMode: false }),
        ContentType: options.contentType,
      },
      partSize: this.partSizeBytes,
      queueSize: this.uploadConcurrency,
      // A failed upload is aborted, so no parts are left behind (and nothing becomes visible).
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      throw wrapS3Error("Upload", this.uriOf(key), error);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.read(key)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  read(key: string): Readable {
    return readS3Object(this.client, this.location.bucket, this.objectKey(key), this.options.read);
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw wrapS3Error("HeadObject", this.uriOf(key), error);
    }
  }

  async *list(prefix = "", options: ListOptions = {}): AsyncGenerator<ObjectInfo[], void, undefined> {
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw new RangeError(`pageSize must be a whole number from 1 to 1000, got ${pageSize}`);
    }
    const root = this.location.prefix;
    const listPrefix = root + validatePrefix(prefix);
    const startAfter = options.startAfter === undefined ? undefined : root + validateKey(options.startAfter);
    let continuationToken: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: listPrefix,
            MaxKeys: pageSize,
            ContinuationToken: continuationToken,
            StartAfter: continuationToken === undefined ? startAfter : undefined,
          }),
        );
      } catch (error) {
        throw wrapS3Error("ListObjectsV2", this.uriOf(prefix), error);
      }
      const objects: ObjectInfo[] = [];
      for (const object of page.Contents ?? []) {
        // Keys ending in "/" are console "folder" markers, not objects a sink writes.
        if (object.Key === undefined || object.Key.endsWith("/")) continue;
        objects.push({
          key: object.Key.slice(root.length),
          sizeBytes: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        });
      }
      if (objects.length > 0) yield objects;
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw wrapS3Error("DeleteObject", this.uriOf(key), error);
    }
  }
}
