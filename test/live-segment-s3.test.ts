// Recorded live segments in the S3 segment store (VDET_LIVE_SEGMENT_STORE): the producer, worker and aggregator
// roles over the real Redis, an s3rver behind a recording proxy (so the test sees every S3 request), and a local
// HLS origin. The producer records the stream into ≈1 s segments and PUTs each into s3://bucket/live/<job>/;
// Redis carries only the descriptors (no frame-store key is ever written); the worker (the same setting; real
// ffmpeg, simulated model) reads each segment through a presigned URL and deletes it once reported. Every sampled frame is in
// tracks.jsonl exactly once, and no segment object is left. Then the producer's sweep: segments of an ended job
// and of an unknown job are deleted, a running job's young ones kept, old ones expired.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { DeploymentKeys, RedisJobStore } from "@vdet/jobs";
import { startSegmentSweeper } from "@vdet/pipeline";
import { isTerminal, parseJobSpec } from "@vdet/protocol";
import {
  aggregatorConfigSchema,
  loadConfig,
  producerConfigSchema,
  type RunningRole,
  startAggregatorRole,
  startProducerRole,
  startWorkerRole,
  workerConfigSchema,
} from "@vdet/roles";
import { S3SegmentStore } from "@vdet/storage";
import { type FaultProxy, startFaultProxy, startTestS3, type TestS3 } from "@vdet/storage/testing";
import { createRedisTransport, redisOptionsFromUrl } from "@vdet/transport";
import { makeTestClip, runFfmpeg } from "@vdet/video/testing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { REDIS_URL } from "./support/redis-pipeline.ts";
import { closeRoles, s3rverEnv } from "./support/roles.ts";
import { simulatedProfile } from "./support/simulated-profile.ts";
import { parseTracks } from "./support/tracks.ts";
import { waitFor } from "./support/wait.ts";

const prefix = `vdet-lives3-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), "vdet-live-s3-"));
const logger = pino({ level: "warn" });
const roles: RunningRole[] = [];
let s3server: TestS3;
let proxy: FaultProxy;
let s3: S3Client;
let bucket = "";
let origin: Server;
let playlist = "";
const redis = new Redis(redisOptionsFromUrl(REDIS_URL));

before(async () => {
  s3server = await startTestS3();
  proxy = await startFaultProxy(s3server.port, () => undefined);
  s3 = s3server.client();
  bucket = await s3server.createBucket();
  Object.assign(process.env, s3rverEnv(proxy.endpoint));
  // A 4 s clip as a VOD HLS playlist with 1 s segments, read as a live input (the producer records it).
  const clip = await makeTestClip(join(dir, "clip.mp4"), 4, 10, 160, 120);
  const hls = join(dir, "hls");
  mkdirSync(hls);
  await runFfmpeg([
    ...["-i", clip, "-c:v", "libx264", "-g", "10", "-keyint_min", "10", "-sc_threshold", "0"],
    ...["-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod"],
    ...["-hls_segment_filename", join(hls, "seg%d.ts"), join(hls, "index.m3u8")],
  ]);
  origin = createServer((request, response) => {
    const name = new URL(request.url ?? "/", "http://x").pathname.slice(1);
    const path = join(hls, name);
    if (!/^[\w.]+$/.test(name) || !existsSync(path)) return response.writeHead(404).end();
    response.writeHead(200).end(readFileSync(path));
  });
  await new Promise<void>((resolve) => origin.listen(0, "127.0.0.1", resolve));
  playlist = `http://127.0.0.1:${(origin.address() as AddressInfo).port}/index.m3u8`;

  const profilePath = join(dir, "profile.json");
  writeFileSync(profilePath, JSON.stringify(simulatedProfile("live-s3", 5)));
  const env = {
    VDET_REDIS_URL: REDIS_URL,
    VDET_PREFIX: prefix,
    VDET_LOG_LEVEL: "warn",
    VDET_INPUT_ALLOW_ADDRESSES: "127.0.0.1/32",
  };
  roles.push(
    await startProducerRole(
      loadConfig(producerConfigSchema, { ...env, VDET_LIVE_SEGMENT_STORE: `s3://${bucket}/live` }),
      logger,
    ),
  );
  roles.push(
    await startWorkerRole(
      loadConfig(workerConfigSchema, {
        ...env,
        VDET_LIVE_SEGMENT_STORE: `s3://${bucket}/live`,
        VDET_SIMULATE_PROFILE: profilePath,
        VDET_PRELOAD: "0",
      }),
      logger,
    ),
  );
  roles.push(startAggregatorRole(loadConfig(aggregatorConfigSchema, env), logger));
});

after(async () => {
  await closeRoles(roles, prefix);
  await redis.quit();
  await new Promise<void>((resolve) => origin?.close(() => resolve()));
  await proxy?.close();
  await s3server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function keysUnder(p: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p }));
  return (page.Contents ?? []).map((o) => o.Key ?? "");
}

