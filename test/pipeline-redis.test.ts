// The distributed path over the real Redis: jobs submitted through the HTTP API, a producer and an aggregator
// in this process, two `vdet worker` processes sharing the frame queue. Checks exact frame accounting, two
// concurrent jobs with different settings, and equality with local mode for the same input and seed.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildServer } from "@vdet/api";
import { type RoleProcess, stopRoles } from "@vdet/cli/testing";
import { runLocal } from "@vdet/pipeline";
import { makeTestClip } from "@vdet/video/testing";
import { buildLocalApi } from "./support/local-api.ts";
import { startRedisPipeline, startWorkers } from "./support/redis-pipeline.ts";
import { parseTracks, type TrackLine } from "./support/tracks.ts";
import { waitFor } from "./support/wait.ts";

// Segments of 4 frames: each job is several segments, so both workers take some, and a cancel finds some queued.
const pipeline = startRedisPipeline({
  prefix: `vdet-it-${randomUUID().slice(0, 8)}`,
  framesPerChunk: 2,
  segmentFrames: 4,
});
const { prefix, transport, jobStore, finished } = pipeline;
const dir = mkdtempSync(join(tmpdir(), "vdet-redis-"));
const token = "integration-test-token-0123456789";
const workers: RoleProcess[] = [];
let clip = "";

before(async () => {
  clip = await makeTestClip(join(dir, "clip.mp4"), 4, 10);
  workers.push(
    ...startWorkers(2, prefix, {
      args: ["--max-batch", "2"],
      env: { VDET_LOG_LEVEL: "warn", VDET_SEED: "0" },
      echo: (i) => `[worker ${i}] `,
    }),
  );
});

after(async () => {
  await stopRoles(workers);
  await pipeline.close();
  rmSync(dir, { recursive: true, force: true });
});

function waitFinished(id: string): Promise<string> {
  return waitFor(`job ${id} to finish`, () => finished.get(id));
}

test("two concurrent jobs with different settings through the API and two worker processes", async () => {
  const app = await buildLocalApi({
    transport,
    jobStore,
    token,
  });
  const submit = async (body: object) => {
    const response = await app.inject({
      method: "POST",
      url: "/jobs",
      headers: { authorization: `Bearer ${token}` },
      payload: body,
    });
    assert.equal(response.statusCode, 201, response.body);
    return response.json().job.id as string;
  };
  const a = await submit({ input: clip, output: join(dir, "a"), sampling: { fps: 5 }, scoreThreshold: 0 });
  const b = await submit({
    input: clip,
    output: join(dir, "b"),
    sampling: { everyNth: 4 },
    scoreThreshold: 0.0005,
    priority: 2,
  });
  // An unreadable input between them fails on its own; the other jobs carry on.
  writeFileSync(join(dir, "broken.mp4"), "this is not a video");
  const broken = await submit({ input: join(dir, "broken.mp4"), output: join(dir, "broken") });
  assert.equal(await waitFinished(a), "completed");
  assert.equal(await waitFinished(b), "completed");
  assert.equal(await waitFinished(broken), "failed");
  const brokenJob = await jobStore.get(broken);
  assert.match(brokenJob!.errors[0].message, /not a video|Invalid data/i);

  const linesA = parseTracks(readFileSync(join(dir, "a", "tracks.jsonl"), "utf8"));
  const linesB = parseTracks(readFileSync(join(dir, "b", "tracks.jsonl"), "utf8"));
  // 4 s at 10 fps: fps 5 keeps every second frame (20), everyNth 4 keeps frames 0, 4, … 36 (10).
  assert.deepEqual(
    linesA.map((l) => l.frame),
    [...Array(20).keys()],
  );
  assert.deepEqual(
    linesB.map((l) => l.frame),
    [...Array(10).keys()],
  );
  assert.deepEqual(
    linesB.map((l) => l.ptsMs),
    [...Array(10).keys()].map((i) => i * 400),
  );
  assert.ok(linesB.every((l) => l.detections.every((d) => d.score >= 0.0005)));

  const manifestA = JSON.parse(readFileSync(join(dir, "a", "manifest.json"), "utf8"));
  assert.deepEqual(manifestA.frames, {
    sampled: 20,
    written: 20,
    failed: 0,
    skipped: 0,
    duplicatesDropped: 0,
  });
  const manifestB = JSON.parse(readFileSync(join(dir, "b", "manifest.json"), "utf8"));
  const byWorker = { ...manifestA.framesByWorker };
  for (const [w, n] of Object.entries(manifestB.framesByWorker as Record<string, number>))
    byWorker[w] = (byWorker[w] ?? 0) + n;
  assert.equal(
    Object.keys(byWorker).length,
    2,
    `both worker processes took frames: ${JSON.stringify(byWorker)}`,
  );

  // The API reports the finished job and its counts.
  const status = await app.inject({
    method: "GET",
    url: `/jobs/${a}`,
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(status.json().job.state, "completed");
  assert.deepEqual(status.json().job.progress, {
    decoded: 20,
    inferred: 20,
    written: 20,
    failed: 0,
    deadlineMisses: 0,
    total: 20,
  });
  await app.close();

  // Local mode on the same input and seed gives the same detections.
  const local = await runLocal({
    spec: { input: clip, output: join(dir, "local"), sampling: { fps: 5 }, scoreThreshold: 0 },
    seed: 0,
  });
  assert.equal(local.job.state, "completed");
  const linesLocal = parseTracks(readFileSync(join(dir, "local", "tracks.jsonl"), "utf8"));
  assertSameDetections(linesLocal, linesA);
});

function assertSameDetections(a: TrackLine[], b: TrackLine[]): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].ptsMs, b[i].ptsMs);
    assert.equal(a[i].detections.length, b[i].detections.length, `frame ${i}`);
    a[i].detections.forEach((d, j) => {
      const e = b[i].detections[j];
      assert.equal(d.class, e.class);
      assert.ok(Math.abs(d.score - e.score) <= 1e-3);
      assert.ok(
        d.box.every((v, k) => Math.abs(v - e.box[k]) <= 0.05),
        `frame ${i} box ${j}`,
      );
    });
  }
}

