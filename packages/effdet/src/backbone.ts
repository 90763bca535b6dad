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

const blockPrefix = (b: BlockPlan) => `${P}.blocks.${b.stage}.${b.index}`;

/** The depthwise k×k conv (batch norm `bn`, SiLU) and the squeeze-excite that every block has. */
function depthwiseSqueezeExcite(
  net: Net,
  input: Feature,
  b: BlockPlan,
  channels: number,
  bn: string,
): Feature {
  const p = blockPrefix(b);
  const x = net.conv(input, {
    weightKey: `${p}.conv_dw.weight`,
    outChannels: channels,
    kernel: b.kernel,
    stride: b.stride,
    depthwise: true,
    bnPrefix: `${p}.${bn}`,
    activation: "silu",
  });
  return net.squeezeExcite(x, `${p}.se`, b.seChannels);
}

/** The block's last 1×1 conv to its output channels (batch norm, no activation), plus the skip when it has one. */
function projectOut(net: Net, x: Feature, input: Feature, b: BlockPlan, conv: string, bn: string): Feature {
  const p = blockPrefix(b);
  const out = net.conv(x, {
    weightKey: `${p}.${conv}.weight`,
    outChannels: b.outChannels,
    kernel: 1,
    bnPrefix: `${p}.${bn}`,
  });
  return b.residual ? net.add(out, input) : out;
}

function depthwiseSeparable(net: Net, input: Feature, b: BlockPlan): Feature {
  const x = depthwiseSqueezeExcite(net, input, b, b.inChannels, "bn1");
  return projectOut(net, x, input, b, "conv_pw", "bn2");
}

function invertedResidual(net: Net, input: Feature, b: BlockPlan): Feature {
  const p = blockPrefix(b);
  const expanded = net.conv(input, {
    weightKey: `${p}.conv_pw.weight`,
    outChannels: b.midChannels,
    kernel: 1,
    bnPrefix: `${p}.bn1`,
    activation: "silu",
  });
  const x = depthwiseSqueezeExcite(net, expanded, b, b.midChannels, "bn2");
  return projectOut(net, x, input, b, "conv_pwl", "bn3");
}
