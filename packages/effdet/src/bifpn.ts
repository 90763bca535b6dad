// BiFPN (spec section 4): extra input levels, then `fpnCells` cells of top-down and bottom-up fusion nodes.

import { InvariantError } from "@vdet/errors";
import type { EffDetConfig } from "./config.ts";
import { FUSION_EPS } from "./config.ts";
import type { Feature, Net } from "./layers.ts";

export interface FusionNode {
  level: number;
  /** Indices into the growing list of feature maps, in fusion order. */
  inputs: number[];
}

/**
 * The node table of one cell for levels min…max (spec 4.2): top-down nodes for max-1 down to min, each taking the
 * latest map of its level and of the level above; then bottom-up nodes for min+1 up to max, each taking all maps
 * of its level so far (creation order) and the latest map of the level below.
 */
export function bifpnNodes(minLevel: number, maxLevel: number): FusionNode[] {
  const levelOf: number[] = [];
  for (let l = minLevel; l <= maxLevel; l++) levelOf.push(l);
  const latest = (level: number) => levelOf.lastIndexOf(level);
  const nodes: FusionNode[] = [];
  const push = (level: number, inputs: number[]) => {
    nodes.push({ level, inputs });
    levelOf.push(level);
  };
  for (let level = maxLevel - 1; level >= minLevel; level--) push(level, [latest(level), latest(level + 1)]);
  for (let level = minLevel + 1; level <= maxLevel; level++) {
    const sameLevel = levelOf.flatMap((l, i) => (l === level ? [i] : []));
    push(level, [...sameLevel, latest(level - 1)]);
  }
  return nodes;
}

/** Builds the BiFPN from backbone features C3, C4, C5; returns the last cell's outputs P_min…P_max. */
export function buildBifpn(net: Net, config: EffDetConfig, backbone: Feature[]): Feature[] {
  const width = config.fpnChannels;
  const levels = config.maxLevel - config.minLevel + 1;
  // Extra levels: P6 = maxpool(BN(conv1x1(C5))), then P7 (and P8) = maxpool of the previous one.
  const inputs = [...backbone];
  for (let offset = backbone.length; offset < levels; offset++) {
    let x = inputs[offset - 1];
    if (x.channels !== width) {
      x = net.conv(x, {
        weightKey: `fpn.resample.${offset}.conv.conv.weight`,
        biasKey: `fpn.resample.${offset}.conv.conv.bias`,
        bnPrefix: `fpn.resample.${offset}.conv.bn`,
        outChannels: width,
        kernel: 1,
      });
    }
    inputs.push(net.downsample(x));
  }

  const nodes = bifpnNodes(config.minLevel, config.maxLevel);
  const levelSize = (level: number) => inputs[level - config.minLevel].size;
  let features = inputs;
  for (let cell = 0; cell < config.fpnCells; cell++) {
    const maps = [...features];
    nodes.forEach((node, n) => {
      maps.push(fuseNode(net, config, maps, node, levelSize(node.level), `fpn.cell.${cell}.fnode.${n}`));
    });
    features = maps.slice(-levels);
  }
  return features;
}

function fuseNode(
  net: Net,
  config: EffDetConfig,
  maps: Feature[],
  node: FusionNode,
  size: number,
  prefix: string,
): Feature {
  const width = config.fpnChannels;
  const resampled = node.inputs.map((offset) => {
    let x = maps[offset];
    if (x.channels !== width) {
      const p = `${prefix}.combine.resample.${offset}.conv`;
      x = net.conv(x, {
        weightKey: `${p}.conv.weight`,
        biasKey: `${p}.conv.bias`,
        bnPrefix: `${p}.bn`,
        outChannels: width,
        kernel: 1,
      });
    }
    if (x.size > size) {
      x = net.downsample(x);
      if (x.size !== size)
        throw new InvariantError(`${prefix}: input ${offset} does not downsample to ${size}`);
    } else if (x.size < size) {
      x = net.upsample(x, size);
    }
    return x;
  });

  let fused: string;
  if (config.fusion === "fast-normalized") {
    const edges = net.tensor(`${prefix}.combine.edge_weights`, [node.inputs.length]);
    const normalized = (i: number) => ({
      shape: [] as number[],
      materialize: () => {
        const raw = edges.materialize();
        const relu = Array.from(raw, (w) => Math.max(w, 0));
        const sum = Math.fround(relu.reduce((a, b) => Math.fround(a + b), 0));
        return Float32Array.of(relu[i] / Math.fround(sum + FUSION_EPS));
      },
    });
    const terms = resampled.map((x, i) =>
      net.graph.node("Mul", [x.name, net.graph.weight(`${prefix}.combine.w${i}`, normalized(i))]),
    );
    fused = net.graph.node("Sum", terms);
  } else {
    fused = net.graph.node(
      "Sum",
      resampled.map((x) => x.name),
    );
  }

  const activated = net.siluFeature({ name: fused, channels: width, size });
  const dw = net.conv(activated, {
    weightKey: `${prefix}.after_combine.conv.conv_dw.weight`,
    outChannels: width,
    kernel: 3,
    depthwise: true,
  });
  return net.conv(dw, {
    weightKey: `${prefix}.after_combine.conv.conv_pw.weight`,
    biasKey: `${prefix}.after_combine.conv.conv_pw.bias`,
    bnPrefix: `${prefix}.after_combine.conv.bn`,
    outChannels: width,
    kernel: 1,
  });
}
