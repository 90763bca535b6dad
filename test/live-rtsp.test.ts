// Live ingestion from a real RTSP server (Debian's RTSP::Server, test/support/rtsp-server.ts) through the
// distributed path over the real Redis. ffmpeg publishes a test pattern (10 fps, 1 s GOPs) to server A and another
// to server B, both on loopback. Job A reads A on the recorded-segments path, job F reads A on the low-latency path
// (JPEG frames decoded by the producer), job B reads B. Server A and its publisher are killed mid-stream and started
// again (a new RTSP session, its timestamps from zero): A and F reconnect with backoff, record the hole as one gap,
// go connecting → live → reconnecting → live, and have frames before and after. B, on the same producer at the same
// time, has no gap, no reconnect and every sampled second. The jobs are then removed (cancelled): RTSP never ends.

import assert from "node:assert/strict";
import { type ChildProcess, execFile } from "node:child_process";
import { randomInt, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { createSimulatedModelProvider, startWorker } from "@vdet/pipeline";
import { type JobManifest, parseJobSpec, type StreamState } from "@vdet/protocol";
import { ffmpegBinaries } from "@vdet/video";
import { startLiveLavfi, testPattern } from "@vdet/video/testing";
import { startRedisPipeline } from "./support/redis-pipeline.ts";
import { RtspServer } from "./support/rtsp-server.ts";
import { parseTracks } from "./support/tracks.ts";
import { waitFor } from "./support/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-live-rtsp-"));
const prefix = `vdet-rtsp-${randomUUID().slice(0, 8)}`;
after(() => rmSync(dir, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** ffmpeg publishing a 160×120 test pattern at 10 fps (1 s GOPs) to `url` until killed. */
function publish(url: string): { process: ChildProcess; done: Promise<void> } {
  const process = startLiveLavfi(testPattern(160, 120, 10), [
    ...["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10", "-f", "rtsp", url],
  ]);
  const done = new Promise<void>((resolve) => process.on("exit", () => resolve()));
  return { process, done };
}

/** Whether one frame can be read from `url` (the publisher is mounted and sending). */
function readable(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      ffmpegBinaries().ffmpegPath,
      ["-hide_banner", "-nostdin", "-loglevel", "error", "-i", url, "-frames:v", "1", "-f", "null", "-"],
      { timeout: 15_000 },
      (error) => resolve(error === null),
    );
  });
}

/**
 * Every frame was inferred, except those still queued when the job was removed: reported, with that reason, as
 * the last frames.
 */
function noErrorsButCancel(lines: { frame: number; error?: string }[], name: string): void {
  const firstFailed = lines.findIndex((l) => l.error !== undefined);
  if (firstFailed === -1) return;
  for (const line of lines.slice(firstFailed)) {
    assert.match(line.error ?? "", /cancelled/, `${name}: ${JSON.stringify(line)}`);
  }
}

const table = {
  version: 1 as const,
  key: "live-rtsp",
  measuredAt: "2026-12-07T00:00:00Z",
  rows: [1, 2, 4].map((batch) => ({ phi: 0 as const, batch, p50Ms: 5, p90Ms: 5, samplesMs: [5] })),
};

