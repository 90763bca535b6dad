// /metrics after real jobs: the frame counters of every stage add up, the histograms saw every batch, frame
// and write, queue depths come from the queues at scrape time (BullMQ's counts over the real Redis), and a
// role's own metrics server serves the same registry.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { buildServer } from "@vdet/api";
import { MemoryJobStore } from "@vdet/jobs";
import { enableProcessMetrics, startMetricsServer } from "@vdet/metrics";
import { runLocal } from "@vdet/pipeline";
import {
  createMemoryTransport,
  createRedisTransport,
  deleteKeysWithPrefix,
  redisOptionsFromUrl,
} from "@vdet/transport";
import { makeTestClip } from "@vdet/video/testing";
import { Redis } from "ioredis";

const dir = mkdtempSync(join(tmpdir(), "vdet-metrics-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const token = "metrics-test-token-0123456789";
const auth = { authorization: `Bearer ${token}` };

/** Prometheus text → "name{labels}" → value (labels as written by prom-client, in its order). */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

const get = (m: Map<string, number>, key: string) => m.get(key) ?? 0;

test("after a clean job, frames decoded = queued = inferred = written, and every histogram saw them", async () => {
  enableProcessMetrics();
  const app = await buildServer({
    transport: createMemoryTransport(),
    jobStore: new MemoryJobStore(),
    token,
  });
  const scrape = async () => {
    const response = await app.inject({ method: "GET", url: "/metrics", headers: auth });
    assert.equal(response.statusCode, 200);
    assert.match(response.headers["content-type"] as string, /^text\/plain/);
    return parseMetrics(response.body);
  };
  assert.equal((await app.inject({ method: "GET", url: "/metrics" })).statusCode, 401);
  const before = await scrape();
  const clip = await makeTestClip(join(dir, "clip.mp4"), 2, 10);
  const result = await runLocal({
    spec: { input: clip, output: join(dir, "out"), sampling: { fps: 5 }, scoreThreshold: 0.2 },
    seed: 0,
    maxBatch: 4,
  });
  assert.equal(result.job.state, "completed");
  const frames = result.job.progress.written;
  assert.equal(frames, 10);
  const now = await scrape();
  const delta = (key: string) => get(now, key) - get(before, key);
  for (const stage of ["decoded", "queued", "inferred", "written"]) {
    assert.equal(delta(`vdet_frames_total{stage="${stage}"}`), frames, `frames ${stage}`);
  }
  assert.equal(delta('vdet_frames_total{stage="failed"}'), 0);
  // Every model run: one batch-size observation whose sum is the frames, one latency observation per run.
  const batches = result.batchSizes["0"];
  assert.equal(delta('vdet_batch_size_count{phi="0"}'), batches.length);
  assert.equal(delta('vdet_batch_size_sum{phi="0"}'), frames);
  const latencyRuns = [...now.keys()]
    .filter((k) => k.startsWith("vdet_inference_seconds_count{"))
    .reduce((sum, k) => sum + delta(k), 0);
  assert.equal(latencyRuns, batches.length);
  assert.equal(delta('vdet_phi_frames_total{phi="0"}'), frames);
  assert.equal(get(now, "vdet_phi_chosen"), 0);
  assert.equal(delta("vdet_tracker_update_seconds_count"), frames);
  assert.equal(delta('vdet_sink_write_seconds_count{operation="finish"}'), 1);
  assert.equal(delta('vdet_sink_write_seconds_count{operation="put"}'), 3);
  // One queue-time observation per work unit: a segment (a file input: up to VDET_SEGMENT_FRAMES frames) or a chunk.
  assert.ok(delta('vdet_chunk_seconds_count{phase="queue"}') >= 1);
  assert.equal(delta('vdet_jobs_total{event="completed"}'), 1);
  // Archive job: no deadline, so no slack observations.
  assert.equal(delta('vdet_deadline_slack_seconds_count{where="done"}'), 0);
  assert.ok(get(now, "process_resident_memory_bytes") > 0, "process metrics");
  // The in-process queues are drained.
  for (const queue of ["jobs", "frames", "segments", "results", "events"]) {
    assert.equal(get(now, `vdet_queue_messages{queue="${queue}",state="waiting"}`), 0, queue);
  }
  await app.close();

  // A role's own /metrics server serves the same registry.
  const server = await startMetricsServer({ port: 0, host: "127.0.0.1" });
  try {
    const served = parseMetrics(await (await fetch(`${server.url}/metrics`)).text());
    assert.equal(
      get(served, 'vdet_frames_total{stage="written"}'),
      get(now, 'vdet_frames_total{stage="written"}'),
    );
    assert.equal((await fetch(`${server.url}/other`)).status, 404);
  } finally {
    await server.close();
  }
});

test("a latency job records deadline slack for every frame and counts the misses in the job", async () => {
  const app = await buildServer({
    transport: createMemoryTransport(),
    jobStore: new MemoryJobStore(),
    token,
  });
  const scrape = async () =>
    parseMetrics((await app.inject({ method: "GET", url: "/metrics", headers: auth })).body);
  const before = await scrape();
  const clip = await makeTestClip(join(dir, "latency.mp4"), 1, 10);
  // A 10 ms budget cannot be met by D0 on a CPU: every frame misses.
  const result = await runLocal({
    spec: { input: clip, output: join(dir, "latency-out"), sampling: { fps: 5 }, latencyBudgetMs: 10 },
    seed: 0,
  });
  const now = await scrape();
  const frames = result.job.progress.written;
  assert.equal(frames, 5);
  assert.equal(
    get(now, 'vdet_deadline_slack_seconds_count{where="done"}') -
      get(before, 'vdet_deadline_slack_seconds_count{where="done"}'),
    frames,
  );
  assert.equal(get(now, "vdet_deadline_misses_total") - get(before, "vdet_deadline_misses_total"), frames);
  assert.equal(result.job.progress.deadlineMisses, frames);
  await app.close();
});

test("queue depths come from BullMQ at scrape time: waiting and prioritized messages per queue", async () => {
  const url = process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = `vdet-metrics-${randomUUID().slice(0, 8)}`;
  const transport = createRedisTransport({ url, prefix });
  const redis = new Redis(redisOptionsFromUrl(url));
  const app = await buildServer({ transport, jobStore: new MemoryJobStore(), token });
  try {
    await transport.jobs.add({ jobId: "j_a" }, { id: "j_a", priority: 5 });
    await transport.jobs.add({ jobId: "j_b" }, { id: "j_b", priority: 1 });
    const m = parseMetrics((await app.inject({ method: "GET", url: "/metrics", headers: auth })).body);
    // BullMQ keeps messages with a priority in its "prioritized" set.
    assert.equal(get(m, 'vdet_queue_messages{queue="jobs",state="prioritized"}'), 2);
    assert.equal(get(m, 'vdet_queue_messages{queue="jobs",state="active"}'), 0);
    assert.equal(get(m, 'vdet_queue_messages{queue="frames",state="prioritized"}'), 0);
    assert.ok(m.has('vdet_queue_messages{queue="results",state="failed"}'));
  } finally {
    await app.close();
    await transport.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
});
