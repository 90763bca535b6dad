// Worker behaviour that does not need a real model: retry of a failed inference, failure after the last attempt,
// and frames whose pixels are gone. The model provider here is a scripted stand-in for the runner.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { Detector } from "@vdet/effdet";
import { MemoryJobStore } from "@vdet/jobs";
import {
  type DetectionBatch,
  type Detections,
  type FrameChunk,
  parseJobSpec,
  unpackFrames,
} from "@vdet/protocol";
import { LatencyProfile } from "@vdet/scheduler";
import { createMemoryTransport } from "@vdet/transport";
import { createSimulatedModelProvider, type ModelProvider } from "./models.ts";
import { startWorker } from "./worker.ts";

function provider(failures: number): ModelProvider & { calls: number } {
  const state = { calls: 0 };
  const detector = {
    async detect(frames: unknown[]): Promise<Detections<Float32Array>[]> {
      state.calls++;
      if (state.calls <= failures) throw new Error("runner restarting");
      return frames.map(() => ({
        xyxy: Float32Array.of(10, 20, 110, 220),
        scores: Float32Array.of(0.9),
        classIds: Int32Array.of(1),
      }));
    },
  } as unknown as Detector;
  return Object.assign(state, {
    detector: async () => detector,
    hasWeights: () => false,
    modelHash: async () => "scripted",
    close: async () => {},
  });
}

interface ChunkRun {
  models: ModelProvider;
  storeFrames?: boolean;
  /** Overrides of the chunk (φ range, throughput target, letterbox). */
  chunk?: Partial<FrameChunk>;
  profile?: LatencyProfile;
  /** The worker's wait for a fuller batch (default 1 ms). */
  maxDelayMs?: number;
}

/** One two-frame archive chunk of 32-px frames through a worker on the in-process transport. */
async function runOneChunk(run: ChunkRun) {
  const transport = createMemoryTransport();
  const jobStore = new MemoryJobStore();
  const phi = run.chunk?.phi ?? { min: 0, max: 0 };
  const { job } = await jobStore.create(parseJobSpec({ input: "a.mp4", output: "out", phi }));
  const size = 32;
  const chunk: FrameChunk = {
    jobId: job.id,
    chunk: 0,
    frames: [0, 1].map((index) => ({ index, ptsMs: index * 200, key: `${job.id}/${index}` })),
    size,
    letterbox: { sourceWidth: 64, sourceHeight: 64, contentWidth: 32, contentHeight: 32 },
    phi,
    mode: "archive",
    scoreThreshold: 0.3,
    priority: 5,
    enqueuedAtMs: Date.now(),
    ...run.chunk,
  };
  if (run.storeFrames ?? true) {
    for (const f of chunk.frames) await transport.frameStore.put(f.key, new Uint8Array(size * size * 3), 60);
  }
  const done = new Promise<DetectionBatch>((resolve) => {
    transport.results.consume(async (batch) => resolve(batch));
  });
  const worker = startWorker({
    transport,
    jobStore,
    models: run.models,
    maxBatch: 2,
    maxDelayMs: run.maxDelayMs ?? 1,
    profile: run.profile,
  });
  await transport.frames.add(chunk);
  const batch = await done;
  await worker.close();
  await transport.close();
  return { batch, job: (await jobStore.get(job.id))! };
}

async function runChunk(failures: number, storeFrames = true) {
  const models = provider(failures);
  const { batch, job } = await runOneChunk({ models, storeFrames });
  return { batch, calls: models.calls, job };
}

test("an inference error is retried, and the retry's detections are sent once, in source pixels", async () => {
  const { batch, calls, job } = await runChunk(2);
  assert.equal(calls, 3);
  assert.deepEqual(batch.failed, []);
  assert.deepEqual(
    unpackFrames(batch.packed).map((f) => f.index),
    [0, 1],
  );
  // Frame pixels 10…110 in a 32-px frame holding a 64-px source: ×2, clipped to the source.
  assert.deepEqual(unpackFrames(batch.packed)[0].boxes, [20, 40, 64, 64]);
  assert.equal(job.progress.inferred, 2);
});

