// `vdet models pull|list|import` and cached model names in `vdet detect` and `vdet run`, as a user runs them:
// the real CLI in a child process, pulling from a local HTTP server (never the internet) into a temporary VDET_HOME.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { useCheckpointServer } from "@vdet/models/testing";
import { largeFixture, projectFixture } from "../../../../test/support/fixtures.ts";
import { runVdet } from "../../testing/vdet.ts";

const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vdet-models-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const server = useCheckpointServer();

const catalog = join(dir, "catalog.json");
const env = {
  ...process.env,
  VDET_HOME: join(dir, "home"),
  VDET_MODELS_CATALOG: catalog,
  HTTPS_PROXY: "",
  HTTP_PROXY: "",
  https_proxy: "",
  http_proxy: "",
};

const vdet = (...args: string[]) => runVdet(args, { cwd: repoRoot, env });

test("pull d0, pull again (no-op), list, detect --model d0, run --weights d0", async (t) => {
  const checkpoint = largeFixture(t, "effdet/d0.weights.pth");
  const image = largeFixture(t, "effdet/d0.image0.png");
  if (!checkpoint || !image) return;
  const path = "/v0.1/tf_efficientdet_d0_34-de71c576.pth";
  server.serve(path, new Uint8Array(readFileSync(checkpoint)));
  writeFileSync(catalog, JSON.stringify({ d0: { url: `${server.url}${path}` } }));

  const pulled = await vdet("models", "pull", "d0", "--json");
  assert.equal(pulled.code, 0, pulled.stderr);
  const result = JSON.parse(pulled.stdout);
  assert.equal(result.cache, join(dir, "home", "models"));
  assert.equal(result.models[0].status, "pulled");
  assert.equal(result.models[0].parameters, 3_880_067);
  // Not a terminal: plain log lines, no bar.
  assert.match(
    pulled.stderr,
    /d0: downloading http:\/\/127\.0\.0\.1:\d+\/v0\.1\/tf_efficientdet_d0_34-de71c576\.pth \(15\.2 MiB\)/,
  );
  assert.match(pulled.stderr, /d0: sha256 de71c576[0-9a-f]{56} verified/);
  assert.match(pulled.stderr, /d0: stored in .*home\/models\/d0 \(15\.\d MiB\)/);

  const requests = server.requests.length;
  const again = await vdet("models", "pull", "d0");
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /d0: already cached in .*, nothing to do/);
  assert.equal(server.requests.length, requests);

  const listed = await vdet("models", "list");
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(
    listed.stdout,
    /^cache: .*home\/models\nname +φ +classes +size +source\nd0 +D0 +90 +15\.\d MiB +http:\/\/127\.0\.0\.1/,
  );

  const detected = await vdet("detect", "--model", "d0", image, "--json", "--score-threshold", "0.5");
  assert.equal(detected.code, 0, detected.stderr);
  const detections = JSON.parse(detected.stdout).images[0].detections;
  assert.ok(detections.length > 5);
  assert.equal(detections[0].label, "dining table"); // class 67, the reference's strongest rows on this image

  const out = join(dir, "run");
  const ran = await vdet(
    "run",
    projectFixture("video/car-detection.mp4"),
    "--out",
    out,
    "--weights",
    "d0",
    "--max-frames",
    "2",
    "--fps",
    "1",
  );
  assert.equal(ran.code, 0, ran.stderr);
  assert.doesNotMatch(ran.stderr, /seeded random weights/);
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  assert.match(JSON.stringify(manifest), /"weights":"d0"/);
});

test("unknown and missing models are clear errors", async () => {
  const unknown = await vdet("models", "pull", "d9");
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /unknown published model "d9": use d0 … d7 or d7x/);
  const missing = await vdet(
    "detect",
    "--model",
    "no-such-model",
    projectFixture("effdet/d3-256.image0.png"),
  );
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /"no-such-model" is neither a file nor a cached model \(cache: .*\); see `vdet models list`/,
  );
  const notPulled = await vdet(
    "run",
    projectFixture("video/car-detection.mp4"),
    "--out",
    join(dir, "x"),
    "--weights",
    "d3",
  );
  assert.equal(notPulled.code, 1);
  assert.match(
    notPulled.stderr,
    /"d3" is neither a file nor a cached model .*pull it with `vdet models pull d3`/,
  );
});
