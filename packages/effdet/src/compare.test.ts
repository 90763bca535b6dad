// runPair (what `vdet model compare` runs) on two deploy graphs of the same weights: the channels-last head layer of
// deploy graphs since session 11 (a MatMul) against the form before it (a 1×1 Conv writing NCHW, then a Transpose to
// channels-last). The two must give the same detections; their head tensors hold the same values in another order,
// so no drift is reported for such a pair.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { RgbImage } from "@vdet/protocol";
import onnxProto from "onnx-proto";
import { build } from "./build.ts";
import { runPair } from "./compare.ts";

const { onnx } = onnxProto;
type Node = onnxProto.onnx.INodeProto;

/** The deploy graph with each head's last layer written as before session 11: Conv (NCHW) → Transpose. */
function withConvHeads(bytes: Uint8Array): { bytes: Uint8Array; rewritten: number } {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph!;
  const producer = new Map<string, Node>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const replaced = new Map<Node, Node[]>();
  const dropped = new Set<Node>();
  for (const add of graph.node ?? []) {
    if (add.opType !== "Add" || !/_net\.predict\.conv_pw/.test(add.output![0])) continue;
    const matmul = producer.get(add.input![0])!;
    const transpose = producer.get(matmul.input![0])!;
    assert.equal(matmul.opType, "MatMul");
    assert.equal(transpose.opType, "Transpose");
    const w = inits.get(matmul.input![1])!;
    const [inC, outC] = (w.dims ?? []).map(Number);
    const values = new Float32Array(new Uint8Array(w.rawData!).buffer);
    const conv = new Float32Array(values.length);
    for (let i = 0; i < inC; i++) for (let o = 0; o < outC; o++) conv[o * inC + i] = values[i * outC + o];
    const convWeight = `${add.output![0]}_conv_weight`;
    graph.initializer!.push({
      name: convWeight,
      dims: [outC, inC, 1, 1],
      dataType: 1,
      rawData: new Uint8Array(conv.buffer),
    });
    // The Conv output carries the head tensor's name (NCHW), as before session 11; its readers get the Transpose's.
    const name = add.output![0];
    dropped.add(transpose).add(matmul);
    replaced.set(add, [
      {
        opType: "Conv",
        input: [transpose.input![0], convWeight, add.input![1]],
        output: [name],
        name: `${name}_conv`,
      },
      {
        opType: "Transpose",
        input: [name],
        output: [`${name}_channels_last`],
        name: `${name}_to_channels_last`,
        attribute: [{ name: "perm", type: onnx.AttributeProto.AttributeType.INTS, ints: [0, 2, 3, 1] }],
      },
    ]);
  }
  const renamed = new Map(
    [...replaced.keys()].map((add) => [add.output![0], `${add.output![0]}_channels_last`]),
  );
  for (const n of graph.node ?? []) n.input = (n.input ?? []).map((i) => renamed.get(i) ?? i);
  graph.node = (graph.node ?? []).flatMap((n) => (dropped.has(n) ? [] : (replaced.get(n) ?? [n])));
  return { bytes: onnx.ModelProto.encode(model).finish(), rewritten: replaced.size };
}

function frame(seed: number): RgbImage {
  const width = 160;
  const height = 120;
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, data };
}

test("a deploy graph's channels-last head MatMul gives the detections of the Conv form it replaced", async () => {
  const current = build({ phi: 0, seed: 3, imageSize: 128 });
  const { bytes: old, rewritten } = withConvHeads(current);
  assert.equal(rewritten, 10, "five levels, class and box heads");
  const pair = await runPair(old, current, [frame(1), frame(2)], { intraOpThreads: 1 });
  assert.equal(pair.frames, 2);
  for (let f = 0; f < 2; f++) {
    const [a, b] = [pair.a[f], pair.b[f]];
    assert.ok(a.scores.length > 0);
    assert.deepEqual(Array.from(b.classIds), Array.from(a.classIds));
    for (let i = 0; i < a.scores.length; i++) assert.ok(Math.abs(a.scores[i] - b.scores[i]) < 1e-5);
    for (let i = 0; i < a.xyxy.length; i++) assert.ok(Math.abs(a.xyxy[i] - b.xyxy[i]) < 1e-3);
  }
  // The head tensors are NCHW in one and channels-last in the other: not compared.
  assert.equal(pair.drift, null);
  // The same layout on both sides is compared as before.
  const self = await runPair(current, current, [frame(1)], { intraOpThreads: 1 });
  assert.equal(self.drift?.tensors, 10);
  assert.equal(self.drift?.classMaxAbs, 0);
});
