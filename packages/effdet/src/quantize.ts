// Static int8 quantisation of a vdet-built graph as QDQ (QuantizeLinear / DequantizeLinear pairs), written directly
// into the ONNX model: onnxruntime's own quantisation tool is Python-only. onnxruntime fuses DQ → Conv → Q into
// QLinearConv (uint8 activations, int8 per-channel weights, int32 bias) when it loads the model.
//
// 1. plan:      which nodes are quantised (the rules below) and so which activation tensors need a range;
// 2. calibrate: run the fp32 graph with those tensors exposed as outputs on calibration frames (uint8 RGB, the
//               deploy graph's own in-graph pre-processing, exactly as a worker feeds it) and collect ranges
//               (min/max, or percentile of a histogram);
// 3. rewrite:   per-channel symmetric int8 weights, int32 biases, a Q→DQ pair after every quantised activation.
// See docs/model.md ("int8") for the rules and their measured effect.

import { InvariantError } from "@vdet/errors";
import type { RgbImage } from "@vdet/protocol";
import { cpuFeatures, createOnnxRunner, int8WeightBitsFor, type ModelRunner } from "@vdet/runtime";
import type { onnx as Proto } from "onnx-proto";
import onnxProto from "onnx-proto";
import { BuildOptionsError } from "./errors.ts";
import { DATA_TYPE } from "./onnx-graph.ts";

const { onnx } = onnxProto;

export const CALIBRATION_METHODS = ["minmax", "percentile"] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];
/** The default calibration method and percentile (measured in docs/model.md). */
export const DEFAULT_CALIBRATION_METHOD: CalibrationMethod = "percentile";
export const DEFAULT_PERCENTILE = 99.999;
export const DEFAULT_CALIBRATION_FRAMES = 200;
/**
 * The weight width when none is given: 8 bits where this CPU's int8 kernels accumulate in 32 bits (VNNI or AMX),
 * 7 otherwise (docs/model.md, "Weight bits"). A model built with 8 bits must only run on such CPUs.
 */
export function defaultWeightBits(): 7 | 8 {
  return int8WeightBitsFor(cpuFeatures());
}

/** What is quantised beyond the convolutions. Everything not listed stays float. */
export interface QuantizeRules {
  /** SiLU's Sigmoid and Mul run on uint8 (QLinearSigmoid, QLinearMul) instead of float between Q/DQ pairs. */
  silu: boolean;
  /** Residual Adds of the backbone run on uint8 (QLinearAdd). */
  residualAdd: boolean;
  /** MaxPool and nearest Resize keep their input's quantisation, so onnxruntime runs them on uint8. */
  resample: boolean;
  /** The squeeze-excitation's 1×1 convs on the pooled vector and its gating Mul. */
  squeezeExcite: boolean;
  /**
   * The last conv of each head (class logits, box regressions) writes uint8 instead of float. Only deploy graphs
   * built before session 11 have such a conv; since then that layer is a float MatMul (`pointwiseChannelsLast`).
   */
  headOutputs: boolean;
  /** Depthwise convs run on int8 (per-tensor activations: the channels with small ranges lose most). */
  depthwise: boolean;
  /**
   * Float SiLUs (`x·sigmoid(x)`, when `silu` is off) become one com.microsoft `QuickGelu` (alpha 1) node, so the
   * DequantizeLinear before them has one consumer: onnxruntime otherwise duplicates it (one per consumer) and can
   * no longer fuse Sigmoid·Mul itself.
   */
  fusedSilu: boolean;
  /** The last conv of each head keeps int8 weights (dequantised at every run) though its output is float (as above, older deploy graphs only). */
  headWeights: boolean;
  /** A no-op uint8 Reshape between the stem input's Q and DQ, so the float pre-processing stays NCHW. */
  stemBarrier: boolean;
}

/**
 * The measured default (docs/model.md): convolutions, resampling, SiLU and the squeeze-excitation in int8; the
 * heads' last layer, the BiFPN fusion and the decoding float.
 */
