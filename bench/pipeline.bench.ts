// `npm run bench -- pipeline`: a 20-s 720p clip at 5 fps with D0 (seeded weights), in one run:
//   (a) ffmpeg decode + sample + scale (+ letterbox) alone,
//   (b) bare onnxruntime inference on the same pre-decoded frames at the same batch size,
//   (c) `vdet run` end to end (local mode),
//   (d) the Redis path with 1 and 2 `vdet worker` processes (producer and aggregator in this process).
// The clip is a file, so (c) and (d) run the segment path: the producer plans segments and the workers decode them
// (in (c), the one in-process worker).
// On a CPU-only machine every stage shares the same cores, so the bound is T(a) + T(b); efficiency = that bound
// divided by the measured time. Model loading is excluded everywhere (preloaded). Last line: one JSON object.

import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stopRoles } from "@vdet/cli/testing";
import { build } from "@vdet/effdet";
import { letterboxFor, padToSquare, runLocal } from "@vdet/pipeline";
import { parseJobSpec } from "@vdet/protocol";
import { decodeFrames } from "@vdet/video";
import { makeTestClip } from "@vdet/video/testing";
import * as ort from "onnxruntime-node";
import { startRedisPipeline, startWorkers } from "../test/support/redis-pipeline.ts";

const BATCH = 4;
const FPS = 5;
const work = join(tmpdir(), "vdet-bench-pipeline");
mkdirSync(work, { recursive: true });
const clip = join(work, "clip-720p-20s.mp4");
const log = (m: string) => process.stderr.write(`${m}\n`);
const seconds = (ms: number) => Math.round(ms) / 1000;

if (!existsSync(clip)) {
  log("making a 20 s 1280×720 30 fps test clip …");
  await makeTestClip(clip, 20, 30, 1280, 720);
}

// (a) decode + sample + scale + letterbox.
const side = 512;
const letterbox = letterboxFor(1280, 720, side);
let t0 = performance.now();
const frames: Uint8Array[] = [];
for await (const f of decodeFrames(clip, {
  sampling: { fps: FPS },
  size: { width: letterbox.contentWidth, height: letterbox.contentHeight },
})) {
  frames.push(padToSquare(f.data, f.width, f.height, side));
}
const decodeMs = performance.now() - t0;
log(`(a) decode: ${frames.length} frames in ${seconds(decodeMs)} s`);

// (b) bare inference, same frames, same batch size, same model as the pipeline uses.
const session = await ort.InferenceSession.create(build({ phi: 0, seed: 0 }), { intraOpNumThreads: 2 });
const batchOf = (start: number) => {
  const n = Math.min(BATCH, frames.length - start);
  const data = new Uint8Array(n * side * side * 3);
  for (let i = 0; i < n; i++) data.set(frames[start + i], i * side * side * 3);
  return new ort.Tensor("uint8", data, [n, side, side, 3]);
};
await session.run({ frames: batchOf(0) }); // warm-up
t0 = performance.now();
for (let start = 0; start < frames.length; start += BATCH) await session.run({ frames: batchOf(start) });
const inferMs = performance.now() - t0;
await session.release();
log(`(b) inference: ${seconds(inferMs)} s`);
const bound = decodeMs + inferMs;

// (c) local mode end to end.
const localOut = join(work, "local");
rmSync(localOut, { recursive: true, force: true });
t0 = performance.now();
const local = await runLocal({
  spec: { input: clip, output: localOut, sampling: { fps: FPS } },
  seed: 0,
  maxBatch: BATCH,
  preload: true,
});
const localMs = performance.now() - t0 - local.startupMs;
log(
  `(c) vdet run: ${seconds(localMs)} s (+ ${seconds(local.startupMs)} s model load), ${local.job.progress.written} frames`,
);

// (d) Redis path with 1 and 2 worker processes.
async function redisRun(workerCount: number) {
  let done: (state: string) => void = () => {};
  const finished = new Promise<string>((r) => (done = r));
  const pipeline = startRedisPipeline({
    prefix: `vdet-bench-${randomUUID().slice(0, 8)}`,
    framesPerChunk: BATCH,
    // 10-s segments (50 frames at 5 fps, two for the clip), so both workers of the 2-worker run get one: the
    // archive default (2048 frames or 120 s) would make the 20-s clip one segment.
    segmentFrames: 50,
    onJobFinished: (_id, s) => done(s),
  });
  const { prefix, transport, jobStore } = pipeline;
  const workers = startWorkers(workerCount, prefix, {
    args: ["--max-batch", String(BATCH)],
    env: { VDET_LOG_LEVEL: "info", VDET_SEED: "0", VDET_THREADS: String(Math.max(1, 2 / workerCount)) },
  });
  // Wait until every worker has loaded its model.
  await Promise.all(workers.map((w) => w.waitFor("worker ready", 600_000)));
  const outDir = join(work, `redis-${workerCount}`);
  rmSync(outDir, { recursive: true, force: true });
  const started = performance.now();
  const { job } = await jobStore.create(
    parseJobSpec({ input: clip, output: outDir, sampling: { fps: FPS } }),
  );
  await transport.jobs.add({ jobId: job.id });
  const state = await finished;
  const ms = performance.now() - started;
  const final = await jobStore.get(job.id);
  await stopRoles(workers);
  await pipeline.close();
  log(`(d) redis, ${workerCount} worker(s): ${seconds(ms)} s, ${state}, ${final?.progress.written} frames`);
  return { ms, written: final?.progress.written ?? 0 };
}
const redis1 = await redisRun(1);
const redis2 = await redisRun(2);

const n = frames.length;
const fps = (ms: number) => Math.round((n / (ms / 1000)) * 10) / 10;
const r3 = (v: number) => Math.round(v * 1000) / 1000;
console.log(
  JSON.stringify({
    bench: "pipeline",
    clip: "testsrc2 1280x720 30 fps, 20 s",
    path: "segments (the producer plans, workers decode their own segments), local and Redis",
    sampledFps: FPS,
    frames: n,
    phi: 0,
    batch: BATCH,
    seconds: {
      decode: seconds(decodeMs),
      inference: seconds(inferMs),
      bound: seconds(bound),
      local: seconds(localMs),
      localModelLoad: seconds(local.startupMs),
      redis1w: seconds(redis1.ms),
      redis2w: seconds(redis2.ms),
    },
    framesPerSecond: {
      decode: fps(decodeMs),
      inference: fps(inferMs),
      local: fps(localMs),
      redis1w: fps(redis1.ms),
      redis2w: fps(redis2.ms),
    },
    written: { local: local.job.progress.written, redis1w: redis1.written, redis2w: redis2.written },
    efficiency_local: r3(bound / localMs),
    efficiency_redis_1w: r3(bound / redis1.ms),
    efficiency_redis_2w: r3(bound / redis2.ms),
  }),
);
