// Runs two deploy models on the same frames and records what `vdet model compare` reports: both models'
// detections after NMS (frame by frame, for AP of one against the other) and the drift of the raw head outputs
// (the class logits and box regressions before top-k), read from the tensors both graphs name alike.

import { InvariantError } from "@vdet/errors";
import type { Detections, RgbImage } from "@vdet/protocol";
import { createOnnxRunner, type ModelRunner } from "@vdet/runtime";
import onnxProto from "onnx-proto";
import { DetectorInputError } from "./errors.ts";
import { postprocess } from "./postprocess.ts";
import { exposeTensors } from "./quantize.ts";

const { onnx } = onnxProto;

/** Head output tensors of a vdet graph: the last conv of the class and box nets, one per level. */
const HEAD_TENSOR = /^(class|box)_net\.predict\.conv_pw(_\d+)?$/;

export interface HeadDrift {
  /** Tensors compared (both models have them). */
  tensors: number;
  /** Largest |a − b| over every class logit. */
  classMaxAbs: number;
  classMeanAbs: number;
  boxMaxAbs: number;
  boxMeanAbs: number;
}

export interface PairRun {
  frames: number;
  a: Detections<Float32Array>[];
  b: Detections<Float32Array>[];
  /**
   * Null when the models share no head tensor names (not both built by vdet), or lay them out differently (deploy
   * graphs built before session 11 against later ones).
   */
  drift: HeadDrift | null;
}

function headTensors(bytes: Uint8Array): string[] {
  const model = onnx.ModelProto.decode(bytes);
  return (model.graph?.node ?? []).flatMap((n) => (n.output ?? []).filter((o) => HEAD_TENSOR.test(o)));
}

async function open(bytes: Uint8Array, heads: string[], intraOpThreads?: number): Promise<ModelRunner> {
  const model = onnx.ModelProto.decode(bytes);
  const runner = await createOnnxRunner(heads.length ? exposeTensors(model, heads) : bytes, {
    executionProvider: "cpu",
    intraOpThreads,
  });
  for (const name of ["boxes", "scores", "classes"]) {
    if (!runner.outputNames.includes(name)) {
      await runner.close();
      throw new DetectorInputError(`model has no "${name}" output: compare deploy models`);
    }
  }
  return runner;
}

/** Runs model A and model B on every frame (one at a time) and collects detections and head drift. */
export async function runPair(
  a: Uint8Array,
  b: Uint8Array,
  frames: AsyncIterable<RgbImage> | Iterable<RgbImage>,
  options: { intraOpThreads?: number } = {},
): Promise<PairRun> {
  const shared = headTensors(a).filter((t) => new Set(headTensors(b)).has(t));
  const runners = [
    await open(a, shared, options.intraOpThreads),
    await open(b, shared, options.intraOpThreads),
  ];
  const result: PairRun = { frames: 0, a: [], b: [], drift: null };
  const drift = { n: { class: 0, box: 0 }, sum: { class: 0, box: 0 }, max: { class: 0, box: 0 } };
  let layoutsDiffer = false;
  try {
    for await (const frame of frames) {
      const outs = [];
      for (const runner of runners) {
        outs.push(
          await runner.run({
            frames: {
              type: "uint8",
              dims: [1, frame.height, frame.width, 3],
              data: Uint8Array.from(frame.data),
            },
          }),
        );
      }
      for (const [i, out] of outs.entries()) {
        const scores = out.scores.data as Float32Array;
        const [detections] = postprocess({
          boxes: out.boxes.data as Float32Array,
          scores,
          classes: out.classes.data as Int32Array,
          batch: 1,
          candidates: scores.length,
        });
        (i === 0 ? result.a : result.b).push(detections);
      }
      for (const t of shared) {
        const x = outs[0][t].data as Float32Array;
        const y = outs[1][t].data as Float32Array;
        if (x.length !== y.length)
          throw new InvariantError(`head tensor ${t} differs in size between models`);
        // Deploy graphs built before session 11 end their heads in an NCHW Conv, later ones channels-last: the
        // same values in another order, so such a pair has no comparable head tensors.
        if (outs[0][t].dims.join() !== outs[1][t].dims.join()) {
          layoutsDiffer = true;
          continue;
        }
        const kind = t.startsWith("class") ? "class" : "box";
        for (let i = 0; i < x.length; i++) {
          const d = Math.abs(x[i] - y[i]);
          drift.sum[kind] += d;
          if (d > drift.max[kind]) drift.max[kind] = d;
        }
        drift.n[kind] += x.length;
      }
      result.frames++;
    }
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
  if (shared.length && !layoutsDiffer) {
    result.drift = {
      tensors: shared.length,
      classMaxAbs: drift.max.class,
      classMeanAbs: drift.sum.class / Math.max(1, drift.n.class),
      boxMaxAbs: drift.max.box,
      boxMeanAbs: drift.sum.box / Math.max(1, drift.n.box),
    };
  }
  return result;
}
