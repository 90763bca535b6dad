// Layer helpers shared by backbone, BiFPN and heads: conv (+ folded BN) with TF "SAME" padding, SiLU,
// squeeze-excitation, max-pool downsampling and nearest upsampling, all with static shapes.

import { InvariantError } from "@vdet/errors";
import { BN_EPS } from "./config.ts";
import { attr, type GraphBuilder, type LazyTensor } from "./onnx-graph.ts";
import { type BatchNorm, batchNorm, foldBatchNorm, type WeightSource } from "./weights.ts";

/** A square NCHW feature map in the graph. */
export interface Feature {
  name: string;
  channels: number;
  size: number;
}

/** TF "SAME" padding along one axis: [before, after], the odd pixel after (spec 2.1). */
export function samePadding(size: number, kernel: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

export interface ConvSpec {
  weightKey: string;
  outChannels: number;
  kernel: number;
  stride?: number;
  depthwise?: boolean;
  biasKey?: string;
  bnPrefix?: string;
  activation?: "silu" | "sigmoid";
}

/** Records which state-dict tensors the graph consumed, for parameter counts and key checks. */
export class Net {
  readonly requested = new Map<string, readonly number[]>();
  private readonly shared = new Map<string, string>();

  constructor(
    readonly graph: GraphBuilder,
    private readonly source: WeightSource,
  ) {}

  tensor(key: string, shape: readonly number[]): LazyTensor {
    this.requested.set(key, shape);
    return this.source.tensor(key, shape);
  }

  /** An initializer used unchanged in several places (the head convs shared across levels). */
  sharedWeight(key: string, shape: readonly number[]): string {
    let name = this.shared.get(key);
    if (!name) {
      name = this.graph.weight(key, this.tensor(key, shape));
      this.shared.set(key, name);
    }
    return name;
  }

  conv(x: Feature, spec: ConvSpec): Feature {
    const stride = spec.stride ?? 1;
    const groups = spec.depthwise ? x.channels : 1;
    if (spec.depthwise && spec.outChannels !== x.channels)
      throw new InvariantError(`depthwise conv ${spec.weightKey} changes channels`);
    const shape = [spec.outChannels, x.channels / groups, spec.kernel, spec.kernel];
    const inputs = [x.name];
    if (spec.bnPrefix) {
      const weight = this.tensor(spec.weightKey, shape);
      const bias = spec.biasKey ? this.tensor(spec.biasKey, [spec.outChannels]) : null;
      const folded = foldBatchNorm(weight, bias, this.batchNorm(spec.bnPrefix, spec.outChannels), BN_EPS);
      inputs.push(
        this.graph.weight(spec.weightKey, folded.weight),
        this.graph.weight(`${spec.bnPrefix}.folded_bias`, folded.bias),
      );
    } else {
      inputs.push(this.sharedWeight(spec.weightKey, shape));
      if (spec.biasKey) inputs.push(this.sharedWeight(spec.biasKey, [spec.outChannels]));
    }
    const [before, after] = samePadding(x.size, spec.kernel, stride);
    let out = this.graph.node(
      "Conv",
      inputs,
      {
        kernel_shape: attr.ints([spec.kernel, spec.kernel]),
        strides: attr.ints([stride, stride]),
        pads: attr.ints([before, before, after, after]),
        group: attr.int(groups),
      },
      spec.weightKey.replace(/\.weight$/, ""),
    );
    if (spec.activation === "silu") out = this.silu(out);
    else if (spec.activation === "sigmoid") out = this.graph.node("Sigmoid", [out]);
    return { name: out, channels: spec.outChannels, size: Math.ceil(x.size / stride) };
  }

  /**
   * A 1×1 conv (weight `[out, in, 1, 1]`, bias) written as a MatMul over channels: reads NCHW, writes channels-last
   * `[N, H, W, out]`. The deploy graph's last head layer, whose output is flattened channels-last anyway: as a Conv,
   * onnxruntime ran it in its blocked NCHWc layout and then reordered the whole map (810 channels per location for
   * the class head) to channels-last; transposing the input instead moves `in` (64–384) channels per location.
   */
  pointwiseChannelsLast(
    x: Feature,
    spec: { weightKey: string; biasKey: string; outChannels: number },
  ): Feature {
    const key = `${spec.weightKey}#channels-last`;
    let weight = this.shared.get(key);
    if (!weight) {
      const source = this.tensor(spec.weightKey, [spec.outChannels, x.channels, 1, 1]);
      weight = this.graph.weight(spec.weightKey, {
        shape: [x.channels, spec.outChannels],
        materialize: () => transpose2d(source.materialize(), spec.outChannels, x.channels),
      });
      this.shared.set(key, weight);
    }
    const nhwc = this.graph.node("Transpose", [x.name], { perm: attr.ints([0, 2, 3, 1]) });
    const product = this.graph.node("MatMul", [nhwc, weight]);
    const bias = this.sharedWeight(spec.biasKey, [spec.outChannels]);
    const name = this.graph.node("Add", [product, bias], {}, spec.weightKey.replace(/\.weight$/, ""));
    return { name, channels: spec.outChannels, size: x.size };
  }

  batchNorm(prefix: string, channels: number): BatchNorm {
    return batchNorm((key, shape) => this.tensor(key, shape), prefix, channels);
  }

  silu(x: string): string {
    return this.graph.node("Mul", [x, this.graph.node("Sigmoid", [x])]);
  }

  siluFeature(x: Feature): Feature {
    return { ...x, name: this.silu(x.name) };
  }

  /** Squeeze-excitation: mean → 1x1 conv (bias) → SiLU → 1x1 conv (bias) → sigmoid gate (spec 3.3). */
  squeezeExcite(x: Feature, prefix: string, seChannels: number): Feature {
    const pooled: Feature = {
      name: this.graph.node("ReduceMean", [x.name, this.graph.int64s([2, 3])], { keepdims: attr.int(1) }),
      channels: x.channels,
      size: 1,
    };
    const reduced = this.conv(pooled, {
      weightKey: `${prefix}.conv_reduce.weight`,
      biasKey: `${prefix}.conv_reduce.bias`,
      outChannels: seChannels,
      kernel: 1,
      activation: "silu",
    });
    const gate = this.conv(reduced, {
      weightKey: `${prefix}.conv_expand.weight`,
      biasKey: `${prefix}.conv_expand.bias`,
      outChannels: x.channels,
      kernel: 1,
      activation: "sigmoid",
    });
    return { ...x, name: this.graph.node("Mul", [x.name, gate.name]) };
  }

  /** Max-pool 3x3 stride 2 with SAME padding (padding never wins the max). */
  downsample(x: Feature): Feature {
    const [before, after] = samePadding(x.size, 3, 2);
    const name = this.graph.node("MaxPool", [x.name], {
      kernel_shape: attr.ints([3, 3]),
      strides: attr.ints([2, 2]),
      pads: attr.ints([before, before, after, after]),
    });
    return { name, channels: x.channels, size: Math.ceil(x.size / 2) };
  }

  /** Nearest-neighbour upsampling to `size`, source index floor(dst · in / out) (PyTorch legacy nearest). */
  upsample(x: Feature, size: number): Feature {
    // Full NCHW sizes, not the `axes` attribute: onnxruntime's layout transformer (level "all", which moves the
    // int8 graph to NHWC) mis-permutes a 2-element `sizes` given with `axes`.
    const nc = this.graph.node("Slice", [
      this.graph.node("Shape", [x.name]),
      this.graph.int64s([0]),
      this.graph.int64s([2]),
      this.graph.int64s([0]),
    ]);
    const sizes = this.graph.node("Concat", [nc, this.graph.int64s([size, size])], { axis: attr.int(0) });
    const name = this.graph.node("Resize", [x.name, "", "", sizes], {
      mode: attr.string("nearest"),
      coordinate_transformation_mode: attr.string("asymmetric"),
      nearest_mode: attr.string("floor"),
    });
    return { name, channels: x.channels, size };
  }

  add(a: Feature, b: Feature): Feature {
    return { ...a, name: this.graph.node("Add", [a.name, b.name]) };
  }
}

/** `[rows, cols]` → `[cols, rows]`. */
function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}
