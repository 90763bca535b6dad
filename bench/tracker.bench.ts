// Tracker benchmark on the MOT15 sequences that ship detections. Where ground truth exists: accuracy
// (HOTA, IDF1, MOTA) of vdet's tracker, the SORT configuration, and the outputs of the authors'
// ByteTrack and OC-SORT code on the same detections (read from <data>/mot/reference); the same for
// vdet and SORT on the sequences sub-sampled to every 2nd, 3rd and 5th frame (as a job sampling that
// way sees them, pooled over every first frame such a job can start at); vdet with the offline refinement (`--refine`), reported apart from the online
// tracker. Everywhere: id stability and tracker-only speed. Data: $VDET_DATA_DIR/mot (default
// ../shared/data next to the repo). Last stdout line: one JSON object with the figures.

import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  combineSequences,
  detectionFramesFromRows,
  evaluateSequence,
  findSequences,
  formatSummaryTable,
  type MotRows,
  motRowsFromResults,
  type ResultRow,
  readMotFile,
  type SequenceMetrics,
  subsampledLength,
  subsampleRows,
  summarize,
} from "@vdet/mot-eval";
import type { Detections } from "@vdet/protocol";
import { Tracker } from "@vdet/tracker";
import { motDir } from "../test/support/mot.ts";
import {
  makeTracker,
  prng,
  refineRows,
  samplingDegradation,
  strideOffsets,
  type TrackerVariant,
  trackRows,
} from "./support/tracker-runs.ts";

/** Timed passes per sequence and tracker; the median pass gives frames/s. */
const PASSES = Number(process.env.VDET_BENCH_PASSES ?? 7);
const STRIDES = [1, 2, 3, 5];
const REFERENCES = ["bytetrack", "ocsort"] as const;
const METRICS = ["hota", "idf1", "mota"] as const;
type Metric = (typeof METRICS)[number];

const VARIANTS: TrackerVariant[] = ["vdet", "sort"];
/** Rows of the accuracy tables: the online trackers, the refined vdet output, the reference outputs. */
const ENTRIES = ["vdet", "sort", ...REFERENCES, "vdet+refine"] as const;
type Entry = (typeof ENTRIES)[number];

