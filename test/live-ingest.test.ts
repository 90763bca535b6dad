// Live ingestion through the distributed path over the real Redis: two HLS streams served by two local HTTP
// origins, recorded into segments by the producer (each segment's bytes in the frame store, a descriptor on the
// segment queue), decoded by a worker (real ffmpeg; a simulated model, so the test measures ingestion, not D0 on a
// loaded CPU). Origin A is stopped mid-stream (its HTTP server closed, its encoder killed) and started again with a
// new encoder: the job reconnects with backoff, records the hole as a gap (stream time, wall-clock times, reason),
// goes through the connection states connecting → live → reconnecting → live → stopped, and has frames before and
// after. A second job on A's stream takes the low-latency path (JPEG frames decoded by the producer) and
// reconnects the same way. Stream B, on the same producer at the same time, is untouched: no gap, every frame,
// exact steps. Job A names a notify webhook (a receiver on loopback, allowed explicitly by the notifier's address
// policy): it receives signed stream.state events for every state change and the outage's stream.gap.started and
// stream.gap.ended, the ended one carrying the gap the manifest records.

import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { after, test } from "node:test";
import { InputPolicy } from "@vdet/input-policy";
import { MemoryNotificationStore } from "@vdet/jobs";
import { Notifier, SIGNATURE_HEADER, verifySignature } from "@vdet/notify";
import { createSimulatedModelProvider, startWorker } from "@vdet/pipeline";
import { type JobManifest, type Notification, parseJobSpec, type StreamState } from "@vdet/protocol";
import { startLiveLavfi, testPattern } from "@vdet/video/testing";
import { startRedisPipeline } from "./support/redis-pipeline.ts";
import { parseTracks } from "./support/tracks.ts";
import { waitFor } from "./support/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-live-ingest-"));
const prefix = `vdet-live-${randomUUID().slice(0, 8)}`;
after(() => rmSync(dir, { recursive: true, force: true }));

