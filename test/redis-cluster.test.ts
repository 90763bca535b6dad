// A real three-master Redis Cluster on loopback (@vdet/transport/testing startRedisCluster): the four roles, started
// as `vdet <role>` would start them with VDET_REDIS_URL=redis+cluster://… and three queue partitions, run a job
// submitted over HTTP end to end (api → producer → worker → aggregator). The output is checked frame by frame
// against local mode, the key map's tags are checked to hold every multi-key command on one slot (the roles would
// fail with CROSSSLOT otherwise), and the deployment's keys and commands are checked to lie on more than one shard.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { DeploymentKeys } from "@vdet/jobs";
import { runLocal } from "@vdet/pipeline";
import { isTerminal } from "@vdet/protocol";
import {
  aggregatorConfigSchema,
  apiConfigSchema,
  loadConfig,
  producerConfigSchema,
  type RunningRole,
  startAggregatorRole,
  startApiRole,
  startProducerRole,
  startWorkerRole,
  workerConfigSchema,
} from "@vdet/roles";
import { checkRedis, connectRedis, deleteKeysWithPrefix, parseRedisUrl } from "@vdet/transport";
import { keysPerNode, type LocalRedisCluster, startRedisCluster } from "@vdet/transport/testing";
import { makeTestClip } from "@vdet/video/testing";
import { pino } from "pino";
import { parseTracks } from "./support/tracks.ts";
import { waitFor } from "./support/wait.ts";

// A fresh cluster per run, so one fixed prefix: the queues' and the deployment's slots are the same every run.
const PREFIX = "vdet";
const PARTITIONS = 3;
const SHARED_REDIS = process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379";
const token = "redis-cluster-test-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "vdet-cluster-"));
const roles: RunningRole[] = [];
let cluster: LocalRedisCluster | undefined;
let clip = "";

before(async () => {
  [cluster, clip] = await Promise.all([startRedisCluster(), makeTestClip(join(dir, "clip.mp4"), 1, 10)]);
});