/** Median wall time of a tracker-only pass (no parsing, no output formatting), in ms. */
function timePasses(make: () => Tracker, frames: readonly Detections[]): number {
  const times: number[] = [];
  for (let p = 0; p < PASSES; p++) {
    const tracker = make();
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
const pct = (v: number) => (100 * v).toFixed(1).padStart(6);

function figures(m: SequenceMetrics) {
  const s = summarize(m);
  return {
    hota: round(s.hota),
    idf1: round(s.idf1),
    mota: round(s.mota),
    idsw: s.idsw,
    fp: s.fp,
    fn: s.fn,
  };
}

/**
 * A dense crowd under a panning camera: 600 people of 30–40 px on a 1920×1080 frame, 60 frames, the camera
 * standing for 20 frames, panning 12 px a frame (stop-and-go), standing again. Tracker-only frames/s with
 * and without the camera-motion compensation, and how many ids each gives (600 is right).
 */
function crowd() {
  const people = 600;
  const frames: Detections[] = [];
  const next = prng(7);
  const base = Array.from({ length: people }, (_, i) => {
    const h = 30 + 10 * next();
    return { x: 20 + (i % 40) * 45, y: 20 + Math.floor(i / 40) * 68, h, vx: next() - 0.5 };
  });
  for (let f = 0; f < 60; f++) {
    const pan = f < 20 ? 0 : f < 40 ? 12 * (f - 19) : 240;
    const xyxy = new Float32Array(people * 4);
    base.forEach((p, i) => {
      const x = p.x + p.vx * f - pan + (next() - 0.5);
      xyxy.set([x, p.y, x + 0.4 * p.h, p.y + p.h], i * 4);
    });
    frames.push({ xyxy, scores: new Float32Array(people).fill(0.9), classIds: new Int32Array(people) });
  }
  const result: Record<string, { framesPerSecond: number; ids: number }> = {};
  for (const [name, cameraMotion] of [
    ["cameraMotion", true],
    ["noCameraMotion", false],
  ] as const) {
    const make = () => new Tracker({ fps: 30, cameraMotion });
    const ids = new Set(trackRows(make(), frames).map((r) => r.id)).size;
    result[name] = { framesPerSecond: round((frames.length / timePasses(make, frames)) * 1000, 1), ids };
  }
  return { people, frames: frames.length, ...result };
}

function main(): void {
  if (!existsSync(motDir)) {
    console.log(
      JSON.stringify({ bench: "tracker", error: `MOT data not found at ${motDir} (set VDET_DATA_DIR)` }),
    );
    process.exit(1);
  }
  const referenceDir = join(motDir, "reference");
  const sequences = findSequences(motDir, join("det", "det.txt"));
  const perSequence: Record<string, unknown>[] = [];
  /** Stride 1: every entry; strides > 1: vdet and sort. */
  const evaluated = new Map<string, SequenceMetrics[]>();
  const push = (key: string, m: SequenceMetrics) => {
    const list = evaluated.get(key) ?? [];
    list.push(m);
    evaluated.set(key, list);
  };
  const totals: Record<TrackerVariant, { frames: number; ms: number }> = {
    vdet: { frames: 0, ms: 0 },
    sort: { frames: 0, ms: 0 },
  };

  for (const seq of sequences) {
    const fps = seq.seqInfo.frameRate ?? 30;
    const det = readMotFile(join(seq.dir, "det", "det.txt"), { kind: "det" });
    const length = seq.seqInfo.seqLength ?? Math.max(0, ...det.frame);
    const frames = detectionFramesFromRows(det, length);
    const gtPath = join(seq.dir, "gt", "gt.txt");
    const gt = existsSync(gtPath) ? readMotFile(gtPath, { kind: "gt" }) : undefined;
    const entry: Record<string, unknown> = {
      name: seq.name,
      frames: frames.length,
      videoFps: fps,
      detections: det.count,
    };
    const evaluate = (g: MotRows, rows: MotRows, numTimesteps: number) =>
      evaluateSequence(g, rows, { name: seq.name, numTimesteps });
    for (const variant of VARIANTS) {
      const rows = trackRows(makeTracker(variant, fps), frames); // also warms up the JIT
      const ms = timePasses(() => makeTracker(variant, fps), frames);
      totals[variant].frames += frames.length;
      totals[variant].ms += ms;
      const result: Record<string, unknown> = {
        framesPerSecond: Math.round((frames.length / ms) * 1000),
        ...Object.fromEntries(
          Object.entries(idStability(rows, frames.length)).map(([k, v]) => [k, round(v, 2)]),
        ),
      };
      if (gt) {
        const m = evaluate(gt, motRowsFromResults(rows), length);
        push(`${variant}@1`, m);
        Object.assign(result, figures(m));
        if (variant === "vdet") {
          const refined = evaluate(gt, motRowsFromResults(refineRows(rows, fps)), length);
          push("vdet+refine@1", refined);
          entry["vdet+refine"] = figures(refined);
        }
      }
      entry[variant] = result;
    }
    if (gt) {
      for (const ref of REFERENCES) {
        const path = join(referenceDir, ref, `${seq.name}.txt`);
        if (!existsSync(path)) throw new Error(`reference output missing: ${path}`);
        const m = evaluate(gt, readMotFile(path, { kind: "res" }), length);
        push(`${ref}@1`, m);
        entry[ref] = figures(m);
      }
      const strides: Record<string, unknown> = {};
      for (const stride of STRIDES.slice(1)) {
        const atStride: Record<string, unknown> = {};
        for (const variant of VARIANTS) {
          const phases: SequenceMetrics[] = [];
          for (const offset of strideOffsets(stride)) {
            const n = subsampledLength(length, stride, offset);
            const sampledFrames = detectionFramesFromRows(subsampleRows(det, stride, offset), n);
            const rows = trackRows(makeTracker(variant, fps / stride), sampledFrames);
            const m = evaluate(subsampleRows(gt, stride, offset), motRowsFromResults(rows), n);
            push(`${variant}@${stride}`, m);
            phases.push(m);
          }
          atStride[variant] = figures(combineSequences(phases));
        }
        strides[stride] = atStride;
      }
      entry.strides = strides;
    }
    perSequence.push(entry);
  }

  const combinedAt = (key: string) => summarize(combineSequences(evaluated.get(key) ?? []));
  const combined: Record<string, Record<string, number | string[]>> = {};
  for (const e of ENTRIES) {
    const s = combinedAt(`${e}@1`);
    combined[e] = {
      sequencesWithGt: (evaluated.get(`${e}@1`) ?? []).map((m) => m.name),
      hota: round(s.hota),
      idf1: round(s.idf1),
      mota: round(s.mota),
      idsw: s.idsw,
      fp: s.fp,
      fn: s.fn,
    };
  }
  for (const v of VARIANTS)
    combined[v].framesPerSecond = Math.round((totals[v].frames / totals[v].ms) * 1000);

  const sampled: Record<string, Record<string, Record<string, number>>> = {};
  for (const stride of STRIDES) {
    sampled[stride] = {};
    for (const v of VARIANTS) {
      const s = combinedAt(`${v}@${stride}`);
      sampled[stride][v] = { hota: round(s.hota), idf1: round(s.idf1), mota: round(s.mota), idsw: s.idsw };
    }
  }
  const { degradation, degradationRule, degradesLessAt, degradesLess } = samplingDegradation(
    sampled,
    STRIDES,
  );

  // Human-readable tables.
  const gtNames = (evaluated.get("vdet@1") ?? []).map((m) => m.name);
  console.log(
    "\nHOTA / IDF1 / MOTA (%), stride 1; reference rows are the authors' code on the same detections:",
  );
  console.log(`${"tracker".padEnd(13)}${[...gtNames, "COMBINED"].map((n) => n.padStart(22)).join("")}`);
  for (const e of ENTRIES) {
    const cells = [...(evaluated.get(`${e}@1`) ?? []), combineSequences(evaluated.get(`${e}@1`) ?? [])].map(
      (m) => {
        const s = summarize(m);
        return `${pct(s.hota)}${pct(s.idf1)}${pct(s.mota)}`.padStart(22);
      },
    );
    console.log(`${e.padEnd(13)}${cells.join("")}`);
  }
  console.log("\nsampled frames, combined HOTA / IDF1 / MOTA (%):");
  for (const stride of STRIDES) {
    console.log(
      `  every ${stride}. frame  ` +
        VARIANTS.map(
          (v) =>
            `${v} ${pct(sampled[stride][v].hota)}${pct(sampled[stride][v].idf1)}${pct(sampled[stride][v].mota)}`,
        ).join("    "),
    );
  }
  console.log("\nvdet tracker (online):");
  console.log(
    formatSummaryTable(
      [...(evaluated.get("vdet@1") ?? []), combineSequences(evaluated.get("vdet@1") ?? [])].map(summarize),
    ),
  );
  console.log("\nper sequence (frames/s tracker-only, ids):");
  for (const e of perSequence) {
    const o = e.vdet as Record<string, number>;
    const b = e.sort as Record<string, number>;
    console.log(
      `  ${String(e.name).padEnd(16)} vdet ${String(o.framesPerSecond).padStart(7)} fps ${String(o.ids).padStart(4)} ids` +
        `   sort ${String(b.framesPerSecond).padStart(7)} fps ${String(b.ids).padStart(4)} ids`,
    );
  }

  const vdet = combined.vdet as Record<Metric, number> & { framesPerSecond: number };
  const ahead = (others: readonly Entry[]) =>
    others.every((o) => METRICS.every((k) => vdet[k] > (combined[o] as Record<Metric, number>)[k]));
  console.log(
    JSON.stringify({
      bench: "tracker",
      dataDir: motDir,
      passes: PASSES,
      combined,
      sampled,
      degradation,
      degradationRule,
      degradesLessAt,
      goals: {
        aheadOfAllReferences: ahead(["sort", "bytetrack", "ocsort"]),
        aheadOfSort: ahead(["sort"]),
        aheadOfByteTrack: ahead(["bytetrack"]),
        aheadOfOcSort: ahead(["ocsort"]),
        degradesLessThanSortWhenSampled: degradesLess,
        aboveSortAtEveryStride: STRIDES.every((stride) =>
          METRICS.every((k) => sampled[stride].vdet[k] > sampled[stride].sort[k]),
        ),
        atLeast2000FramesPerSecond: vdet.framesPerSecond >= 2000,
      },
      sequences: perSequence,
      crowd: crowd(),
    }),
  );
}

main();
