// One contract, two transports: the in-process queues and BullMQ on the real Redis at 127.0.0.1:6379
// (or $VDET_REDIS_URL). Each Redis test run uses its own key prefix and deletes its keys afterwards.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, test } from "node:test";
import { DeploymentKeys, deleteDeploymentKeys } from "@vdet/jobs";
import { frameChunkSchema } from "@vdet/protocol";
import { Redis } from "ioredis";
import { testChunk } from "../testing/index.ts";
import { BullQueue } from "./bullmq-queue.ts";
import { deleteKeysWithPrefix } from "./keys.ts";
import { PartitionedQueue, partitionOf } from "./partitioned-queue.ts";
import { redactRedisUrl } from "./redis-check.ts";
import { deploymentKeysFor, isClusterUrl, parseRedisUrl, redisOptionsFromUrl } from "./redis-connection.ts";
import { StreamQueue } from "./stream-queue.ts";
import { createMemoryTransport, createRedisTransport, type Transport } from "./transport.ts";
import { UnprocessableMessageError } from "./work-queue.ts";

const REDIS_URL = process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379";

function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (condition()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error("timed out waiting"));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

const prefixes: string[] = [];
after(async () => {
  if (prefixes.length === 0) return;
  const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
  for (const prefix of prefixes) await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
});

const makers: [string, () => Transport][] = [
  ["memory", createMemoryTransport],
  [
    "redis",
    () => {
      const prefix = `vdet-test-${randomUUID().slice(0, 8)}`;
      prefixes.push(prefix);
      return createRedisTransport({ url: REDIS_URL, prefix, stalledIntervalMs: 1000, lockDurationMs: 2000 });
    },
  ],
];

for (const [kind, make] of makers) {
  describe(`${kind} transport`, () => {
    test("delivers validated messages once, de-duplicated by id", async () => {
      const t = make();
      try {
        const seen: number[] = [];
        await t.frames.add(testChunk("job-a", 0), { id: "job-a-0" });
        await t.frames.add(testChunk("job-a", 0), { id: "job-a-0" });
        await t.frames.add(testChunk("job-a", 1), { id: "job-a-1" });
        const consumer = t.frames.consume(async (m, d) => {
          assert.equal(d.attempt, 1);
          seen.push(m.chunk);
        });
        await waitFor(() => seen.length === 2);
        await new Promise((r) => setTimeout(r, 100));
        await consumer.close();
        assert.deepEqual(seen.sort(), [0, 1]);
      } finally {
        await t.close();
      }
    });

    test("higher priority (lower number) first", async () => {
      const t = make();
      try {
        await t.frames.add(testChunk("slow", 0, 9), { priority: 9 });
        await t.frames.add(testChunk("slow", 1, 9), { priority: 9 });
        await t.frames.add(testChunk("urgent", 0, 1), { priority: 1 });
        const order: string[] = [];
        const consumer = t.frames.consume(async (m) => {
          order.push(`${m.jobId}-${m.chunk}`);
        });
        await waitFor(() => order.length === 3);
        await consumer.close();
        assert.deepEqual(order, ["urgent-0", "slow-0", "slow-1"]);
      } finally {
        await t.close();
      }
    });

    test("a failing handler gets the message again; an unprocessable one goes to the dead letters", async () => {
      const t = make();
      try {
        const attempts: number[] = [];
        const finished = {
          type: "decoded",
          totalFrames: 0,
          chunks: 0,
          video: null,
          error: null,
          cancelled: false,
        } as const;
        await t.events.add({ ...finished, jobId: "retry-me" });
        await t.events.add({ ...finished, jobId: "give-up" });
        const consumer = t.events.consume(async (m, d) => {
          if (m.jobId === "give-up") throw new UnprocessableMessageError("output bucket does not exist");
          attempts.push(d.attempt);
          if (d.attempt === 1) throw new Error("transient");
        });
        await waitFor(() => attempts.length === 2, 15_000);
        const dead = async () => t.events.deadLetters();
        let letters = await dead();
        for (let i = 0; i < 50 && letters.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 50));
          letters = await dead();
        }
        await consumer.close();
        assert.deepEqual(attempts, [1, 2]);
        assert.equal(letters.length, 1);
        assert.match(letters[0].reason, /output bucket does not exist/);
      } finally {
        await t.close();
      }
    });

    test("a message that fails its schema is poison: never handled, dead-lettered with the field named", async () => {
      const t = make();
      try {
        let handled = 0;
        await t.results.add({ jobId: "j", chunk: "seven" } as never);
        const consumer = t.results.consume(async () => {
          handled++;
        });
        let letters = await t.results.deadLetters();
        for (let i = 0; i < 100 && letters.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 50));
          letters = await t.results.deadLetters();
        }
        await consumer.close();
        assert.equal(handled, 0);
        assert.equal(letters.length, 1);
        assert.match(letters[0].reason, /invalid results message: chunk: /);
      } finally {
        await t.close();
      }
    });

    test("frame store keeps binary values with a time to live", async () => {
      const t = make();
      try {
        const data = new Uint8Array(512 * 512 * 3).map((_, i) => i % 251);
        await t.frameStore.put("f/1", data, 60);
        const back = await t.frameStore.get("f/1");
        assert.ok(back && Buffer.from(back).equals(Buffer.from(data)));
        await t.frameStore.put("f/2", data.subarray(0, 10), 1);
        await new Promise((r) => setTimeout(r, 1100));
        assert.equal(await t.frameStore.get("f/2"), null);
        await t.frameStore.delete(["f/1"]);
        assert.equal(await t.frameStore.get("f/1"), null);
      } finally {
        await t.close();
      }
    });

    test("counts report waiting work", async () => {
      const t = make();
      try {
        await t.frames.add(testChunk("c", 0));
        await t.frames.add(testChunk("c", 1));
        const counts = await t.frames.counts();
        assert.equal(counts.waiting, 2);
        assert.equal(counts.active, 0);
      } finally {
        await t.close();
      }
    });

    test("consumerCount counts the consumers of one queue", async () => {
      const t = make();
      try {
        assert.equal(await t.frames.consumerCount(), 0);
        const consumers = [1, 2].map(() => t.frames.consume(async () => {}));
        const other = t.results.consume(async () => {});
        let seen = 0;
        for (let i = 0; i < 50 && seen !== 2; i++) {
          seen = await t.frames.consumerCount();
          if (seen !== 2) await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(seen, 2);
        await consumers[0].close();
        assert.equal(await t.frames.consumerCount(), 1);
        await Promise.all([consumers[1].close(), other.close()]);
      } finally {
        await t.close();
      }
    });
  });
}

