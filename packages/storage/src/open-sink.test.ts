import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { InvalidLocationError } from "./errors.ts";
import { LocalDirSink } from "./local-dir-sink.ts";
import { openSink } from "./open-sink.ts";
import { createS3Client, s3ConfigFromEnv } from "./s3-config.ts";
import { S3Sink } from "./s3-sink.ts";

test("openSink picks the implementation from the location", async (t) => {
  const scratch = await mkdtemp(join(tmpdir(), "vdet-open-sink-"));
  t.after(() => rm(scratch, { recursive: true, force: true }));

  const local = await openSink("out/job-1", { cwd: scratch });
  assert.ok(local instanceof LocalDirSink);
  assert.equal(local.uri, join(scratch, "out", "job-1"));
  await local.put("manifest.json", "{}");
  assert.equal(await readFile(join(scratch, "out", "job-1", "manifest.json"), "utf8"), "{}");

  const client = createS3Client(s3ConfigFromEnv({ VDET_S3_ENDPOINT: "http://127.0.0.1:9" }));
  t.after(() => client.destroy());
  const remote = await openSink("s3://outputs/jobs/1", { s3Client: client });
  assert.ok(remote instanceof S3Sink);
  assert.equal(remote.uri, "s3://outputs/jobs/1/");
  assert.deepEqual(remote.location, { kind: "s3", bucket: "outputs", prefix: "jobs/1/" });

  await assert.rejects(openSink("s3://outputs/jobs/1"), /needs an S3 client/);
  await assert.rejects(openSink("file:///tmp/x"), InvalidLocationError);
  await assert.rejects(openSink("s3://outputs/../x", { s3Client: client }), /path traversal/);
});
