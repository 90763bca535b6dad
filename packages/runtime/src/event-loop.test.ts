// The reason the runner uses a worker thread: while a heavy model (the peer EfficientDet-D0 export) runs, the
// caller's timers keep firing. A session on the calling thread, measured in the same test, blocks them.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { createOnnxRunner } from "./onnx-runner.ts";

const fixturesDir =
  process.env.VDET_FIXTURES_DIR ?? join(import.meta.dirname, "..", "..", "..", "..", "shared", "fixtures");
const peerD0 = join(fixturesDir, "effdet", "peer-d0-torch-export.onnx");
const TICK_MS = 10;
const BATCH = 2;
const THREADS = 2;

function images(batch: number): Float32Array {
  const data = new Float32Array(batch * 3 * 512 * 512);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.001) * 2;
  return data;
}

/** Counts timer ticks and the longest gap between them while `work` runs. */
async function watchEventLoop(work: () => Promise<unknown>) {
  let ticks = 0;
  let last = performance.now();
  let maxGapMs = 0;
  const start = last;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, TICK_MS);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  const durationMs = performance.now() - start;
  maxGapMs = Math.max(maxGapMs, performance.now() - last);
  return { ticks, maxGapMs, durationMs, expectedTicks: Math.floor(durationMs / TICK_MS) };
}

test("the caller's event loop keeps running during a D0 batch", async (t) => {
  if (!existsSync(peerD0)) {
    const message = `peer D0 model not found under ${fixturesDir}/effdet (set VDET_FIXTURES_DIR)`;
    if (process.env.VDET_REQUIRE_FIXTURES === "1") assert.fail(`${message}; VDET_REQUIRE_FIXTURES=1`);
    t.skip(message);
    return;
  }
  const feeds = () => ({
    images: { type: "float32" as const, dims: [BATCH, 3, 512, 512], data: images(BATCH) },
  });

  const runner = await createOnnxRunner(peerD0, { executionProvider: "cpu", intraOpThreads: THREADS });
  let outputDims: number[] = [];
  try {
    await runner.run(feeds()); // warm-up
    const inWorker = await watchEventLoop(async () => {
      const out = await runner.run(feeds());
      outputDims = out[runner.outputNames[0]].dims;
    });
    t.diagnostic(
      `worker: D0 batch ${BATCH}, ${THREADS} threads, ${inWorker.durationMs.toFixed(0)} ms; ` +
        `${inWorker.ticks} of ~${inWorker.expectedTicks} ${TICK_MS} ms ticks; max gap ${inWorker.maxGapMs.toFixed(0)} ms`,
    );
    assert.equal(outputDims[0], BATCH);
    assert.ok(inWorker.durationMs > 5 * TICK_MS, "the model run is long enough to measure");
    assert.ok(inWorker.ticks >= 5, `only ${inWorker.ticks} ticks during the run`);
    assert.ok(
      inWorker.ticks >= 0.3 * inWorker.expectedTicks,
      `${inWorker.ticks} ticks, expected about ${inWorker.expectedTicks}`,
    );
  } finally {
    await runner.close();
  }

  // Baseline: the same run on the calling thread starves the timer.
  const session = await InferenceSession.create(peerD0, { intraOpNumThreads: THREADS });
  try {
    const input = new Tensor("float32", images(BATCH), [BATCH, 3, 512, 512]);
    await session.run({ images: input });
    const onCaller = await watchEventLoop(() => session.run({ images: input }));
    t.diagnostic(
      `calling thread: ${onCaller.durationMs.toFixed(0)} ms; ${onCaller.ticks} ticks; ` +
        `max gap ${onCaller.maxGapMs.toFixed(0)} ms`,
    );
    assert.ok(onCaller.ticks <= 2, `${onCaller.ticks} ticks while the calling thread ran the model`);
  } finally {
    await session.release();
  }
});
