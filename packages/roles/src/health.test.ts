import assert from "node:assert/strict";
import { test } from "node:test";
import { startHealthServer } from "./health.ts";

test("health server: /healthz always, /readyz follows the role's readiness and shutdown", async () => {
  let redisUp = true;
  const health = await startHealthServer(
    {
      ready: async () => {
        if (!redisUp) throw new Error("redis does not answer");
      },
    },
    0,
    "127.0.0.1",
  );
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${health.port}${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  try {
    assert.equal((await get("/healthz")).status, 200);
    assert.deepEqual(await get("/readyz"), { status: 200, body: { ready: true } });
    redisUp = false;
    assert.deepEqual(await get("/readyz"), {
      status: 503,
      body: { ready: false, error: "redis does not answer" },
    });
    redisUp = true;
    health.markStopping();
    assert.equal((await get("/readyz")).status, 503);
    assert.equal((await get("/healthz")).status, 200);
    assert.equal((await get("/metrics")).status, 404);
  } finally {
    await health.close();
  }
});
