// One entry point from a location string to a sink: `s3://bucket/prefix` → S3Sink, a directory → LocalDirSink.

import type { S3Client } from "@aws-sdk/client-s3";
import { InvalidLocationError } from "./errors.ts";
import { LocalDirSink } from "./local-dir-sink.ts";
import { parseLocation } from "./location.ts";
import { S3Sink, type S3SinkOptions } from "./s3-sink.ts";
import type { Sink } from "./sink.ts";

export interface OpenSinkOptions {
  /** Required for s3:// locations (see createS3Client); the caller keeps ownership. */
  s3Client?: S3Client;
  s3?: S3SinkOptions;
  /** Base for relative directory paths. */
  cwd?: string;
  /** A directory output must lie inside one of these once links are resolved (VDET_OUTPUT_ROOTS' directories). */
  directoryRoots?: readonly string[];
}

export async function openSink(uri: string, options: OpenSinkOptions = {}): Promise<Sink> {
  const location = parseLocation(uri, { cwd: options.cwd });
  if (location.kind === "local")
    return LocalDirSink.open(location.directory, { roots: options.directoryRoots });
  if (!options.s3Client) {
    throw new InvalidLocationError(
      uri,
      "an S3 location needs an S3 client: createS3Client(s3ConfigFromEnv())",
    );
  }
  return new S3Sink(options.s3Client, location, options.s3);
}
