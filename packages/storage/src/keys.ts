// Object keys are relative, slash-separated paths below a sink's root. The same rules hold for S3 and the local
// directory so that one layout works on both and no key can climb out of its root.

import { InvalidKeyError } from "./errors.ts";

/** Names starting with this are the local sink's temporary files; keys may not use it. */
export const TEMP_FILE_PREFIX = ".vdet-tmp-";

const MAX_KEY_BYTES = 1024; // S3's limit for a whole key
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

function checkCharacters(key: string): void {
  if (CONTROL_CHARACTERS.test(key)) throw new InvalidKeyError(key, "control characters are not allowed");
  if (key.includes("\\")) throw new InvalidKeyError(key, "use '/' to separate path segments, not '\\'");
  if (key.startsWith("/"))
    throw new InvalidKeyError(key, "keys are relative to the sink's root: drop the leading '/'");
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) {
    throw new InvalidKeyError(key, `longer than ${MAX_KEY_BYTES} bytes`);
  }
}

function checkSegment(key: string, segment: string): void {
  if (segment === "") throw new InvalidKeyError(key, "empty path segment ('//' or a trailing '/')");
  if (segment === "." || segment === "..") {
    throw new InvalidKeyError(key, "'.' and '..' segments are not allowed (they could escape the root)");
  }
  if (segment.startsWith(TEMP_FILE_PREFIX)) {
    throw new InvalidKeyError(
      key,
      `names starting with ${TEMP_FILE_PREFIX} are reserved for temporary files`,
    );
  }
}

/** Throws InvalidKeyError unless `key` names an object safely below the root. */
export function validateKey(key: string): string {
  if (key === "") throw new InvalidKeyError(key, "empty key");
  checkCharacters(key);
  for (const segment of key.split("/")) checkSegment(key, segment);
  return key;
}

/**
 * Throws InvalidKeyError unless `prefix` is a safe listing prefix: "" (everything), whole segments ending in
 * "/", or whole segments followed by the start of a name ("tracks/part-").
 */
export function validatePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  checkCharacters(prefix);
  const segments = prefix.split("/");
  const last = segments.pop() ?? "";
  for (const segment of segments) checkSegment(prefix, segment);
  if (last === "." || last === "..")
    throw new InvalidKeyError(prefix, "'.' and '..' segments are not allowed");
  return prefix;
}
