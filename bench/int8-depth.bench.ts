// `npm run bench -- int8-depth`: why the D3@256 fixture's int8 build cannot give its fp32 twin's detections
// (issue 22; docs/model.md "Accuracy"). The relative error ‖a − b‖ / ‖a‖ of every batch-normed conv output, in graph
// order, between the fp32 graph and
//   - its int8 build (default rules and calibration, calibrated on the fixture image itself), and
//   - the same fp32 graph fed the image nudged by one grey level at every 97th byte (≈ 1 % of the values),
// for the fixture as it is and for the fixture with its batch-norm statistics re-estimated on the image (every
// batch-normed conv output then has mean 0 and standard deviation 1 per channel, as training leaves them). If the
// int8 error came from badly scaled activations, re-estimation would remove it; if the network itself amplifies
// small perturbations (untrained random filters), the one-grey-level nudge grows with depth as well.
// Exposing a conv's output keeps onnxruntime from fusing that conv into QLinearConv, so the per-layer int8 figures
// are the QDQ arithmetic (quantised activations and weights, float accumulation), not the int8 kernel's rounding;
// the head drift comes from the graph as workers run it (only the float head outputs exposed).
// Accuracy only: nothing here depends on the machine's load. The last stdout line is one JSON object.

import { readFileSync } from "node:fs";
import { build, exposeTensors, frameFeed, quantize, runPair } from "@vdet/effdet";
import { decodeImage } from "@vdet/image";
import type { RgbImage } from "@vdet/protocol";
import { createOnnxRunner } from "@vdet/runtime";
import type { StateDict } from "@vdet/tensorio";
import onnxProto from "onnx-proto";
import { loadD3StateDict, projectFixture } from "../test/support/fixtures.ts";

const { onnx } = onnxProto;
// The model's own batch-norm epsilon (BN_EPS in the builder): a channel constant on the image gets a gain of at most 1/√EPS.
const EPS = 1e-3;
const IMAGE_SIZE = 256;
const image = decodeImage(readFileSync(projectFixture("effdet/d3-256.image0.png")));
const log = (line: string) => process.stderr.write(`${line}\n`);

/** Batch-normed conv outputs in graph order (their bias is the folded one): the batch norm's prefix, channels. */
function batchNormedConvs(
  model: onnxProto.onnx.IModelProto,
): Map<string, { prefix: string; channels: number }> {
  const channels = new Map((model.graph?.initializer ?? []).map((t) => [t.name!, Number(t.dims?.[0] ?? 0)]));
  const convs = new Map<string, { prefix: string; channels: number }>();
  for (const n of model.graph?.node ?? []) {
    const bias = n.input?.[2];
    if (n.opType === "Conv" && bias?.endsWith(".folded_bias"))
      convs.set(n.output![0], { prefix: bias.replace(/\.folded_bias$/, ""), channels: channels.get(bias)! });
  }
  return convs;
}

async function outputs(
  bytes: Uint8Array,
  names: string[],
  frame: RgbImage,
): Promise<Record<string, Float32Array>> {
  const runner = await createOnnxRunner(exposeTensors(onnx.ModelProto.decode(bytes), names), {
    executionProvider: "cpu",
    intraOpThreads: 2,
  });
  try {
    const out = await runner.run(frameFeed(frame));
    return Object.fromEntries(names.map((n) => [n, out[n].data as Float32Array]));
  } finally {
    await runner.close();
  }
}

/** Per-channel mean and standard deviation (with EPS) of an NCHW tensor of batch 1. */
function channelStats(data: Float32Array, channels: number): { mean: number; std: number }[] {
  const hw = data.length / channels;
  return Array.from({ length: channels }, (_, c) => {
    let s = 0;
    let s2 = 0;
    for (let i = c * hw; i < (c + 1) * hw; i++) {
      s += data[i];
      s2 += data[i] * data[i];
    }
    const mean = s / hw;
    return { mean, std: Math.sqrt(Math.max(s2 / hw - mean * mean, 0) + EPS) };
  });
}

/**
 * The state dict with every batch norm's γ, β re-estimated on `frame` so its output has mean 0 and std 1 per channel.
 * One run: an InstanceNormalization (scale 1, bias 0) after every batch-normed conv makes each conv see its inputs
 * as they will be once all earlier layers are re-estimated, so the statistics of its raw output are the final ones.
 */
