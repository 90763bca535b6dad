// A detector: a deploy-variant model in a model runner plus host post-processing. Frames of equal size are
// batched into one run; frames of different sizes run as separate batches.

import { createOnnxRunner, type ModelRunner, type OnnxRunnerOptions } from "@vdet/runtime";
import { type FrameDetections, type PostprocessOptions, postprocess } from "./postprocess.ts";

/** An RGB frame, rows of width × 3 bytes. */
export interface RgbFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

export class Detector {
  private constructor(private readonly runner: ModelRunner) {
    for (const name of ["boxes", "scores", "classes"]) {
      if (!runner.outputNames.includes(name)) {
        throw new Error(
          `model has no "${name}" output: build it with --variant deploy (outputs: ${runner.outputNames})`,
        );
      }
    }
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

  async detect(frames: readonly RgbFrame[], options: PostprocessOptions = {}): Promise<FrameDetections[]> {
    const results = new Array<FrameDetections>(frames.length);
    const groups = new Map<string, number[]>();
    frames.forEach((f, i) => {
      if (f.data.length !== f.width * f.height * 3) {
        throw new Error(`frame ${i}: ${f.data.length} bytes is not ${f.width}×${f.height} RGB`);
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
        frames: { type: "uint8", dims: [indices.length, height, width, 3], data: batch },
      });
      const detections = postprocess(
        {
          boxes: out.boxes.data as Float32Array,
          scores: out.scores.data as Float32Array,
          classes: out.classes.data as Int32Array,
          batch: indices.length,
          candidates: out.scores.dims[1],
        },
        options,
      );
      indices.forEach((i, b) => {
        results[i] = detections[b];
      });
    }
    return results;
  }

  close(): Promise<void> {
    return this.runner.close();
  }
}