after(async () => {
  for (const role of roles.reverse()) await role.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function commandsPerNode(): Promise<number[]> {
  return Promise.all(
    cluster!.nodes.map(async (node) =>
      Number(/total_commands_processed:(\d+)/.exec(await node.redis.info("stats"))![1]),
    ),
  );
}

test("the key map's tags: a job's keys on one slot, each queue partition on its own", async () => {
  const keys = new DeploymentKeys(PREFIX, { hashTags: true, partitions: PARTITIONS });
  const node = cluster!.nodes[0].redis;
  const slot = async (key: string) => Number(await node.cluster("KEYSLOT", key));
  const jobSlots = new Set(
    await Promise.all([keys.job("j_1"), keys.jobErrors("j_1"), ...keys.checkpointKeys("j_1")].map(slot)),
  );
  assert.equal(jobSlots.size, 1, "every key of a job on one slot (the checkpoint transaction)");
  const deploymentSlots = new Set(
    await Promise.all([keys.jobs, keys.active, keys.unqueued, keys.idempotency("k"), keys.models].map(slot)),
  );
  assert.equal(deploymentSlots.size, 1, "the deployment's keys on one slot (the job index script)");
  const partitionSlots = new Set(
    await Promise.all([0, 1, 2].map((p) => slot(keys.queue("frames", "wait", p)))),
  );
  assert.equal(partitionSlots.size, PARTITIONS, "each frames partition on its own slot");
  assert.throws(() => new DeploymentKeys("{vdet}", { hashTags: true }), /in braces.*VDET_PREFIX=vdet/);
  assert.throws(() => new DeploymentKeys("vdet", { partitions: 2 }), /need a Redis Cluster/);
  // A role's start-up check takes the cluster URL and refuses a plain Redis named as a cluster.
  await checkRedis(cluster!.url);
  const shared = new URL(SHARED_REDIS);
  await assert.rejects(
    checkRedis(
      `redis+cluster://${shared.password ? `:${shared.password}@` : ""}${shared.hostname}:${shared.port || 6379}`,
      {
        timeoutMs: 5000,
      },
    ),
    /names a Redis Cluster, but .+:\d+ is a Redis without cluster support/,
  );
});

test("a job runs end to end over a three-master Redis Cluster, its work spread over the shards", async (t) => {
  const started = Date.now();
  const mark = (what: string) => t.diagnostic(`${what}: ${Date.now() - started} ms`);
  const env = {
    VDET_REDIS_URL: cluster!.url,
    VDET_PREFIX: PREFIX,
    VDET_QUEUE_PARTITIONS: String(PARTITIONS),
    VDET_LOG_LEVEL: "warn",
    VDET_ALLOW_FILE_INPUTS: "1",
    VDET_ALLOW_DIRECTORY_OUTPUTS: "1",
    VDET_FRAMES_PER_CHUNK: "1",
    VDET_SEED: "0",
  };
  const logger = pino({ level: "warn" });
  const before = await commandsPerNode();
  const api = await startApiRole(
    loadConfig(apiConfigSchema, env, { port: 0, host: "127.0.0.1", token }),
    logger,
  );
  roles.push(api);
  roles.push(await startProducerRole(loadConfig(producerConfigSchema, env), logger));
  roles.push(await startWorkerRole(loadConfig(workerConfigSchema, env), logger));
  roles.push(startAggregatorRole(loadConfig(aggregatorConfigSchema, env), logger));
  mark("roles started");

  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const spec = { input: clip, output: join(dir, "cluster"), sampling: { fps: 5 }, scoreThreshold: 0 };
  const submitted = await fetch(`${api.url}/jobs`, { method: "POST", headers, body: JSON.stringify(spec) });
  assert.equal(submitted.status, 201, await submitted.clone().text());
  const id = ((await submitted.json()) as { job: { id: string } }).job.id;
  const done = await waitFor(
    `job ${id} to end`,
    async () => {
      const body = (await (await fetch(`${api.url}/jobs/${id}`, { headers })).json()) as {
        job: { state: string; progress: Record<string, number> };
      };
      return isTerminal(body.job.state as never) ? body.job : undefined;
    },
    60_000,
    100,
  );
  mark("job ended");
  // The backlog an autoscaler reads: summed over the partitions, the one worker seen on them.
  const backlog = (await (await fetch(`${api.url}/backlog`, { headers })).json()) as {
    backlog: { frames: number };
    workers: number;
  };
  assert.deepEqual({ frames: backlog.backlog.frames, workers: backlog.workers }, { frames: 0, workers: 1 });
  assert.equal(done.state, "completed");
  assert.equal(done.progress.written, 5);

  // The output: 1 s at 10 fps, every second frame, the same detections as local mode.
  const lines = parseTracks(readFileSync(join(dir, "cluster", "tracks.jsonl"), "utf8"));
  assert.deepEqual(
    lines.map((l) => l.frame),
    [...Array(5).keys()],
  );
  const local = await runLocal({ spec: { ...spec, output: join(dir, "local") }, seed: 0 });
  assert.equal(local.job.state, "completed");
  mark("local mode ended");
  const localLines = parseTracks(readFileSync(join(dir, "local", "tracks.jsonl"), "utf8"));
  assert.deepEqual(
    lines.map((l) => [l.ptsMs, l.detections.length]),
    localLines.map((l) => [l.ptsMs, l.detections.length]),
  );

  // Spread: the deployment's keys lie on more than one shard, and every shard served commands.
  const perNode = await keysPerNode(cluster!, new DeploymentKeys(PREFIX, { hashTags: true }).pattern);
  assert.ok(perNode.filter((n) => n > 0).length >= 2, `keys per shard: ${perNode}`);
  const after = await commandsPerNode();
  const delta = after.map((n, i) => n - before[i]);
  t.diagnostic(`commands per shard during the job: ${delta}, keys per shard after it: ${perNode}`);
  // With the prefix "vdet" the queue tags lie on all three masters (the events queue alone on the third, which
  // also takes its share of the job's and the frames' tags): every shard works, at least two of them a lot.
  assert.ok(
    delta.every((n) => n > 10),
    `commands per shard during the job: ${delta}`,
  );
  assert.ok(delta.filter((n) => n > 100).length >= 2, `commands per shard during the job: ${delta}`);

  // Clearing the deployment reaches every shard.
  for (const role of roles.splice(0).reverse()) await role.close();
  const redis = connectRedis(parseRedisUrl(cluster!.url));
  try {
    assert.ok((await deleteKeysWithPrefix(redis, PREFIX)) > 0);
    assert.deepEqual(
      await keysPerNode(cluster!, new DeploymentKeys(PREFIX, { hashTags: true }).pattern),
      [0, 0, 0],
    );
  } finally {
    await redis.quit();
  }
});
