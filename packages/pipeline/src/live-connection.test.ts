// LiveConnection's stream events: one stream.state per state change (not per failed attempt), and a source's
// outage as stream.gap.started and stream.gap.ended under the same key, sent only when the job names notify.

import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryJobStore } from "@vdet/jobs";
import { type NotifyTarget, parseJobSpec } from "@vdet/protocol";
import { VideoUnreachableError } from "@vdet/video";
import { LiveConnection, type StreamEventSink } from "./live-connection.ts";
import { silentLogger } from "./logger.ts";

interface Sent {
  target: NotifyTarget | undefined;
  streamId: string;
  type: string;
  key: string;
  data: Record<string, unknown>;
}

function recordingSink(): StreamEventSink & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    async streamEvent(target, streamId, type, key, data) {
      sent.push({ target, streamId, type, key, data });
    },
  };
}

const reconnect = { initialDelayMs: 1, maxDelayMs: 1, jitter: 0, giveUpAfterMs: 60_000 };

test("state changes and an outage are sent as stream events to the job's notify target", async () => {
  const jobStore = new MemoryJobStore();
  const notify = { webhook: "https://hooks.example.com/vdet", tag: "cam" };
  const { job } = await jobStore.create(
    parseJobSpec({ input: "rtsp://cam.example/live", output: "/tmp/out", notify, reconnect }),
  );
  const sink = recordingSink();
  const live = new LiveConnection(job, jobStore, silentLogger, sink);
  await live.start();
  await live.connected(undefined, 0, Date.now());
  const lost = new VideoUnreachableError("connection refused");
  assert.equal(await live.ended(lost, 5000, Date.now() - 100), "reconnect");
  // A second failed attempt while reconnecting: no new state event, no second gap start.
  assert.equal(await live.ended(lost, 5000, Date.now()), "reconnect");
  // The new connection's first frame, placed after the old timeline by the time lost.
  await live.connected(5000, 8100, Date.now() + 3000);
  await live.stop();

  for (const e of sink.sent) {
    assert.deepEqual(e.target, notify);
    assert.equal(e.streamId, job.id);
  }
  assert.deepEqual(
    sink.sent.map((e) => (e.type === "stream.state" ? `${e.data.previous}→${e.data.state}` : e.type)),
    [
      "connecting→live",
      "stream.gap.started",
      "live→reconnecting",
      "stream.gap.ended",
      "reconnecting→live",
      "live→stopped",
    ],
  );
  const started = sink.sent.find((e) => e.type === "stream.gap.started")!;
  const ended = sink.sent.find((e) => e.type === "stream.gap.ended")!;
  assert.equal(started.key, ended.key);
  assert.equal(started.data.reason, "dropped");
  assert.equal(started.data.fromMs, 5000);
  assert.deepEqual(ended.data, { ...live.gaps[0], lostFrames: true });
  assert.ok((ended.data.toMs as number) >= 8000, JSON.stringify(ended.data));
  const reconnecting = sink.sent.find((e) => e.data.state === "reconnecting")!;
  assert.match(reconnecting.data.reason as string, /^dropped: connection refused/);
  assert.equal(reconnecting.data.reconnects, 1);
  // Each state event's key is its state and time: distinct ids.
  const keys = sink.sent.filter((e) => e.type === "stream.state").map((e) => e.key);
  assert.equal(new Set(keys).size, keys.length);
});

test("a live job without notify sends no stream events", async () => {
  const jobStore = new MemoryJobStore();
  const { job } = await jobStore.create(
    parseJobSpec({ input: "rtsp://cam.example/live", output: "/tmp/out", reconnect }),
  );
  const sink = recordingSink();
  const live = new LiveConnection(job, jobStore, silentLogger, sink);
  await live.start();
  await live.connected(undefined, 0, Date.now());
  await live.ended(new VideoUnreachableError("refused"), 1000, Date.now());
  await live.stop();
  assert.deepEqual(sink.sent, []);
});