test("a live HLS job with the S3 segment store: every frame once, segments through S3, none left", async () => {
  const transport = createRedisTransport({ url: REDIS_URL, prefix });
  const jobStore = new RedisJobStore(redis, prefix);
  const out = join(dir, "out");
  try {
    const { job } = await jobStore.create(
      parseJobSpec({
        input: playlist,
        output: out,
        mode: "archive",
        sampling: { everyNth: 1 },
        phi: { min: 0, max: 0 },
      }),
    );
    await transport.jobs.add({ jobId: job.id }, { id: job.id });
    const done = await waitFor(
      "the live job to finish",
      async () => {
        const record = await jobStore.get(job.id);
        return record && isTerminal(record.state) ? record : undefined;
      },
      240_000,
    );
    assert.equal(done.state, "completed", JSON.stringify(done.errors));
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    const frames = parseTracks(readFileSync(join(out, "tracks.jsonl"), "utf8"));
    const sampled: number = manifest.frames.sampled;
    assert.ok(sampled >= 30, `the 4 s clip at 10 fps gives ≥ 30 sampled frames, got ${sampled}`);
    const indices = frames.map((f) => f.frame).sort((a, b) => a - b);
    assert.deepEqual(
      indices,
      Array.from({ length: sampled }, (_, i) => i),
      "every sampled frame exactly once",
    );
    assert.deepEqual(
      frames.filter((f) => "error" in f && f.error),
      [],
      "no frame failed",
    );

    // The segments went through S3: one PUT per segment under live/<job>/, each read (GET through a presigned
    // URL) and deleted; none through the frame store.
    const under = `/${bucket}/live/${job.id}/`;
    const puts = proxy.requests.filter((r) => r.method === "PUT" && r.url.startsWith(under));
    const gets = proxy.requests.filter((r) => r.method === "GET" && r.url.startsWith(under));
    assert.ok(puts.length >= 3, `≥ 3 recorded segments PUT, got ${puts.length}`);
    assert.ok(gets.length >= puts.length, `each segment read by the worker (${gets.length} GETs)`);
    const frameKeys = await redis.keys(new DeploymentKeys(prefix).frame("*"));
    assert.deepEqual(frameKeys, [], "no recorded segment in the Redis frame store");
    // The worker deletes each segment after its report, which can come just after the job completes.
    await waitFor(
      "the segment objects to be deleted",
      async () => (await keysUnder(`live/${job.id}/`)).length === 0,
      60_000,
    );
    const deletes = proxy.requests.filter((r) => r.method === "DELETE" && r.url.startsWith(under));
    // Every segment PUT is deleted. A DELETE may be seen twice for one key (the SDK retrying it under load, or the
    // producer's sweep meeting a segment its worker is deleting just then): S3's DELETE is idempotent.
    const path = (url: string) => url.split("?")[0];
    assert.deepEqual(
      [...new Set(deletes.map((r) => path(r.url)))].sort(),
      [...new Set(puts.map((r) => path(r.url)))].sort(),
      "each segment deleted",
    );
  } finally {
    await transport.close();
  }
});

test("the producer's sweep deletes ended and unknown jobs' segments and expired ones, keeps the rest", async () => {
  const jobStore = new RedisJobStore(redis, prefix);
  const store = new S3SegmentStore(`s3://${bucket}/sweep/`, s3);
  const { job: running } = await jobStore.create(
    parseJobSpec({ input: playlist, output: join(dir, "sweep-running") }),
  );
  const { job: ended } = await jobStore.create(
    parseJobSpec({ input: playlist, output: join(dir, "sweep-ended") }),
  );
  await jobStore.setState(ended.id, "failed");
  const bytes = new Uint8Array(1024);
  await store.put(running.id, "live-0.ts", bytes);
  await store.put(ended.id, "live-0.ts", bytes);
  await store.put(ended.id, "live-1.ts", bytes);
  await store.put("no-such-job", "live-0.ts", bytes);
  const sweeper = startSegmentSweeper({ store, jobStore, intervalMs: 3_600_000 });
  try {
    assert.deepEqual(await sweeper.sweep(), { ended: 3, expired: 0, kept: 1 });
    assert.deepEqual(await keysUnder("sweep/"), [`sweep/${running.id}/live-0.ts`]);
    // With a time to live of 0 the running job's segment has expired too.
    assert.deepEqual(await store.sweep(async () => true, -1), { ended: 0, expired: 1, kept: 0 });
    assert.deepEqual(await keysUnder("sweep/"), []);
    // A queue message cannot make a worker read or delete an object outside the store.
    await assert.rejects(store.delete(`s3://${bucket}/elsewhere/x.ts`), /not in the segment store/);
    await assert.rejects(store.readableUrl(`s3://other-bucket/sweep/x.ts`), /not in the segment store/);
  } finally {
    await sweeper.close();
  }
});
