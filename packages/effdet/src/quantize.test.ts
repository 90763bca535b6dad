// int8 QDQ builds of the D3@256 fixture: the graph builds, onnxruntime fuses every quantised conv into an int8
// kernel (QLinearConv), it runs, and its drift against the fp32 twin is measured.
//
// Why this test does not assert "the same detections as fp32" (docs/model.md, "int8"): the D3@256 fixture's
// weights are untrained (seeded uniform, with random batch-norm statistics folded in), so every channel of every
// activation has its own scale, and one uint8 scale per tensor cannot hold them. With the QDQ arithmetic itself
// (graph optimisation disabled, no int8 kernel involved) the relative error is ~70 % at the end of the backbone,
// and the class logits drift by up to ~7.5 — far more than any gap between fp32 scores (the fixture image's top
// fp32 scores are 0.387, 0.289, 0.275, 0.274, 0.270: logit gaps ≤ 0.45), so no input makes equality meaningful.
// Measured on an AMD EPYC with AVX-512 VNNI, where 8-bit weights no longer overflow (as they do on AVX2): 8-bit
// weights leave the drift where 7-bit weights put it (max 7.7 vs 7.5, mean 0.95 vs 0.90), i.e. the failure is
// the activation quantisation of these weights, not the kernel. Nor is it their scaling: with every batch norm
// re-estimated on the image (mean 0, std 1 per channel) the int8 error is no smaller, and fp32 itself moves its
// head outputs by 28 % (up to 626× with re-estimated batch norms) when one grey level changes at 1 % of the input
// bytes: the untrained network amplifies any perturbation (`npm run bench -- int8-depth`). What the test asserts
// instead: the build, the fusion into int8 kernels, the weight width chosen for this CPU, a run, and the drift
// reported.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { decodeImage } from "@vdet/image";
import { cpuFeatures, int8WeightBitsFor } from "@vdet/runtime";
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-node";
import { loadD3StateDict, projectFixture } from "../../../test/support/fixtures.ts";
import { build } from "./build.ts";
import { runPair } from "./compare.ts";
import { BuildOptionsError } from "./errors.ts";
import { quantize } from "./quantize.ts";

const { onnx } = onnxProto;

function opCounts(bytes: Uint8Array): Map<string, number> {
  const counts = new Map<string, number>();
  for (const n of onnx.ModelProto.decode(bytes).graph?.node ?? [])
    counts.set(n.opType!, (counts.get(n.opType!) ?? 0) + 1);
  return counts;
}