test("Redis Cluster URLs: seed nodes, password, TLS; a malformed one is refused by name", () => {
  const e = parseRedisUrl("rediss+cluster://:s%40cret@10.0.0.1:7000,cache-2.internal:7001,[::1]:7002", {
    tlsCa: "PEM",
  });
  assert.equal(e.kind, "cluster");
  assert.deepEqual(e.kind === "cluster" && e.nodes, [
    { host: "10.0.0.1", port: 7000 },
    { host: "cache-2.internal", port: 7001 },
    { host: "::1", port: 7002 },
  ]);
  assert.equal(e.options.password, "s@cret");
  assert.deepEqual(e.options.tls, { ca: "PEM" });
  assert.equal(parseRedisUrl("redis+cluster://127.0.0.1:7000").options.tls, undefined);
  assert.equal(parseRedisUrl("redis://127.0.0.1:6379").kind, "single");
  assert.equal(isClusterUrl("redis+cluster://a:1"), true);
  assert.throws(() => parseRedisUrl("redis+cluster://a:1,b"), /node "b" is not host:port/);
  assert.throws(() => parseRedisUrl("redis+cluster://a:1/2"), /no database number/);
  assert.equal(redactRedisUrl("redis+cluster://user:s3cret@a:1,b:2"), "redis+cluster://user:***@a:1,b:2");
  // The key layout follows the endpoint: hash tags on a cluster, the plain layout on one Redis.
  assert.equal(
    deploymentKeysFor(e, "vdet", { partitions: 4 }).queuePrefix("frames", 3),
    "{vdet:queue:frames:3}",
  );
  assert.equal(deploymentKeysFor(parseRedisUrl(REDIS_URL), "vdet").queuePrefix("frames", 0), "vdet");
});

