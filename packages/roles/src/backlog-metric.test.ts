// The backlog-per-worker metric on the real Redis: waiting chunks (both of BullMQ's waiting keys) over connected
// workers, and the CloudWatch request built from it. The CloudWatch call itself needs AWS and is not made here.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { PutMetricDataCommandInput } from "@aws-sdk/client-cloudwatch";
import type { FrameChunk } from "@vdet/protocol";
import { createRedisTransport, deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";
import { pino } from "pino";
import { BACKLOG_PER_WORKER_METRIC, sampleBacklog, startBacklogPublisher } from "./backlog-metric.ts";

const REDIS_URL = process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379";

const chunk = (n: number): FrameChunk => ({
  jobId: "j_metric",
  chunk: n,
  frames: [{ index: n, ptsMs: n * 200, key: `j_metric/${n}` }],
  size: 512,
  letterbox: { sourceWidth: 640, sourceHeight: 480, contentWidth: 512, contentHeight: 384 },
  phi: { min: 0, max: 0 },
  mode: "archive",
  scoreThreshold: 0.3,
  priority: 1 + (n % 3),
  enqueuedAtMs: Date.now(),
});

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await read();
    if (ok(v) || i > 200) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("backlog per worker: waiting chunks over connected workers, published with the deployment dimension", async () => {
  const prefix = `vdet-test-metric-${process.pid}-${Date.now()}`;
  const transport = createRedisTransport({ url: REDIS_URL, prefix });
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  try {
    for (let n = 0; n < 6; n++)
      await transport.frames.add(chunk(n), { id: `c${n}`, priority: chunk(n).priority });
    assert.deepEqual(await sampleBacklog(transport), { waitingChunks: 6, workers: 0, backlogPerWorker: 6 });

    // Two workers, each holding one chunk: four wait, two workers.
    const consumers = [0, 1].map(() => transport.frames.consume(() => gate));
    const sample = await until(
      () => sampleBacklog(transport),
      (s) => s.workers === 2 && s.waitingChunks === 4,
    );
    assert.deepEqual(sample, { waitingChunks: 4, workers: 2, backlogPerWorker: 2 });

    const sent: PutMetricDataCommandInput[] = [];
    const publisher = startBacklogPublisher({
      transport,
      namespace: "vdet",
      deployment: prefix,
      intervalMs: 50,
      logger: pino({ level: "silent" }),
      send: async (input) => {
        sent.push(input);
      },
    });
    await until(
      async () => sent.length,
      (n) => n >= 2,
    );
    await publisher.close();
    const first = sent[0];
    assert.equal(first.Namespace, "vdet");
    const perWorker = first.MetricData?.find((d) => d.MetricName === BACKLOG_PER_WORKER_METRIC);
    assert.equal(perWorker?.Value, 2);
    assert.deepEqual(perWorker?.Dimensions, [{ Name: "Deployment", Value: prefix }]);
    release();
    await Promise.all(consumers.map((c) => c.close()));
  } finally {
    release();
    await transport.close();
    const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
});