/** A local HLS origin: serves whatever directory `root` names now; stop() refuses connections, start() again. */
class Origin {
  root = "";
  private server: Server | undefined;
  port = 0;
  async start(): Promise<void> {
    const server = createServer((request, response) => {
      const path = normalize(join(this.root, new URL(request.url ?? "/", "http://x").pathname));
      if (!path.startsWith(this.root) || !existsSync(path)) return response.writeHead(404).end();
      response.writeHead(200, {
        "content-type": path.endsWith(".m3u8") ? "application/vnd.apple.mpegurl" : "video/mp2t",
      });
      createReadStream(path).pipe(response);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** An encoder writing a growing HLS event playlist (10 fps, 1 s GOPs and segments) into a new directory. */
function startEncoder(
  name: string,
  seconds: number,
): { dir: string; playlist: string; process: ChildProcess; done: Promise<void> } {
  const out = join(dir, name);
  mkdirSync(out);
  const playlist = join(out, "index.m3u8");
  const process = startLiveLavfi(testPattern(160, 120, 10, seconds), [
    ...["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", "-f", "hls", "-hls_time", "1"],
    ...["-hls_list_size", "0", "-hls_playlist_type", "event"],
    ...["-hls_segment_filename", join(out, "seg%03d.ts"), playlist],
  ]);
  const done = new Promise<void>((resolve) => process.on("exit", () => resolve()));
  return { dir: out, playlist, process, done };
}

const SECRET = "live-ingest-notify-secret-0123456789";

const table = {
  version: 1 as const,
  key: "live-ingest",
  measuredAt: "2026-12-07T00:00:00Z",
  rows: [1, 2, 4].map((batch) => ({ phi: 0 as const, batch, p50Ms: 5, p90Ms: 5, samplesMs: [5] })),
};

test("recorded live segments: a stream whose origin restarts reconnects with the gap recorded; the other is untouched", async () => {
  const testStartedAtMs = Date.now();
  // A webhook receiver on loopback for A's stream events.
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  const webhook = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/vdet`;
  const notifier = new Notifier({
    store: new MemoryNotificationStore(),
    policy: new InputPolicy({ allowFileInputs: false, allowAddresses: ["127.0.0.1/32"] }),
    secret: SECRET,
    baseDelayMs: 10,
  });
  const pipeline = startRedisPipeline({
    prefix,
    producer: { inputTimeoutMs: 6000, concurrency: 3, streamEvents: notifier },
  });
  const models = createSimulatedModelProvider(table);
  const worker = startWorker({
    transport: pipeline.transport,
    jobStore: pipeline.jobStore,
    models,
    maxBatch: 4,
    maxDelayMs: 1,
  });
  const a = new Origin();
  const b = new Origin();
  const encoders: ChildProcess[] = [];
  try {
    await a.start();
    await b.start();
    const a1 = startEncoder("a1", 30);
    const bEnc = startEncoder("b", 16);
    encoders.push(a1.process, bEnc.process);
    a.root = a1.dir;
    b.root = bEnc.dir;
    await waitFor("the playlists", () => existsSync(a1.playlist) && existsSync(bEnc.playlist), 20_000, 50);
    const submit = async (
      origin: Origin,
      name: string,
      more: { latencyBudgetMs?: number; notify?: { webhook: string; tag: string } } = {},
    ) => {
      const spec = parseJobSpec({
        input: `http://127.0.0.1:${origin.port}/index.m3u8`,
        output: join(dir, `out-${name}`),
        sampling: { fps: 1 },
        ...more,
        reconnect: { initialDelayMs: 200, maxDelayMs: 1000, jitter: 0.5, giveUpAfterMs: 60_000 },
      });
      const { job } = await pipeline.jobStore.create(spec);
      await pipeline.transport.jobs.add({ jobId: job.id }, { id: job.id });
      return job.id;
    };
    const idA = await submit(a, "a", { notify: { webhook, tag: "cam-a" } });
    const idB = await submit(b, "b");
    // The same stream on the low-latency path (a 1 s budget: JPEG frames decoded by the producer) reconnects too.
    const idF = await submit(a, "a-frames", { latencyBudgetMs: 1000 });
    const statesA: StreamState[] = [];
    const watch = setInterval(() => {
      void pipeline.jobStore.get(idA).then((job) => {
        const state = job?.connection?.state;
        if (state && statesA.at(-1) !== state) statesA.push(state);
      });
    }, 50);
    try {
      // Frames of A before the outage reach the output; then its origin goes away.
      await waitFor(
        "A's frames before the outage",
        async () => {
          const [job, frames] = [await pipeline.jobStore.get(idA), await pipeline.jobStore.get(idF)];
          return (job?.progress.inferred ?? 0) >= 3 && (frames?.progress.inferred ?? 0) >= 3;
        },
        60_000,
      );
      await a.stop();
      a1.process.kill("SIGKILL");
      await a1.done;
      await waitFor(
        "A to notice the outage",
        async () =>
          (await pipeline.jobStore.get(idA))?.connection?.state === "reconnecting" &&
          (await pipeline.jobStore.get(idF))?.connection?.state === "reconnecting",
        30_000,
      );
      // The origin comes back with a restarted encoder (a new stream, its timestamps from zero).
      const a2 = startEncoder("a2", 6);
      encoders.push(a2.process);
      a.root = a2.dir;
      await waitFor("the restarted playlist", () => existsSync(a2.playlist), 20_000, 50);
      await a.start();
      await waitFor(
        "the jobs to finish",
        () => pipeline.finished.get(idA) && pipeline.finished.get(idB) && pipeline.finished.get(idF),
        120_000,
      );
    } finally {
      clearInterval(watch);
    }
    assert.equal(
      pipeline.finished.get(idA),
      "completed",
      JSON.stringify((await pipeline.jobStore.get(idA))?.errors),
    );
    assert.equal(
      pipeline.finished.get(idB),
      "completed",
      JSON.stringify((await pipeline.jobStore.get(idB))?.errors),
    );

    // A (both paths): frames before and after the outage, one reconnect gap between them.
    const reconnected = async (id: string, name: string) => {
      assert.equal(
        pipeline.finished.get(id),
        "completed",
        JSON.stringify((await pipeline.jobStore.get(id))?.errors),
      );
      const record = (await pipeline.jobStore.get(id))!;
      const manifest: JobManifest = JSON.parse(
        readFileSync(join(dir, `out-${name}`, "manifest.json"), "utf8"),
      );
      const lines = parseTracks(readFileSync(join(dir, `out-${name}`, "tracks.jsonl"), "utf8"));
      assert.deepEqual(
        lines.map((l) => l.frame),
        [...Array(lines.length).keys()],
      );
      for (let i = 1; i < lines.length; i++) assert.ok(lines[i].ptsMs > lines[i - 1].ptsMs);
      const reconnects = manifest.gaps.filter((g) => g.startedAtMs !== undefined);
      assert.equal(reconnects.length, 1, `${name}: ${JSON.stringify(manifest.gaps)}`);
      const [gap] = reconnects;
      assert.ok(gap.reason === "dropped" || gap.reason === "stalled", gap.reason);
      assert.ok(gap.toMs > gap.fromMs && gap.endedAtMs! > gap.startedAtMs!, JSON.stringify(gap));
      const before = lines.filter((l) => l.ptsMs < gap.fromMs);
      const afterGap = lines.filter((l) => l.ptsMs >= gap.toMs);
      assert.ok(before.length >= 3, `${name}: ${before.length} frames before the gap`);
      assert.ok(afterGap.length >= 3, `${name}: ${afterGap.length} frames after the gap`);
      assert.equal(before.length + afterGap.length, lines.length);
      assert.equal(record.connection?.state, "stopped");
      assert.ok(record.connection!.reconnects >= 1);
      return lines;
    };
    const linesF = await reconnected(idF, "a-frames");
    const linesA = await reconnected(idA, "a");
    const order = ["connecting", "live", "reconnecting", "live", "stopped"];
    let at = 0;
    for (const state of statesA) if (state === order[at]) at++;
    assert.ok(at >= order.length - 1, `connection states seen: ${statesA.join(" → ")}`);

    // B: untouched by A's outage: no gap, every second of its stream, exact 1 s steps.
    const manifestB: JobManifest = JSON.parse(readFileSync(join(dir, "out-b", "manifest.json"), "utf8"));
    const linesB = parseTracks(readFileSync(join(dir, "out-b", "tracks.jsonl"), "utf8"));
    assert.deepEqual(manifestB.gaps, []);
    assert.ok(linesB.length >= 12 && linesB.length <= 16, `${linesB.length} frames of B`);
    assert.deepEqual(
      linesB.map((l) => l.frame),
      [...Array(linesB.length).keys()],
    );
    for (let i = 1; i < linesB.length; i++) assert.equal(linesB[i].ptsMs - linesB[i - 1].ptsMs, 1000);
    assert.equal((await pipeline.jobStore.get(idB))?.connection?.reconnects, 0);

    // Each frame line says when it was captured: the arrival clock, within the test's run.
    for (const line of [...linesA, ...linesB, ...linesF]) {
      assert.equal(line.captureClock, "arrival");
      const at = Date.parse(line.capturedAt ?? "");
      assert.ok(at >= testStartedAtMs - 5000 && at <= Date.now(), `capturedAt ${line.capturedAt}`);
    }

    // A's webhook: signed stream events for each state change and for the outage (delivered asynchronously).
    const events = await waitFor(
      "A's stream events",
      () => {
        const parsed = received.map((r) => JSON.parse(r.body) as Notification);
        return parsed.some((e) => e.type === "stream.state" && e.data.state === "stopped") &&
          parsed.some((e) => e.type === "stream.gap.ended")
          ? parsed
          : undefined;
      },
      30_000,
      50,
    );
    for (const r of received) {
      assert.ok(verifySignature(SECRET, r.body, r.headers[SIGNATURE_HEADER] as string), r.body);
    }
    for (const event of events) {
      assert.deepEqual(event.subject, { kind: "stream", id: idA });
      assert.equal(event.tag, "cam-a");
      assert.ok(event.id.startsWith(`stream:${idA}:`), event.id);
    }
    assert.equal(new Set(events.map((e) => e.id)).size, events.length, "one delivery per event");
    const states = events
      .filter((e) => e.type === "stream.state")
      .sort((x, y) => (x.data.sinceMs as number) - (y.data.sinceMs as number))
      .map((e) => `${e.data.previous}→${e.data.state}`);
    assert.deepEqual(states, ["connecting→live", "live→reconnecting", "reconnecting→live", "live→stopped"]);
    const started = events.filter((e) => e.type === "stream.gap.started");
    const ended = events.filter((e) => e.type === "stream.gap.ended");
    assert.equal(started.length, 1, JSON.stringify(started));
    assert.equal(ended.length, 1, JSON.stringify(ended));
    assert.equal(started[0].id.split(":").at(-1), ended[0].id.split(":").at(-1), "the same gap's key");
    const manifestA: JobManifest = JSON.parse(readFileSync(join(dir, "out-a", "manifest.json"), "utf8"));
    const [gapA] = manifestA.gaps.filter((g) => g.startedAtMs !== undefined);
    assert.deepEqual(
      { ...ended[0].data },
      { ...gapA, lostFrames: true },
      "the ended event carries the manifest's gap",
    );
    assert.equal(started[0].data.startedAtMs, gapA.startedAtMs);
    assert.equal(started[0].data.reason, gapA.reason);

    // Every recorded segment was taken out of the frame store once its frames were reported.
    assert.deepEqual(await pipeline.redis.keys(`${prefix}:frame:*`), []);
  } finally {
    for (const encoder of encoders) encoder.kill("SIGKILL");
    await a.stop();
    await b.stop();
    await worker.close();
    await models.close();
    await pipeline.close();
    await notifier.close();
    await new Promise<void>((resolve) => hook.close(() => resolve()));
  }
});
