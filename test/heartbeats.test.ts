// Hole 9 of issue 17: a job whose workers and aggregator are all dead must not look merely "running". Roles
// publish heartbeats to Redis; here real processes publish them and are killed with SIGKILL (no clean-up), and
// GET /jobs/:id then says `stalled: no worker has taken frames for N s; no aggregator`, and /metrics counts the
// live roles by kind.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { buildServer } from "@vdet/api";
import { DeploymentKeys, RedisJobStore, readRoleLiveness } from "@vdet/jobs";
import { parseJobSpec } from "@vdet/protocol";
import { createMemoryTransport, deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";
import { OutcomeLog } from "./support/outcomes.ts";
import { REDIS_URL } from "./support/redis-pipeline.ts";
import { waitFor } from "./support/wait.ts";

const outcomes = new OutcomeLog("security");
const root = fileURLToPath(new URL("..", import.meta.url));
const prefix = `hb-${randomUUID().slice(0, 8)}`;
const token = "heartbeats-test-token-0123456";
const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
const children: ChildProcess[] = [];

after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
  outcomes.flush();
});

/** A process that publishes a role's heartbeat every 100 ms (as a role does through @vdet/roles' connect). */
function startRoleProcess(role: string): ChildProcess {
  const script = `
    import { DeploymentKeys, startHeartbeat } from "@vdet/jobs";
    import { redisOptionsFromUrl } from "@vdet/transport";
    import { Redis } from "ioredis";
    const redis = new Redis(redisOptionsFromUrl(${JSON.stringify(REDIS_URL)}));
    const hb = startHeartbeat(redis, new DeploymentKeys(${JSON.stringify(prefix)}), { role: ${JSON.stringify(role)}, intervalMs: 100 });
    await hb.beat();
    console.log("beating");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return child;
}

test("workers and aggregator killed with SIGKILL: GET /jobs/:id says stalled, /metrics counts live roles", async (t) => {
  const jobStore = new RedisJobStore(redis, prefix);
  const app = await buildServer({
    transport: createMemoryTransport(),
    jobStore,
    token,
    queueMetrics: false,
    roleLiveness: () => readRoleLiveness(redis, new DeploymentKeys(prefix)),
  });
  const auth = { authorization: `Bearer ${token}` };
  try {
    const roles = ["producer", "worker", "worker", "aggregator"].map(startRoleProcess);
    await Promise.all(roles.map((child) => once(child.stdout!, "data")));
    const { job } = await jobStore.create(
      parseJobSpec({ input: "s3://videos/a.mp4", output: "s3://out/a/" }),
    );
    await jobStore.setState(job.id, "running");
    const get = async () =>
      (await app.inject({ method: "GET", url: `/jobs/${job.id}`, headers: auth })).json();
    assert.equal((await get()).stalled, undefined, "served while every role is alive");
    const metrics = async () => (await app.inject({ method: "GET", url: "/metrics", headers: auth })).body;
    assert.match(await metrics(), /vdet_live_roles\{kind="worker"\} 2/);

    for (const child of roles.slice(1)) child.kill("SIGKILL");
    await Promise.all(roles.slice(1).map((child) => once(child, "exit")));
    const body = await waitFor(
      "the job to be reported stalled",
      async () => {
        const answer = await get();
        return answer.stalled?.includes("no aggregator") && answer.stalled.includes("no worker")
          ? answer
          : undefined;
      },
      10_000,
    );
    assert.match(body.stalled, /^stalled: no worker has taken frames for \d+ s; no aggregator$/);
    assert.equal(body.job.state, "running");
    const text = await metrics();
    assert.match(text, /vdet_live_roles\{kind="worker"\} 0/);
    assert.match(text, /vdet_live_roles\{kind="producer"\} 1/);
    outcomes.add(
      "operations",
      "every worker and the aggregator killed (SIGKILL) mid-job",
      `GET /jobs/:id: "${body.stalled}"; vdet_live_roles{kind="worker"} 0`,
      t.name,
    );
  } finally {
    await app.close();
  }
});
