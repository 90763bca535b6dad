// The streams routes over the in-memory job store and queues: a stream is created and queued as a job whose spec
// carries `stream`, listed apart from jobs, shown and removed; bad stream specs are refused naming each bad field.
// (test/streams-api.test.ts runs a stream through the real roles.)

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { InputPolicy } from "@vdet/input-policy";
import { MemoryJobStore, MemoryNotificationStore } from "@vdet/jobs";
import type { NotificationDelivery } from "@vdet/protocol";
import { createMemoryTransport } from "@vdet/transport";
import { buildServer } from "./server.ts";

const token = "streams-routes-token-0123456789";
// A loopback camera nothing ever reads here (no producer runs); the policy lets loopback through as a single-machine
// deployment would (VDET_INPUT_ALLOW_ADDRESSES=127.0.0.1/32).
const camera = "rtsp://127.0.0.1:8554/cam1";
const dir = mkdtempSync(join(tmpdir(), "vdet-stream-routes-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function server() {
  const jobStore = new MemoryJobStore();
  const transport = createMemoryTransport();
  const notifications = new MemoryNotificationStore();
  const app = await buildServer({
    transport,
    jobStore,
    notifications,
    token,
    inputPolicy: new InputPolicy({ allowAddresses: ["127.0.0.1/32"] }),
    allowDirectoryOutputs: true,
    queueMetrics: false,
  });
  const call = async (method: "GET" | "POST" | "DELETE", url: string, body?: unknown) => {
    const response = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { payload: JSON.stringify(body) } : {}),
    });
    return { status: response.statusCode, body: response.json() };
  };
  return { app, jobStore, transport, notifications, call };
}

