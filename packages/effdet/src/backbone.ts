// EfficientNet backbone graph (spec 3.2): stem, depthwise-separable and MBConv blocks; returns C3, C4, C5.

import type { BackbonePlan, BlockPlan } from "./backbone-plan.ts";
import type { Feature, Net } from "./layers.ts";

const P = "backbone";

export function buildBackbone(net: Net, input: Feature, plan: BackbonePlan): [Feature, Feature, Feature] {
  let x = net.conv(input, {
    weightKey: `${P}.conv_stem.weight`,
    outChannels: plan.stemChannels,
    kernel: 3,
    stride: 2,
    bnPrefix: `${P}.bn1`,
    activation: "silu",
  });
  const stageOutputs = new Map<number, Feature>();
  for (const block of plan.blocks) {
    x = block.kind === "ds" ? depthwiseSeparable(net, x, block) : invertedResidual(net, x, block);
    stageOutputs.set(block.stage, x);
  }
  const [c3, c4, c5] = plan.featureStages.map((s) => stageOutputs.get(s)!);
  return [c3, c4, c5];
}

function depthwiseSeparable(net: Net, input: Feature, b: BlockPlan): Feature {
  const p = `${P}.blocks.${b.stage}.${b.index}`;
  let x = net.conv(input, {
    weightKey: `${p}.conv_dw.weight`,
    outChannels: b.inChannels,
    kernel: b.kernel,
    stride: b.stride,
    depthwise: true,
    bnPrefix: `${p}.bn1`,
    activation: "silu",
  });
  x = net.squeezeExcite(x, `${p}.se`, b.seChannels);
  x = net.conv(x, {
    weightKey: `${p}.conv_pw.weight`,
    outChannels: b.outChannels,
    kernel: 1,
    bnPrefix: `${p}.bn2`,
  });
  return b.residual ? net.add(x, input) : x;
}

function invertedResidual(net: Net, input: Feature, b: BlockPlan): Feature {
  const p = `${P}.blocks.${b.stage}.${b.index}`;
  let x = net.conv(input, {
    weightKey: `${p}.conv_pw.weight`,
    outChannels: b.midChannels,
    kernel: 1,
    bnPrefix: `${p}.bn1`,
    activation: "silu",
  });
  x = net.conv(x, {
    weightKey: `${p}.conv_dw.weight`,
    outChannels: b.midChannels,
    kernel: b.kernel,
    stride: b.stride,
    depthwise: true,
    bnPrefix: `${p}.bn2`,
    activation: "silu",
  });
  x = net.squeezeExcite(x, `${p}.se`, b.seChannels);
  x = net.conv(x, {
    weightKey: `${p}.conv_pwl.weight`,
    outChannels: b.outChannels,
    kernel: 1,
    bnPrefix: `${p}.bn3`,
  });
  return b.residual ? net.add(x, input) : x;
}
