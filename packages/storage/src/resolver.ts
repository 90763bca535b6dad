// Resolving a job's location and input strings to what reads or writes them: `s3://…` through one S3 client
// (made from the environment on first use, so processes that never touch S3 need no S3 settings), anything else
// as a local path. The roles hand strings here and never look at the scheme themselves.

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { isS3Uri, parseS3ObjectUri } from "./location.ts";
import { openSink } from "./open-sink.ts";
import { createS3Client, s3ConfigFromEnv } from "./s3-config.ts";
import { openS3Input, openS3Range, s3ObjectSize } from "./s3-object-stream.ts";
import type { Sink } from "./sink.ts";

/** An object with a known size, read in byte ranges (a video played back with seeking). */
export interface ObjectReader {
  readonly sizeBytes: number;
  /** The type the store recorded, when it recorded a useful one. */
  readonly contentType: string | undefined;
  /** Bytes start…end inclusive. */
  read(start: number, end: number): Readable;
}

/** A local file for reading by byte range; null for URLs (`scheme://…`) and paths that are not files. */
export async function openLocalObject(path: string): Promise<ObjectReader | null> {
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(path)) return null;
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) return null;
  return {
    sizeBytes: info.size,
    contentType: undefined,
    read: (start, end) => createReadStream(path, { start, end }),
  };
}

export interface StorageResolverOptions {
  /** The S3 client, or how to make it on first use; default: createS3Client(s3ConfigFromEnv()). */
  s3Client?: S3Client | (() => S3Client);
  /**
   * VDET_OUTPUT_ROOTS: a directory output must lie inside one of its directories once links are resolved (its
   * s3:// roots are the api's business). Empty: no restriction.
   */
  outputRoots?: readonly string[];
}

export class StorageResolver {
  #client: S3Client | undefined;
  readonly #makeClient: (() => S3Client) | undefined;
  /** Whether the client was made here (and is destroyed by close()). */
  #owned = false;
  readonly #directoryRoots: readonly string[];

  constructor(options: StorageResolverOptions = {}) {
    this.#directoryRoots = (options.outputRoots ?? []).filter((root) => !isS3Uri(root));
    if (typeof options.s3Client === "function") this.#makeClient = options.s3Client;
    else if (options.s3Client) this.#client = options.s3Client;
    else this.#makeClient = () => createS3Client(s3ConfigFromEnv());
  }

  #s3(): S3Client {
    if (this.#client === undefined) {
      this.#client = this.#makeClient!();
      this.#owned = true;
    }
    return this.#client;
  }

  /** The sink of an output location: `s3://bucket/prefix` or a directory. */
  openSink(location: string): Promise<Sink> {
    return openSink(
      location,
      isS3Uri(location) ? { s3Client: this.#s3() } : { directoryRoots: this.#directoryRoots },
    );
  }

  /** What ffmpeg reads: an `s3://` object as a resumable stream, anything else as given. */
  openInput(input: string): string | Readable {
    return isS3Uri(input) ? openS3Input(input, this.#s3()) : input;
  }

  /**
   * What a process that reads part of an input by itself (a worker decoding one segment, with HTTP ranges)
   * opens: an `s3://` object as a presigned GET URL valid for `expiresInSeconds`, anything else as given.
   */
  async readableUrl(input: string, expiresInSeconds = 3600): Promise<string> {
    if (!isS3Uri(input)) return input;
    const { bucket, key } = parseS3ObjectUri(input);
    return getSignedUrl(this.#s3(), new GetObjectCommand({ Bucket: bucket, Key: key }), {
      expiresIn: expiresInSeconds,
    });
  }

  /** The S3 client (made on first use), for the segment store of the same deployment (S3SegmentStore). */
  s3Client(): S3Client {
    return this.#s3();
  }

  /** The size of an `s3://` input, to check a limit before reading it; undefined for other inputs. */
  async inputSizeBytes(input: string): Promise<number | undefined> {
    return isS3Uri(input) ? s3ObjectSize(input, this.#s3()) : undefined;
  }

  /**
   * An `s3://` object (HeadObject, then ranged GETs) or a local file, for reading by byte range; null for
   * anything else (URLs, streams) and for paths that are not files.
   */
  async openObject(input: string): Promise<ObjectReader | null> {
    if (isS3Uri(input)) {
      const client = this.#s3();
      const { bucket, key } = parseS3ObjectUri(input);
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        sizeBytes: head.ContentLength ?? 0,
        contentType:
          head.ContentType && head.ContentType !== "binary/octet-stream" ? head.ContentType : undefined,
        read: (start, end) => openS3Range(client, bucket, key, start, end),
      };
    }
    return openLocalObject(input);
  }

  /** Destroys the S3 client if this resolver made it. */
  close(): void {
    if (this.#owned) this.#client?.destroy();
    this.#client = undefined;
    this.#owned = false;
  }
}
