// In-graph preprocessing of the deploy variant (spec section 8): uint8 N×H×W×3 RGB frames of any size →
// aspect-preserving bilinear resize to the model resolution, pasted top-left on a canvas of the ImageNet-mean
// fill colour, normalised. Returns the normalised N×3×T×T tensor and the scalar img_scale (source px per model px).

import { attr, type GraphBuilder } from "./onnx-graph.ts";

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
/** round(255 · mean): the letterbox fill colour. */
export const FILL_COLOR = [124, 116, 104] as const;

export interface Preprocessed {
  normalized: string;
  /** float32 scalar: max(H, W) / T, multiplies model-pixel boxes back into frame pixels. */
  imageScale: string;
  /** float32 [2]: (frame width, frame height) for clipping boxes. */
  frameSizeXY: string;
}

export function buildPreprocess(g: GraphBuilder, frames: string, target: number): Preprocessed {
  const shape = g.node("Shape", [frames]); // [N, H, W, 3]
  const hw = g.node("Slice", [shape, g.int64s([1]), g.int64s([3]), g.int64s([0])]); // [H, W]
  const longest = g.node("ReduceMax", [hw], { keepdims: attr.int(1) }); // [1]
  // new size = floor(side · T / max(H, W)) in exact integer arithmetic (the reference truncates a float product).
  const resized = g.node("Div", [g.node("Mul", [hw, g.int64s([target])]), longest]); // [newH, newW]
  const nchw = g.node("Transpose", [frames], { perm: attr.ints([0, 3, 1, 2]) });
  const asFloat = g.node("Cast", [nchw], { to: attr.int(1) });
  // Antialiased bilinear (what PIL does when shrinking), rounded back to integer levels as a uint8 image would be.
  // Full NCHW sizes rather than the `axes` attribute: onnxruntime's layout transformer (optimisation level "all",
  // which moves the int8 graph to NHWC) mis-permutes a 2-element `sizes` with `axes`.
  const batch = g.node("Slice", [shape, g.int64s([0]), g.int64s([1]), g.int64s([0])]); // [N]
  const fullSize = g.node("Concat", [batch, g.int64s([3]), resized], { axis: attr.int(0) }); // [N, 3, newH, newW]
  const scaled = g.node("Resize", [asFloat, "", "", fullSize], {
    mode: attr.string("linear"),
    coordinate_transformation_mode: attr.string("half_pixel"),
    antialias: attr.int(1),
  });
  const rounded = g.node("Clip", [g.node("Round", [scaled]), g.scalar(0), g.scalar(255)]);
  // Pad with the fill colour: shift so the fill is zero, pad with zeros, shift back.
  const fill = g.floats("fill_color", [1, 3, 1, 1], FILL_COLOR);
  const shifted = g.node("Sub", [rounded, fill]);
  const padHW = g.node("Sub", [g.int64s([target, target]), resized]);
  const pads = g.node("Concat", [g.int64s([0, 0, 0, 0, 0, 0]), padHW], { axis: attr.int(0) });
  const padded = g.node("Add", [g.node("Pad", [shifted, pads]), fill]);
  const mean = g.floats(
    "mean_255",
    [1, 3, 1, 1],
    IMAGENET_MEAN.map((m) => Math.fround(255 * m)),
  );
  const std = g.floats(
    "std_255",
    [1, 3, 1, 1],
    IMAGENET_STD.map((s) => Math.fround(255 * s)),
  );
  const normalized = g.node("Div", [g.node("Sub", [padded, mean]), std]);

  const longestFloat = g.node("Cast", [longest], { to: attr.int(1) });
  const imageScale = g.node("Div", [longestFloat, g.scalar(target)]);
  const wh = g.node("Gather", [hw, g.int64s([1, 0])], { axis: attr.int(0) });
  const frameSizeXY = g.node("Cast", [wh], { to: attr.int(1) });
  return { normalized, imageScale, frameSizeXY };
}