export const DEFAULT_RULES: QuantizeRules = {
  silu: true,
  residualAdd: false,
  resample: true,
  squeezeExcite: true,
  headOutputs: false,
  depthwise: true,
  fusedSilu: true,
  headWeights: false,
  stemBarrier: true,
};

export interface QuantizeOptions {
  method?: CalibrationMethod;
  /** percentile: the share of values (in %) kept inside the range at each end. */
  percentile?: number;
  rules?: Partial<QuantizeRules>;
  /** Threads of the calibration session. */
  intraOpThreads?: number;
  /**
   * Bits of the int8 weights actually used: 7 (values −63…63) or 8 (−127…127); default `defaultWeightBits()`
   * (8 on VNNI/AMX CPUs, 7 otherwise). x86 CPUs without VNNI multiply uint8 × int8 pairs with a saturating 16-bit
   * add (vpmaddubsw); 8-bit weights overflow it and the model detects nothing (measured in docs/model.md).
   * 8 is only safe where every CPU that runs the model has VNNI or AMX.
   */
  weightBits?: 7 | 8;
  /** Extra metadata written into the quantised model (e.g. the calibration set's hash). */
  metadata?: Record<string, string>;
}

export interface QuantizeReport {
  method: CalibrationMethod;
  percentile?: number;
  weightBits: 7 | 8;
  /** Why `weightBits` was chosen: "option", or "cpu: …" (the detected features). */
  weightBitsChosenBy: string;
  rules: QuantizeRules;
  calibrationFrames: number;
  quantizedConvs: number;
  floatConvs: number;
  activationTensors: number;
  /** Biases whose int32 value had to be clamped (a tiny input scale × weight scale). */
  clampedBiases: number;
}

export interface QuantizedModel {
  bytes: Uint8Array;
  report: QuantizeReport;
}

interface Range {
  min: number;
  max: number;
}

type Node = Proto.INodeProto;

interface Plan {
  /** Conv nodes to quantise (weights, bias, input, output). */
  convs: Set<Node>;
  /** Other nodes whose activation inputs and output are quantised (QLinear* ops). */
  others: Set<Node>;
  /** Ops whose output reuses its (single) input's quantisation parameters: output → input tensor. */
  sameAs: Map<string, string>;
  /** Activation tensors that get a Q→DQ pair, in graph order. */
  tensors: string[];
  /** Float SiLUs written as one QuickGelu node: the Mul → its Sigmoid (dropped). */
  fusedSilus: Map<Node, Node>;
  /** Quantised tensors whose Q and DQ get a no-op Reshape between them (the stem input). */
  barriers: Set<string>;
}

function initializerMap(graph: Proto.IGraphProto): Map<string, Proto.ITensorProto> {
  return new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
}

