// Counting accuracy of zone / line analytics on the MOT sequences that have detections and ground truth: the same
// lines and zones run on the ground-truth tracks (the truth), on vdet's tracker and the SORT baseline run here on
// the shipped detections, and on the ByteTrack and OC-SORT reference outputs (../shared/data/mot/reference).
// Reports the count error per line (|ours − truth| / truth, in and out, person class) and the dwell-time error per
// zone (total person-seconds inside, and mean dwell per visit). Last stdout line: one JSON object.

import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  Analytics,
  type AnalyticsFrame,
  type AnalyticsSummary,
  parseZonesFile,
  resolveZones,
  type ZonesFileInput,
} from "@vdet/analytics";
import {
  detectionFramesFromRows,
  findSequences,
  type MotRows,
  type ResultRow,
  readMotFile,
  type SequenceFolder,
} from "@vdet/mot-eval";
import { Tracker } from "@vdet/tracker";
import { motDir } from "../test/support/mot.ts";

const SOURCES = ["vdet", "sort", "bytetrack", "ocsort"] as const;
type Source = (typeof SOURCES)[number];

/**
 * The same layout on every sequence, in normalised coordinates: three vertical lines and one horizontal line
 * (people in these scenes mostly walk across the image), three vertical bands as zones. Feet (bottom centre) count.
 */
const ZONES: ZonesFileInput = {
  coordinates: "normalized",
  inertiaFrames: 3,
  lostAfterMs: 2000,
  lines: [
    { name: "x0.3", from: [0.3, 0], to: [0.3, 1] },
    { name: "x0.5", from: [0.5, 0], to: [0.5, 1] },
    { name: "x0.7", from: [0.7, 0], to: [0.7, 1] },
    { name: "y0.8", from: [0, 0.8], to: [1, 0.8] },
  ],
  zones: [
    {
      name: "left",
      polygon: [
        [0, 0],
        [1 / 3, 0],
        [1 / 3, 1],
        [0, 1],
      ],
    },
    {
      name: "centre",
      polygon: [
        [1 / 3, 0],
        [2 / 3, 0],
        [2 / 3, 1],
        [1 / 3, 1],
      ],
    },
    {
      name: "right",
      polygon: [
        [2 / 3, 0],
        [1, 0],
        [1, 1],
        [2 / 3, 1],
      ],
    },
  ],
};

/** MOT rows as tracker results (x1, y1, x2, y2), keeping the rows `keep` accepts. */
function resultsFromRows(rows: MotRows, keep: (r: number) => boolean = () => true): ResultRow[] {
  const out: ResultRow[] = [];
  for (let r = 0; r < rows.count; r++) {
    if (!keep(r)) continue;
    const [x, y, w, h] = rows.box.subarray(r * 4, r * 4 + 4);
    out.push({ frame: rows.frame[r], id: rows.id[r], box: [x, y, x + w, y + h], conf: rows.conf[r] });
  }
  return out;
}

/** Analytics frames (class 1, person), one per frame 1 … numFrames. */
function framesFromResults(results: readonly ResultRow[], numFrames: number, fps: number): AnalyticsFrame[] {
  const byFrame: { boxes: number[]; ids: number[] }[] = Array.from({ length: numFrames }, () => ({
    boxes: [],
    ids: [],
  }));
  for (const r of results) {
    const f = byFrame[r.frame - 1];
    f.boxes.push(r.box[0], r.box[1], r.box[2], r.box[3]);
    f.ids.push(r.id);
  }
  return byFrame.map((f, k) => ({
    frame: k + 1,
    ptsMs: (k * 1000) / fps,
    boxes: f.boxes,
    classes: f.ids.map(() => 1),
    labels: f.ids.map(() => "person"),
    trackIds: f.ids,
  }));
}

