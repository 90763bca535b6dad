// Pull against a local HTTP server serving the D0 checkpoint fixture (never the internet): verify, convert, cache,
// detect; then every way a download goes wrong, each leaving no model entry (and no partial file unless the
// failure is resumable, in which case the next pull resumes it).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { describe, test } from "node:test";
import { Detector } from "@vdet/effdet";
import { decodeImage } from "@vdet/image";
import { largeFixture } from "../../../test/support/fixtures.ts";
import { type CheckpointServer, useCheckpointServer } from "../testing/checkpoint-server.ts";
import { useTempDir } from "../testing/temp-dir.ts";
import { ModelCache } from "./cache.ts";
import {
  ChecksumMismatchError,
  DownloadHttpError,
  DownloadStalledError,
  ModelConversionError,
  TruncatedDownloadError,
} from "./errors.ts";
import { MANIFEST_FILE } from "./manifest.ts";
import { type PullOptions, pullModel } from "./pull.ts";

const root = useTempDir("vdet-pull-");
const server = useCheckpointServer();

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** The fixture served under a reference-style name carrying its own sha256 prefix. */
function serveD0(
  t: { skip(m: string): void },
  path: string,
  behaviour?: Parameters<CheckpointServer["serve"]>[2],
) {
  const file = largeFixture(t as never, "effdet/d0.weights.pth");
  if (!file) return undefined;
  const body = new Uint8Array(readFileSync(file));
  server.serve(path, body, behaviour);
  return body;
}

function freshCache(): ModelCache {
  return new ModelCache(mkdtempSync(join(root, "cache-")));
}

function options(cache: ModelCache, url: string, extra: Partial<PullOptions> = {}): PullOptions {
  return { cache, catalog: { overrides: { d0: { url } } }, stallTimeoutMs: 2000, ...extra };
}

/** No model entry and no staging/trash folders; the partial download only where `partial` says. */
function assertNoModel(cache: ModelCache, partial: "none" | "kept" = "none"): void {
  const top = existsSync(cache.dir) ? readdirSync(cache.dir).filter((n) => n !== ".downloads") : [];
  assert.deepEqual(top, [], "no model entry, staging or trash folder");
  const partials = existsSync(cache.downloadsDir) ? readdirSync(cache.downloadsDir) : [];
  if (partial === "none") assert.deepEqual(partials, [], "no partial download left");
  else assert.equal(partials.length, 1, "the partial download is kept for a resume");
}

function partialSize(cache: ModelCache): number {
  const [name] = readdirSync(cache.downloadsDir);
  return statSync(join(cache.downloadsDir, name)).size;
}