async function reestimateBatchNorm(weights: StateDict, frame: RgbImage): Promise<StateDict> {
  const model = onnx.ModelProto.decode(build({ phi: 3, weights, imageSize: IMAGE_SIZE }));
  const graph = model.graph!;
  const convs = batchNormedConvs(model);
  const prefixes = new Map<string, string>();
  const nodes: onnxProto.onnx.INodeProto[] = [];
  for (const n of graph.node ?? []) {
    const out = n.output?.[0] ?? "";
    const conv = convs.get(out);
    if (n.opType !== "Conv" || !conv) {
      nodes.push(n);
      continue;
    }
    const raw = `${out}_before_norm`;
    prefixes.set(raw, conv.prefix);
    for (const [name, value] of [
      [`${out}_norm_scale`, 1],
      [`${out}_norm_bias`, 0],
    ] as const) {
      const values = new Float32Array(conv.channels).fill(value);
      graph.initializer!.push({
        name,
        dims: [conv.channels],
        dataType: 1,
        rawData: new Uint8Array(values.buffer),
      });
    }
    nodes.push(
      { ...n, output: [raw] },
      {
        opType: "InstanceNormalization",
        input: [raw, `${out}_norm_scale`, `${out}_norm_bias`],
        output: [out],
        name: `${out}_norm`,
        attribute: [{ name: "epsilon", type: onnx.AttributeProto.AttributeType.FLOAT, f: EPS }],
      },
    );
  }
  graph.node = nodes;
  const raw = await outputs(onnx.ModelProto.encode(model).finish(), [...prefixes.keys()], frame);
  const result: StateDict = new Map(weights);
  for (const [tensor, prefix] of prefixes) {
    const gamma = weights.get(`${prefix}.weight`)!.data as Float32Array;
    const beta = weights.get(`${prefix}.bias`)!.data as Float32Array;
    const stats = channelStats(raw[tensor], gamma.length);
    const scaled = (f: (c: number) => number) => Float32Array.from(gamma, (_, c) => f(c));
    result.set(`${prefix}.weight`, {
      dtype: "F32",
      shape: [gamma.length],
      data: scaled((c) => gamma[c] / stats[c].std),
    });
    result.set(`${prefix}.bias`, {
      dtype: "F32",
      shape: [gamma.length],
      data: scaled((c) => (beta[c] - stats[c].mean) / stats[c].std),
    });
  }
  return result;
}

const relativeError = (a: Float32Array, b: Float32Array) => {
  let e = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    n += a[i] ** 2;
  }
  return Math.sqrt(e / n);
};
const r4 = (v: number) => Math.round(v * 1e4) / 1e4;

const nudged: RgbImage = {
  ...image,
  data: Uint8Array.from(image.data, (v, i) => (i % 97 === 0 ? (v < 255 ? v + 1 : v - 1) : v)),
};

async function measure(label: string, weights: StateDict) {
  const fp32 = build({ phi: 3, weights, imageSize: IMAGE_SIZE });
  const convs = batchNormedConvs(onnx.ModelProto.decode(fp32));
  const names = [...convs.keys()];
  const { bytes: int8 } = await quantize(fp32, [image], { intraOpThreads: 2 });
  const reference = await outputs(fp32, names, image);
  const int8Out = await outputs(int8, names, image);
  const nudgedOut = await outputs(fp32, names, nudged);
  // Per channel after each batch norm: how far from mean 0 and std 1.
  let worstLogStd = 0;
  let worstMean = 0;
  for (const [t, { channels }] of convs) {
    for (const { mean, std } of channelStats(reference[t], channels)) {
      worstLogStd = Math.max(worstLogStd, Math.abs(Math.log(std)));
      worstMean = Math.max(worstMean, Math.abs(mean));
    }
  }
  const pair = await runPair(fp32, int8, [image], { intraOpThreads: 2 });
  const rows = names.map((t) => ({
    tensor: t,
    int8: r4(relativeError(reference[t], int8Out[t])),
    nudge: r4(relativeError(reference[t], nudgedOut[t])),
  }));
  const checkpoints = rows.filter((_, i) => i % 8 === 0 || i === rows.length - 1);
  for (const row of checkpoints) log(`${label} ${row.tensor}: int8 ${row.int8}, nudge ${row.nudge}`);
  return {
    batchNormedConvs: rows.length,
    worstAbsLogStd: r4(worstLogStd),
    worstAbsMean: r4(worstMean),
    headDrift: pair.drift,
    fp32TopScores: Array.from(pair.a[0].scores.slice(0, 5), r4),
    checkpoints,
  };
}

const fixture = loadD3StateDict();
const asIs = await measure("fixture", fixture);
const started = performance.now();
const reestimated = await reestimateBatchNorm(fixture, image);
const reestimateSeconds = Math.round((performance.now() - started) / 100) / 10;
const renorm = await measure("re-estimated", reestimated);
console.log(
  JSON.stringify({
    bench: "int8-depth",
    model: "D3@256 fixture (untrained), its image; int8: default rules and calibration on that image",
    relativeError:
      "‖fp32 − other‖ / ‖fp32‖ per batch-normed conv output, every 8th in graph order and the last",
    nudge: "fp32 fed the image with one grey level changed at every 97th byte",
    fixture: asIs,
    batchNormReestimated: { reestimateSeconds, ...renorm },
  }),
);
