// Class and box heads (spec section 5): separable conv repeats shared across levels, batch norm per level.

import type { EffDetConfig } from "./config.ts";
import { ANCHORS_PER_LOCATION } from "./config.ts";
import type { Feature, Net } from "./layers.ts";

export type HeadKind = "class" | "box";

/**
 * Runs one head over every level; returns the prediction maps, NCHW in the reference channel layout, or with
 * `layout: "nhwc"` channels-last `[N, H, W, channels]` (the deploy graph, which flattens them that way).
 */
export function buildHead(
  net: Net,
  config: EffDetConfig,
  features: Feature[],
  kind: HeadKind,
  layout: "nchw" | "nhwc" = "nchw",
): Feature[] {
  const p = kind === "class" ? "class_net" : "box_net";
  const width = config.fpnChannels;
  const outChannels = ANCHORS_PER_LOCATION * (kind === "class" ? config.numClasses : 4);
  return features.map((feature, level) => {
    let x = feature;
    for (let r = 0; r < config.headRepeats; r++) {
      x = net.conv(x, {
        weightKey: `${p}.conv_rep.${r}.conv_dw.weight`,
        outChannels: width,
        kernel: 3,
        depthwise: true,
      });
      x = net.conv(x, {
        weightKey: `${p}.conv_rep.${r}.conv_pw.weight`,
        biasKey: `${p}.conv_rep.${r}.conv_pw.bias`,
        bnPrefix: `${p}.bn_rep.${r}.${level}.bn`,
        outChannels: width,
        kernel: 1,
        activation: "silu",
      });
    }
    x = net.conv(x, {
      weightKey: `${p}.predict.conv_dw.weight`,
      outChannels: width,
      kernel: 3,
      depthwise: true,
    });
    const predict = {
      weightKey: `${p}.predict.conv_pw.weight`,
      biasKey: `${p}.predict.conv_pw.bias`,
      outChannels,
    };
    return layout === "nhwc" ? net.pointwiseChannelsLast(x, predict) : net.conv(x, { ...predict, kernel: 1 });
  });
}