test("a stream is created as a queued latency job, listed apart from jobs, shown and removed", async () => {
  const { app, jobStore, transport, call } = await server();
  try {
    const created = await call("POST", "/streams", {
      input: camera,
      output: join(dir, "cams", "1"),
      latencyBudgetMs: 500,
      sampling: { fps: 2 },
      phi: { min: 0, max: 1 },
      classes: ["person", "car"],
      name: "front door",
      partMinutes: 5,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { stream } = created.body;
    assert.equal(stream.state, "connecting");
    assert.equal(stream.name, "front door");
    assert.equal(stream.partMinutes, 5);
    assert.equal(stream.job.spec.mode, "latency");
    assert.deepEqual(stream.job.spec.stream, { name: "front door", partMinutes: 5 });
    assert.equal((await transport.jobs.counts()).waiting, 1, "queued for a producer like any job");
    // A plain job is not a stream.
    const job = await call("POST", "/jobs", { input: "s3://in/a.mp4", output: "s3://out/a/" });
    assert.equal(job.status, 201);
    const list = await call("GET", "/streams");
    assert.deepEqual(
      list.body.streams.map((s: { id: string }) => s.id),
      [stream.id],
    );
    assert.equal((await call("GET", `/streams/${job.body.job.id}`)).status, 404);
    const shown = await call("GET", `/streams/${stream.id}`);
    assert.equal(shown.status, 200);
    assert.deepEqual(shown.body.parts, [], "no part before the aggregator writes one");
    // The aggregator's figures show up in the view.
    await jobStore.setStreamStats(stream.id, {
      atMs: Date.now(),
      fpsIn: 2,
      fpsOut: 1.5,
      deadlineHitRate: 0.75,
      phi: 1,
    });
    const measured = (await call("GET", `/streams/${stream.id}`)).body.stream;
    assert.deepEqual(
      [measured.fpsIn, measured.fpsOut, measured.deadlineHitRate, measured.phi],
      [2, 1.5, 0.75, 1],
    );
    const removed = await call("DELETE", `/streams/${stream.id}`);
    assert.equal(removed.status, 202);
    assert.equal(removed.body.stream.job.cancelRequested, true);
    await jobStore.setState(stream.id, "cancelled"); // as the aggregator does once the output is final
    assert.equal((await call("GET", `/streams/${stream.id}`)).body.stream.state, "stopped");
    const again = await call("DELETE", `/streams/${stream.id}`);
    assert.equal(again.status, 409);
    assert.match(again.body.error, /already stopped/);
    assert.equal((await call("DELETE", "/streams/j_nosuchstream")).status, 404);
    assert.equal((await call("GET", "/streams/bad id!")).status, 400);
  } finally {
    await app.close();
  }
});

test("bad stream specs are refused, naming each bad field", async () => {
  const { app, call } = await server();
  try {
    const base = { input: camera, output: "s3://out/cams/2/", latencyBudgetMs: 500 };
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ["a file", { ...base, input: "/videos/a.mp4" }, /input: a stream reads a live source/],
      ["an s3 object", { ...base, input: "s3://in/a.mp4" }, /input: a stream reads a live source/],
      ["no budget", { input: camera, output: "s3://out/x/" }, /latencyBudgetMs/],
      ["a tiny part", { ...base, partMinutes: 0.01 }, /partMinutes: partMinutes must be at least 0\.05/],
      ["maxFrames", { ...base, maxFrames: 10 }, /maxFrames/],
      ["preview", { ...base, preview: true }, /preview/],
      ["archive mode", { ...base, mode: "archive" }, /mode/],
      ["no output", { input: camera, latencyBudgetMs: 500 }, /output/],
    ];
    for (const [what, body, message] of cases) {
      const response = await call("POST", "/streams", body);
      assert.equal(response.status, 400, what);
      assert.match(response.body.error, /^invalid stream spec: /, what);
      assert.match(response.body.error, message, `${what}: ${response.body.error}`);
    }
    // The address policy applies as to jobs.
    const lan = await call("POST", "/streams", { ...base, input: "rtsp://10.1.2.3/cam" });
    assert.equal(lan.status, 400);
    assert.match(lan.body.error, /^invalid stream spec: input: /);
  } finally {
    await app.close();
  }
});

test("a stream's notification deliveries: its stream events and its job event, oldest first; 404 for a file job", async () => {
  const { app, notifications, call } = await server();
  try {
    const created = await call("POST", "/streams", {
      input: camera,
      output: join(dir, "cams", "notified"),
      latencyBudgetMs: 500,
      notify: { webhook: "http://127.0.0.1:9/hook" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id: string = created.body.stream.id;
    const attempt = (type: NotificationDelivery["type"], eventId: string, atMs: number, ok: boolean) => ({
      eventId,
      type,
      channel: "webhook" as const,
      target: "http://127.0.0.1:9/hook",
      attempt: 1,
      atMs,
      ok,
      final: true,
      ...(ok ? { status: 200 } : { error: "connect ECONNREFUSED" }),
    });
    // Logged as the roles log them: stream events under {kind: "stream"}, the job's end under {kind: "job"}.
    await notifications.appendDelivery(
      { kind: "stream", id },
      attempt("stream.state", `stream:${id}:state:live:1000`, 1000, true),
    );
    await notifications.appendDelivery(
      { kind: "job", id },
      attempt("job.cancelled", `job:${id}:cancelled`, 3000, false),
    );
    await notifications.appendDelivery(
      { kind: "stream", id },
      attempt("stream.state", `stream:${id}:state:stopped:2000`, 2000, true),
    );
    const expected = ["stream.state@1000", "stream.state@2000", "job.cancelled@3000"];
    for (const url of [`/streams/${id}/notifications`, `/jobs/${id}/notifications`]) {
      const res = await call("GET", url);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.deliveries.map((d: { type: string; atMs: number }) => `${d.type}@${d.atMs}`),
        expected,
        url,
      );
    }

    const job = await call("POST", "/jobs", { input: camera, output: join(dir, "cams", "job") });
    assert.equal(job.status, 201, JSON.stringify(job.body));
    const notStream = await call("GET", `/streams/${job.body.job.id}/notifications`);
    assert.equal(notStream.status, 404);
    assert.match(notStream.body.error, /no stream/);
    assert.equal((await call("GET", "/streams/job_nosuchjob/notifications")).status, 404);
  } finally {
    await app.close();
  }
});