/** Op counts of the graph onnxruntime runs (optimisation level "all", as workers load models). */
async function optimizedOps(bytes: Uint8Array): Promise<Map<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), "vdet-int8-"));
  try {
    const optimized = join(dir, "optimized.onnx");
    await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 2,
      graphOptimizationLevel: "all",
      optimizedModelFilePath: optimized,
    });
    return opCounts(readFileSync(optimized));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("int8 QDQ build of D3@256 (fixture weights)", () => {
  const fp32 = build({ phi: 3, weights: loadD3StateDict(), imageSize: 256 });
  const image = decodeImage(readFileSync(projectFixture("effdet/d3-256.image0.png")));

  test("builds, fuses every quantised conv into QLinearConv, runs, and reports its drift", async (t) => {
    const { bytes, report } = await quantize(fp32, [image], { method: "minmax", intraOpThreads: 2 });
    t.diagnostic(JSON.stringify(report));
    // Every conv: the heads' last layer, float, is a MatMul in deploy graphs (Net.pointwiseChannelsLast).
    const convs = opCounts(fp32).get("Conv")!;
    assert.equal(report.quantizedConvs + report.floatConvs, convs);
    assert.ok(
      report.quantizedConvs > convs * 0.8,
      `only ${report.quantizedConvs} of ${convs} convs quantised`,
    );
    const ops = opCounts(bytes);
    assert.equal(ops.get("Conv"), convs, "the rewrite keeps every conv node");
    assert.equal(report.clampedBiases, 0);
    // 8-bit weights where this CPU has VNNI/AMX, 7-bit otherwise; recorded in the model.
    assert.equal(report.weightBits, int8WeightBitsFor(cpuFeatures()));
    assert.match(report.weightBitsChosenBy, /^cpu: /);
    assert.equal(
      onnx.ModelProto.decode(bytes).metadataProps?.find((p) => p.key === "vdet.precision")?.value,
      "int8",
    );
    assert.equal(
      onnx.ModelProto.decode(bytes).metadataProps?.find((p) => p.key === "vdet.int8_weight_bits")?.value,
      String(report.weightBits),
    );
    // What onnxruntime makes of it at the optimisation level workers use: int8 kernels, not float convs reading
    // dequantised weights. No float conv is left.
    const fused = await optimizedOps(bytes);
    const qlinear = fused.get("QLinearConv") ?? 0;
    t.diagnostic(`optimised graph: ${qlinear} QLinearConv, ${fused.get("Conv") ?? 0} float Conv`);
    assert.equal(qlinear, report.quantizedConvs);
    assert.equal(report.floatConvs, 0);
    assert.equal(fused.get("Conv") ?? 0, 0);
    // SiLUs and the squeeze-excitation's gates run on uint8: onnxruntime fuses every Sigmoid and Mul between Q/DQ
    // pairs into QLinearSigmoid and QLinearMul, so no float Sigmoid or SiLU is left in the optimised graph.
    assert.equal(ops.get("QuickGelu") ?? 0, 0);
    assert.ok((fused.get("QLinearSigmoid") ?? 0) > 0 && (fused.get("QLinearMul") ?? 0) > 0);
    assert.equal(fused.get("Sigmoid") ?? 0, 1, "only the score sigmoid after top-k stays float");
    assert.equal(fused.get("QuickGelu") ?? 0, 0);
    const pair = await runPair(fp32, bytes, [image], { intraOpThreads: 2 });
    assert.equal(pair.frames, 1);
    assert.ok(pair.drift && pair.drift.tensors === 10, "both graphs expose the ten head tensors");
    t.diagnostic(`head drift ${JSON.stringify(pair.drift)}`);
    assert.equal(pair.b[0].scores.length, pair.a[0].scores.length);
  });

  test("the silu rule without the squeeze-excitation rule leaves the squeeze-excitation float", async () => {
    // The SE's own SiLU and gate are not quantised then: were they, a float-weight SE conv would sit between a DQ
    // and a Q and onnxruntime would quantise it itself (WeightBiasQuantization), one extra QLinearConv per SE block.
    const { bytes, report } = await quantize(fp32, [image], {
      method: "minmax",
      intraOpThreads: 2,
      rules: { silu: true, squeezeExcite: false },
    });
    const fused = await optimizedOps(bytes);
    assert.equal(fused.get("QLinearConv"), report.quantizedConvs);
    assert.ok((fused.get("QLinearSigmoid") ?? 0) > 0 && (fused.get("QLinearMul") ?? 0) > 0);
  });

  test("float SiLUs (silu rule off) are one QuickGelu each", async () => {
    // One QuickGelu node per float SiLU, so the DQ before it has one consumer (onnxruntime would otherwise give
    // each consumer its own copy); each replaces a Sigmoid and a Mul of the fp32 graph.
    const { bytes } = await quantize(fp32, [image], {
      method: "minmax",
      intraOpThreads: 2,
      rules: { silu: false, squeezeExcite: false },
    });
    const ops = opCounts(bytes);
    const silus = ops.get("QuickGelu") ?? 0;
    assert.ok(silus > 0, "float SiLUs are written as QuickGelu");
    assert.equal(ops.get("Sigmoid"), opCounts(fp32).get("Sigmoid")! - silus);
  });

  test("rejects what it cannot quantise", async () => {
    await assert.rejects(quantize(fp32, []), BuildOptionsError);
    await assert.rejects(
      quantize(build({ phi: 0, seed: 1, variant: "raw", imageSize: 128 }), [image]),
      /deploy model/,
    );
    // @ts-expect-error an unknown method
    await assert.rejects(quantize(fp32, [image], { method: "entropy" }), /calibration method/);
  });
});
