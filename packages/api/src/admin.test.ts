// bull-board is self-contained: its page links nothing on another host, and a Content-Security-Policy on every
// /admin/queues response would block such a load; finished job messages stay listed for the configured time.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { MemoryJobStore } from "@vdet/jobs";
import { createRedisTransport, deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { Redis } from "ioredis";
import { TEST_REDIS_URL } from "../../../test/support/redis-url.ts";
import { waitFor } from "../../../test/support/wait.ts";
import { ADMIN_CSP, stripExternalLinks } from "./admin.ts";
import { buildServer } from "./server.ts";

const token = "admin-test-token-0123456789";
const auth = { authorization: `Bearer ${token}` };

test("stripExternalLinks drops links to other hosts and keeps this server's", () => {
  const html =
    '<link rel="icon" href="static/x.svg">\n' +
    '    <link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans" rel="stylesheet">\n' +
    '<link href="//cdn.example/x.css" rel="stylesheet"><link href="static/css/main.css" rel="stylesheet">';
  const out = stripExternalLinks(html);
  assert.doesNotMatch(out, /googleapis|cdn\.example/);
  assert.match(out, /static\/x\.svg/);
  assert.match(out, /static\/css\/main\.css/);
});

test("bull-board: no third-party fonts, a CSP that allows only this server, finished jobs still listed", async () => {
  const prefix = `vdet-admin-${randomUUID().slice(0, 8)}`;
  const transport = createRedisTransport({ url: TEST_REDIS_URL, prefix, keepFinishedJobsSeconds: 3600 });
  const redis = new Redis(redisOptionsFromUrl(TEST_REDIS_URL));
  const app = await buildServer({ transport, jobStore: new MemoryJobStore(), token, queueMetrics: false });
  const consumer = transport.jobs.consume(async () => {});
  try {
    const page = await app.inject({ method: "GET", url: "/admin/queues", headers: auth });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<html/i);
    assert.doesNotMatch(page.body, /fonts\.googleapis|fonts\.gstatic/);
    assert.doesNotMatch(page.body, /(?:href|src)="(?:https?:)?\/\//, "nothing loaded from another host");
    assert.equal(page.headers["content-security-policy"], ADMIN_CSP);
    for (const directive of ["default-src 'self'", "font-src 'self'", "script-src 'self'"])
      assert.ok(ADMIN_CSP.includes(directive), directive);
    assert.doesNotMatch(ADMIN_CSP, /https?:|\*/, "no other host is allowed");
    const api = await app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: auth });
    assert.equal(api.headers["content-security-policy"], ADMIN_CSP);

    await transport.jobs.add({ jobId: "j_done" }, { id: "j_done" });
    const completed = await waitFor("the finished job message listed as completed", async () => {
      const queues = (
        await app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: auth })
      ).json();
      const jobs = queues.queues.find((q: { name: string }) => q.name === "jobs");
      return jobs.counts.completed > 0 ? jobs.counts.completed : undefined;
    });
    assert.equal(completed, 1);
  } finally {
    await consumer.close();
    await app.close();
    await transport.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
});
