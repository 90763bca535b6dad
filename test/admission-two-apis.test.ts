// VDET_MAX_ACTIVE_JOBS across api processes: two real api processes over one Redis, 60 concurrent submissions
// split between them with a limit of 3 — exactly 3 are admitted (the job store counts and creates in one Lua
// script), the rest get 429, and the deployment's active set holds exactly those 3.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DeploymentKeys } from "@vdet/jobs";
import { deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";
import { OutcomeLog } from "./support/outcomes.ts";
import { REDIS_URL } from "./support/redis-pipeline.ts";
import { waitFor } from "./support/wait.ts";

const outcomes = new OutcomeLog("security");
const root = fileURLToPath(new URL("..", import.meta.url));
const prefix = `adm2-${randomUUID().slice(0, 8)}`;
const token = "admission-two-apis-token-0123";
const children: ChildProcess[] = [];
const redis = new Redis(redisOptionsFromUrl(REDIS_URL));

after(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  }
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
  outcomes.flush();
});

/** Starts `vdet api` as its own process and returns its URL (from its "api listening" log line). */
async function startApi(): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", "services/api/src/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      VDET_REDIS_URL: REDIS_URL,
      VDET_PREFIX: prefix,
      VDET_API_TOKEN: token,
      VDET_API_HOST: "127.0.0.1",
      VDET_API_PORT: "0",
      VDET_MAX_ACTIVE_JOBS: "3",
      VDET_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (chunk) => {
    out += chunk.toString();
  });
  child.stderr?.on("data", (chunk) => {
    out += chunk.toString();
  });
  return waitFor(
    "the api process to listen",
    () => {
      if (child.exitCode !== null) throw new Error(`api exited ${child.exitCode}: ${out}`);
      return /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1];
    },
    60_000,
  );
}

test("60 concurrent submissions to two api processes with VDET_MAX_ACTIVE_JOBS=3 admit exactly 3", async (t) => {
  const urls = await Promise.all([startApi(), startApi()]);
  const statuses = await Promise.all(
    Array.from({ length: 60 }, async (_, i) => {
      const response = await fetch(`${urls[i % 2]}/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ input: `s3://videos/clip-${i}.mp4`, output: `s3://results/r${i}/` }),
      });
      await response.arrayBuffer();
      return response.status;
    }),
  );
  const admitted = statuses.filter((s) => s === 201).length;
  const refused = statuses.filter((s) => s === 429).length;
  assert.equal(admitted, 3, `statuses: ${statuses.join(",")}`);
  assert.equal(refused, 57);
  assert.equal(await redis.scard(new DeploymentKeys(prefix).active), 3);
  outcomes.add(
    "concurrency",
    "60 concurrent POSTs at two api processes, VDET_MAX_ACTIVE_JOBS=3",
    `${admitted} admitted (201), ${refused} refused (429)`,
    t.name,
  );
});
