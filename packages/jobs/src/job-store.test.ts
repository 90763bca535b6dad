// The job store, in memory and in Redis (a plain prefix, a braced one, and the Redis Cluster layout): one indexing
// step that claims the idempotency key and marks the job not yet queued, and the sets a job leaves when it ends.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, test } from "node:test";
import { parseJobSpec, streamSpecSchema } from "@vdet/protocol";
import { Redis } from "ioredis";
import { RedisAggregatorCheckpoints } from "./checkpoints.ts";
import { type JobStore, MemoryJobStore, RedisJobStore } from "./job-store.ts";
import { DeploymentKeys, deleteDeploymentKeys } from "./keys.ts";

const redis = new Redis(process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379", {
  maxRetriesPerRequest: null,
});
const deployments: DeploymentKeys[] = [];
after(async () => {
  for (const keys of deployments) await deleteDeploymentKeys(redis, keys);
  await redis.quit();
});

function keysFor(layout: "plain" | "braced" | "cluster"): DeploymentKeys {
  const name = `vdet-store-${randomUUID().slice(0, 8)}`;
  const keys =
    layout === "cluster"
      ? new DeploymentKeys(name, { hashTags: true })
      : new DeploymentKeys(layout === "braced" ? `{${name}}` : name);
  deployments.push(keys);
  return keys;
}

const stores: [string, () => JobStore][] = [
  ["memory", () => new MemoryJobStore()],
  ["redis", () => new RedisJobStore(redis, keysFor("plain"))],
  ["redis, hash-tagged prefix", () => new RedisJobStore(redis, keysFor("braced"))],
  ["redis, Redis Cluster layout", () => new RedisJobStore(redis, keysFor("cluster"))],
];

for (const [name, make] of stores) {
  describe(`job store (${name})`, () => {
    test("streams are listed apart from jobs, newest first, with their figures", async () => {
      const store = make();
      await store.create(parseJobSpec({ input: "s3://in/a.mp4", output: "s3://out/a/" }));
      const ids: string[] = [];
      for (const cam of [1, 2, 3]) {
        const spec = streamSpecSchema.parse({
          input: `rtsp://127.0.0.1:8554/cam${cam}`,
          output: `s3://out/cam${cam}/`,
          latencyBudgetMs: 400,
          idempotencyKey: `cam:${cam}`,
        });
        ids.unshift((await store.create(spec)).job.id);
        await new Promise((r) => setTimeout(r, 2)); // distinct creation times
      }
      const first = await store.listStreams({ limit: 2 });
      assert.deepEqual(
        first.jobs.map((j) => j.id),
        ids.slice(0, 2),
      );
      const rest = await store.listStreams({ limit: 2, after: first.next! });
      assert.deepEqual(
        rest.jobs.map((j) => j.id),
        ids.slice(2),
      );
      assert.equal(rest.next, null);
      assert.equal((await store.list()).jobs.length, 4, "streams are jobs too");
      const stats = { atMs: 1, fpsIn: 5, fpsOut: 4, deadlineHitRate: 0.5, phi: 0 as const };
      await store.setStreamStats(ids[0], stats);
      assert.deepEqual((await store.get(ids[0]))?.streamStats, stats);
      // The idempotency key still claims its stream.
      const again = await store.create(
        streamSpecSchema.parse({
          input: "rtsp://127.0.0.1:8554/cam1",
          output: "s3://out/cam1/",
          latencyBudgetMs: 400,
          idempotencyKey: "cam:1",
        }),
      );
      assert.deepEqual([again.job.id, again.created], [ids[2], false]);
    });

    test("create, idempotency, queueing marks and the end of a job", async () => {
      const store = make();
      const spec = parseJobSpec({ input: "s3://in/a.mp4", output: "s3://out/a/", idempotencyKey: "k:1" });
      const first = await store.create(spec);
      assert.equal(first.created, true);
      assert.equal(first.job.state, "queued");
      assert.deepEqual(first.job.spec, spec);
      const again = await store.create(spec);
      assert.deepEqual({ id: again.job.id, created: again.created }, { id: first.job.id, created: false });
      assert.equal(await store.needsQueueing(first.job.id), true);
      await store.markQueued(first.job.id);
      assert.equal(await store.needsQueueing(first.job.id), false);

      const other = await store.create(parseJobSpec({ input: "s3://in/b.mp4", output: "s3://out/b/" }));
      assert.equal(await store.countActive(), 2);
      assert.equal(await store.setState(other.job.id, "running"), true);
      assert.equal(await store.setState(other.job.id, "cancelled"), true);
      assert.equal(await store.setState(other.job.id, "running"), false, "a terminal state is final");
      assert.equal(await store.countActive(), 1);
      assert.equal(await store.needsQueueing(other.job.id), false, "an ended job needs no queueing");
      const listed = (await store.list()).jobs.map((j) => j.id);
      assert.deepEqual(listed.sort(), [first.job.id, other.job.id].sort());
    });

    test("units in flight: counted on commit, released once per unit, a blocked producer woken", async () => {
      const store = make();
      try {
        const { job } = await store.create(parseJobSpec({ input: "a.mp4", output: "out" }));
        // Each commit says what a capacity check would read right after it (the planner reads nothing else).
        const after: unknown[] = [];
        for (let unit = 0; unit < 3; unit++)
          after.push(await store.commitChunk(job.id, 10, { chunks: unit + 1, nextFrame: 10 * (unit + 1) }));
        assert.deepEqual(
          after,
          [1, 2, 3].map((inFlight) => ({ inFlight, cancelled: false })),
        );
        // A unit queued again (a producer that lost its job message while it still ran, or restarted between
        // queueing and committing) counts once, and the checkpoint never moves back.
        assert.deepEqual(await store.commitChunk(job.id, 10, { chunks: 2, nextFrame: 20 }), {
          inFlight: 3,
          cancelled: false,
        });
        assert.deepEqual(await store.waitForCapacity(job.id, 3, 10), { inFlight: 3, cancelled: false });
        assert.deepEqual(await store.producerCheckpoint(job.id), { chunks: 3, nextFrame: 30 });
        // Over the bound: the wait blocks until a worker reports a unit (no timer: the bound here is 60 s).
        const waiting = store.waitForCapacity(job.id, 2, 60_000);
        let woke = false;
        void waiting.then(() => {
          woke = true;
        });
        await new Promise((r) => setImmediate(r));
        assert.equal(woke, false);
        assert.equal(await store.completeUnit(job.id, 1, { inferred: 9, failed: 1 }), true);
        assert.deepEqual(await waiting, { inFlight: 2, cancelled: false });
        // A redelivered unit's second report changes nothing.
        assert.equal(await store.completeUnit(job.id, 1, { inferred: 9, failed: 1 }), false);
        const progress = (await store.get(job.id))!.progress;
        assert.deepEqual([progress.decoded, progress.inferred, progress.failed], [30, 9, 1]);
        // A cancel wakes a blocked producer too.
        const blocked = store.waitForCapacity(job.id, 0, 60_000);
        await store.requestCancel(job.id);
        assert.deepEqual(await blocked, { inFlight: 2, cancelled: true });
        assert.deepEqual(await store.commitChunk(job.id, 10, { chunks: 4, nextFrame: 40 }), {
          inFlight: 3,
          cancelled: true,
        });
        await store.clearInFlight(job.id);
        assert.equal((await store.waitForCapacity(job.id, 0, 10)).inFlight, 0);
      } finally {
        await store.close();
      }
    });
  });
}

