// Test helper: locates the shared MOTChallenge data (never copied into the repo: CC BY-NC-SA).
// Tests skip with a visible message when it is absent, or fail when VDET_REQUIRE_FIXTURES=1.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { ClearMotAccumulator } from "../src/clear-mot.ts";
import { IdentityAccumulator } from "../src/identity.ts";
import type { EvalSequence } from "../src/prepare.ts";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** $VDET_DATA_DIR/mot, default <repo>/../shared/data/mot. */
export const motDataDir = resolve(process.env.VDET_DATA_DIR ?? join(repoRoot, "..", "shared", "data"), "mot");

/** True when every path exists under the MOT data folder; otherwise skips (or fails when required). */
export function haveFixtures(t: TestContext, ...relativePaths: string[]): boolean {
  const missing = relativePaths.filter((p) => !existsSync(join(motDataDir, p)));
  if (missing.length === 0) return true;
  const message = `MOT fixtures missing under ${motDataDir}: ${missing.join(", ")} (set VDET_DATA_DIR)`;
  if (process.env.VDET_REQUIRE_FIXTURES === "1") assert.fail(message);
  t.skip(message);
  return false;
}

/** A hand-written case of expected-metrics.json: event frames (py-motmetrics) or TrackEval inputs. */
export interface SyntheticCase {
  frames?: { frame?: number; objects: number[]; hypotheses: number[]; distances: (number | null)[][] }[];
  expected?: Expected;
  inputs?: {
    num_timesteps: number;
    num_gt_ids: number;
    num_tracker_ids: number;
    gt_ids: number[][];
    tracker_ids: number[][];
    similarity_scores: number[][][];
  };
  expected_from_test?: Record<string, Expected>;
  computed_hota?: Expected;
}

export type Expected = Record<string, number | string>;

/** Feeds hand-written py-motmetrics frames (ids + distance matrices, null = not admissible) to the accumulators. */
export function accumulateEvents(frames: NonNullable<SyntheticCase["frames"]>) {
  const clear = new ClearMotAccumulator();
  const identity = new IdentityAccumulator();
  for (const f of frames) {
    const dists = f.distances.flat().map((d) => (d === null ? Number.NaN : d));
    clear.update(f.objects, f.hypotheses, dists);
    identity.update(f.objects, f.hypotheses, dists);
  }
  return { clear: clear.result("py-motmetrics"), identity: identity.result() };
}

/** Builds an evaluation sequence from TrackEval's eval_sequence inputs (dense ids, similarities). */
export function sequenceFromTrackEvalInputs(
  name: string,
  inputs: NonNullable<SyntheticCase["inputs"]>,
): EvalSequence {
  const frames = inputs.gt_ids
    .map((gtIds, t) => ({
      frame: t + 1,
      gtIds: Int32Array.from(gtIds),
      hypIds: Int32Array.from(inputs.tracker_ids[t]),
      similarity: Float64Array.from(inputs.similarity_scores[t].flat()),
    }))
    .filter((f) => f.gtIds.length + f.hypIds.length > 0);
  return {
    name,
    numTimesteps: inputs.num_timesteps,
    frames,
    numGtIds: inputs.num_gt_ids,
    numHypIds: inputs.num_tracker_ids,
    numGtDets: frames.reduce((s, f) => s + f.gtIds.length, 0),
    numHypDets: frames.reduce((s, f) => s + f.hypIds.length, 0),
    gtIdLabels: Int32Array.from({ length: inputs.num_gt_ids }, (_, k) => k),
    hypIdLabels: Int32Array.from({ length: inputs.num_tracker_ids }, (_, k) => k),
    removedDistractorHyps: 0,
    ignoredGtRows: 0,
  };
}
