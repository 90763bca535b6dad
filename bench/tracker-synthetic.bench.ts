// A second, independent accuracy check for the tracker: the MOT17 sequences of the shared data have
// ground truth but no public detections, so detections are synthesised from the gt (seeded): each
// pedestrian box is detected with probability 0.15 + 0.8 · visibility, its edges jittered by a few
// percent of its height, scored by visibility; 0–2 false positives per frame. Compares our tracker
// (both Kalman parameterisations) with the SORT baseline. Last stdout line: one JSON object.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { mulberry32 } from "@vdet/effdet";
import {
  combineSequences,
  detectionFramesFromRows,
  evaluateSequence,
  findSequences,
  formatSummaryTable,
  type MotRows,
  motRowsFromResults,
  parseMotText,
  type ResultRow,
  readMotFile,
  type SequenceMetrics,
  summarize,
} from "@vdet/mot-eval";
import { Tracker } from "@vdet/tracker";
import { motDir } from "../test/support/mot.ts";

const VARIANTS: Record<string, (fps: number) => Tracker> = {
  ours: (fps) => new Tracker({ fps }),
  "ours-xyah": (fps) => new Tracker({ fps, motionModel: "xyah" }),
  sort: (fps) => Tracker.sortBaseline({ fps }),
};

/** A seeded PRNG in [0, 1) so every run sees the same detections. */
function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() / 4294967296;
}

function synthesiseDetections(
  gt: MotRows,
  frames: number,
  width: number,
  height: number,
  seed: number,
): MotRows {
  const random = prng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const lines: string[] = [];
  for (let k = 0; k < gt.count; k++) {
    if (gt.classId[k] !== 1 || gt.conf[k] === 0) continue;
    const visibility = gt.visibility[k];
    if (random() > 0.15 + 0.8 * visibility) continue;
    const [x, y, w, h] = gt.box.subarray(k * 4, k * 4 + 4);
    const jitter = 0.04 * h;
    const x1 = x + 0.5 * jitter * gauss();
    const y1 = y + jitter * gauss();
    const x2 = x + w + 0.5 * jitter * gauss();
    const y2 = y + h + jitter * gauss();
    if (x2 - x1 < 2 || y2 - y1 < 2) continue;
    const score = 0.3 + 0.7 * visibility * (0.6 + 0.4 * random());
    lines.push(`${gt.frame[k]},-1,${x1},${y1},${x2 - x1},${y2 - y1},${score}`);
  }
  for (let f = 1; f <= frames; f++) {
    const falsePositives = Math.floor(random() * 3);
    for (let i = 0; i < falsePositives; i++) {
      const w = 20 + random() * 80;
      lines.push(
        `${f},-1,${random() * (width - w)},${random() * (height - 2.5 * w)},${w},${2.5 * w},${0.3 + 0.5 * random()}`,
      );
    }
  }
  return parseMotText(lines.join("\n"), { kind: "det", source: "synthetic" });
}

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
    const frames = detectionFramesFromRows(det, frameCount);
    for (const [name, make] of Object.entries(VARIANTS)) {
      const tracker = make(info.frameRate ?? 30);
      const rows: ResultRow[] = [];
      frames.forEach((frame, f) => {
        for (const t of tracker.update(frame))
          rows.push({ frame: f + 1, id: t.trackId, box: t.box, conf: t.score });
      });
      evaluated[name].push(
        evaluateSequence(gt, motRowsFromResults(rows), { name: seq.name, numTimesteps: frameCount }),
      );
    }
  });
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
    }),
  );
}

main();
