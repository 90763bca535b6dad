// `vdet model build|info` and `vdet detect` as a user runs them: the real CLI in a child process.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { readOnnxInfo } from "@vdet/effdet";
import { largeFixture, projectFixture } from "../../../../test/support/fixtures.ts";
import { runVdet } from "../../testing/vdet.ts";

const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vdet-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const vdet = (...args: string[]) => runVdet(args, { cwd: repoRoot });

test("model build writes an ONNX file that model info describes", async () => {
  const out = join(dir, "d0-raw.onnx");
  const built = await vdet("model", "build", "--phi", "0", "--variant", "raw", "--seed", "3", "--out", out);
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stdout, /wrote .*d0-raw\.onnx: tf_efficientdet_d0 \(raw\), 3,880,067 parameters/);
  const info = readOnnxInfo(readFileSync(out));
  assert.equal(info.phi, "0");
  assert.equal(info.parameters, 3_880_067);
  const shown = await vdet("model", "info", out, "--json");
  assert.equal(shown.code, 0, shown.stderr);
  const json = JSON.parse(shown.stdout);
  assert.equal(json.imageSize, 512);
  assert.deepEqual(json.inputs[0], { name: "input", type: "float32", dims: ["batch", 3, 512, 512] });
  assert.equal(json.outputs.length, 10);
});

test("model info --phi describes a model without building it", async () => {
  const { code, stdout } = await vdet("model", "info", "--phi", "7x");
  assert.equal(code, 0);
  assert.match(stdout, /tf_efficientdet_d7x \(deploy\)/);
  assert.match(stdout, /77,147,166/);
  assert.match(stdout, /1536×1536/);
});

test("an unknown φ is a clear error", async () => {
  const { code, stderr } = await vdet("model", "build", "--phi", "9", "--out", join(dir, "x.onnx"));
  assert.equal(code, 1);
  assert.match(stderr, /unknown EfficientDet coefficient φ=9: use 0…7 or 7x/);
});

test("detect refuses a file that is not an image, naming it", async () => {
  const notImage = join(dir, "notes.png");
  writeFileSync(notImage, "these are not pixels\n");
  const { code, stderr } = await vdet("detect", "--phi", "0", notImage);
  assert.equal(code, 1);
  assert.match(stderr, /notes\.png is not a PNG or JPEG image/);
});

test("detect on a missing image names it; a usage error prints one hint line, not the whole help", async () => {
  const missing = await vdet("detect", join(dir, "nope.jpg"));
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr.trim(), `vdet: image ${join(dir, "nope.jpg")} does not exist`);
  const usage = await vdet("detect", "--phii", "0", "x.jpg");
  assert.equal(usage.code, 1);
  const lines = usage.stderr.trim().split("\n");
  assert.match(lines[0], /error: unknown option '--phii'/);
  assert.ok(lines.length <= 3, usage.stderr);
  assert.match(usage.stderr, /add --help for usage/);
  assert.doesNotMatch(usage.stderr, /Options:/);
});

test("models import reads φ from a deploy ONNX built by vdet; a checkpoint without --phi is a clear error", async () => {
  const home = join(dir, "import-home");
  const onnx = join(dir, "d0-deploy.onnx");
  const built = await vdet("model", "build", "--phi", "0", "--out", onnx);
  assert.equal(built.code, 0, built.stderr);
  const imported = await runVdet(["models", "import", onnx, "--name", "mine"], { env: { VDET_HOME: home } });
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /imported mine: EfficientDet-D0/);
  const checkpoint = join(dir, "weights.pth");
  writeFileSync(checkpoint, "not really a checkpoint");
  const refused = await runVdet(["models", "import", checkpoint], { env: { VDET_HOME: home } });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /does not record its φ .*pass --phi/);
});

test("detect with a mismatched checkpoint names the tensor", async (t) => {
  const weights = largeFixture(t, "effdet/d0.weights.safetensors");
  if (!weights) return;
  const { code, stderr } = await vdet(
    "detect",
    "--phi",
    "1",
    "--weights",
    weights,
    projectFixture("effdet/d0.image0.png"),
  );
  assert.equal(code, 1);
  assert.match(
    stderr,
    /tensor "backbone\.blocks\.\d\.\d\.[a-z_]+\.weight" in d0\.weights\.safetensors has shape|has no tensor/,
  );
});

test("detect --json with the fixture checkpoint finds the reference's top detections", async (t) => {
  const weights = largeFixture(t, "effdet/d0.weights.pth");
  if (!weights) return;
  const reference = JSON.parse(readFileSync(projectFixture("effdet/d0.reference.json"), "utf8"));
  const { code, stdout, stderr } = await vdet(
    "detect",
    "--phi",
    "0",
    "--weights",
    weights,
    "--score-threshold",
    "0.9",
    "--json",
    projectFixture("effdet/d0.image0.png"),
  );
  assert.equal(code, 0, stderr);
  const detections = JSON.parse(stdout).images[0].detections;
  const expected = reference.detections_no_img_info.per_image[0].filter((r: number[]) => r[4] >= 0.9);
  assert.equal(detections.length, expected.length);
  for (const [i, row] of expected.entries()) {
    assert.equal(detections[i].classId, row[5]);
    assert.ok(Math.abs(detections[i].score - row[4]) < 1e-3);
    assert.equal(detections[i].label, "dining table");
  }
});
