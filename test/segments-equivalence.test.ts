// Segments give the sequential decode's results, frame for frame: on clips with B-frames and open GOPs, variable
// frame rate, a start offset (edit list) and a non-zero start time (MPEG-TS), the job planned into small segments
// and run over the real Redis (workers decoding their own segments, seeking to keyframes, the last segment ending
// mid-GOP) writes the same tracks.jsonl frame lines — index, ptsMs, detections — as the same job decoded
// sequentially by the producer (frame chunks). The worker's model is the simulated one (boxes from the frames'
// bright regions), so a wrong pixel, frame or pts shows; and `vdet run` (local mode, the real seeded D0) gives
// the same lines as the distributed path with the same model.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type JobStore, MemoryJobStore, RedisJobStore } from "@vdet/jobs";
import {
  createModelProvider,
  createSimulatedModelProvider,
  type ModelProvider,
  openJobOutput,
  type ProducerConfig,
  runLocal,
  silentLogger,
  startAggregator,
  startProducer,
  startWorker,
} from "@vdet/pipeline";
import { type JobSpecInput, parseJobSpec } from "@vdet/protocol";
import {
  createMemoryTransport,
  createRedisTransport,
  deleteKeysWithPrefix,
  redisOptionsFromUrl,
} from "@vdet/transport";
import { makeLavfiClip } from "@vdet/video/testing";
import { Redis } from "ioredis";
import { closeInOrder } from "./support/close.ts";
import { REDIS_URL } from "./support/redis-pipeline.ts";
import { parseTracks } from "./support/tracks.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-segments-eq-"));
const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
const prefixes: string[] = [];
after(async () => {
  for (const prefix of prefixes) await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

const simulatedTable = {
  version: 1 as const,
  key: "segments-equivalence",
  measuredAt: "2026-12-07T00:00:00Z",
  rows: [1, 2, 4].map((batch) => ({ phi: 0 as const, batch, p50Ms: 1, p90Ms: 1, samplesMs: [1] })),
};

/** Two bright boxes crossing a dark test pattern: the simulated model's boxes follow them. */
const MOVING = [
  "testsrc2=s=160x120:r=25:d=4,lutyuv=y=val/4[bg]",
  "color=c=white:s=24x24:r=25[a]",
  "color=c=white:s=20x30:r=25[b]",
  "[bg][a]overlay=x='5+t*30':y=20:shortest=1[t]",
  "[t][b]overlay=x='130-t*25':y=70:shortest=1",
].join(";");

const X264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18"];
const CLIPS: { name: string; file: string; graph?: string; output: string[] }[] = [
  {
    name: "B-frames, open GOPs",
    file: "open-gop.mp4",
    output: [...X264, "-bf", "3", "-g", "25", "-flags", "-cgop", "-x264-params", "open_gop=1:scenecut=0"],
  },
  {
    name: "variable frame rate",
    file: "vfr.mp4",
    graph: `${MOVING},setpts='if(lt(N,40),N/(25*TB),(1.6+(N-40)/12)/TB)'`,
    output: ["-fps_mode", "passthrough", ...X264, "-bf", "2", "-g", "20"],
  },
  {
    name: "start offset (edit list)",
    file: "offset.mp4",
    output: [...X264, "-bf", "2", "-g", "30", "-output_ts_offset", "2.5"],
  },
  {
    name: "MPEG-TS, non-zero start time",
    file: "start.ts",
    output: [...X264, "-bf", "2", "-g", "24", "-f", "mpegts"],
  },
];

before(async () => {
  for (const clip of CLIPS) await makeLavfiClip(join(dir, clip.file), clip.graph ?? MOVING, clip.output);
});

interface RunOptions {
  redis: boolean;
  producer: Omit<ProducerConfig, "transport" | "jobStore">;
  models: ModelProvider;
}

/** Runs one job through an in-process producer, worker and aggregator; returns its tracks.jsonl frame lines. */
async function runJob(spec: JobSpecInput, options: RunOptions) {
  const prefix = `vdet-seg-eq-${randomUUID().slice(0, 8)}`;
  if (options.redis) prefixes.push(prefix);
  const transport = options.redis
    ? createRedisTransport({ url: REDIS_URL, prefix })
    : createMemoryTransport();
  const jobStore: JobStore = options.redis ? new RedisJobStore(redis, prefix) : new MemoryJobStore();
  let finished: (state: string) => void = () => {};
  const done = new Promise<string>((resolve) => {
    finished = resolve;
  });
  const aggregator = startAggregator({
    transport,
    jobStore,
    openOutput: (_id, location) => openJobOutput(location),
    onJobFinished: (_id, state) => finished(state),
  });
  const worker = startWorker({ transport, jobStore, models: options.models, maxBatch: 4, maxDelayMs: 1 });
  /** The producer's "planning segments" log: how many segments it planned. */
  const planned: number[] = [];
  const logger = {
    ...silentLogger,
    info: (fields: Record<string, unknown>, message: string) => {
      if (message === "planning segments") planned.push(fields.segments as number);
    },
  };
  const producer = startProducer({ transport, jobStore, logger, ...options.producer });
  try {
    const { job } = await jobStore.create(parseJobSpec(spec));
    await transport.jobs.add({ jobId: job.id }, { id: job.id });
    assert.equal(await done, "completed");
    const record = (await jobStore.get(job.id))!;
    return { lines: frameLines(spec.output), record, segments: planned[0] ?? 0 };
  } finally {
    await closeInOrder(producer, worker, aggregator, transport);
    await jobStore.close();
  }
}

/** tracks.jsonl's frame lines without what legitimately differs between runs (nothing, for these fields). */
function frameLines(out: string) {
  return parseTracks(readFileSync(join(out, "tracks.jsonl"), "utf8")).map((l) => ({
    frame: l.frame,
    ptsMs: l.ptsMs,
    detections: l.detections,
  }));
}

describe("segments on the real Redis == the sequential decode", () => {
  for (const [i, clip] of CLIPS.entries()) {
    const sampling = i === 1 ? { everyNth: 3 } : { fps: 10 };
    test(`${clip.name}, sampling ${JSON.stringify(sampling)}`, async () => {
      const models = createSimulatedModelProvider(simulatedTable);
      try {
        const input = join(dir, clip.file);
        const base = { input, sampling, phi: { min: 0, max: 0 } } as const;
        const sequential = await runJob(
          { ...base, output: join(dir, `${clip.file}-seq`) },
          { redis: false, producer: { segments: false }, models },
        );
        // 7 sampled frames per segment: segments start mid-GOP and the last one ends mid-GOP.
        const segmented = await runJob(
          { ...base, output: join(dir, `${clip.file}-seg`) },
          { redis: true, producer: { segmentFrames: 7, maxSegmentsInFlight: 3 }, models },
        );
        assert.ok(sequential.lines.length >= 20, `${sequential.lines.length} frames`);
        assert.ok(
          sequential.lines.filter((l) => l.detections.length > 0).length > sequential.lines.length / 2,
          "the comparison means something only if frames have detections",
        );
        assert.deepEqual(segmented.lines, sequential.lines);
        assert.equal(sequential.segments, 0, "the reference was decoded by the producer");
        assert.equal(segmented.segments, Math.ceil(sequential.lines.length / 7), "segments planned");
        assert.equal(segmented.record.progress.decoded, sequential.lines.length, "every frame queued once");
        assert.equal(
          segmented.record.progress.inferred,
          sequential.lines.length,
          "every frame inferred once",
        );
      } finally {
        await models.close();
      }
    });
  }
});

test("vdet run (local mode) and the distributed path with the real seeded D0: the same frame lines", async () => {
  const input = join(dir, CLIPS[0].file);
  const spec = { input, sampling: { fps: 2 }, phi: { min: 0, max: 0 } } as const;
  const local = await runLocal({ spec: { ...spec, output: join(dir, "run-local") }, seed: 0, maxBatch: 2 });
  assert.equal(local.job.state, "completed");
  const models = createModelProvider({ seed: 0 });
  try {
    const distributed = await runJob(
      { ...spec, output: join(dir, "run-redis") },
      { redis: true, producer: { segmentFrames: 3 }, models },
    );
    const lines = frameLines(join(dir, "run-local"));
    assert.equal(lines.length, 8);
    assert.equal(distributed.segments, 3);
    assert.deepEqual(distributed.lines, lines);
  } finally {
    await models.close();
  }
});