describe("pull", () => {
  test("pull → verify → convert → cache → detect; a second pull is a no-op", async (t) => {
    const path = "/v0.1/tf_efficientdet_d0_34-de71c576.pth";
    const body = serveD0(t, path);
    if (!body) return;
    server.serve("/latest/d0.pth", new Uint8Array(), { kind: "redirect", to: path }); // as GitHub redirects
    const cache = freshCache();
    const events: string[] = [];
    const result = await pullModel(
      0,
      options(cache, `${server.url}/latest/d0.pth`, {
        catalog: {
          overrides: { d0: { url: `${server.url}/latest/d0.pth`, sha256: sha256(body).slice(0, 8) } },
        },
        onEvent: (e) => {
          if (events.at(-1) !== e.type) events.push(e.type);
        },
      }),
    );
    assert.equal(result.status, "pulled");
    assert.deepEqual(events, ["download", "progress", "verified", "converting", "stored"]);
    const m = result.model.manifest;
    assert.equal(m.name, "d0");
    assert.equal(m.phi, 0);
    assert.equal(m.resolution, 512);
    assert.equal(m.numClasses, 90);
    assert.equal(m.labels.length, 90);
    assert.equal(m.labels[0], "person");
    assert.equal(m.labels[11], "unused-12");
    assert.equal(m.parameters, 3_880_067);
    assert.equal(m.sha256, sha256(body));
    assert.equal(m.source.format, "torch-zip");
    assert.equal(m.source.bytes, body.length);
    assert.equal(m.source.location, `${server.url}/latest/d0.pth`);
    assert.equal(m.model.sha256, sha256(readFileSync(result.model.modelPath)));
    assert.ok(!Number.isNaN(Date.parse(m.createdAt)));
    assert.deepEqual(readdirSync(cache.dir).sort(), [".downloads", "d0"]);
    assert.deepEqual(readdirSync(cache.downloadsDir), []);
    assert.deepEqual(readdirSync(join(cache.dir, "d0")).sort(), [MANIFEST_FILE, "model.onnx"]);

    // Detect with the cached model: the reference's most confident detections on the fixture image.
    const image = largeFixture(t, "effdet/d0.image0.png");
    const reference = largeFixture(t, "effdet/d0.reference.json");
    if (!image || !reference) return;
    const rows: number[][] = JSON.parse(readFileSync(reference, "utf8")).detections_no_img_info.per_image[0];
    const detector = await Detector.create(result.model.modelPath, {
      executionProvider: "cpu",
      intraOpThreads: 2,
    });
    try {
      const [found] = await detector.detect([decodeImage(readFileSync(image), "d0.image0.png")], {
        scoreThreshold: 0.5,
      });
      const strong = rows.filter((r) => r[4] >= 0.5 && r[0] >= 0 && r[1] >= 0 && r[2] <= 512 && r[3] <= 512);
      assert.ok(strong.length >= 5, "the fixture has confident in-frame reference detections");
      assert.equal(found.scores.length, rows.filter((r) => r[4] >= 0.5).length);
      for (const r of strong) {
        const match = Array.from({ length: found.scores.length }, (_, i) => i).find(
          (i) =>
            found.classIds[i] === r[5] &&
            Math.abs(found.scores[i] - r[4]) < 1e-3 &&
            [0, 1, 2, 3].every((j) => Math.abs(found.xyxy[i * 4 + j] - r[j]) < 0.05),
        );
        assert.ok(match !== undefined, `reference detection ${r.join(", ")} found`);
      }
    } finally {
      await detector.close();
    }

    const before = server.requests.length;
    const again = await pullModel(0, options(cache, `${server.url}${path}`));
    assert.equal(again.status, "cached");
    assert.equal(server.requests.length, before, "a cached model is not downloaded again");
  });

  test("a corrupted body is a checksum error and nothing is cached", async (t) => {
    const path = "/corrupt/tf_efficientdet_d0_34-de71c576.pth";
    if (!serveD0(t, path, { kind: "corrupt", at: 1_000_000 })) return;
    const cache = freshCache();
    await assert.rejects(pullModel(0, options(cache, `${server.url}${path}`)), (error: Error) => {
      assert.ok(error instanceof ChecksumMismatchError);
      assert.match(
        error.message,
        /checksum mismatch for tf_efficientdet_d0_34-de71c576\.pth: sha256 is [0-9a-f]{64}, expected it to start with de71c576/,
      );
      assert.match(error.message, /deleted and nothing was cached/);
      return true;
    });
    assertNoModel(cache);
  });

  test("a wrong expected checksum is refused and nothing is cached", async (t) => {
    const path = "/wrongsum/tf_efficientdet_d0_34-f153e0cf.pth"; // the published name: not this file's sha256
    if (!serveD0(t, path)) return;
    const cache = freshCache();
    await assert.rejects(pullModel(0, options(cache, `${server.url}${path}`)), ChecksumMismatchError);
    assertNoModel(cache);
  });

  test("404 names the URL and leaves nothing behind", async () => {
    const cache = freshCache();
    const url = `${server.url}/missing/tf_efficientdet_d0_34-f153e0cf.pth`;
    await assert.rejects(pullModel(0, options(cache, url)), (error: Error) => {
      assert.ok(error instanceof DownloadHttpError);
      assert.equal(error.status, 404);
      assert.match(error.message, /was not found \(HTTP 404\)/);
      assert.ok(error.message.includes(url));
      return true;
    });
    assertNoModel(cache);
  });

  test("a file with the right checksum that is not a checkpoint fails conversion; nothing is cached", async () => {
    const junk = new TextEncoder().encode("<html>this is an error page, not a checkpoint</html>");
    const path = `/junk/tf_efficientdet_d0_34-${sha256(junk).slice(0, 8)}.pth`;
    server.serve(path, junk);
    const cache = freshCache();
    await assert.rejects(pullModel(0, options(cache, `${server.url}${path}`)), (error: Error) => {
      assert.ok(error instanceof ModelConversionError);
      assert.match(error.message, /is not a readable checkpoint: .*text file, e\.g\. an HTML error page/);
      return true;
    });
    assertNoModel(cache);
  });

  test("a cut-off body is an error that keeps the partial file; the next pull resumes it with Range", async (t) => {
    const path = "/resume/tf_efficientdet_d0_34-de71c576.pth";
    const body = serveD0(t, path, { kind: "truncate", bytes: 5_000_000 });
    if (!body) return;
    // Through a redirect, as GitHub serves release files: the Range header must survive it.
    const link = `${server.url}/download/resume/tf_efficientdet_d0_34-de71c576.pth`;
    server.serve(new URL(link).pathname, new Uint8Array(), { kind: "redirect", to: path });
    const cache = freshCache();
    await assert.rejects(pullModel(0, options(cache, link)), (error: Error) => {
      assert.ok(error instanceof TruncatedDownloadError, String(error));
      assert.match(
        error.message,
        new RegExp(`cut off after \\d+ of ${body.length} bytes.*run the same pull again to resume`),
      );
      return true;
    });
    assertNoModel(cache, "kept");
    const kept = partialSize(cache);
    assert.ok(kept > 0 && kept <= 5_000_000, `partial holds what arrived (${kept} bytes)`);

    server.behave(path, { kind: "ok" });
    const result = await pullModel(0, options(cache, link));
    assert.equal(result.status, "pulled");
    const last = server.requests.filter((r) => r.path === path).at(-1);
    assert.deepEqual(last, { path, range: `bytes=${kept}-`, status: 206 });
    assert.equal(result.model.manifest.sha256, sha256(body));
    assert.deepEqual(readdirSync(cache.downloadsDir), []);
  });

  test("a server without Range support restarts the download from the beginning", async (t) => {
    const path = "/norange/tf_efficientdet_d0_34-de71c576.pth";
    const body = serveD0(t, path, { kind: "truncate", bytes: 3_000_000 });
    if (!body) return;
    const cache = freshCache();
    await assert.rejects(pullModel(0, options(cache, `${server.url}${path}`)), TruncatedDownloadError);
    server.behave(path, { kind: "no-range" });
    const result = await pullModel(0, options(cache, `${server.url}${path}`));
    assert.equal(result.model.manifest.sha256, sha256(body));
    assert.equal(server.requests.filter((r) => r.path === path).at(-1)?.status, 200);
  });

  test("a server that stops sending is a stall error after the timeout; the partial is kept", async (t) => {
    const path = "/stall/tf_efficientdet_d0_34-de71c576.pth";
    if (!serveD0(t, path, { kind: "stall", bytes: 1_000_000 })) return;
    const cache = freshCache();
    const started = performance.now();
    await assert.rejects(
      pullModel(0, options(cache, `${server.url}${path}`, { stallTimeoutMs: 300 })),
      (error: Error) => {
        assert.ok(error instanceof DownloadStalledError, String(error));
        assert.match(error.message, /stalled: no data for 0\.3 s after \d+ bytes/);
        return true;
      },
    );
    assert.ok(performance.now() - started < 5000);
    assertNoModel(cache, "kept");
  });

  test("a server that never answers is a stall error too", async () => {
    server.serve("/silent/d0.pth", new Uint8Array(8), { kind: "stall", bytes: 0, beforeHeaders: true });
    const cache = freshCache();
    await assert.rejects(
      pullModel(0, {
        ...options(cache, `${server.url}/silent/d0.pth`, { stallTimeoutMs: 300 }),
        catalog: { overrides: { d0: { url: `${server.url}/silent/d0.pth`, sha256: "00000000" } } },
      }),
      DownloadStalledError,
    );
    assertNoModel(cache);
  });
});

