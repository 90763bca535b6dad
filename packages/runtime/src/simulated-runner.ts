// A model runner that computes nothing: each run takes the time a latency model gives for its batch size (a
// worker's measured profile), then returns deploy-shaped outputs. It stands in for an accelerator in policy tests
// and scale benchmarks, where the question is what the system around the model does, not what the model sees.
// Like a GPU runner it does not block the event loop, and runs one batch at a time in call order.
//
// Outputs follow the deploy graph: `boxes` [N, k, 4] (x1, y1, x2, y2 in input pixels), `scores` [N, k]
// (descending), `classes` [N, k] (1-based COCO ids). Each frame gets a few boxes derived from its pixels (bright
// regions, so a moving bright object gives moving boxes); the rest of the k candidates score 0.

import { ModelRunError } from "./errors.ts";
import type { ModelRunner, TensorLike } from "./runner.ts";

export interface SimulatedRunnerOptions {
  /** How long a run of `batch` frames takes, ms. */
  latencyMs: (batch: number) => number;
  /** Candidates per frame in the outputs (the deploy graph's top-k). */
  candidates?: number;
  /** Monotonic ms the run's time is counted on (default performance.now); a test on a virtual clock injects it. */
  now?: () => number;
}

export const SIMULATED_INPUT = "frames";

export function createSimulatedRunner(options: SimulatedRunnerOptions): ModelRunner {
  const candidates = options.candidates ?? 100;
  if (!(candidates >= 1)) throw new RangeError("candidates must be at least 1");
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;
  const now = options.now ?? (() => performance.now());

  const runOnce = async (feeds: Record<string, TensorLike>): Promise<Record<string, TensorLike>> => {
    const input = feeds[SIMULATED_INPUT];
    if (!input) throw new ModelRunError(`simulated model: missing input "${SIMULATED_INPUT}"`);
    if (input.type !== "uint8" || input.dims.length !== 4 || input.dims[3] !== 3) {
      throw new ModelRunError(
        `simulated model: "${SIMULATED_INPUT}" must be uint8 N×H×W×3, got ${input.type} [${input.dims}]`,
      );
    }
    const [n, height, width] = input.dims;
    const ms = options.latencyMs(n);
    if (!Number.isFinite(ms) || ms < 0)
      throw new ModelRunError(`simulated model: no latency for a batch of ${n}`);
    const started = now();
    const boxes = new Float32Array(n * candidates * 4);
    const scores = new Float32Array(n * candidates);
    const classes = new Int32Array(n * candidates).fill(1);
    for (let b = 0; b < n; b++) {
      const frame = input.data.subarray(b * height * width * 3, (b + 1) * height * width * 3);
      brightRegions(frame, width, height, Math.min(candidates, 3)).forEach((region, i) => {
        boxes.set(region.box, (b * candidates + i) * 4);
        scores[b * candidates + i] = region.score;
        classes[b * candidates + i] = region.classId;
      });
    }
    const left = ms - (now() - started);
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    return {
      boxes: { type: "float32", dims: [n, candidates, 4], data: boxes },
      scores: { type: "float32", dims: [n, candidates], data: scores },
      classes: { type: "int32", dims: [n, candidates], data: classes },
    };
  };

  return {
    inputNames: [SIMULATED_INPUT],
    outputNames: ["boxes", "scores", "classes"],
    run(feeds) {
      if (closed) return Promise.reject(new Error("simulated model: the runner is closed"));
      const result = tail.then(() => runOnce(feeds));
      tail = result.catch(() => undefined);
      return result;
    },
    async close() {
      closed = true;
      await tail;
    },
  };
}

interface Region {
  box: [number, number, number, number];
  score: number;
  classId: number;
}

/**
 * The bounding boxes of bright pixels in up to `count` vertical bands of a coarse grid (sampled every 8th pixel
 * in both directions: cheap next to any real model). Score grows with the region's brightness.
 */
function brightRegions(frame: Uint8Array, width: number, height: number, count: number): Region[] {
  const step = 8;
  const bandWidth = Math.ceil(width / count);
  const regions: Region[] = [];
  for (let band = 0; band < count; band++) {
    let x1 = Number.POSITIVE_INFINITY;
    let y1 = Number.POSITIVE_INFINITY;
    let x2 = -1;
    let y2 = -1;
    let sum = 0;
    let hits = 0;
    for (let y = 0; y < height; y += step) {
      for (let x = band * bandWidth; x < Math.min(width, (band + 1) * bandWidth); x += step) {
        const at = (y * width + x) * 3;
        const luma = (frame[at] + frame[at + 1] + frame[at + 2]) / 3;
        if (luma < 200) continue;
        sum += luma;
        hits++;
        if (x < x1) x1 = x;
        if (y < y1) y1 = y;
        if (x > x2) x2 = x;
        if (y > y2) y2 = y;
      }
    }
    if (hits < 2) continue;
    regions.push({
      box: [x1, y1, Math.min(width, x2 + step), Math.min(height, y2 + step)],
      score: Math.min(0.99, 0.5 + (sum / hits - 200) / 110),
      classId: 1 + band,
    });
  }
  return regions.sort((a, b) => b.score - a.score);
}
