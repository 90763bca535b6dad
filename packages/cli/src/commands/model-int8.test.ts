// `vdet model build --precision int8` and `vdet model compare` as a user runs them: the real CLI in a child
// process, calibrating on frames of the bundled clip (D0 at 128 px, seeded weights: seconds, not minutes).

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { readOnnxInfo } from "@vdet/effdet";
import { runVdet } from "../../testing/vdet.ts";

const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vdet-int8-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const vdet = (...args: string[]) => runVdet(args, { cwd: repoRoot });
const clip = join(repoRoot, "test/fixtures/video/car-detection.mp4");

test("model build --precision int8 calibrates on a clip; model compare reports agreement and drift", async () => {
  const common = ["--phi", "0", "--seed", "3", "--image-size", "128"];
  const fp32 = join(dir, "d0.onnx");
  const int8 = join(dir, "d0-int8.onnx");
  assert.equal((await vdet("model", "build", ...common, "--out", fp32)).code, 0);
  const built = await vdet(
    "model",
    "build",
    ...common,
    "--precision",
    "int8",
    "--calibrate",
    clip,
    "--calibration-frames",
    "3",
    "--out",
    int8,
  );
  assert.equal(built.code, 0, built.stderr);
  assert.match(built.stdout, /int8 \(percentile 99\.999, 3 calibration frames, \d+ int8 convs/);
  const info = readOnnxInfo(readFileSync(int8));
  assert.equal(info.metadata["vdet.precision"], "int8");
  assert.match(info.metadata["vdet.calibration_sha256"], /^[0-9a-f]{64}$/);

  const same = await vdet(
    "model",
    "compare",
    fp32,
    fp32,
    "--video",
    clip,
    "--frames",
    "2",
    "--score-threshold",
    "0",
    "--json",
  );
  assert.equal(same.code, 0, same.stderr);
  const self = JSON.parse(same.stdout);
  assert.equal(self.frames, 2);
  assert.equal(self.ap50, 1, "a model agrees with itself");
  assert.equal(self.headDrift.classMaxAbs, 0);

  const compared = await vdet(
    "model",
    "compare",
    fp32,
    int8,
    "--video",
    clip,
    "--frames",
    "2",
    "--score-threshold",
    "0",
  );
  assert.equal(compared.code, 0, compared.stderr);
  assert.match(compared.stdout, /AP@0\.5 +\d\.\d{3}/);
  assert.match(compared.stdout, /head drift +class logits max \d/);
});

test("model build --precision int8 without --calibrate names the missing option", async () => {
  const r = await vdet(
    "model",
    "build",
    "--phi",
    "0",
    "--seed",
    "1",
    "--precision",
    "int8",
    "--out",
    join(dir, "x.onnx"),
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--precision int8 needs --calibrate/);
});
