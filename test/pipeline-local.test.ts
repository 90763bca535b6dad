// Local mode end to end: a generated clip through producer → worker → aggregator in one process, and the
// output files checked frame by frame (with zones: events.jsonl and analytics.json as `vdet analyze` makes them).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Analytics, analyticsFrame, resolveZones, zonesFileSchema } from "@vdet/analytics";
import { runLocal } from "@vdet/pipeline";
import { makeTestClip } from "@vdet/video/testing";
import { runTestClip, testDir } from "./support/local-run.ts";
import { startMemoryPipeline } from "./support/memory-pipeline.ts";
import { parseTracks } from "./support/tracks.ts";

const dir = testDir("local");

/** Normalized: the aggregator scales them by the probed video size (320×240). */
const ZONES = {
  coordinates: "normalized" as const,
  inertiaFrames: 1,
  zones: [
    {
      name: "left",
      polygon: [
        [0, 0],
        [0.5, 0],
        [0.5, 1],
        [0, 1],
      ] as [number, number][],
    },
  ],
  lines: [{ name: "middle", from: [0.5, 0] as [number, number], to: [0.5, 1] as [number, number] }],
};

test("vdet run: every sampled frame once, in order, with pts; all output files complete", async () => {
  const { out, result } = await runTestClip(
    dir,
    3,
    { sampling: { fps: 4 }, scoreThreshold: 0, zones: ZONES },
    { maxBatch: 4 },
  );
  const lines = parseTracks(readFileSync(join(out, "tracks.jsonl"), "utf8"));
  // 3 s of a 10 fps source sampled at 4 fps: the first source frame at or after each k/4 s, with its own pts.
  assert.equal(lines.length, 12);
  assert.deepEqual(
    lines.map((l) => l.frame),
    [...Array(12).keys()],
  );
  lines.forEach((l, i) => {
    assert.ok(Math.abs(l.ptsMs - Math.ceil(i * 2.5) * 100) <= 1, `frame ${i} pts ${l.ptsMs}`);
    assert.equal(l.phi, 0);
    // Seeded weights: at most 100 detections after NMS, boxes inside the 320×240 source.
    assert.ok(l.detections.length <= 100);
    for (const d of l.detections) {
      assert.ok(d.box[0] >= 0 && d.box[2] <= 320 && d.box[1] >= 0 && d.box[3] <= 240, JSON.stringify(d.box));
    }
  });
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  assert.equal(manifest.state, "completed");
  assert.deepEqual(manifest.frames, {
    sampled: 12,
    written: 12,
    failed: 0,
    skipped: 0,
    duplicatesDropped: 0,
  });
  assert.deepEqual(manifest.phiHistogram, { "0": 12 });
  assert.equal(manifest.video.width, 320);
  const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
  const mot = readFileSync(join(out, "tracks.mot.txt"), "utf8").split("\n").filter(Boolean);
  const trackedDetections = lines.flatMap((l) => l.detections.filter((d) => d.trackId !== null));
  assert.equal(mot.length, trackedDetections.length);
  assert.equal(summary.tracks, new Set(trackedDetections.map((d) => d.trackId)).size);
  assert.deepEqual(
    result.batchSizes["0"].reduce((a, b) => a + b, 0),
    12,
  );
  // The zones, run offline over the written tracks, give the same events.jsonl and analytics.json.
  assert.deepEqual(manifest.files.slice(-2), ["events.jsonl", "analytics.json"]);
  const offline = new Analytics(resolveZones(zonesFileSchema.parse(ZONES), { width: 320, height: 240 }));
  const events = lines.flatMap((l) => offline.update(analyticsFrame(l)));
  // (The seeded network's boxes score too low to start tracks, so both are likely empty of events here; the
  // recovery test's simulated model gives a job with enter, exit and crossings.)
  assert.equal(offline.summary().frames, 12);
  assert.equal(
    readFileSync(join(out, "events.jsonl"), "utf8"),
    events.map((e) => `${JSON.stringify(e)}\n`).join(""),
  );
  assert.equal(
    readFileSync(join(out, "analytics.json"), "utf8"),
    `${JSON.stringify(offline.summary(), null, 2)}\n`,
  );
});

test("an unreadable input fails the job with ffmpeg's reason", async () => {
  const bogus = join(dir, "bogus.mp4");
  (await import("node:fs")).writeFileSync(bogus, "not a video at all");
  const result = await runLocal({ spec: { input: bogus, output: join(dir, "bogus-out") }, seed: 0 });
  assert.equal(result.job.state, "failed");
  assert.match(result.job.errors[0].message, /not a video|Invalid data/i);
  const manifest = JSON.parse(readFileSync(join(dir, "bogus-out", "manifest.json"), "utf8"));
  assert.equal(manifest.frames.sampled, 0);
  assert.ok(manifest.error);
});

test("fair share: a short job submitted after a long one finishes first", async () => {
  const { parseJobSpec } = await import("@vdet/protocol");
  const long = await makeTestClip(join(dir, "long.mp4"), 12, 10);
  const short = await makeTestClip(join(dir, "short.mp4"), 1, 10);
  const order: string[] = [];
  // A small in-flight bound per job: the long job can never hold more than 2 segments of 4 frames of the queue.
  const pipeline = startMemoryPipeline({
    maxBatch: 4,
    producer: { segmentFrames: 4, maxSegmentsInFlight: 2, concurrency: 2 },
    onJobFinished: (id) => order.push(id),
  });
  const { transport, jobStore } = pipeline;
  try {
    const a = (
      await jobStore.create(
        parseJobSpec({ input: long, output: join(dir, "fair-long"), sampling: { fps: 10 } }),
      )
    ).job;
    await transport.jobs.add({ jobId: a.id });
    for (let i = 0; i < 400 && (await jobStore.get(a.id))!.progress.written < 8; i++)
      await new Promise((r) => setTimeout(r, 50));
    const b = (
      await jobStore.create(
        parseJobSpec({ input: short, output: join(dir, "fair-short"), sampling: { fps: 10 } }),
      )
    ).job;
    await transport.jobs.add({ jobId: b.id });
    for (let i = 0; i < 2400 && order.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(order, [b.id, a.id]);
    assert.equal((await jobStore.get(a.id))!.progress.written, 120);
  } finally {
    await pipeline.close();
  }
});
