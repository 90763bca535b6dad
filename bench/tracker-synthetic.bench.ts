// A second, independent accuracy check for the tracker: the MOT17 sequences of the shared data have
// ground truth but no public detections, so detections are synthesised from the gt (seeded): each
// pedestrian box is detected with probability 0.15 + 0.8 · visibility, its edges jittered by a few
// percent of its height, scored by visibility; 0–2 false positives per frame. Compares our tracker
// (both Kalman parameterisations, and with the offline refinement) with the SORT baseline, and vdet with
// SORT on the sequences sub-sampled to every 2nd, 3rd and 5th frame (pooled over every first frame). Last stdout line: one JSON object.

import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  combineSequences,
  detectionFramesFromRows,
  evaluateSequence,
  findSequences,
  formatSummaryTable,
  motRowsFromResults,
  readMotFile,
  type SequenceMetrics,
  subsampledLength,
  subsampleRows,
  summarize,
} from "@vdet/mot-eval";
import { Tracker } from "@vdet/tracker";
import { motDir } from "../test/support/mot.ts";
import {
  makeTracker,
  refineRows,
  samplingDegradation,
  strideOffsets,
  synthesiseDetections,
  trackRows,
} from "./support/tracker-runs.ts";

/** Every stride-th frame: 1 = all frames. */
const STRIDES = [1, 2, 3, 5];

/** Run at every stride: the two trackers the sampling goal compares, and vdet without camera-motion compensation. */
const NO_CAMERA_MOTION = "vdetNoCameraMotion";
const SAMPLED_VARIANTS = ["vdet", "sort", NO_CAMERA_MOTION] as const;

const VARIANTS: Record<string, (fps: number) => Tracker> = {
  ours: (fps) => new Tracker({ fps }),
  "ours-xyah": (fps) => new Tracker({ fps, motionModel: "xyah" }),
  sort: (fps) => Tracker.sortBaseline({ fps }),
};

function main(): void {
  if (!existsSync(motDir)) {
    console.log(
      JSON.stringify({
        bench: "tracker-synthetic",
        error: `MOT data not found at ${motDir} (set VDET_DATA_DIR)`,
      }),
    );
    process.exit(1);
  }
  const sequences = findSequences(motDir, join("gt", "gt.txt")).filter((s) => s.name.startsWith("MOT17"));
  const evaluated: Record<string, SequenceMetrics[]> = Object.fromEntries(
    Object.keys(VARIANTS).map((k) => [k, []]),
  );
  const refinedRuns: SequenceMetrics[] = [];
  const sampled: Record<string, SequenceMetrics[]> = {};
  sequences.forEach((seq, index) => {
    const gt = readMotFile(join(seq.dir, "gt", "gt.txt"), { kind: "gt" });
    const info = seq.seqInfo;
    const frameCount = info.seqLength ?? 0;
    const det = synthesiseDetections(
      gt,
      frameCount,
      info.imWidth ?? 1920,
      info.imHeight ?? 1080,
      1000 + index,
    );
    const fps = info.frameRate ?? 30;
    const frames = detectionFramesFromRows(det, frameCount);
    for (const [name, make] of Object.entries(VARIANTS)) {
      const rows = trackRows(make(fps), frames);
      evaluated[name].push(
        evaluateSequence(gt, motRowsFromResults(rows), { name: seq.name, numTimesteps: frameCount }),
      );
      if (name === "ours")
        refinedRuns.push(
          evaluateSequence(gt, motRowsFromResults(refineRows(rows, fps)), {
            name: seq.name,
            numTimesteps: frameCount,
          }),
        );
    }
    // The same detections and gt sub-sampled, as a job sampling every stride-th frame sees them (from
    // every first frame such a job can start at).
    for (const stride of STRIDES) {
      for (const offset of strideOffsets(stride)) {
        const n = subsampledLength(frameCount, stride, offset);
        const sampledFrames = detectionFramesFromRows(subsampleRows(det, stride, offset), n);
        const sampledGt = subsampleRows(gt, stride, offset);
        for (const variant of SAMPLED_VARIANTS) {
          const rows = trackRows(
            variant === NO_CAMERA_MOTION
              ? new Tracker({ fps: fps / stride, cameraMotion: false })
              : makeTracker(variant, fps / stride),
            sampledFrames,
          );
          const key = `${variant}@${stride}`;
          sampled[key] ??= [];
          sampled[key].push(
            evaluateSequence(sampledGt, motRowsFromResults(rows), { name: seq.name, numTimesteps: n }),
          );
        }
      }
    }
  });
  evaluated["ours+refine"] = refinedRuns;
  const sampledCombined: Record<string, Record<string, Record<string, number>>> = {};
  for (const stride of STRIDES) {
    sampledCombined[stride] = {};
    for (const variant of ["vdet", "sort"]) {
      const s = summarize(combineSequences(sampled[`${variant}@${stride}`]));
      sampledCombined[stride][variant] = {
        hota: Number(s.hota.toFixed(4)),
        idf1: Number(s.idf1.toFixed(4)),
        mota: Number(s.mota.toFixed(4)),
      };
    }
  }
  // Per sequence (MOT17-05 and -10 are filmed from a moving camera), HOTA at each stride.
  const sampledHotaPerSequence: Record<string, Record<string, Record<string, number>>> = {};
  for (const variant of SAMPLED_VARIANTS)
    for (const stride of STRIDES)
      for (const seq of sequences) {
        const phases = sampled[`${variant}@${stride}`].filter((m) => m.name === seq.name);
        sampledHotaPerSequence[seq.name] ??= {};
        sampledHotaPerSequence[seq.name][variant] ??= {};
        sampledHotaPerSequence[seq.name][variant][stride] = Number(
          summarize(combineSequences(phases)).hota.toFixed(4),
        );
      }
  const { degradation, degradationRule, degradesLessAt, degradesLess } = samplingDegradation(
    sampledCombined,
    STRIDES,
  );
  const combined: Record<string, Record<string, number>> = {};
  for (const [name, results] of Object.entries(evaluated)) {
    const c = combineSequences(results);
    console.log(`\n${name}:`);
    console.log(formatSummaryTable([...results, c].map(summarize)));
    const s = summarize(c);
    combined[name] = {
      mota: Number(s.mota.toFixed(4)),
      idf1: Number(s.idf1.toFixed(4)),
      hota: Number(s.hota.toFixed(4)),
      idsw: s.idsw,
    };
  }
  console.log(
    JSON.stringify({
      bench: "tracker-synthetic",
      sequences: sequences.map((s) => s.name),
      combined,
      sampled: sampledCombined,
      sampledHotaPerSequence,
      degradation,
      degradationRule,
      degradesLessAt,
      goals: { degradesLessThanSortWhenSampled: degradesLess },
    }),
  );
}

main();
