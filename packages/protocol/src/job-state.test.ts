// Job states and records: which states are terminal, what a record must hold, and when a job counts as waiting
// for a worker (frames of it queued, none connected, not finished).

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseJobSpec } from "./job-spec.ts";
import {
  isTerminal,
  JOB_STATES,
  type JobRecord,
  jobRecordSchema,
  jobWaiting,
  TERMINAL_STATES,
  WAITING_FOR_WORKER,
} from "./job-state.ts";

test("terminal states are job states, and isTerminal answers from TERMINAL_STATES alone", () => {
  for (const state of TERMINAL_STATES) assert.ok(JOB_STATES.includes(state));
  assert.deepEqual(
    JOB_STATES.filter((s) => isTerminal(s)),
    ["completed", "failed", "cancelled"],
  );
  assert.deepEqual(
    JOB_STATES.filter((s) => !isTerminal(s)),
    ["queued", "running"],
  );
});

test("a job record validates, and the schema refuses a wrong state or a missing field", () => {
  const record: JobRecord = {
    id: "j_abc",
    spec: parseJobSpec({ input: "s3://in/a.mp4", output: "s3://out/a" }),
    state: "running",
    createdAtMs: 1,
    updatedAtMs: 2,
    progress: { decoded: 3, inferred: 2, written: 1, failed: 0, deadlineMisses: 0, total: null },
    errors: [{ atMs: 2, stage: "worker", message: "m" }],
    output: "s3://out/a",
    cancelRequested: false,
    video: { width: 320, height: 240, fps: 10, durationMs: 3000, codec: "h264" },
  };
  // A record read back from JSON (the api's answer) is the record.
  assert.deepEqual(jobRecordSchema.parse(JSON.parse(JSON.stringify(record))), record);
  assert.equal(jobRecordSchema.safeParse({ ...record, state: "paused" }).success, false);
  const { progress: _, ...withoutProgress } = record;
  assert.equal(jobRecordSchema.safeParse(withoutProgress).success, false);
});

const job = (
  state: JobRecord["state"],
  decoded: number,
  inferred: number,
): Pick<JobRecord, "state" | "progress"> => ({
  state,
  progress: { decoded, inferred, written: inferred, failed: 0, deadlineMisses: 0, total: null },
});

test("a running job with queued frames and no worker waits for a worker", () => {
  assert.deepEqual(jobWaiting(job("running", 8, 0), { workers: 0, waitingChunks: 4 }), {
    reason: WAITING_FOR_WORKER,
    waitingChunks: 4,
    workers: 0,
  });
});

test("it does not once a worker is connected, nothing is queued, its frames are done, or it has ended", () => {
  assert.equal(jobWaiting(job("running", 8, 0), { workers: 1, waitingChunks: 4 }), undefined);
  assert.equal(jobWaiting(job("running", 8, 0), { workers: 0, waitingChunks: 0 }), undefined);
  assert.equal(jobWaiting(job("running", 8, 8), { workers: 0, waitingChunks: 4 }), undefined);
  assert.equal(jobWaiting(job("queued", 0, 0), { workers: 0, waitingChunks: 4 }), undefined);
  assert.equal(jobWaiting(job("cancelled", 8, 0), { workers: 0, waitingChunks: 4 }), undefined);
});