function floatValues(t: Proto.ITensorProto): Float32Array {
  if (t.dataType !== DATA_TYPE.float32) throw new InvariantError(`initializer ${t.name} is not float32`);
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData); // aligned copy
    return new Float32Array(copy.buffer, 0, copy.length / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function planQuantization(graph: Proto.IGraphProto, rules: QuantizeRules): Plan {
  const inits = initializerMap(graph);
  const nodes = graph.node ?? [];
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const isActivation = (name: string) => name !== "" && !inits.has(name) && producer.has(name);
  const outName = (n: Node) => n.output![0];
  const isSe = (n: Node) => /\.se\./.test(outName(n));
  const isHeadOutput = (n: Node) => /_net\.predict\.conv_pw/.test(outName(n));

  const convs = new Set<Node>();
  const others = new Set<Node>();
  const sameAs = new Map<string, string>();
  // The stem: the first conv, reading the pre-processing's output.
  const stemConv = nodes.find((n) => n.opType === "Conv" && inits.has(n.input![1]));
  for (const n of nodes) {
    if (n.opType === "Conv") {
      if (!inits.has(n.input![1])) continue;
      if (isSe(n) && !rules.squeezeExcite) continue;
      if (isHeadOutput(n) && !rules.headOutputs && !rules.headWeights) continue;
      if (!rules.depthwise && groupOf(n) > 1) continue;
      convs.add(n);
    }
  }
  const convOutputs = new Set([...convs].filter((n) => rules.headOutputs || !isHeadOutput(n)).map(outName));
  // Tensors that carry int8 values between quantised nodes.
  const quantized = new Set<string>();
  for (const n of convs) {
    quantized.add(n.input![0]);
    if (convOutputs.has(outName(n))) quantized.add(outName(n));
  }
  // SiLUs x·sigmoid(x) outside the squeeze-excitation (x a conv output or a fusion sum): the Mul → its Sigmoid.
  // The SE's own SiLU (on its reduce conv) and its gate stay with the SE rule: quantising them would put a float-weight
  // SE conv between a DQ and a Q, which onnxruntime then quantises by itself (WeightBiasQuantization).
  const silus = new Map<Node, Node>();
  for (const n of nodes) {
    if (n.opType !== "Mul" || n.input?.length !== 2) continue;
    const [x, g] = n.input;
    const sig = producer.get(g);
    const source = producer.get(x);
    if (sig?.opType === "Sigmoid" && sig.input![0] === x && !(source && isSe(source))) silus.set(n, sig);
  }
  for (const n of nodes) {
    const ins = (n.input ?? []).filter((i) => i !== "");
    if (rules.silu && silus.has(n)) {
      others.add(n);
      others.add(silus.get(n)!);
    } else if (rules.residualAdd && n.opType === "Add" && ins.every(isActivation)) {
      if (ins.every((i) => producer.get(i)?.opType === "Conv" || quantized.has(i))) others.add(n);
    } else if (rules.squeezeExcite && n.opType === "Mul" && ins.length === 2) {
      // The SE gate: x · sigmoid(conv_expand(...)).
      const gate = producer.get(ins[1]);
      if (gate?.opType === "Sigmoid" && isSe(producer.get(gate.input![0]) ?? {})) others.add(n);
    }
  }
  if (rules.resample) {
    for (const n of nodes) {
      if ((n.opType === "MaxPool" || (n.opType === "Resize" && isNearest(n))) && quantized.has(n.input![0]))
        sameAs.set(outName(n), n.input![0]);
    }
  }
  for (const n of others) {
    for (const i of n.input ?? []) if (isActivation(i)) quantized.add(i);
    quantized.add(outName(n));
  }
  // Resampled tensors feeding a quantised node carry their input's parameters: Q(x)→DQ→MaxPool→Q→DQ collapses.
  for (const [out, input] of sameAs) if (!quantized.has(out) && quantized.has(input)) quantized.add(out);
  const tensors = nodes.flatMap((n) => (n.output ?? []).filter((o) => quantized.has(o)));
  // The graph input can be quantised too (raw variant: the stem conv reads it).
  for (const i of graph.input ?? []) if (quantized.has(i.name!)) tensors.unshift(i.name!);
  const fusedSilus = new Map<Node, Node>();
  if (rules.fusedSilu) {
    const consumers = new Map<string, number>();
    for (const n of nodes) for (const i of n.input ?? []) consumers.set(i, (consumers.get(i) ?? 0) + 1);
    for (const n of nodes) {
      if (n.opType !== "Mul" || others.has(n) || n.input?.length !== 2) continue;
      const [x, g] = n.input;
      const sig = producer.get(g);
      if (sig?.opType === "Sigmoid" && sig.input![0] === x && !others.has(sig) && consumers.get(g) === 1)
        fusedSilus.set(n, sig);
    }
  }
  // The stem input: the float pre-processing's output.
  const barriers = new Set<string>();
  if (rules.stemBarrier && stemConv && convs.has(stemConv)) barriers.add(stemConv.input![0]);
  return { convs, others, sameAs, tensors, fusedSilus, barriers };
}

function groupOf(n: Node): number {
  return Number(n.attribute?.find((a) => a.name === "group")?.i ?? 1);
}

function isNearest(n: Node): boolean {
  const mode = n.attribute?.find((a) => a.name === "mode");
  return mode?.s !== undefined && mode.s !== null && new TextDecoder().decode(mode.s) === "nearest";
}

/** The model with `names` added as float32 graph outputs (shapes left to onnxruntime). */
export function exposeTensors(model: Proto.IModelProto, names: readonly string[]): Uint8Array {
  const graph = model.graph!;
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  const extra = names
    .filter((n) => !existing.has(n))
    .map((name) => ({ name, type: { tensorType: { elemType: DATA_TYPE.float32 } } }));
  const copy = onnx.ModelProto.create({
    ...model,
    graph: onnx.GraphProto.create({ ...graph, output: [...(graph.output ?? []), ...extra] }),
  });
  return onnx.ModelProto.encode(copy).finish();
}

const HISTOGRAM_BINS = 2048;

/** Per-tensor histograms over a fixed [min, max] (from a first min/max pass). */
class Histogram {
  readonly counts: Float64Array = new Float64Array(HISTOGRAM_BINS);
  total = 0;
  constructor(readonly range: Range) {}
  add(data: Float32Array): void {
    const { min, max } = this.range;
    const width = (max - min) / HISTOGRAM_BINS;
    if (width <= 0) {
      this.counts[0] += data.length;
    } else {
      const inv = 1 / width;
      for (let i = 0; i < data.length; i++) {
        let bin = Math.floor((data[i] - min) * inv);
        if (bin >= HISTOGRAM_BINS) bin = HISTOGRAM_BINS - 1;
        else if (bin < 0) bin = 0;
        this.counts[bin]++;
      }
    }
    this.total += data.length;
  }
  /** The range holding `percentile` % of the values below and above. */
  clip(percentile: number): Range {
    const { min, max } = this.range;
    const width = (max - min) / HISTOGRAM_BINS;
    if (width <= 0 || this.total === 0) return this.range;
    const tail = (this.total * (100 - percentile)) / 100;
    let lo = 0;
    for (let acc = 0; lo < HISTOGRAM_BINS - 1 && acc + this.counts[lo] <= tail; lo++) acc += this.counts[lo];
    let hi = HISTOGRAM_BINS - 1;
    for (let acc = 0; hi > lo && acc + this.counts[hi] <= tail; hi--) acc += this.counts[hi];
    return { min: min + lo * width, max: min + (hi + 1) * width };
  }
}

/** The deploy graph's feed for one RGB frame (its own size: the graph resizes), a copy of its pixels. */
export function frameFeed(frame: RgbImage) {
  if (frame.data.length !== frame.width * frame.height * 3)
    throw new BuildOptionsError(`calibration frame ${frame.width}×${frame.height} does not hold RGB bytes`);
  return {
    frames: {
      type: "uint8" as const,
      dims: [1, frame.height, frame.width, 3],
      data: Uint8Array.from(frame.data),
    },
  };
}

async function collectRanges(
  runner: ModelRunner,
  tensors: readonly string[],
  frames: readonly RgbImage[],
  method: CalibrationMethod,
  percentile: number,
): Promise<Map<string, Range>> {
  const ranges = new Map<string, Range>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  for (const frame of frames) {
    const out = await runner.run(frameFeed(frame));
    for (const t of tensors) {
      const data = out[t]?.data as Float32Array | undefined;
      if (!data) throw new InvariantError(`calibration run has no output ${t}`);
      const r = ranges.get(t)!;
      let { min, max } = r;
      for (let i = 0; i < data.length; i++) {
        const v = data[i];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      r.min = min;
      r.max = max;
    }
  }
  if (method === "minmax") return ranges;
  const histograms = new Map(tensors.map((t) => [t, new Histogram(ranges.get(t)!)]));
  for (const frame of frames) {
    const out = await runner.run(frameFeed(frame));
    for (const t of tensors) histograms.get(t)!.add(out[t].data as Float32Array);
  }
  return new Map(tensors.map((t) => [t, histograms.get(t)!.clip(percentile)]));
}

/** uint8 asymmetric parameters for a range (always containing 0, so zero padding is exact). */
function uint8Params(r: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, Number.isFinite(r.min) ? r.min : 0);
  const hi = Math.max(0, Number.isFinite(r.max) ? r.max : 0);
  const scale = Math.fround(hi - lo > 0 ? (hi - lo) / 255 : 1);
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

function tensor(
  name: string,
  type: "float32" | "uint8" | "int8" | "int32" | "int64",
  dims: number[],
  values: ArrayLike<number>,
): Proto.ITensorProto {
  const code = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7 }[type];
  const array =
    type === "int64"
      ? BigInt64Array.from(values, (v) => BigInt(v))
      : type === "float32"
        ? Float32Array.from(values)
        : type === "uint8"
          ? Uint8Array.from(values)
          : type === "int8"
            ? Int8Array.from(values)
            : Int32Array.from(values);
  return {
    name,
    dims,
    dataType: code,
    rawData: new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
  };
}

function rewrite(
  model: Proto.IModelProto,
  plan: Plan,
  ranges: Map<string, Range>,
  report: QuantizeReport,
  metadata: Record<string, string>,
  weightMax: number,
): Uint8Array {
  const graph = model.graph!;
  const inits = initializerMap(graph);
  const newInits: Proto.ITensorProto[] = [];
  const newNodes: Node[] = [];
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  const paramsOf = (t: string): { scale: number; zeroPoint: number } => {
    let p = params.get(t);
    if (!p) {
      const source = plan.sameAs.get(t);
      p = source !== undefined && ranges.has(source) ? paramsOf(source) : uint8Params(ranges.get(t)!);
      params.set(t, p);
    }
    return p;
  };
  // Q→DQ after every quantised tensor; consumers read the DQ output.
  const dqName = new Map<string, string>();
  const qdqAfter = new Map<string, Node[]>();
  for (const t of plan.tensors) {
    const { scale, zeroPoint } = paramsOf(t);
    const s = `${t}_scale`;
    const z = `${t}_zero_point`;
    newInits.push(tensor(s, "float32", [], [scale]), tensor(z, "uint8", [], [zeroPoint]));
    const q = `${t}_quantized`;
    const dq = `${t}_dequantized`;
    dqName.set(t, dq);
    const barrier = plan.barriers.has(t);
    const held = barrier ? `${t}_held` : q;
    qdqAfter.set(t, [
      { opType: "QuantizeLinear", input: [t, s, z], output: [q], name: `${t}_QuantizeLinear` },
      ...(barrier
        ? [{ opType: "Reshape", input: [q, `${t}_same_shape`], output: [held], name: `${t}_Barrier` }]
        : []),
      { opType: "DequantizeLinear", input: [held, s, z], output: [dq], name: `${t}_DequantizeLinear` },
    ]);
    if (barrier) newInits.push(tensor(`${t}_same_shape`, "int64", [4], [0, 0, 0, 0]));
  }
  // Weights and biases of the quantised convs, per (initializer, input scale) since biases depend on the input.
  const weightCache = new Map<string, { w: string; scales: Float32Array }>();
  const quantWeight = (name: string): { w: string; scales: Float32Array } => {
    let cached = weightCache.get(name);
    if (cached) return cached;
    const init = inits.get(name)!;
    const dims = (init.dims ?? []).map(Number);
    const values = floatValues(init);
    const out = dims[0];
    const per = values.length / out;
    const scales = new Float32Array(out);
    const q = new Int8Array(values.length);
    for (let c = 0; c < out; c++) {
      let absMax = 0;
      for (let i = 0; i < per; i++) absMax = Math.max(absMax, Math.abs(values[c * per + i]));
      const scale = Math.fround(absMax > 0 ? absMax / weightMax : 1);
      scales[c] = scale;
      for (let i = 0; i < per; i++)
        q[c * per + i] = Math.max(-weightMax, Math.min(weightMax, Math.round(values[c * per + i] / scale)));
    }
    const w = `${name}_quantized`;
    newInits.push(
      tensor(w, "int8", dims, q),
      tensor(`${name}_scale`, "float32", [out], scales),
      tensor(`${name}_zero_point`, "int8", [out], new Int8Array(out)),
    );
    newNodes.push({
      opType: "DequantizeLinear",
      input: [w, `${name}_scale`, `${name}_zero_point`],
      output: [`${name}_dequantized`],
      name: `${name}_DequantizeLinear`,
      attribute: [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
    });
    cached = { w: `${name}_dequantized`, scales };
    weightCache.set(name, cached);
    return cached;
  };
  const biasCache = new Map<string, string>();
  const quantBias = (name: string, inputScale: number, weightScales: Float32Array): string => {
    const key = `${name}@${inputScale}`;
    let cached = biasCache.get(key);
    if (cached) return cached;
    const values = floatValues(inits.get(name)!);
    const scales = Float32Array.from(weightScales, (s) => inputScale * s);
    const q = Int32Array.from(values, (v, c) => {
      const x = Math.round(v / scales[c]);
      if (Math.abs(x) > 2 ** 31 - 1) report.clampedBiases++;
      return Math.max(-(2 ** 31 - 1), Math.min(2 ** 31 - 1, x));
    });
    const base = `${name}_${biasCache.size}`;
    newInits.push(
      tensor(`${base}_quantized`, "int32", [values.length], q),
      tensor(`${base}_scale`, "float32", [values.length], scales),
      tensor(`${base}_zero_point`, "int32", [values.length], new Int32Array(values.length)),
    );
    newNodes.push({
      opType: "DequantizeLinear",
      input: [`${base}_quantized`, `${base}_scale`, `${base}_zero_point`],
      output: [`${base}_dequantized`],
      name: `${base}_DequantizeLinear`,
      attribute: [{ name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
    });
    cached = `${base}_dequantized`;
    biasCache.set(key, cached);
    return cached;
  };

  const rewired = (graph.input ?? []).flatMap((i) => qdqAfter.get(i.name!) ?? []);
  const droppedSigmoids = new Set(plan.fusedSilus.values());
  for (const n of graph.node ?? []) {
    if (droppedSigmoids.has(n)) continue;
    const sigmoid = plan.fusedSilus.get(n);
    if (sigmoid) {
      const x = dqName.get(sigmoid.input![0]) ?? sigmoid.input![0];
      rewired.push({
        opType: "QuickGelu",
        domain: "com.microsoft",
        input: [x],
        output: n.output,
        name: `${n.name ?? n.output![0]}_silu`,
        attribute: [{ name: "alpha", type: onnx.AttributeProto.AttributeType.FLOAT, f: 1 }],
      });
      for (const o of n.output ?? []) rewired.push(...(qdqAfter.get(o) ?? []));
      continue;
    }
    const inputs = (n.input ?? []).map((i) => dqName.get(i) ?? i);
    if (plan.convs.has(n)) {
      const x = n.input![0];
      const { w, scales } = quantWeight(n.input![1]);
      inputs[1] = w;
      if (n.input!.length > 2 && n.input![2]) inputs[2] = quantBias(n.input![2], paramsOf(x).scale, scales);
      report.quantizedConvs++;
    } else if (n.opType === "Conv") {
      report.floatConvs++;
    }
    rewired.push({ ...n, input: inputs });
    for (const o of n.output ?? []) rewired.push(...(qdqAfter.get(o) ?? []));
  }
  const untouched = (graph.initializer ?? []).filter(
    (t) => !weightCache.has(t.name!) && ![...biasCache.keys()].some((k) => k.startsWith(`${t.name}@`)),
  );
  const opsetImport = [...(model.opsetImport ?? [])];
  if (plan.fusedSilus.size > 0 && !opsetImport.some((o) => o.domain === "com.microsoft"))
    opsetImport.push({ domain: "com.microsoft", version: 1 });
  const copy = onnx.ModelProto.create({
    ...model,
    opsetImport,
    metadataProps: [
      ...(model.metadataProps ?? []).filter((p) => !(p.key! in metadata)),
      ...Object.entries(metadata).map(([key, value]) => ({ key, value })),
    ],
    graph: onnx.GraphProto.create({
      ...graph,
      node: [...newNodes, ...rewired],
      initializer: [...untouched, ...newInits],
    }),
  });
  // A weight both quantised and read by a float node would be dropped above: keep the check explicit.
  const stillRead = new Set(copy.graph!.node!.flatMap((n) => n.input ?? []));
  for (const name of weightCache.keys()) {
    if (stillRead.has(name)) throw new InvariantError(`weight ${name} is read by a float node too`);
  }
  return onnx.ModelProto.encode(copy).finish();
}

/**
 * Quantises a vdet deploy fp32 model to int8 QDQ, calibrated on `frames` (RGB frames of any size, pre-processed by
 * the graph itself as in a worker). Raw-variant models are refused.
 */
export async function quantize(
  fp32: Uint8Array,
  frames: readonly RgbImage[],
  options: QuantizeOptions = {},
): Promise<QuantizedModel> {
  const method = options.method ?? DEFAULT_CALIBRATION_METHOD;
  if (!CALIBRATION_METHODS.includes(method))
    throw new BuildOptionsError(
      `unknown calibration method "${method}": use ${CALIBRATION_METHODS.join(" or ")}`,
    );
  const percentile = options.percentile ?? DEFAULT_PERCENTILE;
  if (!(percentile > 50 && percentile <= 100))
    throw new BuildOptionsError(`percentile must be above 50 and at most 100, got ${percentile}`);
  if (frames.length === 0) throw new BuildOptionsError("calibration needs at least one frame");
  const rules = { ...DEFAULT_RULES, ...options.rules };
  const features = cpuFeatures();
  const weightBits = options.weightBits ?? int8WeightBitsFor(features);
  const weightBitsChosenBy =
    options.weightBits !== undefined
      ? "option"
      : `cpu: ${features.vnni || features.amxInt8 ? "VNNI/AMX" : "no VNNI/AMX"} (${features.flags.join(" ") || features.source})`;
  if (weightBits !== 7 && weightBits !== 8)
    throw new BuildOptionsError(`weightBits must be 7 or 8, got ${weightBits}`);
  const model = onnx.ModelProto.decode(fp32);
  const inputs = (model.graph?.input ?? []).map((i) => i.name);
  if (inputs.length !== 1 || inputs[0] !== "frames")
    throw new BuildOptionsError(`quantise a deploy model (one input "frames"); this one has ${inputs}`);
  if ((model.graph?.node ?? []).some((n) => n.opType === "QuantizeLinear"))
    throw new BuildOptionsError("the model is already quantised");
  const plan = planQuantization(model.graph!, rules);
  const runner = await createOnnxRunner(exposeTensors(model, plan.tensors), {
    executionProvider: "cpu",
    intraOpThreads: options.intraOpThreads,
  });
  let ranges: Map<string, Range>;
  try {
    ranges = await collectRanges(runner, plan.tensors, frames, method, percentile);
  } finally {
    await runner.close();
  }
  const report: QuantizeReport = {
    method,
    ...(method === "percentile" ? { percentile } : {}),
    weightBits,
    weightBitsChosenBy,
    rules,
    calibrationFrames: frames.length,
    quantizedConvs: 0,
    floatConvs: 0,
    activationTensors: plan.tensors.length,
    clampedBiases: 0,
  };
  const metadata = {
    "vdet.precision": "int8",
    "vdet.quantization": JSON.stringify({
      method,
      ...(method === "percentile" ? { percentile } : {}),
      weightBits,
      weightBitsChosenBy,
      rules,
      calibrationFrames: frames.length,
    }),
    "vdet.int8_weight_bits": String(weightBits),
    ...options.metadata,
  };
  const bytes = rewrite(model, plan, ranges, report, metadata, 2 ** (weightBits - 1) - 1);
  return { bytes, report };
}
