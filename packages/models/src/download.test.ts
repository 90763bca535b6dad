// The downloader against a local server: servers that close the connection after the body, ranges past the end,
// unreachable hosts, and proxies from the environment variables.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { startConnectProxy, useCheckpointServer } from "../testing/checkpoint-server.ts";
import { useTempDir } from "../testing/temp-dir.ts";
import { download, proxyDispatcher } from "./download.ts";
import { DownloadConnectionError } from "./errors.ts";

const dir = useTempDir("vdet-download-");
const server = useCheckpointServer();

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const body = new Uint8Array(12 * 2 ** 20).map((_, i) => (i * 7919) % 251);

test("a server that closes the connection after a large body (HTTP/1.0 style) does not break the download", async () => {
  // undici 6 crashes the process when the socket ends while its parser is paused by backpressure; the
  // downloader must never pause it. Several rounds, since the crash depends on timing.
  server.serve("/close.bin", body, { kind: "close" });
  for (let round = 0; round < 4; round++) {
    const partialPath = join(dir, `close-${round}`);
    const result = await download({ url: `${server.url}/close.bin`, partialPath });
    assert.equal(result.sha256, sha256(body));
    assert.equal(statSync(partialPath).size, body.length);
  }
});

test("a partial file longer than the resource (416) is discarded and the download starts over", async () => {
  server.serve("/short.bin", body.subarray(0, 1000));
  const partialPath = join(dir, "long.partial");
  writeFileSync(partialPath, new Uint8Array(5000));
  const result = await download({ url: `${server.url}/short.bin`, partialPath });
  assert.equal(result.sha256, sha256(body.subarray(0, 1000)));
  assert.deepEqual(
    server.requests.filter((r) => r.path === "/short.bin").map((r) => r.status),
    [416, 200],
  );
  assert.deepEqual(new Uint8Array(readFileSync(partialPath)), body.subarray(0, 1000));
});

test("an unreachable host is a connection error that writes nothing", async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
  const { port } = closed.address() as { port: number };
  await new Promise((resolve) => closed.close(resolve));
  const partialPath = join(dir, "unreachable");
  await assert.rejects(download({ url: `http://127.0.0.1:${port}/x.pth`, partialPath }), (error: Error) => {
    assert.ok(error instanceof DownloadConnectionError, String(error));
    assert.match(
      error.message,
      /could not reach http:\/\/127\.0\.0\.1:\d+\/x\.pth \(.*ECONNREFUSED.*\): check the network/,
    );
    return true;
  });
  assert.equal(existsSync(partialPath), false);
});

test("downloads go through the proxy named in HTTP_PROXY, except for NO_PROXY hosts", async () => {
  const proxy = await startConnectProxy();
  const small = body.subarray(0, 300_000);
  server.serve("/proxied/file.bin", small);
  const dispatcher = proxyDispatcher({ HTTP_PROXY: proxy.url });
  const direct = proxyDispatcher({ HTTP_PROXY: proxy.url, NO_PROXY: "127.0.0.1" });
  try {
    const url = `${server.url}/proxied/file.bin`;
    const result = await download({ url, partialPath: join(dir, "p1"), dispatcher });
    assert.equal(result.sha256, sha256(small));
    assert.deepEqual(proxy.tunnels, [new URL(server.url).host]);
    await download({ url, partialPath: join(dir, "p2"), dispatcher: direct });
    assert.equal(proxy.tunnels.length, 1, "NO_PROXY host: no new tunnel");
  } finally {
    await Promise.all([dispatcher.close(), direct.close(), proxy.close()]);
  }
});
