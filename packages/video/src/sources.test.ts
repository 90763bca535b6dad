// Network inputs against a local HTTP server (127.0.0.1 only): a file URL with range requests, 404, a refused
// connection, a server that stalls mid-body, secrets in URLs kept out of errors, and a live HLS stream that
// ffmpeg is still writing while it is decoded.

import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { access, readFile, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  collect,
  makeNumberedClip,
  numberedFrames,
  readFrameNumber,
  startLiveLavfi,
  useTempDir,
  waitForFile,
} from "../testing/clips.ts";
import {
  VideoInputRejectedError,
  VideoNotFoundError,
  VideoStallError,
  VideoUnreachableError,
} from "./errors.ts";
import { probeVideo } from "./probe.ts";

const dir = useTempDir("sources");
let server: Server;
let base: string;
const requests: string[] = [];

/** Serves files under dir with Range support; /stall/NAME sends a third of NAME and then nothing. */
function serve(root: string): Server {
  return createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    requests.push(url.pathname + url.search);
    const stall = url.pathname.startsWith("/stall/");
    const path = join(root, normalize(url.pathname.replace(/^\/stall\//, "/")));
    try {
      await access(path);
    } catch {
      response.writeHead(404).end("not found");
      return;
    }
    const size = (await stat(path)).size;
    if (stall) {
      response.writeHead(200, { "content-length": size, "content-type": "video/mp2t" });
      response.write((await readFile(path)).subarray(0, Math.floor(size / 3)));
      return; // never ends: the client has to give up
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
    const start = range ? Number(range[1]) : 0;
    const end = range?.[2] ? Number(range[2]) : size - 1;
    if (start >= size) {
      response.writeHead(416, { "content-range": `bytes */${size}` }).end();
      return;
    }
    response.writeHead(range ? 206 : 200, {
      "accept-ranges": "bytes",
      "content-length": end - start + 1,
      ...(range ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
    });
    createReadStream(path, { start, end }).pipe(response);
  });
}

before(async () => {
  await makeNumberedClip(join(dir.path, "clip.mp4"), { frames: 100, rate: 25, width: 160, height: 90 });
  await makeNumberedClip(join(dir.path, "clip.ts"), {
    frames: 100,
    rate: 25,
    width: 160,
    height: 90,
    output: ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-f", "mpegts"],
  });
  server = serve(dir.path);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("http(s) URLs", () => {
  test("an MP4 URL (index at the end, read with range requests) probes and decodes", async () => {
    const url = `${base}/clip.mp4`;
    const info = await probeVideo(url);
    assert.deepEqual([info.width, info.height, info.frameCount, info.codec], [160, 90, 100, "h264"]);
    const frames = await collect(url, { sampling: { fps: 5 } });
    assert.deepEqual(
      frames.map((f) => readFrameNumber(f)),
      Array.from({ length: 20 }, (_, k) => 5 * k),
    );
  });

  test("404 is VideoNotFoundError; a closed port is VideoUnreachableError", async () => {
    await assert.rejects(collect(`${base}/nope.mp4`, { sampling: { everyNth: 1 } }), (error: unknown) => {
      assert.ok(error instanceof VideoNotFoundError, String(error));
      assert.match(error.reason ?? "", /404/);
      return true;
    });
    await assert.rejects(probeVideo(`${base}/nope.mp4`), VideoNotFoundError);
    // Bind and release a port so nothing listens on it.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(
      collect(`http://127.0.0.1:${port}/x.mp4`, { sampling: { everyNth: 1 } }),
      (error: unknown) => {
        assert.ok(error instanceof VideoUnreachableError, String(error));
        assert.match(error.reason ?? "", /refused/i);
        return true;
      },
    );
    await assert.rejects(probeVideo(`http://127.0.0.1:${port}/x.mp4`), VideoUnreachableError);
  });

  test("signed query strings and credentials never appear in errors", async () => {
    const secret = "X-Amz-Signature=deadbeefcafe";
    await assert.rejects(
      collect(`${base}/nope.mp4?${secret}`, { sampling: { everyNth: 1 } }),
      (error: unknown) => {
        assert.ok(error instanceof VideoNotFoundError);
        const text = [error.message, error.reason ?? "", ...error.stderrTail].join("\n");
        assert.ok(!text.includes("deadbeef"), text);
        assert.match(error.message, /nope\.mp4\?<redacted>/);
        return true;
      },
    );
    assert.ok(
      requests.some((r) => r.includes(secret)),
      "the real URL was requested",
    );
  });

  test("a server that stops sending mid-body fails with VideoStallError", async () => {
    const started = Date.now();
    await assert.rejects(
      collect(`${base}/stall/clip.ts`, { sampling: { everyNth: 1 }, stallTimeoutMs: 800 }),
      VideoStallError,
    );
    assert.ok(Date.now() - started < 8000);
  });
});

describe("playlists", () => {
  test("a remote playlist cannot make ffmpeg read local files", async () => {
    await writeFile(
      join(dir.path, "evil.m3u8"),
      [
        "#EXTM3U",
        "#EXT-X-TARGETDURATION:1",
        "#EXTINF:1.0,",
        `file://${join(dir.path, "clip.ts")}`,
        "#EXT-X-ENDLIST",
        "",
      ].join("\n"),
    );
    const evil = collect(`${base}/evil.m3u8`, { sampling: { everyNth: 1 }, stallTimeoutMs: 10_000 });
    await assert.rejects(evil, (error: unknown) => {
      assert.ok(error instanceof VideoInputRejectedError, String(error));
      assert.match(error.reason ?? "", /Protocol 'file' not on whitelist/);
      return true;
    });
    assert.ok(!requests.includes("/clip.ts"), "no segment was fetched over http instead");
  });
});

describe("live HLS", () => {
  test("a growing playlist is decoded while ffmpeg writes it, and decoding ends with the stream", async () => {
    const live = join(dir.path, "live");
    const playlist = join(live, "index.m3u8");
    await import("node:fs/promises").then((fs) => fs.mkdir(live));
    // 3 s of numbered frames, written in real time as 1-s segments; #EXT-X-ENDLIST only at the end.
    const writer = startLiveLavfi(numberedFrames({ frames: 75, rate: 25, width: 160, height: 90 }), [
      ...["-c:v", "libx264", "-g", "25", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0"],
      ...["-hls_playlist_type", "event", "-hls_segment_filename", join(live, "seg%03d.ts"), playlist],
    ]);
    const writerDone = new Promise((resolve) => writer.on("exit", resolve));
    try {
      await waitForFile(playlist, 10_000);
      assert.doesNotMatch(await readFile(playlist, "utf8"), /EXT-X-ENDLIST/, "the stream must still be live");
      const frames = await collect(`${base}/live/index.m3u8`, {
        sampling: { everyNth: 5 },
        stallTimeoutMs: 10_000,
      });
      await writerDone;
      assert.match(await readFile(playlist, "utf8"), /EXT-X-ENDLIST/);
      const numbers = frames.map((f) => readFrameNumber(f));
      // Joined at the first segment: every 5th frame of all 75, in order, with increasing pts.
      assert.deepEqual(
        numbers,
        Array.from({ length: 15 }, (_, k) => 5 * k),
      );
      for (let i = 1; i < frames.length; i++) assert.ok(frames[i]!.ptsSeconds > frames[i - 1]!.ptsSeconds);
    } finally {
      writer.kill("SIGKILL");
      await writerDone;
    }
  });
});
