// `vdet model build --precision int8` and `vdet model compare` as a user runs them: the real CLI in a child
// process, calibrating on frames of the bundled clip (D0 at 128 px, seeded weights: seconds, not minutes). The
// build lands in the model cache (a temporary VDET_HOME), where a worker's model provider configured with
// precision int8 for that fp32 model finds it.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { modelContentSha256, readOnnxInfo } from "@vdet/effdet";
import { ModelCache } from "@vdet/models";
import { createModelProvider } from "@vdet/pipeline";
import { cpuFeatures, int8WeightBitsFor } from "@vdet/runtime";
import { runVdet } from "../../testing/vdet.ts";

const repoRoot = fileURLToPath(new URL("../../../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vdet-int8-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const home = join(dir, "home");
const vdet = (...args: string[]) =>
  runVdet(args, { cwd: repoRoot, env: { ...process.env, VDET_HOME: home } });
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
  // The weight width follows this CPU (8 bits with VNNI/AMX, else 7) and says why.
  const bits = int8WeightBitsFor(cpuFeatures());
  assert.match(
    built.stdout,
    new RegExp(`int8 \\(percentile 99\\.999, 3 calibration frames, ${bits}-bit weights \\(cpu: `),
  );
  assert.match(built.stdout, /\d+ int8 convs/);
  assert.match(
    built.stdout,
    /agreement with fp32 AP@0\.5 \d\.\d{3} on the first 3 calibration frames; cached as d0-int8-/,
  );
  const info = readOnnxInfo(readFileSync(int8));
  assert.equal(info.metadata["vdet.precision"], "int8");
  assert.equal(info.metadata["vdet.int8_weight_bits"], String(bits));
  assert.match(info.metadata["vdet.calibration_sha256"], /^[0-9a-f]{64}$/);
  const agreement = JSON.parse(info.metadata["vdet.agreement"]);
  assert.ok(agreement.ap50 >= 0 && agreement.ap50 <= 1, info.metadata["vdet.agreement"]);

  // Cached under its key (source model content, calibration set, settings); the fp32 file built with the same
  // options has that content hash however it is named.
  const fp32Bytes = readFileSync(fp32);
  const cached = new ModelCache(join(home, "models")).list().models;
  assert.equal(cached.length, 1);
  const q = cached[0].manifest.quantization!;
  assert.equal(q.sourceModelSha256, modelContentSha256(fp32Bytes));
  assert.equal(q.calibrationSha256, info.metadata["vdet.calibration_sha256"]);
  assert.equal(q.agreement, agreement.ap50);
  assert.equal(
    cached[0].manifest.model.sha256,
    createHash("sha256").update(readFileSync(int8)).digest("hex"),
  );

  // A worker's models: φ0 from the fp32 file at precision int8 runs the cached build, with its agreement.
  const savedHome = process.env.VDET_HOME;
  process.env.VDET_HOME = home;
  const provider = createModelProvider({
    weights: { "0": fp32 },
    precisions: { "0": "int8" },
    intraOpThreads: 1,
  });
  const missing = createModelProvider({ seed: 9, precision: "int8", intraOpThreads: 1 });
  try {
    assert.equal(provider.precision?.(0), "int8");
    assert.equal(await provider.agreement?.(0), agreement.ap50);
    assert.equal(
      await provider.modelHash(0),
      createHash("sha256").update(readFileSync(int8)).digest("hex").slice(0, 16),
    );
    const [detections] = await (await provider.detector(0)).detect([
      { width: 64, height: 48, data: new Uint8Array(64 * 48 * 3) },
    ]);
    assert.ok(detections.scores.length >= 0);
    // No int8 build of that model: the error says how to make one.
    await assert.rejects(
      missing.detector(0),
      /no cached int8 build of this model .*vdet model build --phi 0 --seed 9 --precision int8 --calibrate FOOTAGE/,
    );
  } finally {
    await provider.close();
    await missing.close();
    if (savedHome === undefined) delete process.env.VDET_HOME;
    else process.env.VDET_HOME = savedHome;
  }

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
