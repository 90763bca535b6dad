import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { InvalidKeyError, InvalidLocationError } from "./errors.ts";
import { validateKey, validatePrefix } from "./keys.ts";
import { bucketNameProblem, formatLocation, parseLocation, parseS3ObjectUri } from "./location.ts";

/** Asserts that `check(input)` throws a `type` whose message matches `reason`. */
function assertRefused(
  check: (input: string) => unknown,
  input: string,
  type: new (...args: never[]) => Error,
  reason: RegExp,
): void {
  assert.throws(
    () => check(input),
    (error: unknown) => {
      assert.ok(error instanceof type, input);
      assert.match(error.message, reason, input);
      return true;
    },
  );
}

describe("parseLocation", () => {
  test("s3:// URIs give bucket and a prefix of whole segments", () => {
    assert.deepEqual(parseLocation("s3://my-bucket"), { kind: "s3", bucket: "my-bucket", prefix: "" });
    assert.deepEqual(parseLocation("s3://my-bucket/"), { kind: "s3", bucket: "my-bucket", prefix: "" });
    assert.deepEqual(parseLocation("s3://my.bucket/jobs/42"), {
      kind: "s3",
      bucket: "my.bucket",
      prefix: "jobs/42/",
    });
    assert.deepEqual(parseLocation("S3://b12/a/b/"), { kind: "s3", bucket: "b12", prefix: "a/b/" });
    assert.equal(formatLocation(parseLocation("s3://b12/a/b")), "s3://b12/a/b/");
  });

  test("directory paths resolve to absolute paths", () => {
    assert.deepEqual(parseLocation("/data/out/"), { kind: "local", directory: "/data/out" });
    assert.deepEqual(parseLocation("out/job-1", { cwd: "/srv" }), {
      kind: "local",
      directory: "/srv/out/job-1",
    });
    assert.deepEqual(parseLocation("./out", { cwd: "/srv" }), { kind: "local", directory: "/srv/out" });
  });

  test("bad buckets are refused with the rule they break", () => {
    const cases: [string, RegExp][] = [
      ["s3://", /no bucket/],
      ["s3:///prefix", /no bucket/],
      ["s3://ab/x", /3 to 63/],
      [`s3://${"a".repeat(64)}`, /3 to 63/],
      ["s3://My_Bucket/x", /lowercase/],
      ["s3://-bucket", /begin and end/],
      ["s3://bucket-", /begin and end/],
      ["s3://my..bucket", /adjacent periods/],
      ["s3://192.168.5.4/x", /IP address/],
      ["s3://xn--bucket", /xn--/],
      ["s3://bucket-s3alias", /-s3alias/],
    ];
    for (const [uri, reason] of cases) assertRefused(parseLocation, uri, InvalidLocationError, reason);
    assert.equal(bucketNameProblem("vdet-outputs.2024"), null);
  });

  test("'..' path traversal is refused in S3 prefixes and directory paths", () => {
    for (const uri of [
      "s3://bucket/../other",
      "s3://bucket/a/../../b",
      "../out",
      "/data/../etc",
      "out/..",
      "s3://bucket/a/./b",
    ]) {
      assert.throws(() => parseLocation(uri), InvalidLocationError, uri);
    }
    assert.throws(() => parseLocation("s3://bucket/a//b"), /empty path segment/);
    assert.throws(() => parseLocation("s3://bucket/a\\b"), /'\/'/);
    // A name that merely contains dots is fine.
    assert.equal(parseLocation("/data/a..b").kind, "local");
  });

  test("other schemes, empty strings and control characters are refused", () => {
    for (const uri of ["file:///tmp/out", "http://host/x", "https://host/x", "concat:a|b", "gs://bucket/x"]) {
      assert.throws(() => parseLocation(uri), /only s3:\/\/bucket\/prefix or a directory path/, uri);
    }
    assert.throws(() => parseLocation("file:///tmp/out"), /without file:\/\//);
    assert.throws(() => parseLocation(""), /empty location/);
    assert.throws(() => parseLocation("   "), /empty location/);
    assert.throws(() => parseLocation("/tmp/out\u0000/x"), /control characters/);
    assert.throws(() => parseLocation("s3://bucket/a\nb"), /control characters/);
  });
});

describe("parseS3ObjectUri", () => {
  test("splits bucket and key", () => {
    assert.deepEqual(parseS3ObjectUri("s3://videos/cam 1/2024-01-01.mp4"), {
      bucket: "videos",
      key: "cam 1/2024-01-01.mp4",
    });
  });
  test("refuses prefixes, other schemes and traversal", () => {
    assert.throws(() => parseS3ObjectUri("s3://videos"), /names a prefix/);
    assert.throws(() => parseS3ObjectUri("s3://videos/dir/"), /names a prefix/);
    assert.throws(() => parseS3ObjectUri("/local/file.mp4"), /expected s3:\/\/bucket\/key/);
    assert.throws(() => parseS3ObjectUri("s3://videos/../x.mp4"), /path traversal/);
  });
});

describe("keys", () => {
  test("relative slash-separated keys are accepted", () => {
    for (const key of ["manifest.json", "tracks/part-000001.jsonl", "a/b/c.d", "ünïcode/名前.json", "a..b"]) {
      assert.equal(validateKey(key), key);
    }
  });
  test("keys that could escape the root or are malformed are refused", () => {
    const cases: [string, RegExp][] = [
      ["", /empty key/],
      ["/etc/passwd", /leading '\/'/],
      ["../x", /'\.\.'/],
      ["a/../../x", /'\.\.'/],
      ["a/./x", /'\.'/],
      ["a//x", /empty path segment/],
      ["a/", /empty path segment/],
      ["a\\..\\x", /not '\\'/],
      ["a\u0000b", /control characters/],
      [`a/.vdet-tmp-123`, /reserved/],
      ["x".repeat(1025), /longer than 1024/],
    ];
    for (const [key, reason] of cases) assertRefused(validateKey, key, InvalidKeyError, reason);
  });
  test("prefixes may end in a partial name or a slash", () => {
    for (const prefix of ["", "tracks/", "tracks/part-", "a/b"]) assert.equal(validatePrefix(prefix), prefix);
    for (const prefix of ["../", "a/../", "/a", "a//b/", ".."])
      assert.throws(() => validatePrefix(prefix), InvalidKeyError);
  });
});
