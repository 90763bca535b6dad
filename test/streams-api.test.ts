// A stream added and removed through the HTTP API while the roles run: api, producer, worker and aggregator on the
// real Redis, a live HLS source (ffmpeg writing a growing playlist in real time) served on loopback. The stream
// writes its tracks in time-based parts listed by a rolling manifest; removing it stops it cleanly, completes its
// last part, and every frame read is in exactly one part, across an aggregator replaced mid-stream. No role is
// started or stopped for the stream itself.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { access } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { after, before, test } from "node:test";
import { execVdet, runVdet } from "@vdet/cli/testing";
import { STREAM_MANIFEST, streamPartsManifestSchema } from "@vdet/protocol";
import {
  aggregatorConfigSchema,
  apiConfigSchema,
  loadConfig,
  producerConfigSchema,
  type RunningRole,
  startAggregatorRole,
  startApiRole,
  startProducerRole,
  startWorkerRole,
  workerConfigSchema,
} from "@vdet/roles";
import { startLiveLavfi, testPattern } from "@vdet/video/testing";
import { pino } from "pino";
import { REDIS_URL } from "./support/redis-pipeline.ts";
import { closeRoles } from "./support/roles.ts";
import { parseTracks } from "./support/tracks.ts";
import { waitFor } from "./support/wait.ts";

const prefix = `vdet-streams-${randomUUID().slice(0, 8)}`;
const token = "streams-integration-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "vdet-streams-"));
const logger = pino({ level: "warn" });
const roles: RunningRole[] = [];
let apiUrl = "";

const server = createServer((request, response) => {
  const path = normalize(join(dir, decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname)));
  if (!path.startsWith(dir)) return response.writeHead(403).end();
  const stream = createReadStream(path);
  stream.on("error", () => response.writeHead(404).end());
  stream.on("open", () => {
    response.writeHead(200, {
      "content-type": path.endsWith(".m3u8") ? "application/vnd.apple.mpegurl" : "video/mp2t",
    });
    stream.pipe(response);
  });
});

// Loopback inputs are allowed as on a single machine; outputs go to directories.
const env = {
  VDET_REDIS_URL: REDIS_URL,
  VDET_PREFIX: prefix,
  VDET_LOG_LEVEL: "warn",
  VDET_INPUT_ALLOW_ADDRESSES: "127.0.0.1/32",
  VDET_ALLOW_DIRECTORY_OUTPUTS: "1",
  VDET_OFFLINE: "1",
};
let aggregator: RunningRole;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const api = await startApiRole(
    loadConfig(apiConfigSchema, env, { port: 0, host: "127.0.0.1", token }),
    logger,
  );
  roles.push(api);
  roles.push(await startProducerRole(loadConfig(producerConfigSchema, env), logger));
  roles.push(await startWorkerRole(loadConfig(workerConfigSchema, env), logger));
  aggregator = startAggregatorRole(loadConfig(aggregatorConfigSchema, env), logger);
  roles.push(aggregator);
  apiUrl = api.url;
});

