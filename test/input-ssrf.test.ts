// The address policy end to end with real ffmpeg: loopback is forbidden in this test's policy except 127.0.0.1
// (where the good server lives), and a canary listener on 127.0.0.2 must never be reached — not by a direct
// URL in any numeric spelling, nor a redirect, an HLS segment, HTTPS (CONNECT), or a DNS name that resolves
// there (a resolver stub). ffmpeg reaches the network only through @vdet/input-policy's proxy.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { InputPolicy, type InputProxy, startInputProxy } from "@vdet/input-policy";
import { isTerminal, parseJobSpec } from "@vdet/protocol";
import { decodeFrames, probeVideo } from "@vdet/video";
import { makeTestClip, runFfmpeg } from "@vdet/video/testing";
import { startMemoryPipeline } from "./support/memory-pipeline.ts";
import { waitFor } from "./support/wait.ts";

const dir = { path: mkdtempSync(join(tmpdir(), "vdet-ssrf-")) };
let good: Server;
let canary: Server;
let tlsCanary: TcpServer;
let goodBase = "";
let canaryPort = 0;
let tlsCanaryPort = 0;
let canaryHits = 0;
let proxy: InputProxy;

const lookup = async (name: string) => {
  if (name === "good.test") return [{ address: "127.0.0.1", family: 4 }];
  if (name === "canary.test") return [{ address: "127.0.0.2", family: 4 }];
  if (name === "mixed.test") {
    return [
      { address: "127.0.0.1", family: 4 },
      { address: "127.0.0.2", family: 4 },
    ];
  }
  if (name === "mapped.test") return [{ address: "::ffff:127.0.0.2", family: 6 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: "ENOTFOUND" });
};
const policy = new InputPolicy({ allowAddresses: ["127.0.0.1/32"], lookup });

function listen(server: Server | TcpServer, host: string): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, host, () => resolve((server.address() as { port: number }).port)),
  );
}

before(async () => {
  const clip = await makeTestClip(join(dir.path, "clip.mp4"), 2, 10, 160, 120);
  await runFfmpeg([
    "-i",
    clip,
    "-c",
    "copy",
    "-f",
    "hls",
    "-hls_time",
    "1",
    "-hls_list_size",
    "0",
    join(dir.path, "good.m3u8"),
  ]);
  const clipBytes = readFileSync(clip);
  canary = createServer((_request, response) => {
    canaryHits += 1;
    response.writeHead(200, { "content-type": "video/mp4" });
    response.end(clipBytes);
  });
  canaryPort = await listen(canary, "127.0.0.2");
  tlsCanary = createTcpServer((socket) => {
    canaryHits += 1;
    socket.destroy();
  });
  tlsCanaryPort = await listen(tlsCanary, "127.0.0.2");
  const playlist = (segments: string[]) =>
    `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n${segments.map((s) => `#EXTINF:1.0,\n${s}\n`).join("")}#EXT-X-ENDLIST\n`;
  good = createServer((request, response) => {
    const canaryUrl = `http://127.0.0.2:${canaryPort}`;
    const routes: Record<string, () => void> = {
      "/clip.mp4": () => {
        response.writeHead(200, { "content-type": "video/mp4" });
        response.end(clipBytes);
      },
      "/redirect-good.mp4": () => {
        response.writeHead(302, { location: "/clip.mp4" });
        response.end();
      },
      "/redirect-canary.mp4": () => {
        response.writeHead(302, { location: `${canaryUrl}/clip.mp4` });
        response.end();
      },
      "/redirect-canary-name.mp4": () => {
        response.writeHead(301, { location: `http://canary.test:${canaryPort}/clip.mp4` });
        response.end();
      },
      "/redirect-canary-decimal.mp4": () => {
        response.writeHead(307, { location: `http://2130706434:${canaryPort}/clip.mp4` });
        response.end();
      },
      "/canary-segment.m3u8": () => {
        response.writeHead(200, { "content-type": "application/vnd.apple.mpegurl" });
        response.end(playlist(["good0.ts", `${canaryUrl}/good1.ts`]));
      },
      "/canary-name-segment.m3u8": () => {
        response.writeHead(200, { "content-type": "application/vnd.apple.mpegurl" });
        response.end(playlist(["good0.ts", `http://canary.test:${canaryPort}/good1.ts`]));
      },
    };
    const path = (request.url ?? "").split("?")[0];
    if (routes[path]) return routes[path]();
    if (/^\/good\d*\.(ts|m3u8)$/.test(path)) {
      response.writeHead(200);
      response.end(readFileSync(join(dir.path, path.slice(1))));
      return;
    }
    response.writeHead(404);
    response.end();
  });
  goodBase = `http://127.0.0.1:${await listen(good, "127.0.0.1")}`;
  proxy = await startInputProxy(policy);
});

after(async () => {
  await proxy?.close();
  good?.closeAllConnections();
  good?.close();
  canary?.closeAllConnections();
  canary?.close();
  tlsCanary?.close();
  rmSync(dir.path, { recursive: true, force: true });
});

const network = () => ({ httpProxy: proxy.url });

