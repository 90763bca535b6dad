// The routes around the job API: browser sign-in with ?token= (session cookie), the OpenAPI document and
// Swagger UI, result files and Range requests on the source video, bull-board behind the same authentication.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MemoryJobStore } from "@vdet/jobs";
import { parseJobSpec } from "@vdet/protocol";
import {
  createMemoryTransport,
  createRedisTransport,
  deleteKeysWithPrefix,
  redisOptionsFromUrl,
} from "@vdet/transport";
import { Redis } from "ioredis";
import { SESSION_COOKIE } from "./auth.ts";
import { buildServer } from "./server.ts";

const token = "routes-test-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "vdet-api-routes-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function server() {
  const jobStore = new MemoryJobStore();
  const app = await buildServer({
    transport: createMemoryTransport(),
    jobStore,
    token,
    allowFileInputs: true,
    allowDirectoryOutputs: true,
    queueMetrics: false,
  });
  return { app, jobStore };
}

test("?token= sets an HttpOnly SameSite=Strict session cookie and redirects without the token", async () => {
  const { app } = await server();
  const wrong = await app.inject({ method: "GET", url: "/jobs?token=nope" });
  assert.equal(wrong.statusCode, 401);
  const signIn = await app.inject({ method: "GET", url: `/ui/jobs/j_x?token=${token}&a=1` });
  assert.equal(signIn.statusCode, 303);
  assert.equal(signIn.headers.location, "/ui/jobs/j_x?a=1");
  const cookie = String(signIn.headers["set-cookie"]);
  assert.match(cookie, new RegExp(`^${SESSION_COOKIE}=[^;]+; HttpOnly; SameSite=Strict; Path=/`));
  assert.ok(!cookie.includes(token), "the cookie must not carry the token itself");
  const session = cookie.split(";")[0];
  assert.equal(
    (await app.inject({ method: "GET", url: "/jobs", headers: { cookie: session } })).statusCode,
    200,
  );
  assert.equal(
    (await app.inject({ method: "GET", url: "/jobs", headers: { cookie: `${SESSION_COOKIE}=forged` } }))
      .statusCode,
    401,
  );
  assert.equal((await app.inject({ method: "GET", url: "/jobs" })).statusCode, 401);
  // The pages themselves are public (they hold no data); their data calls are not.
  const page = await app.inject({ method: "GET", url: "/ui/" });
  assert.equal(page.statusCode, 200);
  assert.match(page.body, /<table id="jobs">/);
  assert.equal((await app.inject({ method: "GET", url: "/ui/assets/job.js" })).statusCode, 200);
  assert.equal((await app.inject({ method: "GET", url: "/ui/assets/../server.ts" })).statusCode, 404);
  await app.close();
});

test("OpenAPI: /openapi.json is generated from the zod job spec, Swagger UI at /docs", async () => {
  const { app } = await server();
  const doc = (await app.inject({ method: "GET", url: "/openapi.json" })).json();
  assert.equal(doc.openapi, "3.1.0");
  const spec = doc.components.schemas.JobSpec;
  assert.deepEqual(spec.required.sort(), ["input", "output"]);
  assert.equal(spec.properties.latencyBudgetMs.minimum, 10);
  assert.equal(spec.properties.priority.maximum, 10);
  assert.deepEqual(spec.properties.mode.enum, ["latency", "archive"]);
  assert.ok(doc.paths["/jobs"].post && doc.paths["/jobs/{id}/tracks"].get);
  const ui = await app.inject({ method: "GET", url: "/docs/" });
  assert.equal(ui.statusCode, 200);
  assert.match(ui.body, /swagger/i);
  await app.close();
});