test("RTSP: a stream whose server restarts reconnects with the gap recorded; a stream on another server is untouched", async () => {
  const rtpBase = 40_000 + 2 * randomInt(0, 4000);
  const serverA = new RtspServer({ client: await freePort(), source: await freePort(), rtpPort: rtpBase });
  const serverB = new RtspServer({
    client: await freePort(),
    source: await freePort(),
    rtpPort: rtpBase + 100,
  });
  const pipeline = startRedisPipeline({ prefix, producer: { inputTimeoutMs: 6000, concurrency: 3 } });
  const models = createSimulatedModelProvider(table);
  const worker = startWorker({
    transport: pipeline.transport,
    jobStore: pipeline.jobStore,
    models,
    maxBatch: 4,
    maxDelayMs: 1,
  });
  const publishers: ChildProcess[] = [];
  try {
    await serverA.start();
    await serverB.start();
    const pubA = publish(serverA.url("cam-a", "source"));
    const pubB = publish(serverB.url("cam-b", "source"));
    publishers.push(pubA.process, pubB.process);
    // A first connection that fails fails the job (the input's problem): start once both streams can be read.
    await waitFor("stream A readable", () => readable(serverA.url("cam-a")), 60_000, 200);
    await waitFor("stream B readable", () => readable(serverB.url("cam-b")), 60_000, 200);

    const submit = async (input: string, name: string, more: { latencyBudgetMs?: number } = {}) => {
      const spec = parseJobSpec({
        input,
        output: join(dir, `out-${name}`),
        sampling: { fps: 1 },
        ...more,
        reconnect: { initialDelayMs: 200, maxDelayMs: 1000, jitter: 0.5, giveUpAfterMs: 120_000 },
      });
      const { job } = await pipeline.jobStore.create(spec);
      await pipeline.transport.jobs.add({ jobId: job.id }, { id: job.id });
      return job.id;
    };
    const idA = await submit(serverA.url("cam-a"), "a");
    const idB = await submit(serverB.url("cam-b"), "b");
    const idF = await submit(serverA.url("cam-a"), "a-frames", { latencyBudgetMs: 1000 });
    const states = new Map<string, StreamState[]>([
      [idA, []],
      [idF, []],
    ]);
    const watch = setInterval(() => {
      for (const [id, seen] of states) {
        void pipeline.jobStore.get(id).then((job) => {
          const state = job?.connection?.state;
          if (state && seen.at(-1) !== state) seen.push(state);
        });
      }
    }, 50);
    const inferred = async (id: string) => (await pipeline.jobStore.get(id))?.progress.inferred ?? 0;
    const state = async (id: string) => (await pipeline.jobStore.get(id))?.connection?.state;
    let downMs: number;
    try {
      await waitFor(
        "A's frames before the outage",
        async () => (await inferred(idA)) >= 4 && (await inferred(idF)) >= 4,
        90_000,
      );
      // Server A goes away with its publisher; both come back after a while (a new session, new timestamps).
      const killedAtMs = Date.now();
      await serverA.stop();
      pubA.process.kill("SIGKILL");
      await pubA.done;
      await waitFor(
        "A's jobs to notice the outage",
        async () => (await state(idA)) === "reconnecting" && (await state(idF)) === "reconnecting",
        60_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 2000));
      downMs = Date.now() - killedAtMs;
      await serverA.start();
      const pubA2 = publish(serverA.url("cam-a", "source"));
      publishers.push(pubA2.process);
      await waitFor(
        "A's jobs live again",
        async () => (await state(idA)) === "live" && (await state(idF)) === "live",
        90_000,
      );
      const [afterA, afterF] = [await inferred(idA), await inferred(idF)];
      await waitFor(
        "A's frames after the outage",
        async () => (await inferred(idA)) >= afterA + 4 && (await inferred(idF)) >= afterF + 4,
        90_000,
      );
      // RTSP streams do not end: remove the jobs (what was read is written, then the output is final).
      for (const id of [idA, idF, idB]) await pipeline.jobStore.requestCancel(id);
      await waitFor(
        "the jobs to finish",
        () => pipeline.finished.get(idA) && pipeline.finished.get(idB) && pipeline.finished.get(idF),
        90_000,
      );
    } finally {
      clearInterval(watch);
    }

    const output = (name: string) => {
      const manifest: JobManifest = JSON.parse(
        readFileSync(join(dir, `out-${name}`, "manifest.json"), "utf8"),
      );
      const lines = parseTracks(readFileSync(join(dir, `out-${name}`, "tracks.jsonl"), "utf8"));
      return { manifest, lines };
    };
    const reconnected = async (id: string, name: string) => {
      const record = (await pipeline.jobStore.get(id))!;
      assert.equal(pipeline.finished.get(id), "cancelled", JSON.stringify(record.errors));
      const { manifest, lines } = output(name);
      assert.deepEqual(
        lines.map((l) => l.frame),
        [...Array(lines.length).keys()],
      );
      noErrorsButCancel(lines, name);
      for (let i = 1; i < lines.length; i++) assert.ok(lines[i].ptsMs > lines[i - 1].ptsMs);
      const reconnects = manifest.gaps.filter((g) => g.startedAtMs !== undefined);
      assert.equal(reconnects.length, 1, `${name}: ${JSON.stringify(manifest.gaps)}`);
      const [gap] = reconnects;
      assert.ok(gap.reason === "ended" || gap.reason === "dropped" || gap.reason === "stalled", gap.reason);
      assert.ok(gap.endedAtMs! > gap.startedAtMs!, JSON.stringify(gap));
      // The new session's timestamps start again from zero: the hole in stream time is the wall-clock time lost
      // (a new session taken for the old one re-joined would show no hole). The server was down for seconds.
      assert.ok(gap.toMs - gap.fromMs >= 1500, `${name}: ${JSON.stringify(gap)}, server down ${downMs} ms`);
      assert.ok(
        Math.abs(gap.toMs - gap.fromMs - (gap.endedAtMs! - gap.startedAtMs!)) <= 1500,
        `${name}: ${JSON.stringify(gap)}`,
      );
      const before = lines.filter((l) => l.ptsMs < gap.fromMs);
      const afterGap = lines.filter((l) => l.ptsMs >= gap.toMs);
      assert.ok(before.length >= 3, `${name}: ${before.length} frames before the gap`);
      assert.ok(afterGap.length >= 3, `${name}: ${afterGap.length} frames after the gap`);
      assert.equal(before.length + afterGap.length, lines.length);
      assert.equal(record.connection?.state, "stopped");
      assert.ok(record.connection!.reconnects >= 1);
      const order = ["connecting", "live", "reconnecting", "live", "stopped"];
      let at = 0;
      for (const s of states.get(id)!) if (s === order[at]) at++;
      assert.ok(at >= order.length - 1, `${name}: connection states seen: ${states.get(id)!.join(" → ")}`);
    };
    await reconnected(idA, "a");
    await reconnected(idF, "a-frames");

    // B: untouched by A's outage: no gap, no reconnect, every sampled second, exact 1 s steps.
    const b = output("b");
    assert.equal(pipeline.finished.get(idB), "cancelled");
    assert.deepEqual(b.manifest.gaps, []);
    assert.ok(b.lines.length >= 10, `${b.lines.length} frames of B`);
    assert.deepEqual(
      b.lines.map((l) => l.frame),
      [...Array(b.lines.length).keys()],
    );
    noErrorsButCancel(b.lines, "b");
    const ptsB = b.lines.map((l) => l.ptsMs);
    // The sampling grid's points 0 s, 1 s, 2 s …: the first is the session's first decodable frame (the reader
    // joins between keyframes), then one frame per second without a miss.
    assert.ok(ptsB[0] >= 0 && ptsB[0] < 1000, `B's ptsMs: ${ptsB.join(", ")}`);
    for (let i = 1; i < ptsB.length; i++) assert.equal(ptsB[i], 1000 * i, `B's ptsMs: ${ptsB.join(", ")}`);
    assert.equal((await pipeline.jobStore.get(idB))?.connection?.reconnects, 0);

    // Every recorded segment was taken out of the frame store once its frames were reported.
    await waitFor(
      "the frame store emptied",
      async () => ((await pipeline.redis.keys(`${prefix}:frame:*`)).length === 0 ? true : undefined),
      30_000,
    );
  } finally {
    for (const publisher of publishers) publisher.kill("SIGKILL");
    await serverA.stop();
    await serverB.stop();
    await worker.close();
    await models.close();
    await pipeline.close();
  }
});
