// Structure of every configuration against the reference: parameter counts, state-dict keys and shapes,
// backbone stages, BiFPN node table, feature sizes and anchor counts (effdet-configs.json, read off effdet 0.4.1).
// Graphs are constructed (weights unread), not serialised or run, so D7x stays cheap.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { PHI_VALUES, parsePhi, UnknownPhiError } from "@vdet/protocol";
import { anchorCount, generateAnchors } from "./anchors.ts";
import { planBackbone } from "./backbone-plan.ts";
import { bifpnNodes } from "./bifpn.ts";
import { constructGraph } from "./build.ts";
import { getConfig, levelSizes } from "./config.ts";

interface ReferenceConfig {
  image_size: [number, number];
  fpn_channels: number;
  params: { total: number };
  state_dict: [string, number[], string][];
  backbone_stages: { blocks: number; in_chs: number; out_chs: number; se_chs: number[]; skip: boolean[] }[];
  stem_channels: number;
  bifpn_nodes: { inputs_offsets: number[] }[];
  feat_sizes_hw: [number, number][];
  num_anchors: number;
}

const reference: Record<string, ReferenceConfig> = JSON.parse(
  readFileSync(new URL("../../../test/fixtures/effdet/effdet-configs.json", import.meta.url), "utf8"),
).configs;

describe("every configuration matches the reference", () => {
  for (const phi of PHI_VALUES) {
    const config = getConfig(phi);
    const ref = reference[config.name];

    test(`D${phi}: parameter count, state-dict keys and shapes`, () => {
      const graph = constructGraph({ phi, seed: 0, variant: "raw" });
      assert.equal(graph.info.parameters, config.referenceParams);
      assert.equal(graph.info.parameters, ref.params.total);
      const expected = ref.state_dict.filter(([name]) => !name.endsWith(".num_batches_tracked"));
      assert.equal(graph.stateDictShapes.size, expected.length);
      for (const [name, shape] of expected) {
        assert.deepEqual(graph.stateDictShapes.get(name), shape, `tensor ${name}`);
      }
    });

    test(`D${phi}: backbone stages, BiFPN nodes, feature sizes, anchors`, () => {
      const plan = planBackbone(config.backbone);
      assert.equal(plan.stemChannels, ref.stem_channels);
      ref.backbone_stages.forEach((stage, s) => {
        const blocks = plan.blocks.filter((b) => b.stage === s);
        assert.equal(blocks.length, stage.blocks, `stage ${s + 1} block count`);
        assert.equal(blocks[0].inChannels, stage.in_chs);
        assert.equal(blocks.at(-1)!.outChannels, stage.out_chs);
        assert.deepEqual(
          blocks.map((b) => b.seChannels),
          stage.se_chs,
        );
        assert.deepEqual(
          blocks.map((b) => b.residual),
          stage.skip,
        );
      });
      assert.deepEqual(
        bifpnNodes(config.minLevel, config.maxLevel).map((n) => n.inputs),
        ref.bifpn_nodes.map((n) => n.inputs_offsets),
      );
      assert.equal(config.imageSize, ref.image_size[0]);
      assert.equal(config.fpnChannels, ref.fpn_channels);
      assert.deepEqual(
        levelSizes(config),
        ref.feat_sizes_hw.map(([h]) => h),
      );
      assert.equal(anchorCount(config), ref.num_anchors);
    });
  }
});

describe("model interface", () => {
  test("raw variant: normalised float input, class and box maps per level", () => {
    const { info } = constructGraph({ phi: 1, seed: 3, variant: "raw" });
    assert.deepEqual(info.inputs, [{ name: "input", type: "float32", dims: ["batch", 3, 640, 640] }]);
    assert.deepEqual(
      info.outputs.map((o) => `${o.name}:${o.dims.join("x")}`),
      [
        "class_P3:batchx810x80x80",
        "class_P4:batchx810x40x40",
        "class_P5:batchx810x20x20",
        "class_P6:batchx810x10x10",
        "class_P7:batchx810x5x5",
        "box_P3:batchx36x80x80",
        "box_P4:batchx36x40x40",
        "box_P5:batchx36x20x20",
        "box_P6:batchx36x10x10",
        "box_P7:batchx36x5x5",
      ],
    );
  });

  test("deploy variant: uint8 frames of any size in, at most 5000 candidates out", () => {
    const { info } = constructGraph({ phi: 0, seed: 3 });
    assert.equal(info.variant, "deploy");
    assert.deepEqual(info.inputs, [{ name: "frames", type: "uint8", dims: ["batch", "height", "width", 3] }]);
    assert.deepEqual(info.outputs, [
      { name: "boxes", type: "float32", dims: ["batch", 5000, 4] },
      { name: "scores", type: "float32", dims: ["batch", 5000] },
      { name: "classes", type: "int32", dims: ["batch", 5000] },
    ]);
  });

  test("imageSize override and class count change the graph", () => {
    const { info } = constructGraph({ phi: 3, seed: 0, variant: "raw", imageSize: 256, numClasses: 7 });
    assert.deepEqual(info.levels, [32, 16, 8, 4, 2]);
    assert.equal(info.outputs[0].dims[1], 9 * 7);
    // Only the class predict conv depends on the class count: 160·9·(90−7) weights and 9·(90−7) biases fewer.
    assert.equal(info.parameters, getConfig(3).referenceParams - 9 * 83 * 161);
  });

  test("unknown φ and bad options give clear errors", () => {
    assert.throws(() => parsePhi(8), UnknownPhiError);
    assert.throws(() => parsePhi("d9"), /unknown EfficientDet coefficient φ=d9: use 0…7 or 7x/);
    assert.throws(() => constructGraph({ phi: "x", seed: 0 }), UnknownPhiError);
    assert.throws(() => constructGraph({ phi: 0 }), /give weights .* or a seed/);
    assert.throws(
      () => constructGraph({ phi: 0, seed: 0, imageSize: 100 }),
      /imageSize must be an integer from 128/,
    );
    assert.equal(parsePhi("D7x"), "7x");
    assert.equal(parsePhi(" 3 "), 3);
  });
});

test("anchors match the spec's worked example (D0, P3, location (0, 0))", () => {
  const anchors = generateAnchors(getConfig(0));
  const corners = (a: number) => {
    const [yc, xc, h, w] = anchors.subarray(a * 4, a * 4 + 4);
    return [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2].map((v) => Math.round(v * 1e4) / 1e4);
  };
  assert.deepEqual(corners(0), [-12, -12, 20, 20]);
  assert.deepEqual(corners(1), [-7.2, -18.4, 15.2, 26.4]);
  assert.deepEqual(corners(2), [-18.4, -7.2, 26.4, 15.2]);
  // Last anchor: P7 (stride 128), bottom-right cell, octave 2, aspect (0.7, 1.4).
  const last = anchors.length / 4 - 1;
  const base = 4 * 128 * 2 ** (2 / 3);
  const [yc, xc, h, w] = anchors.subarray(last * 4);
  assert.deepEqual([yc, xc], [448, 448]);
  assert.ok(Math.abs(h - base * 1.4) < 1e-3 && Math.abs(w - base * 0.7) < 1e-3);
});