describe("ffmpeg through the input proxy", () => {
  test("control: without the proxy, ffmpeg reaches the canary (so the canary can tell)", async () => {
    const before = canaryHits;
    await probeVideo(`${goodBase}/redirect-canary.mp4`, { timeoutMs: 10_000 });
    assert.ok(canaryHits > before);
  });

  test("a good input, a relative redirect and an HLS playlist on an allowed address are read", async () => {
    const info = await probeVideo(`${goodBase}/clip.mp4`, { network: network(), timeoutMs: 10_000 });
    assert.equal(info.width, 160);
    assert.equal((await probeVideo(`${goodBase}/redirect-good.mp4`, { network: network() })).width, 160);
    assert.equal(
      (await probeVideo(`http://good.test:${new URL(goodBase).port}/clip.mp4`, { network: network() }))
        .height,
      120,
    );
    let frames = 0;
    for await (const _ of decodeFrames(`${goodBase}/good.m3u8`, {
      sampling: { everyNth: 1 },
      network: network(),
    }))
      frames += 1;
    assert.ok(frames >= 19, `decoded ${frames} frames of the 2 s HLS clip`);
  });

  const refusedCases: [string, () => string][] = [
    ["a direct URL", () => `http://127.0.0.2:${canaryPort}/clip.mp4`],
    ["a decimal address", () => `http://2130706434:${canaryPort}/clip.mp4`],
    ["a short hex address", () => `http://0x7f.2:${canaryPort}/clip.mp4`],
    ["an IPv4-mapped IPv6 address", () => `http://[::ffff:127.0.0.2]:${canaryPort}/clip.mp4`],
    ["a name that resolves there", () => `http://canary.test:${canaryPort}/clip.mp4`],
    ["a name resolving there and to an allowed address", () => `http://mixed.test:${canaryPort}/clip.mp4`],
    ["a name resolving to a mapped address", () => `http://mapped.test:${canaryPort}/clip.mp4`],
    ["a redirect", () => `${goodBase}/redirect-canary.mp4`],
    ["a redirect to a name", () => `${goodBase}/redirect-canary-name.mp4`],
    ["a redirect to a decimal address", () => `${goodBase}/redirect-canary-decimal.mp4`],
    ["HTTPS (CONNECT)", () => `https://127.0.0.2:${tlsCanaryPort}/clip.mp4`],
    ["HTTPS to a name (CONNECT)", () => `https://canary.test:${tlsCanaryPort}/clip.mp4`],
  ];
  for (const [name, url] of refusedCases) {
    test(`the canary is never reached through ${name}`, async () => {
      const before = canaryHits;
      const refusedBefore = proxy.refused.length;
      await assert.rejects(probeVideo(url(), { network: network(), timeoutMs: 10_000 }));
      assert.equal(canaryHits, before, "the canary listener was reached");
      assert.ok(proxy.refused.length > refusedBefore, "the proxy refused the request");
    });
  }

  for (const playlist of ["canary-segment.m3u8", "canary-name-segment.m3u8"]) {
    test(`an HLS segment on a forbidden address is never fetched (${playlist})`, async () => {
      const before = canaryHits;
      const refusedBefore = proxy.refused.length;
      try {
        for await (const _ of decodeFrames(`${goodBase}/${playlist}`, {
          sampling: { everyNth: 1 },
          network: network(),
        })) {
          // the first segment decodes; the second is refused by the proxy
        }
      } catch {
        // ffmpeg may report the refused segment as an error; either way the canary stays untouched
      }
      assert.equal(canaryHits, before, "the canary listener was reached");
      assert.ok(proxy.refused.length > refusedBefore, "the proxy refused the segment");
    });
  }

  test("the policy refuses the same addresses at submission, in every numeric spelling", async () => {
    for (const input of [
      `http://127.0.0.2/a.mp4`,
      `http://2130706434/a.mp4`,
      `http://0177.0.0.2/a.mp4`,
      `http://127.2/a.mp4`,
      `rtsp://0x7f000002/live`,
      `rtsp://[::ffff:7f00:2]/live`,
      `http://[::127.0.0.2]/a.mp4`,
      `http://canary.test/a.mp4`,
    ]) {
      await assert.rejects(policy.checkInput(input), /not allowed/, input);
    }
    await policy.checkInput(`${goodBase}/clip.mp4`);
  });
});

describe("the producer applies the policy to jobs that never passed the api", () => {
  test("jobs put straight into the store fail naming the policy; the canary is never reached; a good job completes", async () => {
    const pipeline = startMemoryPipeline({
      producer: {
        checkInput: (input) => policy.checkInput(input),
        network: { httpProxy: proxy.url },
        inputTimeoutMs: 10_000,
      },
    });
    try {
      const before = canaryHits;
      const submit = async (input: string, name: string) => {
        const { job } = await pipeline.jobStore.create(
          parseJobSpec({ input, output: join(dir.path, "out", name), sampling: { fps: 5 } }),
        );
        await pipeline.transport.jobs.add({ jobId: job.id }, { id: job.id });
        return job.id;
      };
      const ids = {
        direct: await submit(`http://127.0.0.2:${canaryPort}/clip.mp4`, "direct"),
        name: await submit(`http://canary.test:${canaryPort}/clip.mp4`, "name"),
        redirect: await submit(`${goodBase}/redirect-canary.mp4`, "redirect"),
        good: await submit(`${goodBase}/clip.mp4`, "good"),
      };
      const ended = async (id: string) =>
        waitFor(
          `job ${id} to end`,
          async () => {
            const job = await pipeline.jobStore.get(id);
            return job && isTerminal(job.state) ? job : undefined;
          },
          60_000,
        );
      for (const key of ["direct", "name"] as const) {
        const job = await ended(ids[key]);
        assert.equal(job.state, "failed", key);
        assert.match(job.errors.map((e) => e.message).join("; "), /is not allowed/, key);
      }
      const redirected = await ended(ids.redirect);
      assert.equal(redirected.state, "failed");
      const good = await ended(ids.good);
      assert.equal(good.state, "completed", JSON.stringify(good.errors));
      assert.equal(canaryHits, before, "the canary listener was reached");
    } finally {
      await pipeline.close();
    }
  });
});
