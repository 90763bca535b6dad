// Lists the videos under an S3 prefix page by page, for submitting an archive as one job per video without
// holding the whole listing in memory. Resume an interrupted submission with `startAfter` (the last key done).

import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { InvalidLocationError } from "./errors.ts";
import { parseLocation } from "./location.ts";
import { wrapS3Error } from "./s3-errors.ts";
import { DEFAULT_PAGE_SIZE } from "./sink.ts";
import { VIDEO_EXTENSIONS } from "./video-extensions.ts";

export interface S3Video {
  /** `s3://bucket/key`, ready to be a job's input. */
  readonly uri: string;
  readonly key: string;
  readonly sizeBytes: number;
  readonly lastModified: Date;
}

export interface ListVideosOptions {
  /** Keys per ListObjectsV2 request (1–1000). */
  pageSize?: number;
  /** Full object key after which to start. */
  startAfter?: string;
  /** Lowercase, with the dot; case of the key's extension does not matter. */
  extensions?: readonly string[];
}

/** Yields the videos under `s3://bucket/prefix/`, one non-empty array per listed page, in key order. */
export async function* listS3Videos(
  uri: string,
  client: S3Client,
  options: ListVideosOptions = {},
): AsyncGenerator<S3Video[], void, undefined> {
  const location = parseLocation(uri);
  if (location.kind !== "s3") throw new InvalidLocationError(uri, "expected s3://bucket/prefix/");
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
    throw new RangeError(`pageSize must be a whole number from 1 to 1000, got ${pageSize}`);
  }
  const extensions = options.extensions ?? VIDEO_EXTENSIONS;
  let continuationToken: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await client.send(
        new ListObjectsV2Command({
          Bucket: location.bucket,
          Prefix: location.prefix,
          MaxKeys: pageSize,
          ContinuationToken: continuationToken,
          StartAfter: continuationToken === undefined ? options.startAfter : undefined,
        }),
      );
    } catch (error) {
      throw wrapS3Error("ListObjectsV2", uri, error);
    }
    const videos: S3Video[] = [];
    for (const object of page.Contents ?? []) {
      const key = object.Key ?? "";
      const dot = key.lastIndexOf(".");
      if (dot === -1 || key.endsWith("/") || !extensions.includes(key.slice(dot).toLowerCase())) continue;
      videos.push({
        uri: `s3://${location.bucket}/${key}`,
        key,
        sizeBytes: object.Size ?? 0,
        lastModified: object.LastModified ?? new Date(0),
      });
    }
    if (videos.length > 0) yield videos;
    continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (continuationToken !== undefined);
}