test("creation in two steps (the job's tag, then the deployment's) leaves no record behind when it refuses", async () => {
  const keys = keysFor("cluster");
  const store = new RedisJobStore(redis, keys);
  const records = async () => {
    const [, found] = await redis.scan("0", "MATCH", `{${keys.prefix}:job:*`, "COUNT", 10_000);
    return found.length;
  };
  const spec = parseJobSpec({ input: "s3://in/a.mp4", output: "s3://out/a/", idempotencyKey: "k:2" });
  const first = await store.create(spec, { maxActive: 1 });
  assert.equal((await store.create(spec, { maxActive: 1 })).job.id, first.job.id);
  await assert.rejects(
    store.create(parseJobSpec({ input: "s3://in/b.mp4", output: "s3://out/b/" }), { maxActive: 1 }),
    /1 jobs are queued or running, the limit is 1/,
  );
  assert.equal(await records(), 1, "the refused creations' records are removed");
  // An ended job leaves the active set even when a first setState stopped before the set was updated.
  await redis.hset(keys.job(first.job.id), "state", "completed");
  assert.equal(await store.countActive(), 1);
  assert.equal(await store.setState(first.job.id, "failed"), false);
  assert.equal(await store.countActive(), 0);
});

for (const layout of ["plain", "cluster"] as const)
  test(`aggregator checkpoints (${layout} layout): saved, loaded, removed with every part`, async () => {
    const keys = keysFor(layout);
    const store = new RedisJobStore(redis, keys);
    const { job } = await store.create(parseJobSpec({ input: "s3://in/a.mp4", output: "s3://out/a/" }));
    const checkpoints = new RedisAggregatorCheckpoints<
      { version: 1; next: number },
      { trackId: number; n: number }
    >(redis, keys);
    assert.equal(await checkpoints.load(job.id), null);
    await checkpoints.save(job.id, {
      snapshot: { version: 1, next: 3 },
      linesInPart: false,
      newLines: ["a", "b"],
      newMotLines: ["m"],
      newPreviewLines: [],
      tracks: [{ trackId: 7, n: 1 }],
      progress: { written: 3, deadlineMisses: 1 },
    });
    await checkpoints.save(job.id, {
      snapshot: { version: 1, next: 4 },
      linesInPart: true,
      newLines: ["c"],
      newMotLines: [],
      newPreviewLines: ["p"],
      tracks: [{ trackId: 7, n: 2 }],
      progress: { written: 4, deadlineMisses: 1 },
    });
    assert.deepEqual(await checkpoints.load(job.id), {
      snapshot: { version: 1, next: 4 },
      lines: ["c"],
      motLines: ["m"],
      previewLines: ["p"],
      tracks: [{ trackId: 7, n: 2 }],
    });
    const progress = (await store.get(job.id))!.progress;
    assert.deepEqual([progress.written, progress.deadlineMisses], [4, 1], "progress set with the checkpoint");
    await checkpoints.remove(job.id);
    assert.equal(await redis.exists(...keys.checkpointKeys(job.id)), 0);
  });
