// Heartbeats on the real Redis: what a role publishes (its kind, id and the jobs it holds) is what readers see,
// until the role closes or its entry expires; expired entries are removed by the reader.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, test } from "node:test";
import { Redis } from "ioredis";
import { readHeartbeats, readRoleLiveness, startHeartbeat } from "./heartbeats.ts";
import { DeploymentKeys, deleteDeploymentKeys } from "./keys.ts";

const redis = new Redis(process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
const keys = new DeploymentKeys(`vdet-hb-${randomUUID().slice(0, 8)}`);

after(async () => {
  await deleteDeploymentKeys(redis, keys);
  await redis.quit();
});

test("a heartbeat carries the jobs its role holds; close removes it; an expired one is dropped", async () => {
  let held = ["job-a"];
  const worker = startHeartbeat(redis, keys, {
    role: "worker",
    id: "w1",
    jobs: () => held,
    intervalMs: 60_000,
  });
  const aggregator = startHeartbeat(redis, keys, { role: "aggregator", id: "a1", intervalMs: 60_000 });
  await Promise.all([worker.beat(), aggregator.beat()]);
  let beats = await readHeartbeats(redis, keys);
  assert.deepEqual(beats.find((b) => b.id === "w1")?.jobs, ["job-a"]);
  assert.deepEqual(beats.find((b) => b.id === "a1")?.jobs, []);

  held = ["job-a", "job-b"];
  await worker.beat();
  beats = await readHeartbeats(redis, keys);
  assert.deepEqual(beats.find((b) => b.id === "w1")?.jobs, ["job-a", "job-b"]);

  await aggregator.close();
  const liveness = await readRoleLiveness(redis, keys);
  assert.equal(liveness.live.worker, 1);
  assert.equal(liveness.live.aggregator, 0);
  assert.ok(liveness.lastSeenMs.aggregator !== undefined, "the kind's last sighting stays");

  // Read as if 3 intervals had passed without a renewal (a SIGKILLed role): gone, and its entry removed.
  assert.deepEqual(await readHeartbeats(redis, keys, Date.now() + 3 * 60_000 + 1), []);
  assert.equal(await redis.hlen(keys.heartbeats), 0);
  await worker.close();
});
