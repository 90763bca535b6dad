// POST /jobs creates the job and queues it. An api that stops between the two leaves a created job nobody
// decodes: a retry with the same idempotency key queues it, and so does the next api to start. The active-job
// limit is counted and the job created in one step, so concurrent submissions cannot pass it together.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, test } from "node:test";
import { type JobStore, MemoryJobStore, RedisJobStore } from "@vdet/jobs";
import { parseJobSpec } from "@vdet/protocol";
import {
  createMemoryTransport,
  createRedisTransport,
  deleteKeysWithPrefix,
  redisOptionsFromUrl,
  type Transport,
} from "@vdet/transport";
import { Redis } from "ioredis";
import { buildServer } from "./server.ts";

const REDIS_URL = process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379";
const token = "queueing-test-token-0123456789";
const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
const prefixes: string[] = [];
after(async () => {
  for (const prefix of prefixes) await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

function deployment(kind: "memory" | "redis"): { jobStore: JobStore; transport: Transport } {
  if (kind === "memory") return { jobStore: new MemoryJobStore(), transport: createMemoryTransport() };
  const prefix = `vdet-queueing-${randomUUID().slice(0, 8)}`;
  prefixes.push(prefix);
  return {
    jobStore: new RedisJobStore(redis, prefix),
    transport: createRedisTransport({ url: REDIS_URL, prefix, onError: () => {} }),
  };
}

const spec = (idempotencyKey?: string) => ({
  input: "s3://in/clip.mp4",
  output: "s3://out/clip/",
  ...(idempotencyKey ? { idempotencyKey } : {}),
});

/** The job ids the jobs queue delivers within `ms`. */
async function delivered(transport: Transport, ms: number): Promise<string[]> {
  const ids: string[] = [];
  const consumer = transport.jobs.consume(async ({ jobId }) => {
    ids.push(jobId);
  });
  await new Promise((r) => setTimeout(r, ms));
  await consumer.close();
  return ids;
}

/** POST /jobs with the test token, as a client submits. */
const postJob = (app: Awaited<ReturnType<typeof buildServer>>, payload: ReturnType<typeof spec>) =>
  app.inject({
    method: "POST",
    url: "/jobs",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    payload,
  });

for (const kind of ["memory", "redis"] as const) {
  describe(`submitting (${kind} job store)`, () => {
    test("a retry with the same idempotency key queues a job created but never queued", async () => {
      const { jobStore, transport } = deployment(kind);
      const app = await buildServer({ transport, jobStore, token, queueMetrics: false });
      try {
        // The api stopped after the job was created and before its message was queued.
        const { job } = await jobStore.create(parseJobSpec(spec("retry-after-crash")));
        assert.equal(await jobStore.needsQueueing(job.id), true);
        const retry = await postJob(app, spec("retry-after-crash"));
        assert.equal(retry.statusCode, 200);
        assert.equal(retry.json().job.id, job.id);
        assert.equal(retry.json().created, false);
        assert.equal(await jobStore.needsQueueing(job.id), false);
        assert.deepEqual(await delivered(transport, 300), [job.id], "the producer gets the job");

        // Once queued, a further retry adds nothing.
        const again = await postJob(app, spec("retry-after-crash"));
        assert.equal(again.statusCode, 200);
        assert.deepEqual(await delivered(transport, 300), [], "queued once");
      } finally {
        await app.close();
        await transport.close();
      }
    });

    test("an api queues, when it starts, a job another api created and never queued", async () => {
      const { jobStore, transport } = deployment(kind);
      const app = await buildServer({
        transport,
        jobStore,
        token,
        queueMetrics: false,
        requeueAfterMs: 1500,
      });
      // Created without an idempotency key by an api that stopped before queueing it: no retry can name it.
      const { job } = await jobStore.create(parseJobSpec(spec()));
      await new Promise((r) => setTimeout(r, 1600));
      // Created a moment ago: its creator may be about to queue it, so it is left alone.
      const fresh = await jobStore.create(parseJobSpec(spec()));
      try {
        await app.ready();
        assert.equal(await jobStore.needsQueueing(job.id), false);
        assert.equal(await jobStore.needsQueueing(fresh.job.id), true);
        assert.deepEqual(await delivered(transport, 300), [job.id]);
      } finally {
        await app.close();
        await transport.close();
      }
    });

    test("the active-job limit holds under concurrent submissions", async () => {
      const { jobStore, transport } = deployment(kind);
      try {
        const outcomes = await Promise.allSettled(
          Array.from({ length: 12 }, () => jobStore.create(parseJobSpec(spec()), { maxActive: 5 })),
        );
        const created = outcomes.filter((o) => o.status === "fulfilled");
        const refused = outcomes.filter((o) => o.status === "rejected");
        assert.equal(created.length, 5);
        assert.equal(refused.length, 7);
        for (const o of refused)
          assert.match(String(o.reason), /5 jobs are queued or running, the limit is 5/);
        assert.equal(await jobStore.countActive(), 5);
        // An idempotent retry of an existing job is not refused by the limit.
        const first = await jobStore.create(parseJobSpec(spec("at-limit")), { maxActive: 6 });
        const retried = await jobStore.create(parseJobSpec(spec("at-limit")), { maxActive: 6 });
        assert.equal(retried.created, false);
        assert.equal(retried.job.id, first.job.id);
      } finally {
        await transport.close();
      }
    });
  });
}