test("bad job specs get a 400 naming the field; no token gets a 401", async () => {
  const app = await buildServer({
    transport,
    jobStore,
    token,
    allowFileInputs: false,
    allowDirectoryOutputs: false,
  });
  const auth = { authorization: `Bearer ${token}` };
  const cases: [object, RegExp][] = [
    [{ input: "s3://b/v.mp4", output: "s3://out/p", sampling: { fps: 0 } }, /sampling/],
    [{ input: "s3://b/v.mp4", output: "s3://out/p", phi: { min: 0, max: 8 } }, /phi\.max/],
    [{ input: "/etc/passwd", output: "s3://out/p" }, /input: local file inputs are not accepted/],
    [{ input: "s3://b/v.mp4", output: "/tmp/x" }, /output: this server writes only to s3/],
    [
      { input: "s3://b/v.mp4", output: "s3://out/p", classes: ["unicorn"] },
      /classes: unknown COCO class "unicorn"/,
    ],
  ];
  for (const [payload, pattern] of cases) {
    const response = await app.inject({ method: "POST", url: "/jobs", headers: auth, payload });
    assert.equal(response.statusCode, 400);
    assert.match(response.json().error, pattern);
  }
  const unauthorised = await app.inject({ method: "GET", url: "/jobs" });
  assert.equal(unauthorised.statusCode, 401);
  const missing = await app.inject({ method: "GET", url: "/jobs/j_nope", headers: auth });
  assert.equal(missing.statusCode, 404);
  await app.close();
});

test("cancel: decoding stops, queued frames drain, what is done is written, the job ends cancelled", async () => {
  const long = await makeTestClip(join(dir, "long.mp4"), 30, 10);
  const app = await buildLocalApi({
    transport,
    jobStore,
    token: null,
  });
  const created = await app.inject({
    method: "POST",
    url: "/jobs",
    payload: { input: long, output: join(dir, "cancelled"), sampling: { fps: 10 } },
  });
  const id = created.json().job.id as string;
  // Let a few frames through, then cancel.
  for (let i = 0; i < 600; i++) {
    const job = await jobStore.get(id);
    if (job && job.progress.written >= 4) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const cancel = await app.inject({ method: "DELETE", url: `/jobs/${id}` });
  assert.equal(cancel.statusCode, 202);
  assert.equal(await waitFinished(id), "cancelled");
  const job = (await jobStore.get(id))!;
  // The clip is a file: segments. Those queued when the job was cancelled are not decoded, their frames failed.
  assert.ok(
    job.progress.total !== null && job.progress.written < job.progress.total,
    `work stopped early (${job.progress.written} of ${job.progress.total} written)`,
  );
  const lines = parseTracks(readFileSync(join(dir, "cancelled", "tracks.jsonl"), "utf8"));
  assert.deepEqual(
    lines.map((l) => l.frame),
    [...Array(job.progress.total).keys()],
  );
  const again = await app.inject({ method: "DELETE", url: `/jobs/${id}` });
  assert.equal(again.statusCode, 409);
  await app.close();
});