test("results: summary, tracks (parts while running), video with Range, 404s that say why", async () => {
  const { app, jobStore } = await server();
  const auth = { authorization: `Bearer ${token}` };
  const video = join(dir, "clip.mp4");
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  writeFileSync(video, bytes);
  const out = join(dir, "out");
  mkdirSync(join(out, "tracks"), { recursive: true });
  const { job } = await jobStore.create(parseJobSpec({ input: video, output: out }));
  const url = (path: string) => `/jobs/${job.id}${path}`;

  const noSummary = await app.inject({ method: "GET", url: url("/summary"), headers: auth });
  assert.equal(noSummary.statusCode, 404);
  assert.match(noSummary.json().error, /written when the job ends/);
  // Running: tracks.jsonl is still numbered parts.
  writeFileSync(join(out, "tracks", "part-000001.jsonl"), '{"frame":0}\n');
  writeFileSync(join(out, "tracks", "part-000002.jsonl"), '{"frame":1}\n');
  const partial = await app.inject({ method: "GET", url: url("/tracks"), headers: auth });
  assert.equal(partial.body, '{"frame":0}\n{"frame":1}\n');
  assert.equal(partial.headers["x-vdet-complete"], "false");
  writeFileSync(join(out, "tracks.jsonl"), '{"frame":0}\n{"frame":1}\n{"frame":2}\n');
  writeFileSync(join(out, "summary.json"), '{"tracks":0}');
  const whole = await app.inject({ method: "GET", url: url("/tracks"), headers: auth });
  assert.equal(whole.headers["x-vdet-complete"], "true");
  assert.equal(whole.body.split("\n").length, 4);
  assert.deepEqual((await app.inject({ method: "GET", url: url("/summary"), headers: auth })).json(), {
    tracks: 0,
  });

  // The input is served only once the producer probed it as a video.
  const unprobed = await app.inject({ method: "GET", url: url("/video"), headers: auth });
  assert.equal(unprobed.statusCode, 404);
  assert.match(unprobed.json().error, /not been probed as a video/);
  await jobStore.setVideo(job.id, { width: 32, height: 32, fps: 10, durationMs: 1000, codec: "h264" });
  const full = await app.inject({ method: "GET", url: url("/video"), headers: auth });
  assert.equal(full.statusCode, 200);
  assert.equal(full.headers["content-type"], "video/mp4");
  assert.equal(full.headers["accept-ranges"], "bytes");
  assert.deepEqual(full.rawPayload, bytes);
  const range = await app.inject({
    method: "GET",
    url: url("/video"),
    headers: { ...auth, range: "bytes=100-199" },
  });
  assert.equal(range.statusCode, 206);
  assert.equal(range.headers["content-range"], "bytes 100-199/1000");
  assert.deepEqual(range.rawPayload, bytes.subarray(100, 200));
  const suffix = await app.inject({
    method: "GET",
    url: url("/video"),
    headers: { ...auth, range: "bytes=-10" },
  });
  assert.deepEqual(suffix.rawPayload, bytes.subarray(990));
  const beyond = await app.inject({
    method: "GET",
    url: url("/video"),
    headers: { ...auth, range: "bytes=5000-" },
  });
  assert.equal(beyond.statusCode, 416);
  const preview = await app.inject({ method: "GET", url: url("/preview"), headers: auth });
  assert.equal(preview.statusCode, 404);
  assert.match(preview.json().error, /preview: true/);
  assert.equal(
    (await app.inject({ method: "GET", url: "/jobs/j_none/summary", headers: auth })).statusCode,
    404,
  );
  await app.close();
});

test("bull-board lists the Redis transport's queues, behind the API's authentication", async () => {
  const redisUrl = process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379";
  const prefix = `vdet-board-${randomUUID().slice(0, 8)}`;
  const transport = createRedisTransport({ url: redisUrl, prefix });
  const redis = new Redis(redisOptionsFromUrl(redisUrl));
  const app = await buildServer({ transport, jobStore: new MemoryJobStore(), token, queueMetrics: false });
  try {
    await transport.jobs.add({ jobId: "j_board" }, { id: "j_board" });
    assert.equal((await app.inject({ method: "GET", url: "/admin/queues" })).statusCode, 401);
    const auth = { authorization: `Bearer ${token}` };
    const page = await app.inject({ method: "GET", url: "/admin/queues", headers: auth });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<html/i);
    const queues = (
      await app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: auth })
    ).json();
    const names = queues.queues.map((q: { name: string }) => q.name).sort();
    // The BullMQ queues; results and events are Redis streams (transport's StreamQueue), not shown by bull-board.
    assert.deepEqual(names, ["frames", "jobs", "segments"]);
    const jobs = queues.queues.find((q: { name: string }) => q.name === "jobs");
    assert.equal(jobs.counts.prioritized + jobs.counts.waiting, 1);
  } finally {
    await app.close();
    await transport.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
});

test("analytics and events of a job with zones: live while it runs, 404s that say why", async () => {
  const { app, jobStore } = await server();
  const auth = { authorization: `Bearer ${token}` };
  const out = join(dir, "zones-out");
  mkdirSync(join(out, "events"), { recursive: true });
  const zones = { lines: [{ name: "gate", from: [0, 5], to: [10, 5] }] };
  const { job } = await jobStore.create(parseJobSpec({ input: join(dir, "a.mp4"), output: out, zones }));
  const get = (id: string, path: string) =>
    app.inject({ method: "GET", url: `/jobs/${id}${path}`, headers: auth });

  const none = await get(job.id, "/analytics");
  assert.equal(none.statusCode, 404);
  assert.match(none.json().error, /written once the first frames are in/);
  // Running: events.jsonl is numbered parts, analytics.json the counts so far.
  writeFileSync(join(out, "events", "part-000001.jsonl"), '{"type":"cross-in"}\n');
  writeFileSync(join(out, "analytics.json"), '{"frames":3,"zones":[],"lines":[]}\n');
  const partial = await get(job.id, "/events");
  assert.equal(partial.body, '{"type":"cross-in"}\n');
  assert.equal(partial.headers["x-vdet-complete"], "false");
  assert.equal((await get(job.id, "/analytics")).json().frames, 3);
  writeFileSync(join(out, "events.jsonl"), '{"type":"cross-in"}\n{"type":"cross-out"}\n');
  const whole = await get(job.id, "/events");
  assert.equal(whole.headers["x-vdet-complete"], "true");
  assert.equal(whole.body.split("\n").length, 3);

  const plain = (await jobStore.create(parseJobSpec({ input: join(dir, "b.mp4"), output: join(dir, "b") })))
    .job;
  for (const path of ["/events", "/analytics"]) {
    const response = await get(plain.id, path);
    assert.equal(response.statusCode, 404);
    assert.match(response.json().error, /has no zones or lines/);
  }
});
