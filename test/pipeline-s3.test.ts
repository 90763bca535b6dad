// The services as deployed, in one process: api, producer, worker and aggregator roles over the real Redis,
// reading the input from and writing the results to a real S3-protocol server (s3rver). Also archive
// submission from an S3 prefix through the CLI, twice, to show it is idempotent.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { execVdet } from "@vdet/cli/testing";
import { isTerminal } from "@vdet/protocol";
import type { RunningRole } from "@vdet/roles";
import { startTestS3, type TestS3 } from "@vdet/storage/testing";
import { makeTestClip } from "@vdet/video/testing";
import { pino } from "pino";
import { closeRoles, s3rverEnv, startRoles } from "./support/roles.ts";
import { parseTracks } from "./support/tracks.ts";

const prefix = `vdet-s3-${randomUUID().slice(0, 8)}`;
const token = "s3-integration-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "vdet-s3-"));
const logger = pino({ level: "warn" });
let s3server: TestS3;
let s3: S3Client;
let bucket = "";
let apiUrl = "";
const roles: RunningRole[] = [];

before(async () => {
  s3server = await startTestS3();
  s3 = s3server.client();
  bucket = await s3server.createBucket();
  Object.assign(process.env, s3rverEnv(s3server.endpoint));
  const clip = await makeTestClip(join(dir, "clip.mp4"), 2, 10);
  for (const name of ["a.mp4", "b.mp4"]) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `in/${name}`, Body: readFileSync(clip) }));
  }
  apiUrl = await startRoles(roles, prefix, token, logger);
});

after(async () => {
  await closeRoles(roles, prefix);
  await s3server.close();
  rmSync(dir, { recursive: true, force: true });
});

interface JobBody {
  id: string;
  state: string;
  errors: unknown[];
}
interface ApiBody {
  job: JobBody;
  error?: string;
}

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(new URL(path, apiUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: (await response.json()) as ApiBody };
}

async function waitDone(id: string): Promise<JobBody> {
  for (let i = 0; i < 1200; i++) {
    const { body } = await api("GET", `/jobs/${id}`);
    if (isTerminal(body.job.state)) return body.job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

async function keys(prefixKey: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefixKey }));
  return (listed.Contents ?? []).map((o) => o.Key!).sort();
}

async function text(key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return object.Body!.transformToString();
}

test("one job from S3 to S3 through the API: complete, parseable outputs and no leftover parts", async () => {
  const created = await api("POST", "/jobs", {
    input: `s3://${bucket}/in/a.mp4`,
    output: `s3://${bucket}/out/a`,
    sampling: { fps: 5 },
    scoreThreshold: 0,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const job = await waitDone(created.body.job.id);
  assert.equal(job.state, "completed", JSON.stringify(job.errors));
  assert.deepEqual(await keys("out/a/"), [
    "out/a/manifest.json",
    "out/a/summary.json",
    "out/a/tracks.jsonl",
    "out/a/tracks.mot.txt",
  ]);
  const lines = parseTracks(await text("out/a/tracks.jsonl"));
  assert.deepEqual(
    lines.map((l) => l.frame),
    [...Array(10).keys()],
  );
  const manifest = JSON.parse(await text("out/a/manifest.json"));
  assert.equal(manifest.frames.written, 10);
  JSON.parse(await text("out/a/summary.json"));
});

test("vdet submit --archive on an S3 prefix: one job per video, and a re-run adds none", async () => {
  const run = async () => {
    const { stdout } = await execVdet([
      ...["submit", `s3://${bucket}/in/`, "--archive", "--out", `s3://${bucket}/archive`],
      ...["--fps", "2", "--api", apiUrl, "--token", token],
    ]);
    return stdout;
  };
  const first = (await run()).trim().split("\n");
  assert.equal(first.length, 2);
  assert.ok(
    first.every((l) => / submitted s3:\/\//.test(l)),
    first.join("\n"),
  );
  const second = (await run()).trim().split("\n");
  assert.ok(
    second.every((l) => / already submitted s3:\/\//.test(l)),
    second.join("\n"),
  );
  assert.deepEqual(
    second.map((l) => l.split(" ")[0]),
    first.map((l) => l.split(" ")[0]),
  );
  for (const line of first) assert.equal((await waitDone(line.split(" ")[0])).state, "completed");
  const written = (await keys("archive/")).filter((k) => k.endsWith("/tracks.jsonl"));
  assert.equal(written.length, 2);
});
