// Class names per φ: what a worker's weights configuration publishes, names ↔ ids for a job's φ range, and the
// errors for unknown names and for φ ranges whose models name their classes differently.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ClassNameError, jobClassIds, labelOf } from "@vdet/jobs";
import { importModel, ModelCache } from "@vdet/models";
import { writeLabelledOnnx } from "@vdet/models/testing";
import { deploymentModels, simulatedModels } from "./labels.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-labels-unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("labels", () => {
  test("a weights configuration: cached models name their classes, files and seeded weights use COCO", async () => {
    const cache = new ModelCache(join(dir, "cache"));
    const { onnx, labels } = writeLabelledOnnx(dir, "tiny", 2, ["cat", "dog"]);
    await importModel(onnx, { phi: 2, classesFile: labels, name: "pets", cache });

    const models = deploymentModels({ weights: { "0": onnx, "2": "pets", "3": "nowhere" }, seed: 5 }, cache);
    assert.deepEqual(Object.keys(models), ["0", "1", "2", "3", "4", "5", "6", "7", "7x"]);
    assert.deepEqual(models["2"], { weights: "pets", source: "pets", labels: ["cat", "dog"] });
    assert.equal(models["0"].weights, onnx);
    assert.equal(models["0"].source, "COCO");
    assert.equal(models["0"].labels[0], "person");
    assert.equal(models["1"].weights, "untrained (seeded, seed 5)");
    // A name that resolves to nothing: the worker fails that φ's frames when it loads it; COCO meanwhile.
    assert.equal(models["3"].source, "COCO");

    assert.equal(labelOf(models, 2, 2), "dog");
    assert.equal(labelOf(models, 2, 3), "class-3");
    assert.equal(labelOf(models, 0, 3), "car");
    assert.equal(labelOf({}, 0, 1), "person", "no published entry: COCO");
    assert.equal(labelOf(simulatedModels(), "7x", 90), "toothbrush");

    assert.deepEqual(jobClassIds(["DOG", " cat", "7"], models, { min: 2, max: 2 }), [2, 1, 7]);
    assert.throws(
      () => jobClassIds(["car"], models, { min: 2, max: 2 }),
      (error: Error) =>
        error instanceof ClassNameError &&
        error.message === 'unknown class "car": the model pets names its classes cat, dog',
    );
    assert.throws(
      () => jobClassIds(["cat"], models, { min: 1, max: 3 }),
      /D1 runs a COCO model and D2 runs the model pets, which name their classes differently/,
    );
    assert.deepEqual(jobClassIds(["2"], models, { min: 1, max: 3 }), [2], "ids need no common names");
  });
});
