// Scale to zero, end to end over the real Redis: with no worker running, a submitted job is decoded and its
// frames queue up, and GET /jobs/:id says "waiting for a worker" with the backlog an autoscaler wakes one on; once
// a `vdet worker` process starts, the same job completes and the waiting note is gone. The time from starting
// the worker to the job's completion is reported as a diagnostic, not asserted.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { type RoleProcess, startRole } from "@vdet/cli/testing";
import { isTerminal, WAITING_FOR_WORKER } from "@vdet/protocol";
import { makeTestClip } from "@vdet/video/testing";
import { buildLocalApi } from "./support/local-api.ts";
import { REDIS_URL, startRedisPipeline } from "./support/redis-pipeline.ts";
import { waitFor } from "./support/wait.ts";

const pipeline = startRedisPipeline({ prefix: `vdet-zero-${randomUUID().slice(0, 8)}`, framesPerChunk: 2 });
const { prefix, transport, jobStore } = pipeline;
const dir = mkdtempSync(join(tmpdir(), "vdet-zero-"));
const token = "scale-to-zero-test-token-0123456789";
let worker: RoleProcess | undefined;

after(async () => {
  await worker?.stop();
  await pipeline.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a job waits for a worker while none runs, and completes once one starts", async (t) => {
  const clip = await makeTestClip(join(dir, "clip.mp4"), 2, 10);
  const app = await buildLocalApi({
    transport,
    jobStore,
    token,
  });
  t.after(() => app.close());
  const get = async (url: string) => {
    const response = await app.inject({ method: "GET", url, headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.statusCode, 200, response.body);
    return response.json();
  };
  const submitted = await app.inject({
    method: "POST",
    url: "/jobs",
    headers: { authorization: `Bearer ${token}` },
    payload: { input: clip, output: join(dir, "out"), sampling: { fps: 5 }, scoreThreshold: 0 },
  });
  assert.equal(submitted.statusCode, 201, submitted.body);
  const id = submitted.json().job.id as string;

  // All 10 sampled frames planned and queued (one segment), none inferred: the job stands still, and says why.
  const waiting = await waitFor(
    "the job to wait for a worker",
    async () => {
      const body = await get(`/jobs/${id}`);
      return body.job.progress.decoded === 10 ? body : undefined;
    },
    120_000,
    200,
  );
  assert.equal(waiting.job.progress.inferred, 0);
  assert.deepEqual(waiting.waiting, { reason: WAITING_FOR_WORKER, waitingChunks: 1, workers: 0 });
  // The number an autoscaler wakes a worker on is the same backlog.
  const backlog = await get("/backlog");
  assert.equal(backlog.backlog.frames, 1);
  assert.equal(backlog.workers, 0);

  const startedAt = Date.now();
  worker = startRole("worker", {
    args: ["--prefix", prefix, "--max-batch", "2"],
    env: { VDET_REDIS_URL: REDIS_URL, VDET_LOG_LEVEL: "warn", VDET_SEED: "0", VDET_ALLOW_FILE_INPUTS: "1" },
    echo: "[worker] ",
  });
  const done = await waitFor(
    "the job to complete",
    async () => {
      const body = await get(`/jobs/${id}`);
      return isTerminal(body.job.state) ? body : undefined;
    },
    120_000,
    200,
  );
  t.diagnostic(`worker start to job completed: ${Date.now() - startedAt} ms`);
  assert.equal(done.job.state, "completed");
  assert.equal(done.job.progress.written, 10);
  assert.equal(done.waiting, undefined);
});
