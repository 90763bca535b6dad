// Streams one S3 object as a Node Readable that survives broken connections: the SDK retries a GetObject until
// the response headers arrive, but a body that fails half way is ours to handle. We resume from the byte we
// reached with a Range request, pinned to the first response's ETag so the bytes all come from one version.

import { Readable } from "node:stream";
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { S3_DEFAULTS } from "@vdet/config";
import { isRetryable, VdetError } from "@vdet/errors";
import { ObjectChangedError, STORAGE_ERRORS, StorageRequestError } from "./errors.ts";
import { parseS3ObjectUri } from "./location.ts";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "./retry.ts";
import { isPreconditionFailed, wrapS3Error } from "./s3-errors.ts";

export interface ObjectStreamOptions {
  /** Start reading at this byte. */
  offsetBytes?: number;
  /** Body failures in a row, without a byte of progress between them, before the stream fails. */
  maxAttempts?: number;
  /** Resumes in all (with progress or not) before the stream fails. */
  maxResumes?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A body that delivers nothing for this long (while we are waiting for it) is dropped and resumed. */
  idleTimeoutMs?: number;
  highWaterMark?: number;
}

class BodyIdleTimeoutError extends VdetError {
  constructor(idleTimeoutMs: number) {
    super(STORAGE_ERRORS.BODY_IDLE_TIMEOUT, `no data for ${idleTimeoutMs} ms`);
  }
}

/** "bytes 100-199/1000" → { start: 100, total: 1000 }. */
function parseContentRange(value: string | undefined): { start: number; total: number } | null {
  const match = value ? /^bytes (\d+)-\d+\/(\d+)$/.exec(value) : null;
  return match ? { start: Number(match[1]), total: Number(match[2]) } : null;
}

async function* objectChunks(
  client: S3Client,
  bucket: string,
  key: string,
  options: ObjectStreamOptions,
): AsyncGenerator<Uint8Array> {
  const uri = `s3://${bucket}/${key}`;
  const maxAttempts = options.maxAttempts ?? DEFAULT_BACKOFF.maxAttempts;
  const idleTimeoutMs = options.idleTimeoutMs ?? S3_DEFAULTS.idleTimeoutMs;
  let offset = options.offsetBytes ?? 0;
  let etag: string | undefined;
  let totalBytes: number | undefined;
  const maxResumes = options.maxResumes ?? 100;
  let failures = 0;
  let resumes = 0;
  let lastError: unknown;

  while (totalBytes === undefined || offset < totalBytes) {
    let response: GetObjectCommandOutput;
    try {
      response = await client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          Range: offset > 0 ? `bytes=${offset}-` : undefined,
          IfMatch: etag,
        }),
      );
    } catch (error) {
      if (etag !== undefined && isPreconditionFailed(error)) throw new ObjectChangedError(uri, offset);
      throw wrapS3Error("GetObject", uri, error);
    }
    const body = response.Body as Readable;
    if (etag === undefined) {
      etag = response.ETag;
    } else if (response.ETag !== etag) {
      // Stores that ignore If-Match (s3rver) still tell us the version they sent.
      body.destroy();
      throw new ObjectChangedError(uri, offset);
    }
    const range = parseContentRange(response.ContentRange);
    // A store that ignores Range sends the whole object: skip what we already have.
    let skipBytes = offset > 0 && range === null ? offset : 0;
    if (range !== null && range.start !== offset) {
      body.destroy();
      throw new StorageRequestError(
        "GetObject",
        uri,
        1,
        `${uri}: asked for byte ${offset}, got ${range.start}`,
      );
    }
    totalBytes ??= range !== null ? range.total : offset + (response.ContentLength ?? 0);

    const offsetBefore = offset;
    lastError = undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      timer = setTimeout(() => body.destroy(new BodyIdleTimeoutError(idleTimeoutMs)), idleTimeoutMs);
    };
    try {
      arm();
      for await (const data of body) {
        clearTimeout(timer);
        let chunk = data as Uint8Array;
        if (skipBytes > 0) {
          const skipped = Math.min(skipBytes, chunk.byteLength);
          skipBytes -= skipped;
          chunk = chunk.subarray(skipped);
        }
        if (chunk.byteLength > 0) {
          offset += chunk.byteLength;
          yield chunk;
        }
        arm();
      }
    } catch (error) {
      if (!isRetryable(error) || (error as Error).name === "AbortError") throw error;
      lastError = error;
    } finally {
      clearTimeout(timer);
    }
    if (offset > totalBytes) {
      throw new StorageRequestError("GetObject", uri, 1, `${uri}: received more bytes than the object has`);
    }
    if (offset === totalBytes) return;
    // The body failed, or ended early without an error: resume from `offset`.
    failures = offset > offsetBefore ? 1 : failures + 1;
    resumes += 1;
    if (failures >= maxAttempts || resumes > maxResumes) {
      const reason = lastError instanceof Error ? lastError.message : "the body ended early";
      const how = failures >= maxAttempts ? `${failures} time(s) in a row` : `${resumes} times in all`;
      throw new StorageRequestError(
        "GetObject",
        uri,
        resumes,
        `S3 GetObject of ${uri} broke off at byte ${offset} of ${totalBytes} ${how} (${reason}); check the ` +
          "network or the store, then read again",
        { cause: lastError },
      );
    }
    await sleep(
      backoffDelayMs(
        failures - 1,
        options.baseDelayMs ?? DEFAULT_BACKOFF.baseDelayMs,
        options.maxDelayMs ?? 5_000,
      ),
    );
  }
}

/** A resumable stream of `s3://bucket/key` (see objectChunks); errors are ours (errors.ts). */
export function readS3Object(
  client: S3Client,
  bucket: string,
  key: string,
  options: ObjectStreamOptions = {},
) {
  return Readable.from(objectChunks(client, bucket, key, options), {
    objectMode: false,
    highWaterMark: options.highWaterMark ?? 1 << 20,
  });
}

/**
 * Streams the object at `s3://bucket/key` (for ffmpeg's stdin, say), resuming with Range requests after
 * connection resets or stalls. Fails with ObjectNotFoundError, ObjectChangedError or StorageRequestError.
 */
export function openS3Input(uri: string, client: S3Client, options: ObjectStreamOptions = {}): Readable {
  const { bucket, key } = parseS3ObjectUri(uri);
  return readS3Object(client, bucket, key, options);
}

/** Size in bytes of the object at `s3://bucket/key` (HeadObject), to check a limit before reading it. */
export async function s3ObjectSize(uri: string, client: S3Client): Promise<number | undefined> {
  const { bucket, key } = parseS3ObjectUri(uri);
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return head.ContentLength;
  } catch (error) {
    throw wrapS3Error("HeadObject", uri, error);
  }
}

/** Bytes start…end (inclusive) of `s3://bucket/key` in one ranged GetObject (video playback with seeking). */
export function openS3Range(
  client: S3Client,
  bucket: string,
  key: string,
  start: number,
  end: number,
): Readable {
  return Readable.from(
    (async function* () {
      const object = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}` }),
      );
      yield* object.Body as Readable;
    })(),
  );
}
