import assert from "node:assert/strict";
import { test } from "node:test";
import type { JobRecord } from "./job-state.ts";
import { streamState } from "./stream.ts";

const job = (over: Partial<JobRecord>): JobRecord =>
  ({ state: "running", progress: { decoded: 10 }, ...over }) as unknown as JobRecord;
const connection = (state: "connecting" | "live" | "reconnecting" | "stopped") => ({
  state,
  sinceMs: 0,
  reconnects: 0,
  gaps: 0,
});

test("a stream's state: the producer's connection while the job runs, stopped only once the job has ended", () => {
  assert.equal(
    streamState(job({ state: "queued", progress: { decoded: 0 } } as Partial<JobRecord>)),
    "connecting",
  );
  assert.equal(streamState(job({})), "live");
  assert.equal(streamState(job({ connection: connection("reconnecting") })), "reconnecting");
  assert.equal(streamState(job({ connection: connection("connecting") })), "connecting");
  // The producer stopped reading, the output is not final yet: not stopped.
  assert.equal(streamState(job({ connection: connection("stopped") })), "live");
  assert.equal(streamState(job({ state: "cancelled", connection: connection("stopped") })), "stopped");
  assert.equal(streamState(job({ state: "failed", connection: connection("reconnecting") })), "stopped");
});
