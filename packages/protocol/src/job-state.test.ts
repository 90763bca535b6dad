// When a job counts as waiting for a worker: frames of it queued, none connected, not finished.

import assert from "node:assert/strict";
import { test } from "node:test";
import { type JobRecord, jobWaiting, WAITING_FOR_WORKER } from "./job-state.ts";

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
