// The segment store on S3 (VDET_LIVE_SEGMENT_STORE=s3://bucket/prefix): where recorded live segments wait for a
// worker when Redis should carry only their descriptors. One object per segment, `<prefix><jobId>/<name>`; a
// worker reads it as it reads an s3:// input (presigned URL) and deletes it once its frames are reported; both
// refuse a URI outside the store's bucket and prefix (a queue message cannot make a worker read or delete other
// objects). What is
// left behind (a job that failed or was cancelled, a worker that died between report and delete) is removed by
// `sweep`: every object of an ended job, and every object older than the time to live. A bucket lifecycle rule
// on the prefix (docs/live.md) is the backstop where the deployment can set one.

import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { InvalidLocationError } from "./errors.ts";
import { parseLocation, parseS3ObjectUri } from "./location.ts";
import { wrapS3Error } from "./s3-errors.ts";

export interface SweepResult {
  /** Objects deleted because their job has ended (or is unknown). */
  ended: number;
  /** Objects deleted because they were older than the time to live. */
  expired: number;
  /** Objects kept (jobs still running, younger than the time to live). */
  kept: number;
}

export class S3SegmentStore {
  readonly bucket: string;
  /** "" or whole segments ending in "/". */
  readonly prefix: string;

  constructor(
    location: string,
    private readonly client: S3Client,
  ) {
    const parsed = parseLocation(location);
    if (parsed.kind !== "s3") throw new InvalidLocationError(location, "the segment store must be s3://");
    this.bucket = parsed.bucket;
    this.prefix = parsed.prefix;
  }

  /** The store as configured: s3://bucket/prefix/. */
  get location(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  /** Stores a recorded segment of `jobId` under `name`; returns its s3:// URI (the descriptor's source). */
  async put(jobId: string, name: string, bytes: Uint8Array): Promise<string> {
    const key = `${this.prefix}${jobId}/${name}`;
    const uri = `s3://${this.bucket}/${key}`;
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentType: "video/mp2t" }),
      );
    } catch (error) {
      throw wrapS3Error("PutObject", uri, error);
    }
    return uri;
  }

  /** The bucket and key of a segment of this store; a URI outside its bucket and prefix is refused. */
  #own(uri: string): { bucket: string; key: string } {
    const { bucket, key } = parseS3ObjectUri(uri);
    if (bucket !== this.bucket || !key.startsWith(this.prefix)) {
      throw new InvalidLocationError(uri, `not in the segment store ${this.location}`);
    }
    return { bucket, key };
  }

  /** What ffmpeg reads for a segment of this store: a presigned GET URL valid for `expiresInSeconds`. */
  async readableUrl(uri: string, expiresInSeconds = 3600): Promise<string> {
    const { bucket, key } = this.#own(uri);
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: expiresInSeconds,
    });
  }

  /** Deletes a segment this store wrote (a URI outside its bucket and prefix is refused, not deleted). */
  async delete(uri: string): Promise<void> {
    const { bucket, key } = this.#own(uri);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      throw wrapS3Error("DeleteObject", uri, error);
    }
  }

  /** Every object under the store's prefix: key, job id (its first path segment) and age. */
  async list(): Promise<{ key: string; jobId: string; lastModifiedMs: number }[]> {
    const out: { key: string; jobId: string; lastModifiedMs: number }[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw wrapS3Error("ListObjectsV2", this.location, error);
      }
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        const jobId = object.Key.slice(this.prefix.length).split("/")[0] ?? "";
        out.push({ key: object.Key, jobId, lastModifiedMs: object.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /**
   * Deletes the segments of jobs that have ended (`running(jobId)` false) and any older than `ttlSeconds`.
   * A job whose segments are still queued keeps them until it ends or they expire.
   */
  async sweep(running: (jobId: string) => Promise<boolean>, ttlSeconds: number): Promise<SweepResult> {
    const result: SweepResult = { ended: 0, expired: 0, kept: 0 };
    const states = new Map<string, boolean>();
    const oldest = Date.now() - ttlSeconds * 1000;
    for (const object of await this.list()) {
      let alive = states.get(object.jobId);
      if (alive === undefined) {
        alive = object.jobId !== "" && (await running(object.jobId));
        states.set(object.jobId, alive);
      }
      const expired = object.lastModifiedMs < oldest;
      if (alive && !expired) {
        result.kept++;
        continue;
      }
      await this.delete(`s3://${this.bucket}/${object.key}`);
      if (alive) result.expired++;
      else result.ended++;
    }
    return result;
  }
}
