// `npm test` sets up what it needs: a throwaway redis-server when nothing answers at the test Redis address
// (stopped afterwards), and one line on how to install redis-server when there is none — no connection-error flood.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { answers, ensureTestRedis, INSTALL_HINTS } from "./support/test-services.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** A loopback port nothing listens on (taken and released). */
async function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

test("nothing at the test address: a throwaway redis-server on a port of its own, stopped after", async () => {
  const port = await unusedPort();
  const redis = await ensureTestRedis(`redis://127.0.0.1:${port}`);
  assert.ok(redis.server, "a server was started");
  const own = Number(new URL(redis.url).port);
  assert.notEqual(own, port);
  assert.equal(await answers("127.0.0.1", own), true);
  await redis.stop();
  assert.equal(await answers("127.0.0.1", own), false);
});

test("a Redis that answers is used as it is", async () => {
  const first = await ensureTestRedis(`redis://127.0.0.1:${await unusedPort()}`);
  try {
    const again = await ensureTestRedis(first.url);
    assert.equal(again.url, first.url);
    assert.equal(again.server, undefined);
  } finally {
    await first.stop();
  }
});

test("no redis-server on PATH: one line on how to install it, at once", async () => {
  const port = await unusedPort();
  const result = spawnSync(process.execPath, ["scripts/test.mjs", "packages/jobs/src/keys"], {
    cwd: root,
    env: { ...process.env, PATH: "/nonexistent", VDET_REDIS_URL: `redis://127.0.0.1:${port}` },
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(result.status, 1);
  assert.equal(result.stdout, "");
  assert.equal(result.stderr.trim(), `npm test: ${INSTALL_HINTS["redis-server"]}`);
});