test("a second pull of a model being pulled is refused; a lock of a dead process is taken over", async (t) => {
  const path = "/locked/tf_efficientdet_d0_34-de71c576.pth";
  if (!serveD0(t, path, { kind: "stall", bytes: 100_000 })) return;
  const cache = freshCache();
  const first = pullModel(0, options(cache, `${server.url}${path}`, { stallTimeoutMs: 1500 }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await assert.rejects(
    pullModel(0, options(cache, `${server.url}${path}`)),
    /a pull of d0 is already in progress \(process \d+ on .*\); wait for it to finish/,
  );
  await assert.rejects(first, DownloadStalledError);

  // A lock file left by a process that no longer exists.
  writeFileSync(
    join(cache.downloadsDir, "d0.lock"),
    JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname() }),
  );
  server.behave(path, { kind: "ok" });
  const result = await pullModel(0, options(cache, `${server.url}${path}`));
  assert.equal(result.status, "pulled");
  assert.deepEqual(readdirSync(cache.downloadsDir), []);
});

test("offline: pull --from a local copy checks it against the catalog's sha256 and leaves the copy alone", async (t) => {
  const file = largeFixture(t, "effdet/d0.weights.pth");
  const other = largeFixture(t, "effdet/d0.weights.legacy.pth");
  if (!file || !other) return;
  const cache = freshCache();
  const catalog = { overrides: { d0: { url: "https://mirror.invalid/tf_efficientdet_d0_34-de71c576.pth" } } };
  await assert.rejects(pullModel(0, { cache, catalog, fromFile: other }), (error: Error) => {
    assert.ok(error instanceof ChecksumMismatchError);
    assert.match(error.message, /it is not the published file .*Nothing was cached/);
    return true;
  });
  assert.ok(existsSync(other), "the user's file is not deleted");
  assertNoModel(cache);
  const result = await pullModel(0, { cache, catalog, fromFile: file });
  assert.equal(result.status, "pulled");
  assert.equal(result.model.manifest.sha256, sha256(readFileSync(file)));
  assert.equal(result.model.manifest.source.location, resolve(file));
  assert.ok(existsSync(file));
});
