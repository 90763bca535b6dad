// Tracker benchmark on the MOT15 sequences that ship detections: accuracy (MOTA, IDF1, HOTA) where
// ground truth exists, id stability and tracker-only speed elsewhere, for our tracker and the SORT
// baseline in the same run. Data: $VDET_DATA_DIR/mot (default ../shared/data next to the repo).
// Last stdout line: one JSON object with the figures.

import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  combineSequences,
  detectionFramesFromRows,
  evaluateSequence,
  findSequences,
  formatSummaryTable,
  motRowsFromResults,
  type ResultRow,
  readMotFile,
  type SequenceMetrics,
  summarize,
} from "@vdet/mot-eval";
import type { Detections } from "@vdet/protocol";
import { Tracker } from "@vdet/tracker";
import { motDir } from "../test/support/mot.ts";

/** Timed passes per sequence and tracker; the median pass gives frames/s. */
const PASSES = Number(process.env.VDET_BENCH_PASSES ?? 7);

type Variant = "ours" | "sort";
const VARIANTS: Variant[] = ["ours", "sort"];

function makeTracker(variant: Variant, fps: number): Tracker {
  return variant === "ours" ? new Tracker({ fps }) : Tracker.sortBaseline({ fps });
}

function runOnce(variant: Variant, fps: number, frames: readonly Detections[]): ResultRow[] {
  const tracker = makeTracker(variant, fps);
  const rows: ResultRow[] = [];
  for (let f = 0; f < frames.length; f++) {
    for (const t of tracker.update(frames[f]))
      rows.push({ frame: f + 1, id: t.trackId, box: t.box, conf: t.score });
  }
  return rows;
}

/** Median wall time of a tracker-only pass (no parsing, no output formatting), in ms. */
function timePasses(variant: Variant, fps: number, frames: readonly Detections[]): number {
  const times: number[] = [];
  for (let p = 0; p < PASSES; p++) {
    const tracker = makeTracker(variant, fps);
    const start = process.hrtime.bigint();
    let sink = 0;
    for (const frame of frames) sink += tracker.update(frame).length;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (sink < 0) throw new Error("unreachable");
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function idStability(rows: readonly ResultRow[], numFrames: number) {
  const lengths = new Map<number, number>();
  for (const r of rows) lengths.set(r.id, (lengths.get(r.id) ?? 0) + 1);
  const values = [...lengths.values()];
  return {
    ids: lengths.size,
    meanTrackLengthFrames: values.length ? values.reduce((s, v) => s + v, 0) / values.length : 0,
    shortTracks: values.filter((v) => v < 5).length,
    idsPer100Frames: (100 * lengths.size) / numFrames,
  };
}

const round = (v: number, digits = 4) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

function main(): void {
  if (!existsSync(motDir)) {
    console.log(
      JSON.stringify({ bench: "tracker", error: `MOT data not found at ${motDir} (set VDET_DATA_DIR)` }),
    );
    process.exit(1);
  }
  const sequences = findSequences(motDir, join("det", "det.txt"));
  const perSequence: Record<string, unknown>[] = [];
  const evaluated: Record<Variant, SequenceMetrics[]> = { ours: [], sort: [] };
  const totals: Record<Variant, { frames: number; ms: number }> = {
    ours: { frames: 0, ms: 0 },
    sort: { frames: 0, ms: 0 },
  };

  for (const seq of sequences) {
    const fps = seq.seqInfo.frameRate ?? 30;
    const det = readMotFile(join(seq.dir, "det", "det.txt"), { kind: "det" });
    const frames = detectionFramesFromRows(det, seq.seqInfo.seqLength);
    const gtPath = join(seq.dir, "gt", "gt.txt");
    const gt = existsSync(gtPath) ? readMotFile(gtPath, { kind: "gt" }) : undefined;
    const entry: Record<string, unknown> = {
      name: seq.name,
      frames: frames.length,
      videoFps: fps,
      detections: det.count,
    };
    for (const variant of VARIANTS) {
      const rows = runOnce(variant, fps, frames); // also warms up the JIT
      const ms = timePasses(variant, fps, frames);
      totals[variant].frames += frames.length;
      totals[variant].ms += ms;
      const figures: Record<string, unknown> = {
        framesPerSecond: Math.round((frames.length / ms) * 1000),
        ...Object.fromEntries(
          Object.entries(idStability(rows, frames.length)).map(([k, v]) => [k, round(v, 2)]),
        ),
      };
      if (gt) {
        const m = evaluateSequence(gt, motRowsFromResults(rows, `${seq.name} (tracker output)`), {
          name: seq.name,
          numTimesteps: seq.seqInfo.seqLength,
        });
        evaluated[variant].push(m);
        const s = summarize(m);
        Object.assign(figures, {
          mota: round(s.mota),
          idf1: round(s.idf1),
          hota: round(s.hota),
          idsw: s.idsw,
          fp: s.fp,
          fn: s.fn,
        });
      }
      entry[variant] = figures;
    }
    perSequence.push(entry);
  }

  const combined: Record<string, unknown> = {};
  for (const variant of VARIANTS) {
    const c = combineSequences(evaluated[variant]);
    const s = summarize(c);
    combined[variant] = {
      sequencesWithGt: evaluated[variant].map((m) => m.name),
      mota: round(s.mota),
      idf1: round(s.idf1),
      hota: round(s.hota),
      idsw: s.idsw,
      framesPerSecond: Math.round((totals[variant].frames / totals[variant].ms) * 1000),
    };
    console.log(`\n${variant === "ours" ? "vdet tracker (ByteTrack-style)" : "SORT baseline"}:`);
    console.log(formatSummaryTable([...evaluated[variant], c].map(summarize)));
  }
  const ours = combined.ours as { mota: number; idf1: number; framesPerSecond: number };
  const sort = combined.sort as { mota: number; idf1: number };
  console.log("\nper sequence (frames/s tracker-only, ids):");
  for (const e of perSequence) {
    const o = e.ours as Record<string, number>;
    const b = e.sort as Record<string, number>;
    console.log(
      `  ${String(e.name).padEnd(16)} ours ${String(o.framesPerSecond).padStart(7)} fps ${String(o.ids).padStart(4)} ids` +
        `   sort ${String(b.framesPerSecond).padStart(7)} fps ${String(b.ids).padStart(4)} ids`,
    );
  }
  console.log(
    JSON.stringify({
      bench: "tracker",
      dataDir: motDir,
      passes: PASSES,
      combined,
      goals: {
        motaAboveSort: ours.mota > sort.mota,
        idf1AboveSort: ours.idf1 > sort.idf1,
        atLeast2000FramesPerSecond: ours.framesPerSecond >= 2000,
      },
      sequences: perSequence,
    }),
  );
}

main();