function runTracker(variant: "vdet" | "sort", seq: SequenceFolder, fps: number): ResultRow[] {
  const det = readMotFile(join(seq.dir, "det", "det.txt"), { kind: "det" });
  const frames = detectionFramesFromRows(det, seq.seqInfo.seqLength);
  const tracker = variant === "vdet" ? new Tracker({ fps }) : Tracker.sortBaseline({ fps });
  const rows: ResultRow[] = [];
  frames.forEach((frame, f) => {
    for (const t of tracker.update(frame))
      rows.push({ frame: f + 1, id: t.trackId, box: t.box, conf: t.score });
  });
  return rows;
}

function analyze(frames: AnalyticsFrame[], size: { width: number; height: number }): AnalyticsSummary {
  const a = new Analytics(resolveZones(parseZonesFile(ZONES, "bench zones"), size));
  for (const f of frames) a.update(f);
  return a.summary();
}

interface LineFigures {
  in: number;
  out: number;
}
interface ZoneFigures {
  visits: number;
  totalDwellS: number;
  meanDwellS: number | null;
}
function lineFigures(s: AnalyticsSummary): Record<string, LineFigures> {
  return Object.fromEntries(s.lines.map((l) => [l.name, { in: l.total.in, out: l.total.out }]));
}
function zoneFigures(s: AnalyticsSummary): Record<string, ZoneFigures> {
  return Object.fromEntries(
    s.zones.map((z) => {
      const d = z.total.dwell;
      const total = d.meanMs === null ? 0 : (d.meanMs * d.count) / 1000;
      return [
        z.name,
        { visits: d.count, totalDwellS: total, meanDwellS: d.meanMs === null ? null : d.meanMs / 1000 },
      ];
    }),
  );
}

const round = (v: number | null, digits = 4) =>
  v === null || !Number.isFinite(v) ? v : Number(v.toFixed(digits));