after(async () => {
  await closeRoles(roles, prefix);
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown) {
  const response = await fetch(new URL(path, apiUrl), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  // biome-ignore lint/suspicious/noExplicitAny: the test reads the documented response bodies
  return { status: response.status, body: (await response.json()) as any };
}

test("a stream added through the API writes time-based parts and is removed cleanly", async () => {
  const port = (server.address() as AddressInfo).port;
  mkdirSync(join(dir, "live"));
  const playlist = join(dir, "live", "index.m3u8");
  // Longer than the test needs: the stream is removed while the source is still live.
  const writer = startLiveLavfi(testPattern(320, 240, 10, 600), [
    ...["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", "-f", "hls", "-hls_time", "1"],
    ...["-hls_list_size", "0", "-hls_playlist_type", "event"],
    ...["-hls_segment_filename", join(dir, "live", "seg%03d.ts"), playlist],
  ]);
  const writerDone = new Promise<void>((resolve) => writer.on("exit", () => resolve()));
  try {
    await waitFor(
      "ffmpeg to write the playlist",
      () =>
        access(playlist).then(
          () => true as const,
          () => undefined,
        ),
      15_000,
      50,
    );
    const output = join(dir, "out");
    const created = await api("POST", "/streams", {
      input: `http://127.0.0.1:${port}/live/index.m3u8`,
      output,
      name: "test pattern",
      sampling: { fps: 2 },
      latencyBudgetMs: 5000,
      scoreThreshold: 0.5,
      partMinutes: 0.05, // a part every 3 s
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id: string = created.body.stream.id;
    assert.equal(created.body.stream.state, "connecting");

    // Frames arrive and the first part is complete while the stream is live.
    const live = await waitFor(
      "a completed part while the stream is live",
      async () => {
        const { body } = await api("GET", `/streams/${id}`);
        assert.notEqual(body.stream.state, "stopped", JSON.stringify(body.stream.job.errors));
        return (
          body.stream.state === "live" && body.parts.some((p: { complete: boolean }) => p.complete) && body
        );
      },
      180_000,
      250,
    );
    assert.equal(live.stream.name, "test pattern");
    // The aggregator is replaced mid-stream (as a rolling update does): the new one resumes the stream from its
    // checkpoint, in the middle of a part, and goes on writing parts.
    const aggregatorAt = roles.indexOf(aggregator);
    await aggregator.close();
    aggregator = startAggregatorRole(loadConfig(aggregatorConfigSchema, env), logger);
    roles[aggregatorAt] = aggregator;
    const completeBefore = live.parts.filter((p: { complete: boolean }) => p.complete).length;
    await waitFor(
      "a part completed by the new aggregator",
      async () => {
        const { body } = await api("GET", `/streams/${id}`);
        return body.parts.filter((p: { complete: boolean }) => p.complete).length > completeBefore + 1;
      },
      180_000,
      250,
    );
    // The aggregator's figures: measured once results flow (every 2 s).
    const measured = await waitFor(
      "the stream's frame rates",
      async () => {
        const { body } = await api("GET", `/streams/${id}`);
        return body.stream.fpsIn !== null && body.stream;
      },
      60_000,
      250,
    );
    assert.ok(measured.fpsIn >= 0 && measured.fpsOut >= 0, JSON.stringify(measured));
    assert.ok(measured.phi === 0, `φ ${measured.phi}`);
    const listed = await api("GET", "/streams");
    assert.deepEqual(
      listed.body.streams.map((s: { id: string }) => s.id),
      [id],
    );
    // The CLI shows the same.
    const client = ["--api", apiUrl, "--token", token];
    const list = (await execVdet(["stream", "list", ...client])).stdout;
    assert.match(
      list,
      new RegExp(`^${id}\\s+live\\s+in [\\d.]+/s\\s+out [\\d.]+/s\\s+hit .*φ 0\\s+test pattern$`, "m"),
    );
    const shown = (await execVdet(["stream", "show", id, ...client])).stdout;
    assert.match(shown, /tracks\/\d{8}T\d{6}Z\.jsonl {2}\d+ lines {2}\d+ bytes/);
    const refused = await runVdet([
      "stream",
      "add",
      "/videos/a.mp4",
      "--out",
      output,
      "--budget",
      "500",
      ...client,
    ]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /invalid stream spec: input: a stream reads a live source/);

    // Removed while the source is still live: the stream stops and its output is final.
    const removed = await execVdet(["stream", "rm", id, ...client]);
    assert.match(removed.stdout, /removal requested/);
    const stopped = await waitFor(
      "the stream to stop",
      async () => {
        const { body } = await api("GET", `/streams/${id}`);
        return body.stream.state === "stopped" && body;
      },
      120_000,
      250,
    );
    assert.equal(stopped.stream.job.state, "cancelled", JSON.stringify(stopped.stream.job.errors));
    assert.equal(writer.exitCode, null, "the source was still live when the stream was removed");
    const manifest = streamPartsManifestSchema.parse(
      JSON.parse(readFileSync(join(output, STREAM_MANIFEST), "utf8")),
    );
    assert.equal(manifest.complete, true);
    assert.ok(manifest.parts.length >= 2, `${manifest.parts.length} parts`);
    assert.deepEqual(
      stopped.parts.map((p: { key: string }) => p.key),
      manifest.parts.map((p) => p.key),
    );
    // Parts are named by their start, in order, each complete; together they hold every frame once, in order.
    const frames: number[] = [];
    for (const part of manifest.parts) {
      assert.match(part.key, /^tracks\/\d{8}T\d{6}Z\.jsonl$/);
      assert.equal(part.complete, true);
      const lines = parseTracks(readFileSync(join(output, part.key), "utf8"));
      assert.equal(lines.length, part.lines, part.key);
      frames.push(...lines.map((l) => l.frame));
    }
    assert.deepEqual(frames, [...frames.keys()]);
    assert.equal(frames.length, stopped.stream.job.progress.written + stopped.stream.job.progress.failed);
    assert.deepEqual(
      manifest.parts.map((p) => p.start),
      [...manifest.parts.map((p) => p.start)].sort(),
    );
    // GET /jobs/:id/tracks joins the parts in order.
    const tracks = await fetch(new URL(`/jobs/${id}/tracks`, apiUrl), {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(tracks.headers.get("x-vdet-complete"), "true");
    assert.deepEqual(
      parseTracks(await tracks.text()).map((l) => l.frame),
      frames,
    );
    const jobManifest = JSON.parse(readFileSync(join(output, "manifest.json"), "utf8"));
    assert.ok(jobManifest.files.includes(STREAM_MANIFEST), jobManifest.files.join(", "));
    assert.equal(jobManifest.state, "cancelled");
    // Nothing else grows: no single tracks.jsonl, no tracks.mot.txt, no pieces left behind.
    for (const absent of ["tracks.jsonl", "tracks.mot.txt"]) {
      await assert.rejects(access(join(output, absent)), `${absent} must not be written for a stream`);
    }
    assert.equal((await api("DELETE", `/streams/${id}`)).status, 409);
  } finally {
    writer.kill("SIGKILL");
    await writerDone;
  }
});
