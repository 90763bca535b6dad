// Where a job's outputs (or inputs) live: `s3://bucket/prefix` or a local directory. Parsing refuses what could
// write somewhere unintended: malformed buckets, `..` segments, other URL schemes.

import { isAbsolute, resolve } from "node:path";
import { InvalidLocationError } from "./errors.ts";

export interface S3Location {
  readonly kind: "s3";
  readonly bucket: string;
  /** "" for the whole bucket, otherwise whole segments ending in "/". */
  readonly prefix: string;
}

export interface LocalLocation {
  readonly kind: "local";
  /** Absolute, normalised directory path. */
  readonly directory: string;
}

export type StorageLocation = S3Location | LocalLocation;

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const S3_SCHEME = /^s3:\/\//i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Why `name` is not a valid S3 general-purpose bucket name, or null when it is. */
export function bucketNameProblem(name: string): string | null {
  if (name.length < 3 || name.length > 63) return "bucket names are 3 to 63 characters long";
  if (!/^[a-z0-9.-]+$/.test(name)) return "bucket names use only lowercase letters, digits, '.' and '-'";
  if (!/^[a-z0-9].*[a-z0-9]$/.test(name)) return "bucket names begin and end with a letter or digit";
  if (name.includes("..")) return "bucket names may not contain two adjacent periods";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return "bucket names may not look like an IP address";
  for (const reserved of ["xn--", "sthree-", "amzn-s3-demo-"]) {
    if (name.startsWith(reserved)) return `bucket names may not start with "${reserved}"`;
  }
  for (const reserved of ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]) {
    if (name.endsWith(reserved)) return `bucket names may not end with "${reserved}"`;
  }
  return null;
}

function checkSegments(uri: string, path: string, what: "S3 keys" | "directory paths"): void {
  for (const segment of path.split("/")) {
    if (segment === "..") {
      throw new InvalidLocationError(uri, `'..' is not allowed in ${what} (path traversal)`);
    }
    // "./out" is an ordinary relative path; in an S3 key "." would be a literal, confusing segment.
    if (segment === "." && what === "S3 keys") {
      throw new InvalidLocationError(uri, `'.' segments are not allowed in ${what}`);
    }
  }
}

function parseS3(uri: string): { bucket: string; path: string } {
  const rest = uri.replace(S3_SCHEME, "");
  const slash = rest.indexOf("/");
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? "" : rest.slice(slash + 1);
  if (bucket === "") throw new InvalidLocationError(uri, "no bucket: write s3://bucket/prefix");
  const problem = bucketNameProblem(bucket);
  if (problem) throw new InvalidLocationError(uri, problem);
  if (path.includes("\\")) throw new InvalidLocationError(uri, "use '/' in S3 keys, not '\\'");
  checkSegments(uri, path, "S3 keys");
  return { bucket, path };
}

/**
 * Parses `s3://bucket/prefix` (prefix optional) or a directory path (relative paths resolve against `cwd`).
 * Throws InvalidLocationError for other schemes (`file:`, `http:`, ffmpeg protocols), bad bucket names,
 * `..` segments and control characters.
 */
export function parseLocation(uri: string, options: { cwd?: string } = {}): StorageLocation {
  if (uri.trim() === "") throw new InvalidLocationError(uri, "empty location");
  if (CONTROL_CHARACTERS.test(uri)) throw new InvalidLocationError(uri, "control characters are not allowed");
  if (S3_SCHEME.test(uri)) {
    const { bucket, path } = parseS3(uri);
    if (path.replace(/\/$/, "").includes("//")) {
      throw new InvalidLocationError(uri, "empty path segment ('//') in the prefix");
    }
    const trimmed = path.replace(/\/$/, "");
    return { kind: "s3", bucket, prefix: trimmed === "" ? "" : `${trimmed}/` };
  }
  if (SCHEME.test(uri)) {
    const hint = /^file:/i.test(uri) ? "; write the directory path without file://" : "";
    throw new InvalidLocationError(uri, `only s3://bucket/prefix or a directory path is accepted${hint}`);
  }
  checkSegments(uri, uri, "directory paths");
  const directory = isAbsolute(uri) ? resolve(uri) : resolve(options.cwd ?? process.cwd(), uri);
  return { kind: "local", directory };
}

/** Whether a location or input string names S3 (`s3://…`, any case); parse it to check it further. */
export function isS3Uri(uri: string): boolean {
  return S3_SCHEME.test(uri);
}

/** Parses `s3://bucket/key` naming one object (the key may not be empty or end in "/"). */
export function parseS3ObjectUri(uri: string): { bucket: string; key: string } {
  if (!S3_SCHEME.test(uri)) throw new InvalidLocationError(uri, "expected s3://bucket/key");
  if (CONTROL_CHARACTERS.test(uri)) throw new InvalidLocationError(uri, "control characters are not allowed");
  const { bucket, path } = parseS3(uri);
  if (path === "" || path.endsWith("/")) {
    throw new InvalidLocationError(uri, "names a prefix, not an object: write s3://bucket/path/to/object");
  }
  return { bucket, key: path };
}

/** The location as people (and parseLocation) read it. */
export function formatLocation(location: StorageLocation): string {
  return location.kind === "s3" ? `s3://${location.bucket}/${location.prefix}` : location.directory;
}
