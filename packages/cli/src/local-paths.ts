// Checks on local paths before a job is created or submitted: a missing input or an output that is a file fails
// at once with a clear message, before anything is created; relative paths are made absolute on the client
// (the api, producer and aggregator have working directories of their own).

import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { InvalidArgumentError } from "commander";

/** A URL (s3://, http(s)://, rtsp://…) rather than a local path. */
export function isUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/** A local input path made absolute; URLs stay as they are. */
export function absoluteLocation(location: string): string {
  return isUrl(location) ? location : resolve(location);
}

/** A local input must be an existing file. */
export function checkLocalInput(input: string): void {
  if (isUrl(input)) return;
  if (!existsSync(input)) throw new InvalidArgumentError(`input ${input} does not exist`);
  if (statSync(input).isDirectory())
    throw new InvalidArgumentError(`input ${input} is a directory, not a video file`);
}

/** A local output must be a directory or not exist yet (it is created when the job writes its first result). */
export function checkLocalOutput(output: string): void {
  if (isUrl(output)) return;
  if (existsSync(output) && !statSync(output).isDirectory())
    throw new InvalidArgumentError(
      `output ${output} is an existing file; --out takes a directory (results go in files inside it)`,
    );
}
