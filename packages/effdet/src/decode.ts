// In-graph decoding of the deploy variant (spec section 7, steps 1–5): flatten the head outputs, take the top-k
// logits over anchors × classes, decode those boxes against their anchors, map them to frame pixels and clip.
// Only the k candidates leave the graph, never the full anchors × classes score tensor.

import type { Feature } from "./layers.ts";
import { attr, type GraphBuilder } from "./onnx-graph.ts";

export interface DecodeOptions {
  numClasses: number;
  anchors: Float32Array; // [A, 4] (yc, xc, h, w)
  candidates: number;
  imageScale: string;
  frameSizeXY: string;
  clip: boolean;
}

export interface Decoded {
  boxes: string; // float32 [N, k, 4] x1, y1, x2, y2 in frame pixels
  scores: string; // float32 [N, k] sigmoid(logit), descending
  classes: string; // int32 [N, k] class id, 1-based
}

/** Channels-last head maps `[N, H, W, anchors · perLocation]` → `[N, A, perLocation]` over all levels. */
function flatten(g: GraphBuilder, maps: Feature[], perLocation: number): string {
  const parts = maps.map((m) => g.node("Reshape", [m.name, g.int64s([0, -1, perLocation])]));
  return g.node("Concat", parts, { axis: attr.int(1) });
}

/** `classMaps` and `boxMaps` are channels-last (`buildHead` with layout "nhwc"). */
export function buildDecode(
  g: GraphBuilder,
  classMaps: Feature[],
  boxMaps: Feature[],
  o: DecodeOptions,
): Decoded {
  const logits = flatten(g, classMaps, o.numClasses); // [N, A, K]
  const regressions = flatten(g, boxMaps, 4); // [N, A, 4] (ty, tx, th, tw)
  const flatLogits = g.node("Reshape", [logits, g.int64s([0, -1])]);
  const [topLogits, topIndices] = g.node(
    "TopK",
    [flatLogits, g.int64s([o.candidates])],
    { axis: attr.int(-1) },
    2,
  );
  const k = g.int64s([o.numClasses], []);
  const rows = g.node("Div", [topIndices, k]); // anchor index
  const classIndex = g.node("Mod", [topIndices, k]);

  const picked = g.node("GatherND", [regressions, g.node("Unsqueeze", [rows, g.int64s([-1])])], {
    batch_dims: attr.int(1),
  }); // [N, k, 4]
  const anchors = g.weight("anchors", {
    shape: [o.anchors.length / 4, 4],
    materialize: () => o.anchors,
  });
  const anchorRows = g.node("Gather", [anchors, rows], { axis: attr.int(0) }); // [N, k, 4] (yc, xc, h, w)
  // Work in (x, y) order: (tx, ty, tw, th) against (xc, yc, w, h).
  const xyOrder = g.int64s([1, 0, 3, 2]);
  const t = g.node("Gather", [picked, xyOrder], { axis: attr.int(2) });
  const a = g.node("Gather", [anchorRows, xyOrder], { axis: attr.int(2) });
  const slice = (x: string, from: number, to: number) =>
    g.node("Slice", [x, g.int64s([from]), g.int64s([to]), g.int64s([2])]);
  const aSize = slice(a, 2, 4);
  const center = g.node("Add", [g.node("Mul", [slice(t, 0, 2), aSize]), slice(a, 0, 2)]);
  const size = g.node("Mul", [g.node("Exp", [slice(t, 2, 4)]), aSize]);
  const half = g.node("Div", [size, g.scalar(2)]);
  let boxes = g.node("Concat", [g.node("Sub", [center, half]), g.node("Add", [center, half])], {
    axis: attr.int(2),
  });
  boxes = g.node("Mul", [boxes, o.imageScale]);
  if (o.clip) {
    const upper = g.node("Concat", [o.frameSizeXY, o.frameSizeXY], { axis: attr.int(0) }); // [W, H, W, H]
    boxes = g.node("Max", [g.node("Min", [boxes, upper]), g.scalar(0)]);
  }
  const scores = g.node("Sigmoid", [topLogits]);
  const classes = g.node("Cast", [g.node("Add", [classIndex, g.int64s([1], [])])], { to: attr.int(6) });
  return { boxes, scores, classes };
}
