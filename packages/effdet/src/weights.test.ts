// Weight sources: seeded determinism, state-dict import equal to the seeded build, and errors that name the
// missing or mismatched tensor.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readTensorFile, type StateDict, writeSafetensors } from "@vdet/tensorio";
import { build, constructGraph } from "./build.ts";
import { eager } from "./onnx-graph.ts";
import { foldBatchNorm, SeededWeights, WeightsMismatchError } from "./weights.ts";

/** A full state dict for φ holding the seeded weights, as a checkpoint file would. */
function seededStateDict(phi: 0 | 1, seed: number): StateDict {
  const shapes = constructGraph({ phi, seed, variant: "raw" }).stateDictShapes;
  const source = new SeededWeights(seed);
  const dict: StateDict = new Map();
  for (const [key, shape] of shapes) {
    dict.set(key, { dtype: "F32", shape: [...shape], data: source.tensor(key, shape).materialize() });
  }
  return dict;
}

describe("seeded weights", () => {
  test("same seed gives identical models, another seed gives other weights", () => {
    const a = build({ phi: 0, seed: 7, variant: "raw" });
    const b = build({ phi: 0, seed: 7, variant: "raw" });
    const c = build({ phi: 0, seed: 8, variant: "raw" });
    assert.equal(a.length, b.length);
    assert.ok(Buffer.from(a).equals(Buffer.from(b)));
    assert.equal(a.length, c.length);
    assert.ok(!Buffer.from(a).equals(Buffer.from(c)));
  });

  test("a state dict holding the seeded values builds the same model byte for byte", () => {
    const fromSeed = build({ phi: 0, seed: 5, variant: "raw", weightsName: "w" });
    const fromDict = build({ phi: 0, weights: seededStateDict(0, 5), variant: "raw", weightsName: "w" });
    assert.ok(Buffer.from(fromSeed).equals(Buffer.from(fromDict)));
  });

  test("a checkpoint file round trip (safetensors bytes) builds the same model", () => {
    const dict = seededStateDict(0, 5);
    const file = writeSafetensors(dict);
    assert.equal(readTensorFile(file).size, dict.size);
    const fromFile = build({ phi: 0, weights: file, variant: "raw", weightsName: "w" });
    const fromSeed = build({ phi: 0, seed: 5, variant: "raw", weightsName: "w" });
    assert.ok(Buffer.from(fromSeed).equals(Buffer.from(fromFile)));
  });
});

describe("mismatched weights are refused with the tensor named", () => {
  test("missing tensor", () => {
    const dict = seededStateDict(0, 1);
    dict.delete("fpn.cell.2.fnode.6.after_combine.conv.conv_dw.weight");
    assert.throws(
      () => constructGraph({ phi: 0, weights: dict }),
      (e: Error) =>
        e instanceof WeightsMismatchError &&
        /has no tensor "fpn\.cell\.2\.fnode\.6\.after_combine\.conv\.conv_dw\.weight" \(expected shape \[64, 1, 3, 3\]\)/.test(
          e.message,
        ),
    );
  });

  test("wrong shape", () => {
    const dict = seededStateDict(0, 1);
    dict.set("class_net.predict.conv_pw.weight", {
      dtype: "F32",
      shape: [720, 64, 1, 1],
      data: new Float32Array(720 * 64),
    });
    assert.throws(
      () => constructGraph({ phi: 0, weights: dict }),
      /tensor "class_net\.predict\.conv_pw\.weight" in the weights file has shape \[720, 64, 1, 1\], the model needs \[810, 64, 1, 1\]/,
    );
  });

  test("unused extra tensors", () => {
    const dict = seededStateDict(0, 1);
    dict.set("backbone.conv_head.weight", { dtype: "F32", shape: [1], data: new Float32Array(1) });
    assert.throws(
      () => constructGraph({ phi: 0, weights: dict }),
      /1 tensor\(s\) the model does not use: backbone\.conv_head\.weight/,
    );
  });

  test("a D0 checkpoint offered for D1", () => {
    assert.throws(() => constructGraph({ phi: 1, weights: seededStateDict(0, 1) }), WeightsMismatchError);
  });

  test("corrupt weights file", () => {
    const file = writeSafetensors(seededStateDict(0, 1));
    assert.throws(() => constructGraph({ phi: 0, weights: file.subarray(0, file.length - 1000) }));
    assert.throws(() =>
      constructGraph({ phi: 0, weights: new TextEncoder().encode("definitely not weights") }),
    );
  });
});

test("batch-norm folding matches BN applied after the conv", () => {
  // conv: 2 output channels, 1 input, 1x1; x = 3 → conv out = [2·3 + 0.5, −1·3 + 0.25]
  const weight = eager([2, 1, 1, 1], Float32Array.of(2, -1));
  const bias = eager([2], Float32Array.of(0.5, 0.25));
  const bn = {
    weight: eager([2], Float32Array.of(0.5, 2)),
    bias: eager([2], Float32Array.of(0.1, -0.2)),
    mean: eager([2], Float32Array.of(1, -1)),
    variance: eager([2], Float32Array.of(4, 0.25)),
  };
  const eps = 1e-3;
  const folded = foldBatchNorm(weight, bias, bn, eps);
  const w = folded.weight.materialize();
  const b = folded.bias.materialize();
  const conv = [2 * 3 + 0.5, -1 * 3 + 0.25];
  const expected = conv.map(
    (v, c) => ((v - [1, -1][c]) / Math.sqrt([4, 0.25][c] + eps)) * [0.5, 2][c] + [0.1, -0.2][c],
  );
  for (let c = 0; c < 2; c++) assert.ok(Math.abs(w[c] * 3 + b[c] - expected[c]) < 1e-5);
});
