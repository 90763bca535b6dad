// A detector: a deploy-variant model in a model runner plus host post-processing. Frames of equal size are
// batched into one run; frames of different sizes run as separate batches.

import type { Detections, RgbImage } from "@vdet/protocol";
import { createOnnxRunner, type ModelRunner, type OnnxRunnerOptions } from "@vdet/runtime";
import { DetectorInputError } from "./errors.ts";
import { type PostprocessOptions, postprocess } from "./postprocess.ts";

export class Detector {
  private constructor(private readonly runner: ModelRunner) {
    for (const name of ["boxes", "scores", "classes"]) {
      if (!runner.outputNames.includes(name)) {
        throw new DetectorInputError(
          `model has no "${name}" output: build it with --variant deploy (outputs: ${runner.outputNames})`,
        );
      }
    }
  }

  /** A detector over any runner with the deploy outputs (an ONNX session, or a simulated accelerator). */
  static fromRunner(runner: ModelRunner): Detector {
    return new Detector(runner);
  }

  static async create(model: Uint8Array | string, options: OnnxRunnerOptions): Promise<Detector> {
    const runner = await createOnnxRunner(model, options);
    try {
      return new Detector(runner);
    } catch (error) {
      await runner.close();
      throw error;
    }
  }

  /** Detects in every frame; `options` apply to all frames, or one entry per frame. */
  async detect(
    frames: readonly RgbImage[],
    options: PostprocessOptions | readonly PostprocessOptions[] = {},
  ): Promise<Detections<Float32Array>[]> {
    if (Array.isArray(options) && options.length !== frames.length) {
      throw new DetectorInputError(`${options.length} option sets for ${frames.length} frames`);
    }
    const optionsFor = (i: number): PostprocessOptions =>
      Array.isArray(options) ? options[i] : (options as PostprocessOptions);
    const results = new Array<Detections<Float32Array>>(frames.length);
    const groups = new Map<string, number[]>();
    frames.forEach((f, i) => {
      if (f.data.length !== f.width * f.height * 3) {
        throw new DetectorInputError(`frame ${i}: ${f.data.length} bytes is not ${f.width}×${f.height} RGB`);
      }
      const key = `${f.width}x${f.height}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const indices of groups.values()) {
      const { width, height } = frames[indices[0]];
      const batch = new Uint8Array(indices.length * width * height * 3);
      indices.forEach((i, b) => {
        batch.set(frames[i].data, b * width * height * 3);
      });
      const out = await this.runner.run({
        [this.runner.inputNames[0]]: { type: "uint8", dims: [indices.length, height, width, 3], data: batch },
      });
      const candidates = out.scores.dims[1];
      indices.forEach((i, b) => {
        const slice = (data: Float32Array | Int32Array, per: number) =>
          data.subarray(b * candidates * per, (b + 1) * candidates * per);
        results[i] = postprocess(
          {
            boxes: slice(out.boxes.data as Float32Array, 4) as Float32Array,
            scores: slice(out.scores.data as Float32Array, 1) as Float32Array,
            classes: slice(out.classes.data as Int32Array, 1) as Int32Array,
            batch: 1,
            candidates,
          },
          optionsFor(i),
        )[0];
      });
    }
    return results;
  }

  close(): Promise<void> {
    return this.runner.close();
  }
}
