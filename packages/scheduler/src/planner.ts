// Capacity planning from a latency profile: for a live load (frames per second under a latency budget) or an
// archive (frames to finish in a time), how many workers of the profiled kind each (φ, precision) choice needs,
// and which choice results: the most valuable (COCO AP of φ times an int8 build's agreement with fp32) that fits.

import { getConfig } from "@vdet/effdet";
import type { PhiValue, Precision } from "@vdet/protocol";
import type { LatencyProfile } from "./latency-profile.ts";
import { inRange } from "./phi-policy.ts";

export interface PlanRow {
  phi: PhiValue;
  precision: Precision;
  cocoAp: number;
  /** Agreement with fp32 (1 for fp32; an int8 build's, from its metadata). */
  agreement: number;
  /** What the choice is worth: cocoAp × agreement. Rows are in this order, ascending. */
  utility: number;
  /** Batch size that gives the best throughput within the batch-time limit; null when none fits. */
  batch: number | null;
  batchMs: number | null;
  perWorkerFps: number | null;
  /** Workers needed; null when φ cannot meet the budget on this hardware at all. */
  workers: number | null;
  note?: string;
}

export interface Plan {
  requiredFps: number;
  rows: PlanRow[];
  /** The most valuable choice that fits (within `maxWorkers` when given), and its worker count. */
  choice: PlanRow | null;
}

export interface PlanInput {
  profile: LatencyProfile;
  phiMin: PhiValue;
  phiMax: PhiValue;
  maxBatch: number;
  /** Upper bound on workers: the plan then says which φ that many workers reach. */
  maxWorkers?: number;
}

/** Live load: `framesPerSecond` arrive in total, each due `budgetMs` after it arrives. */
export function planLatency(input: PlanInput & { framesPerSecond: number; budgetMs: number }): Plan {
  // A batch may take half the budget (a frame that just misses one waits a whole one); queueing needs headroom.
  return plan(input, input.framesPerSecond, input.budgetMs / 2, 0.7);
}

/** Archive: `frames` to process within `seconds`. */
export function planArchive(input: PlanInput & { frames: number; seconds: number }): Plan {
  if (!(input.seconds > 0)) throw new RangeError("the time to finish in must be in the future");
  return plan(input, input.frames / input.seconds, Number.POSITIVE_INFINITY, 0.9);
}

function plan(input: PlanInput, requiredFps: number, maxBatchMs: number, utilization: number): Plan {
  const rows: PlanRow[] = input.profile
    .choices()
    .filter((c) => inRange(c.phi, input))
    .map(({ phi, precision }) => {
      const cocoAp = getConfig(phi).cocoAp;
      const agreement = input.profile.agreement({ phi, precision });
      const value = { cocoAp, agreement, utility: round(cocoAp * agreement) };
      const best = input.profile.throughput(phi, input.maxBatch, { maxBatchMs, precision });
      if (!best) {
        const oneMs = input.profile.predict(phi, 1, precision)!;
        return {
          phi,
          precision,
          ...value,
          batch: null,
          batchMs: null,
          perWorkerFps: null,
          workers: null,
          note: `one frame takes ${oneMs.toFixed(0)} ms, over the ${maxBatchMs.toFixed(0)} ms a batch may take`,
        };
      }
      const workers = Math.max(1, Math.ceil(requiredFps / (best.framesPerSecond * utilization)));
      return {
        phi,
        precision,
        ...value,
        batch: best.batch,
        batchMs: round(best.batchMs),
        perWorkerFps: round(best.framesPerSecond),
        workers,
      };
    });
  const fitting = rows.filter(
    (r) => r.workers !== null && (input.maxWorkers === undefined || r.workers <= input.maxWorkers),
  );
  return { requiredFps: round(requiredFps), rows, choice: fitting.at(-1) ?? null };
}

const round = (v: number) => Math.round(v * 100) / 100;
