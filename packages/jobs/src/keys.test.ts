// The key map: every key of a deployment under its prefix, the plain layout older deployments wrote kept as it was,
// the hash-tagged layout of a Redis Cluster (no multi-key step across two tags), and clearing one deployment
// leaves the others alone.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, test } from "node:test";
import { Redis } from "ioredis";
import { DeploymentKeys, deleteDeploymentKeys } from "./keys.ts";

const redis = new Redis(process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379", {
  maxRetriesPerRequest: null,
});
after(() => redis.quit());

function everyKey(keys: DeploymentKeys): string[] {
  return [
    keys.jobs,
    keys.active,
    keys.unqueued,
    keys.models,
    keys.idempotency("client:42"),
    keys.job("j_1"),
    keys.jobErrors("j_1"),
    ...keys.inFlightKeys("j_1"),
    ...keys.checkpointKeys("j_1"),
    keys.frame("j_1/0"),
    keys.queue("frames", "wait"),
  ];
}

test("the layout: every key under the prefix, as deployments have written them", () => {
  const keys = new DeploymentKeys("vdet");
  assert.deepEqual(everyKey(keys), [
    "vdet:jobs",
    "vdet:active",
    "vdet:unqueued",
    "vdet:models",
    "vdet:idem:client:42",
    "vdet:job:j_1",
    "vdet:job:j_1:errors",
    "vdet:job:j_1:inflight",
    "vdet:job:j_1:tokens",
    "vdet:job:j_1:done",
    "vdet:job:j_1:queued",
    "vdet:agg:j_1",
    "vdet:agg:j_1:lines",
    "vdet:agg:j_1:mot",
    "vdet:agg:j_1:preview",
    "vdet:agg:j_1:tracks",
    "vdet:frame:j_1/0",
    "vdet:frames:wait",
  ]);
  assert.equal(keys.queuePrefix("frames"), "vdet");
  assert.equal(new DeploymentKeys().prefix, "vdet");
});

test("a prefix in braces is a hash tag: every key of the deployment on one Redis Cluster slot", () => {
  const keys = new DeploymentKeys("{vdet}");
  for (const key of everyKey(keys)) assert.ok(key.startsWith("{vdet}:"), key);
  for (const bad of ["", "a:b", "a*", "{a", "a}", "{a}b", "a b"]) {
    assert.throws(() => new DeploymentKeys(bad), /invalid Redis key prefix/, bad);
  }
});

test("the hash-tagged layout: a job's keys on its tag, the deployment's on its own, a tag per queue partition", () => {
  const keys = new DeploymentKeys("vdet", { hashTags: true, partitions: 3 });
  assert.deepEqual(everyKey(keys), [
    "{vdet}:jobs",
    "{vdet}:active",
    "{vdet}:unqueued",
    "{vdet}:models",
    "{vdet}:idem:client:42",
    "{vdet:job:j_1}",
    "{vdet:job:j_1}:errors",
    "{vdet:job:j_1}:inflight",
    "{vdet:job:j_1}:tokens",
    "{vdet:job:j_1}:done",
    "{vdet:job:j_1}:queued",
    "{vdet:job:j_1}:agg",
    "{vdet:job:j_1}:agg:lines",
    "{vdet:job:j_1}:agg:mot",
    "{vdet:job:j_1}:agg:preview",
    "{vdet:job:j_1}:agg:tracks",
    "{vdet:frame:j_1/0}",
    "{vdet:queue:frames}:frames:wait",
  ]);
  assert.deepEqual(
    [0, 1, 2].map((p) => keys.queue("frames", "wait", p)),
    [
      "{vdet:queue:frames:0}:frames:wait",
      "{vdet:queue:frames:1}:frames:wait",
      "{vdet:queue:frames:2}:frames:wait",
    ],
  );
  assert.throws(() => keys.queuePrefix("frames", 3), /outside 0…2/);
  // The plain layout has one partition, and the tagged one refuses a prefix that is itself a tag.
  assert.equal(new DeploymentKeys("vdet").queue("frames", "wait", 0), "vdet:frames:wait");
  assert.throws(() => new DeploymentKeys("vdet", { partitions: 2 }), /need a Redis Cluster/);
  assert.throws(() => new DeploymentKeys("{vdet}", { hashTags: true }), /VDET_PREFIX=vdet/);
  assert.throws(() => new DeploymentKeys("vdet", { hashTags: true, partitions: 0 }), /whole number/);
});

test("clearing a deployment deletes its keys and no other deployment's", async () => {
  const base = `vdet-keys-${randomUUID().slice(0, 8)}`;
  const mine = new DeploymentKeys(base);
  const other = new DeploymentKeys(`${base}-other`);
  const tagged = new DeploymentKeys(`{${base}}`);
  // (`{base}` in braces names the same deployment-wide keys as the tagged layout of `base`: another name here.)
  const cluster = new DeploymentKeys(`${base}-c`, { hashTags: true });
  const clusterOther = new DeploymentKeys(`${base}-c-other`, { hashTags: true });
  for (const keys of [mine, other, tagged, cluster, clusterOther]) {
    for (const key of everyKey(keys)) await redis.set(key, "1");
  }
  assert.equal(await deleteDeploymentKeys(redis, mine), everyKey(mine).length);
  assert.equal(await redis.exists(...everyKey(mine)), 0);
  assert.equal(await redis.exists(...everyKey(other)), everyKey(other).length);
  assert.equal(await deleteDeploymentKeys(redis, tagged), everyKey(tagged).length);
  assert.equal(await deleteDeploymentKeys(redis, other), everyKey(other).length);
  // The tagged layout's pattern takes `{base}:…` and `{base:…}`, not `{base-other…}`.
  assert.equal(await deleteDeploymentKeys(redis, cluster), everyKey(cluster).length);
  assert.equal(await redis.exists(...everyKey(clusterOther)), everyKey(clusterOther).length);
  assert.equal(await deleteDeploymentKeys(redis, clusterOther), everyKey(clusterOther).length);
});
