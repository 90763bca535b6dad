// Ablation of tracker changes: each variant (default options plus one change) on the TUD sequences
// (real detections and gt) at strides 1, 2, 3, 5, 10, and on the synthetic MOT17 check (detections
// synthesised from the gt as in tracker-synthetic) at strides 1, 3, 5, 10 (every 10th frame: 2.5–3 fps, a
// typical sampled job), each stride pooled over every first
// frame a job sampling that way can start at. A change is kept only if it
// helps on TUD combined and on the synthetic check (docs/tracker.md). Changes that were tried and
// removed (real-time filter steps, NSA noise, buffered IoU, height gate, OC-SORT recovery) run at
// commit 895b539 with VDET_ABLATION_EXPERIMENTS=1. Last stdout line: one JSON object.

import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  combineSequences,
  detectionFramesFromRows,
  evaluateSequence,
  findSequences,
  type MotRows,
  motRowsFromResults,
  readMotFile,
  type SequenceMetrics,
  subsampledLength,
  subsampleRows,
  summarize,
} from "@vdet/mot-eval";
import { type RefineOptions, Tracker, type TrackerOptions } from "@vdet/tracker";
import { motDir } from "../test/support/mot.ts";
import { refineRows, strideOffsets, synthesiseDetections, trackRows } from "./support/tracker-runs.ts";

interface Variant {
  tracker?: Partial<TrackerOptions>;
  sort?: boolean;
  refine?: Partial<RefineOptions>;
}

const VARIANTS: Record<string, Variant> = {
  default: {},
  sort: { sort: true },
  "maxLost 60": { tracker: { maxLostFrames: 60 } },
  "minHits 2": { tracker: { minHits: 2 } },
  "birth 0.6": { tracker: { birthScoreThreshold: 0.6 } },
  "matchIou 0.3": { tracker: { matchIou: 0.3 } },
  "lowIou 0.3": { tracker: { lowScoreMatchIou: 0.3 } },
  "tentMiss 1": { tracker: { tentativeMaxMisses: 1 } },
  "no fuseScore": { tracker: { fuseScore: false } },
  "no ORU": { tracker: { observationCentricReupdate: false } },
  "no camera motion": { tracker: { cameraMotion: false } },
  "no first-match reach": { tracker: { firstMatchReach: 0 } },
  xyah: { tracker: { motionModel: "xyah" } },
  refine: { refine: {} },
  "refine no link": { refine: { maxLinkGapFrames: 0 } },
  "refine link 20": { refine: { maxLinkGapFrames: 20 } },
  "refine no smooth": { refine: { smoothingSigmaFrames: 0 } },
};

type Data = { name: string; fps: number; len: number; det: MotRows; gt: MotRows };

function run(v: Variant, data: readonly Data[], stride: number) {
  const parts: SequenceMetrics[] = [];
  for (const d of data)
    for (const offset of strideOffsets(stride)) {
      const n = subsampledLength(d.len, stride, offset);
      const frames = detectionFramesFromRows(subsampleRows(d.det, stride, offset), n);
      const fps = d.fps / stride;
      const tracker = v.sort ? Tracker.sortBaseline({ fps }) : new Tracker({ ...v.tracker, fps });
      let rows = trackRows(tracker, frames);
      if (v.refine) rows = refineRows(rows, fps, v.refine);
      parts.push(
        evaluateSequence(subsampleRows(d.gt, stride, offset), motRowsFromResults(rows), {
          name: d.name,
          numTimesteps: n,
        }),
      );
    }
  const s = summarize(combineSequences(parts));
  return {
    hota: Number(s.hota.toFixed(4)),
    idf1: Number(s.idf1.toFixed(4)),
    mota: Number(s.mota.toFixed(4)),
  };
}

function main(): void {
  if (!existsSync(motDir)) {
    console.log(JSON.stringify({ bench: "tracker-ablation", error: `MOT data not found at ${motDir}` }));
    process.exit(1);
  }
  const withGt = findSequences(motDir, join("gt", "gt.txt"));
  const tud: Data[] = withGt
    .filter((s) => existsSync(join(s.dir, "det", "det.txt")))
    .map((s) => ({
      name: s.name,
      fps: s.seqInfo.frameRate ?? 30,
      len: s.seqInfo.seqLength ?? 0,
      det: readMotFile(join(s.dir, "det", "det.txt"), { kind: "det" }),
      gt: readMotFile(join(s.dir, "gt", "gt.txt"), { kind: "gt" }),
    }));
  const synthetic: Data[] = withGt
    .filter((s) => s.name.startsWith("MOT17"))
    .map((s, index) => {
      const gt = readMotFile(join(s.dir, "gt", "gt.txt"), { kind: "gt" });
      const len = s.seqInfo.seqLength ?? 0;
      const det = synthesiseDetections(
        gt,
        len,
        s.seqInfo.imWidth ?? 1920,
        s.seqInfo.imHeight ?? 1080,
        1000 + index,
      );
      return { name: s.name, fps: s.seqInfo.frameRate ?? 30, len, det, gt };
    });
  const results: Record<string, Record<string, { hota: number; idf1: number; mota: number }>> = {};
  const pct = (r: { hota: number; idf1: number; mota: number }) =>
    [r.hota, r.idf1, r.mota].map((v) => (100 * v).toFixed(1).padStart(5)).join("");
  console.log(`HOTA IDF1 MOTA (%); TUD = ${tud.map((d) => d.name).join(" + ")}, syn = synthetic MOT17`);
  for (const [name, v] of Object.entries(VARIANTS)) {
    const r: Record<string, { hota: number; idf1: number; mota: number }> = {};
    for (const stride of [1, 2, 3, 5, 10]) r[`tud@${stride}`] = run(v, tud, stride);
    for (const stride of [1, 3, 5, 10]) r[`syn@${stride}`] = run(v, synthetic, stride);
    results[name] = r;
    console.log(
      `${name.padEnd(18)}${Object.entries(r)
        .map(([k, x]) => ` ${k} ${pct(x)}`)
        .join("")}`,
    );
  }
  console.log(JSON.stringify({ bench: "tracker-ablation", results }));
}

main();