function main(): void {
  if (!existsSync(motDir)) {
    console.log(
      JSON.stringify({ bench: "analytics", error: `MOT data not found at ${motDir} (set VDET_DATA_DIR)` }),
    );
    process.exit(1);
  }
  const sequences = findSequences(motDir, join("det", "det.txt")).filter((s) =>
    existsSync(join(s.dir, "gt", "gt.txt")),
  );
  const perSequence: Record<string, unknown>[] = [];
  // Pooled over sequences and lines / zones: Σ|count error| and Σ truth; Σ|dwell error| and Σ truth dwell.
  const pooled = Object.fromEntries(
    SOURCES.map((s) => [s, { countAbsError: 0, dwellAbsErrorS: 0, meanDwellRelErrors: [] as number[] }]),
  ) as Record<Source, { countAbsError: number; dwellAbsErrorS: number; meanDwellRelErrors: number[] }>;
  let truthCount = 0;
  let truthDwellS = 0;
  for (const seq of sequences) {
    const fps = seq.seqInfo.frameRate ?? 25;
    const numFrames = seq.seqInfo.seqLength;
    const { imWidth: width, imHeight: height } = seq.seqInfo;
    if (!numFrames || !width || !height) throw new Error(`${seq.name}: seqinfo.ini lacks seqLength or size`);
    const size = { width, height };
    const gtRows = readMotFile(join(seq.dir, "gt", "gt.txt"), { kind: "gt" });
    // Only rows that are scored (flag 1) are ground truth.
    const gt = resultsFromRows(gtRows, (r) => gtRows.conf[r] > 0);
    const truth = analyze(framesFromResults(gt, numFrames, fps), size);
    const reference = (tracker: string) =>
      resultsFromRows(readMotFile(join(motDir, "reference", tracker, `${seq.name}.txt`), { kind: "res" }));
    const results: Record<Source, ResultRow[]> = {
      vdet: runTracker("vdet", seq, fps),
      sort: runTracker("sort", seq, fps),
      bytetrack: reference("bytetrack"),
      ocsort: reference("ocsort"),
    };
    const outputs = Object.fromEntries(
      SOURCES.map((s) => [s, analyze(framesFromResults(results[s], numFrames, fps), size)]),
    ) as Record<Source, AnalyticsSummary>;
    const truthLines = lineFigures(truth);
    const truthZones = zoneFigures(truth);
    const entry: Record<string, unknown> = {
      name: seq.name,
      frames: numFrames,
      truth: { lines: truthLines, zones: truthZones },
    };
    for (const t of Object.values(truthLines)) truthCount += t.in + t.out;
    for (const z of Object.values(truthZones)) truthDwellS += z.totalDwellS;
    for (const source of SOURCES) {
      const lines = lineFigures(outputs[source]);
      const zones = zoneFigures(outputs[source]);
      const lineErrors: Record<string, unknown> = {};
      for (const [name, t] of Object.entries(truthLines)) {
        const o = lines[name];
        const abs = Math.abs(o.in - t.in) + Math.abs(o.out - t.out);
        pooled[source].countAbsError += abs;
        lineErrors[name] = {
          in: o.in,
          out: o.out,
          countError: t.in + t.out > 0 ? round(abs / (t.in + t.out)) : null,
          absError: abs,
        };
      }
      const zoneErrors: Record<string, unknown> = {};
      for (const [name, t] of Object.entries(truthZones)) {
        const o = zones[name];
        const abs = Math.abs(o.totalDwellS - t.totalDwellS);
        pooled[source].dwellAbsErrorS += abs;
        const meanRel =
          t.meanDwellS && o.meanDwellS !== null ? Math.abs(o.meanDwellS - t.meanDwellS) / t.meanDwellS : null;
        if (meanRel !== null) pooled[source].meanDwellRelErrors.push(meanRel);
        zoneErrors[name] = {
          visits: o.visits,
          totalDwellS: round(o.totalDwellS, 2),
          totalDwellError: t.totalDwellS > 0 ? round(abs / t.totalDwellS) : null,
          meanDwellError: round(meanRel),
        };
      }
      entry[source] = { lines: lineErrors, zones: zoneErrors };
    }
    perSequence.push(entry);
  }

  const combined = Object.fromEntries(
    SOURCES.map((s) => {
      const p = pooled[s];
      const meanDwell = p.meanDwellRelErrors.length
        ? p.meanDwellRelErrors.reduce((a, b) => a + b, 0) / p.meanDwellRelErrors.length
        : null;
      return [
        s,
        {
          countError: round(p.countAbsError / truthCount),
          countAbsError: p.countAbsError,
          dwellError: round(p.dwellAbsErrorS / truthDwellS),
          meanDwellError: round(meanDwell),
        },
      ];
    }),
  ) as Record<
    Source,
    { countError: number; countAbsError: number; dwellError: number; meanDwellError: number | null }
  >;

  console.log(`analytics counting accuracy on ${perSequence.map((e) => e.name).join(", ")}`);
  console.log(`truth: ${truthCount} line crossings, ${truthDwellS.toFixed(1)} person-seconds in zones`);
  console.log("source      count error  |Δcount|  dwell error  mean-dwell error");
  for (const s of SOURCES) {
    const c = combined[s];
    console.log(
      `${s.padEnd(10)}  ${String(c.countError).padStart(11)}  ${String(c.countAbsError).padStart(8)}  ${String(c.dwellError).padStart(11)}  ${String(c.meanDwellError).padStart(16)}`,
    );
  }
  const others = SOURCES.filter((s) => s !== "vdet");
  console.log(
    JSON.stringify({
      bench: "analytics",
      dataDir: motDir,
      zones: ZONES,
      truthCrossings: truthCount,
      truthDwellS: round(truthDwellS, 2),
      combined,
      goals: {
        countErrorLowest: others.every((s) => combined.vdet.countError < combined[s].countError),
        dwellErrorLowest: others.every((s) => combined.vdet.dwellError < combined[s].dwellError),
      },
      sequences: perSequence,
    }),
  );
}

main();
