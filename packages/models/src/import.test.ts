// Importing users' own models: a fine-tuned checkpoint with another class count and a labels file, the legacy
// and fp16-wrapped PyTorch formats, a ready deploy ONNX file, and the errors that protect the cache; then list.

import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { build, Detector } from "@vdet/effdet";
import { decodeImage } from "@vdet/image";
import { readSafetensors, type StateDict, writeSafetensors } from "@vdet/tensorio";
import { largeFixture } from "../../../test/support/fixtures.ts";
import { writeLabelledOnnx } from "../testing/labelled-onnx.ts";
import { useTempDir } from "../testing/temp-dir.ts";
import { ModelCache } from "./cache.ts";
import { ModelConversionError, ModelInputError } from "./errors.ts";
import { importModel } from "./import.ts";
import { resolveModelReference } from "./resolve.ts";

const dir = useTempDir("vdet-import-");

/** The D0 fixture cut down to `k` classes: the class head keeps channels a·90 + j (j < k) for each anchor a. */
function withClasses(d0: StateDict, k: number): StateDict {
  const out: StateDict = new Map(d0);
  for (const key of ["class_net.predict.conv_pw.weight", "class_net.predict.conv_pw.bias"]) {
    const t = d0.get(key)!;
    if (t.dtype !== "F32") throw new Error("expected float32");
    const per = t.data.length / t.shape[0];
    const data = new Float32Array(9 * k * per);
    for (let a = 0; a < 9; a++) {
      for (let j = 0; j < k; j++)
        data.set(t.data.subarray((a * 90 + j) * per, (a * 90 + j + 1) * per), (a * k + j) * per);
    }
    out.set(key, { dtype: "F32", shape: [9 * k, ...t.shape.slice(1)], data });
  }
  return out;
}

describe("import", () => {
  test("a 3-class checkpoint with a labels file: class count inferred, labels checked, detections in 1…3", async (t) => {
    const weights = largeFixture(t, "effdet/d0.weights.safetensors");
    const image = largeFixture(t, "effdet/d0.image0.png");
    if (!weights || !image) return;
    const file = join(dir, "my-detector.safetensors");
    writeFileSync(file, writeSafetensors(withClasses(readSafetensors(readFileSync(weights)), 3)));
    const labels = join(dir, "labels.txt");
    writeFileSync(labels, "person\nbicycle\ncar\n");
    const cache = new ModelCache(join(dir, "cache-a"));

    const wrong = join(dir, "four.txt");
    writeFileSync(wrong, "a\nb\nc\nd\n");
    await assert.rejects(importModel(file, { phi: 0, classesFile: wrong, cache }), (error: Error) => {
      assert.ok(error instanceof ModelInputError);
      assert.match(error.message, /my-detector\.safetensors predicts 3 classes but the labels file lists 4/);
      return true;
    });

    const model = await importModel(file, { phi: 0, classesFile: labels, cache });
    assert.equal(model.name, "my-detector");
    assert.equal(model.manifest.numClasses, 3);
    assert.deepEqual(model.manifest.labels, ["person", "bicycle", "car"]);
    assert.equal(model.manifest.source.kind, "import");
    assert.equal(model.manifest.source.format, "safetensors");
    assert.equal(model.manifest.parameters, 3_880_067 - 64 * (810 - 27) - (810 - 27));

    const resolved = resolveModelReference("my-detector", { cache, phi: 0 });
    assert.equal(resolved.kind, "cached");
    const detector = await Detector.create(resolved.path, { executionProvider: "cpu", intraOpThreads: 2 });
    try {
      const [found] = await detector.detect([decodeImage(readFileSync(image), "d0.image0.png")], {
        scoreThreshold: 0.05,
      });
      assert.ok(found.scores.length > 0);
      assert.ok(
        found.classIds.every((c) => c >= 1 && c <= 3),
        `classes ${[...found.classIds]}`,
      );
    } finally {
      await detector.close();
    }

    await assert.rejects(
      importModel(file, { phi: 0, classesFile: labels, cache }),
      /already cached.*--force/,
    );
    const replaced = await importModel(file, { phi: 0, cache, force: true });
    assert.deepEqual(replaced.manifest.labels, ["class-1", "class-2", "class-3"]);
    assert.throws(
      () => resolveModelReference("my-detector", { cache, phi: 3 }),
      /is EfficientDet-D0, but it was given for D3/,
    );
  });

  test("legacy and fp16-wrapped PyTorch checkpoints import with 90 COCO classes", async (t) => {
    const cache = new ModelCache(join(dir, "cache-b"));
    for (const [fixture, format] of [
      ["d0.weights.legacy.pth", "torch-legacy"],
      ["d0.weights.fp16-wrapped.pth", "torch-zip"],
    ] as const) {
      const file = largeFixture(t, `effdet/${fixture}`);
      if (!file) return;
      const model = await importModel(file, { phi: "d0", cache });
      assert.equal(model.manifest.source.format, format);
      assert.equal(model.manifest.numClasses, 90);
      assert.equal(model.manifest.labels[0], "person");
    }
    const { models } = cache.list();
    assert.deepEqual(
      models.map((m) => m.name),
      ["d0.weights.fp16-wrapped", "d0.weights.legacy"],
    );
    assert.ok(models.every((m) => m.bytesOnDisk > 10 * 2 ** 20));
  });

  test("a checkpoint for another φ is refused, and the cache stays clean", async (t) => {
    const file = largeFixture(t, "effdet/d0.weights.pth");
    if (!file) return;
    const cache = new ModelCache(join(dir, "cache-c"));
    await assert.rejects(importModel(file, { phi: 1, cache, name: "wrong-phi" }), (error: Error) => {
      assert.ok(error instanceof ModelConversionError);
      assert.match(error.message, /d0\.weights\.pth could not be converted to EfficientDet-D1: .*shape/);
      return true;
    });
    assert.ok(!existsSync(cache.dir) || readdirSync(cache.dir).length === 0, "nothing written");
  });

  test("a ready deploy ONNX file imports; a raw one and the published names are refused", async () => {
    const cache = new ModelCache(join(dir, "cache-d"));
    const { onnx: deploy, labels } = writeLabelledOnnx(dir, "small", 0, ["w", "x", "y", "z"]);
    const model = await importModel(deploy, { phi: 0, cache, classesFile: labels });
    assert.equal(model.manifest.source.format, "onnx");
    assert.equal(model.manifest.numClasses, 4);
    assert.equal(model.manifest.resolution, 128);
    assert.deepEqual(readFileSync(model.modelPath), readFileSync(deploy));

    await assert.rejects(
      importModel(deploy, { phi: 2, cache, name: "x" }),
      /is EfficientDet-D0, not D2: pass --phi 0/,
    );
    const raw = join(dir, "raw.onnx");
    writeFileSync(raw, build({ phi: 0, seed: 1, imageSize: 128, variant: "raw" }));
    await assert.rejects(importModel(raw, { phi: 0, cache }), /is not a deploy-variant model/);
    await assert.rejects(
      importModel(deploy, { phi: 0, cache, name: "d0" }),
      /"d0" is kept for the published COCO model/,
    );
    await assert.rejects(importModel(deploy, { phi: 0, cache, name: "../evil" }), /invalid model name/);
  });
});