test("a partitioned queue: a message's partition follows its key, consumers take every partition", async () => {
  const base = `vdet-test-${randomUUID().slice(0, 8)}`;
  const keys = new DeploymentKeys(base, { hashTags: true, partitions: 3 });
  const endpoint = parseRedisUrl(REDIS_URL);
  const parts = [0, 1, 2].map(
    (p) => new BullQueue("frames", frameChunkSchema, { endpoint, prefix: keys.queuePrefix("frames", p) }),
  );
  const queue = new PartitionedQueue("frames", parts, (m) => `${m.jobId}:${m.chunk}`);
  try {
    const chunks = [...Array(12).keys()].map((n) => testChunk("job-p", n));
    for (const c of chunks) {
      await queue.add(c, { id: `job-p-${c.chunk}` });
      await queue.add(c, { id: `job-p-${c.chunk}` }); // the same id, the same partition: de-duplicated
    }
    const byPartition = await Promise.all(parts.map(async (p) => (await p.counts()).waiting));
    assert.deepEqual(
      byPartition,
      [0, 1, 2].map((p) => chunks.filter((c) => queue.partitionFor(c) === p).length),
    );
    assert.ok(byPartition.filter((n) => n > 0).length >= 2, `spread: ${byPartition}`);
    assert.equal((await queue.counts()).waiting, 12);
    assert.equal(partitionOf("job-p:0", 3), queue.partitionFor(chunks[0]));
    const seen: number[] = [];
    const consumer = queue.consume(async (m) => {
      seen.push(m.chunk);
    });
    await waitFor(() => seen.length === 12);
    await consumer.close();
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [...Array(12).keys()],
    );
  } finally {
    await queue.close();
  }
  const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
  await deleteDeploymentKeys(redis, keys);
  await redis.quit();
});

test("Redis URLs: password, db, TLS", () => {
  const o = redisOptionsFromUrl("rediss://:s%40cret@cache.internal:6380/2");
  assert.equal(o.host, "cache.internal");
  assert.equal(o.port, 6380);
  assert.equal(o.password, "s@cret");
  assert.equal(o.db, 2);
  assert.deepEqual(o.tls, {});
  assert.throws(() => redisOptionsFromUrl("http://x"), /must start with redis:\/\//);
});

describe("stream queue (results, events)", () => {
  const endpoint = parseRedisUrl(REDIS_URL);
  const make = (lockDurationMs: number) => {
    const prefix = `vdet-test-${randomUUID().slice(0, 8)}`;
    prefixes.push(prefix);
    const key = new DeploymentKeys(prefix).queueStream("frames");
    return new StreamQueue("frames", frameChunkSchema, {
      endpoint,
      key,
      lockDurationMs,
      stalledIntervalMs: 200,
      blockMs: 200,
    });
  };

  test("a crashed consumer's message comes to another after the lock duration, as attempt 2", async () => {
    const queue = make(400);
    const raw = new Redis(redisOptionsFromUrl(REDIS_URL));
    try {
      await queue.add(testChunk("job-s", 0), { id: "job-s-0" });
      // A consumer that takes the message and dies (no ack, no renewal).
      await raw.xgroup("CREATE", queue.key, "consumers", "0", "MKSTREAM");
      const taken = (await raw.xreadgroup(
        "GROUP",
        "consumers",
        "dead",
        "COUNT",
        1,
        "STREAMS",
        queue.key,
        ">",
      )) as unknown[] | null;
      assert.ok(taken, "the dead consumer took it");
      assert.equal((await queue.counts()).active, 1);
      const got: { chunk: number; attempt: number; id: string; atMs: number }[] = [];
      const startedMs = Date.now();
      const consumer = queue.consume(async (m, d) => {
        got.push({ chunk: m.chunk, attempt: d.attempt, id: d.id, atMs: Date.now() - startedMs });
      });
      await waitFor(() => got.length === 1, 10_000);
      await consumer.close();
      assert.equal(got[0].attempt, 2);
      assert.equal(got[0].id, "job-s-0");
      assert.ok(got[0].atMs >= 350, `not before the lock ran out (${got[0].atMs} ms)`);
      const counts = await queue.counts();
      assert.equal(counts.active + counts.waiting, 0, "acked and deleted");
    } finally {
      raw.disconnect();
      await queue.close();
    }
  });

  test("a handler that runs past the lock duration keeps its message (renewed): handled once", async () => {
    const queue = make(300);
    try {
      await queue.add(testChunk("job-r", 0));
      let calls = 0;
      const first = queue.consume(async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 1200));
      });
      const second = queue.consume(async () => {
        calls++;
      });
      await waitFor(() => calls >= 1);
      await new Promise((r) => setTimeout(r, 1500));
      await Promise.all([first.close(), second.close()]);
      assert.equal(calls, 1);
      assert.deepEqual(await queue.counts(), { waiting: 0, active: 0, delayed: 0, failed: 0 });
    } finally {
      await queue.close();
    }
  });
});
