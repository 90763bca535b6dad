// A live HLS stream through the whole pipeline: ffmpeg writes a growing playlist in real time, a local HTTP
// server serves it, and `vdet run` follows it, keeps up, and ends when the stream ends.

import assert from "node:assert/strict";
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { access } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { after, test } from "node:test";
import { runLocal } from "@vdet/pipeline";
import { startLiveLavfi, testPattern } from "@vdet/video/testing";
import { parseTracks } from "./support/tracks.ts";
import { waitFor } from "./support/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-live-"));
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
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a growing HLS playlist is processed while it is written and the job ends with the stream", async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  mkdirSync(join(dir, "live"));
  const playlist = join(dir, "live", "index.m3u8");
  // Long enough that a loaded CI machine (model preload and profiling first) still writes while it is live.
  const streamSeconds = 20;
  const writer = startLiveLavfi(testPattern(320, 240, 10, streamSeconds), [
    ...[
      "-c:v",
      "libx264",
      "-pix_fmt",
      "yuv420p",
      "-g",
      "10",
      "-f",
      "hls",
      "-hls_time",
      "1",
      "-hls_list_size",
      "0",
    ],
    ...["-hls_playlist_type", "event", "-hls_segment_filename", join(dir, "live", "seg%03d.ts"), playlist],
  ]);
  let writerEndedAt = 0;
  let writtenWhenStreamEnded = -1;
  let written = 0;
  const writerDone = new Promise<void>((resolve) =>
    writer.on("exit", () => {
      writerEndedAt = Date.now();
      writtenWhenStreamEnded = written;
      resolve();
    }),
  );
  try {
    const playlistWritten = () =>
      access(playlist).then(
        () => true as const,
        () => undefined,
      );
    await waitFor("ffmpeg to write the playlist", playlistWritten, 15_000, 50);
    assert.doesNotMatch(readFileSync(playlist, "utf8"), /EXT-X-ENDLIST/, "the stream must still be live");
    const out = join(dir, "out");
    const result = await runLocal({
      spec: {
        input: `http://127.0.0.1:${port}/live/index.m3u8`,
        output: out,
        sampling: { fps: 1 },
        latencyBudgetMs: 2000,
        scoreThreshold: 0.5,
      },
      seed: 0,
      preload: true,
      progressIntervalMs: 100,
      onProgress: (job) => {
        written = job.progress.written;
      },
    });
    const finishedAt = Date.now();
    await writerDone;
    assert.equal(result.job.state, "completed", JSON.stringify(result.job.errors));
    assert.match(readFileSync(playlist, "utf8"), /EXT-X-ENDLIST/);
    const lines = parseTracks(readFileSync(join(out, "tracks.jsonl"), "utf8"));
    // Sampled at 1 fps. A live join starts a few segments behind the newest (ffmpeg's live_start_index), so a
    // late start may miss the first seconds; what is read is contiguous, in order, with increasing pts.
    assert.ok(lines.length >= streamSeconds - 4 && lines.length <= streamSeconds, `${lines.length} frames`);
    assert.deepEqual(
      lines.map((l) => l.frame),
      [...Array(lines.length).keys()],
    );
    for (let i = 1; i < lines.length; i++) assert.ok(lines[i].ptsMs > lines[i - 1].ptsMs);
    // Keeping up: results were written while the stream was still live, and the job ended soon after the stream
    // did (bounds loose enough for a busy 2-core CI machine running other tests alongside).
    assert.ok(
      writtenWhenStreamEnded >= 2,
      `only ${writtenWhenStreamEnded} frames written while the stream was live`,
    );
    const lag = finishedAt - writerEndedAt;
    assert.ok(lag < 15_000, `finished ${lag} ms after the stream ended`);
  } finally {
    writer.kill("SIGKILL");
    await writerDone;
  }
});
