// A job cancelled while it waits in the jobs queue is never decoded: the producer that takes it queues no frame,
// and the aggregator ends it as cancelled.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MemoryJobStore } from "@vdet/jobs";
import { openJobOutput, startAggregator, startProducer } from "@vdet/pipeline";
import { parseJobSpec } from "@vdet/protocol";
import { createMemoryTransport } from "@vdet/transport";
import { makeTestClip } from "@vdet/video/testing";
import { waitFor } from "./support/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-queued-cancel-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const until = <T>(check: () => Promise<T | undefined | null>, what: string, timeoutMs = 20_000) =>
  waitFor(what, check, timeoutMs, 25);

test("a job cancelled while queued produces no frames and ends cancelled", async () => {
  const clip = await makeTestClip(join(dir, "clip.mp4"), 2, 10);
  const transport = createMemoryTransport();
  const jobStore = new MemoryJobStore();
  const out = join(dir, "out");
  const { job } = await jobStore.create(parseJobSpec({ input: clip, output: out, sampling: { fps: 10 } }));
  await transport.jobs.add({ jobId: job.id }, { id: job.id });
  assert.equal(await jobStore.requestCancel(job.id), true);

  const finished = new Map<string, string>();
  const aggregator = startAggregator({
    transport,
    jobStore,
    openOutput: (_id, location) => openJobOutput(location),
    onJobFinished: (id, state) => finished.set(id, state),
  });
  const producer = startProducer({ transport, jobStore, framesPerChunk: 4 });
  try {
    // The producer is done with the job once it has set its frame count.
    const total = await until(async () => (await jobStore.get(job.id))!.progress.total, "the producer");
    assert.equal(total, 0, "frames decoded for a job cancelled while queued");
    assert.equal((await jobStore.get(job.id))!.progress.decoded, 0);
    assert.equal((await transport.frames.counts()).waiting, 0, "no chunk queued");
    assert.equal(await until(async () => finished.get(job.id), "the job to end"), "cancelled");
    const ended = (await jobStore.get(job.id))!;
    assert.equal(ended.state, "cancelled");
    assert.equal(ended.progress.written, 0);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    assert.equal(manifest.frames.sampled, 0);
  } finally {
    await producer.close();
    await aggregator.close();
    await transport.close();
  }
});