test("after the last attempt the frames are reported failed, with the reason", async () => {
  const { batch, job } = await runChunk(100);
  assert.deepEqual(unpackFrames(batch.packed), []);
  assert.deepEqual(
    batch.failed.map((f) => [f.index, f.reason]),
    [
      [0, "inference failed: runner restarting"],
      [1, "inference failed: runner restarting"],
    ],
  );
  assert.equal(job.progress.failed, 2);
});

test("frames whose pixels expired are failed at once, not retried", async () => {
  const { batch, calls } = await runChunk(0, false);
  assert.equal(calls, 0);
  assert.match(batch.failed[0].reason, /expired or missing/);
});

test("archive jobs with a throughput target run the largest φ whose profiled throughput keeps it", async () => {
  // Per frame (batches of 2): D0 5 ms, D1 20 ms, D2 80 ms → 200, 50, 12.5 frames/s on one worker.
  const table = {
    version: 1 as const,
    key: "archive-target",
    measuredAt: "2026-11-28T00:00:00Z",
    rows: ([0, 1, 2] as const).flatMap((phi) =>
      [1, 2].map((batch) => {
        const ms = 5 * 4 ** phi * batch;
        return { phi, batch, p50Ms: ms, p90Ms: ms, samplesMs: [ms] };
      }),
    ),
  };
  const phiFor = async (target: { framesPerSecond?: number; finishByMs?: number }) => {
    const models = createSimulatedModelProvider(table);
    const { batch } = await runOneChunk({
      models,
      chunk: {
        phi: { min: 0, max: 2 },
        letterbox: { sourceWidth: 32, sourceHeight: 32, contentWidth: 32, contentHeight: 32 },
        target,
      },
      profile: LatencyProfile.fromTable(table),
    });
    await models.close();
    return unpackFrames(batch.packed).map((f) => f.phi);
  };
  // At 90 % utilisation one worker gives D1 45 frames/s, D2 11.25.
  assert.deepEqual(await phiFor({ framesPerSecond: 40 }), [1, 1]);
  assert.deepEqual(await phiFor({ framesPerSecond: 10 }), [2, 2]);
  // Beyond even D0: the smallest φ.
  assert.deepEqual(await phiFor({ framesPerSecond: 1000 }), [0, 0]);
});

test('overload "drop": a latency chunk past its deadline is skipped but for its newest frame; "queue" runs it all', async () => {
  const table = {
    version: 1 as const,
    key: "overload",
    measuredAt: "2026-11-28T00:00:00Z",
    rows: [1, 2].map((batch) => ({ phi: 0 as const, batch, p50Ms: 10, p90Ms: 10, samplesMs: [10] })),
  };
  const run = async (overload: "drop" | "queue") => {
    const models = createSimulatedModelProvider(table);
    const { batch, job } = await runOneChunk({
      models,
      chunk: {
        mode: "latency",
        latencyBudgetMs: 100,
        // Enqueued 5 s ago: every frame's deadline has passed before the worker sees it.
        enqueuedAtMs: Date.now() - 5000,
        overload,
        letterbox: { sourceWidth: 32, sourceHeight: 32, contentWidth: 32, contentHeight: 32 },
      },
      profile: LatencyProfile.fromTable(table),
      // Both frames must be waiting when the shedder looks: a frame alone is its job's newest and always runs.
      // The frames reach the queue one at a time (each read from the frame store); with a 1-ms wait, a loaded
      // machine could run frame 0 alone before frame 1 arrived. The second frame fills the batch (2) at once.
      maxDelayMs: 10_000,
    });
    await models.close();
    return { batch, job };
  };
  const dropped = await run("drop");
  assert.deepEqual(
    unpackFrames(dropped.batch.packed).map((f) => f.index),
    [1],
  );
  assert.equal(dropped.batch.failed.length, 1);
  assert.equal(dropped.batch.failed[0].index, 0);
  assert.equal(dropped.batch.failed[0].skipped, true);
  assert.match(dropped.batch.failed[0].reason, /^overload: -\d+ ms left to the deadline, D0 needs \d+ ms$/);

  const queued = await run("queue");
  assert.deepEqual(
    unpackFrames(queued.batch.packed).map((f) => f.index),
    [0, 1],
  );
  assert.deepEqual(queued.batch.failed, []);
});
