// `vdet track` (MOTChallenge detections → tracker results) and `vdet eval` (CLEAR MOT, IDF1, HOTA of
// results against ground truth), each for one file or a folder of sequences.

import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import {
  detectionFramesFromRows,
  evaluateFolder,
  evaluateSequence,
  findSequences,
  formatResultRows,
  formatSummaryTable,
  type GtLayout,
  type MostlyTrackedRule,
  MotFormatError,
  type ResultRow,
  readMotFile,
  readSeqInfo,
  refineMotRows,
  type SeqInfo,
  type SequenceMetrics,
  summarize,
} from "@vdet/mot-eval";
import { refineTracks, Tracker, type TrackerOptions } from "@vdet/tracker";
import { type Command, InvalidArgumentError, Option } from "commander";

function positiveNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

function wholeNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number ≥ 0`);
    return n;
  };
}

function nonNegativeNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n >= 0) || !Number.isFinite(n) || value.trim() === "")
      throw new InvalidArgumentError(`${name} must be a number ≥ 0`);
    return n;
  };
}

function fraction(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be a number from 0 to 1`);
    return n;
  };
}

const isDirectory = (path: string) => existsSync(path) && statSync(path).isDirectory();

interface TrackCommandOptions {
  det: string;
  out: string;
  tracker: "bytetrack" | "sort";
  fps?: number;
  seqLength?: number;
  highThresh?: number;
  lowThresh?: number;
  birthThresh?: number;
  matchIou?: number;
  maxLost?: number;
  minHits?: number;
  classAware?: boolean;
  ocReupdate: boolean;
  cameraMotion: boolean;
  firstMatchReach?: number;
  fuseScore: boolean;
  outputBox?: "filtered" | "detection";
  motionModel?: "xysr" | "xyah";
  refine?: boolean;
}

/** Tracker options given on the command line (unset flags keep the preset's values). */
function trackerOptions(o: TrackCommandOptions, fps: number): Partial<TrackerOptions> {
  const options: Partial<TrackerOptions> = {
    fps,
    highScoreThreshold: o.highThresh,
    lowScoreThreshold: o.lowThresh,
    birthScoreThreshold: o.birthThresh,
    matchIou: o.matchIou,
    maxLostFrames: o.maxLost,
    minHits: o.minHits,
    classAware: o.classAware,
    outputBox: o.outputBox,
    motionModel: o.motionModel,
    firstMatchReach: o.firstMatchReach,
  };
  if (!o.ocReupdate) options.observationCentricReupdate = false;
  if (!o.cameraMotion) options.cameraMotion = false;
  if (!o.fuseScore) options.fuseScore = false;
  return options;
}

interface TrackRun {
  frames: number;
  tracks: number;
  rows: number;
  trackerSeconds: number;
}

/** Tracks one det.txt into one result file. */
function trackFile(detPath: string, outPath: string, seqInfo: SeqInfo, o: TrackCommandOptions): TrackRun {
  const det = readMotFile(detPath, { kind: "det" });
  const fps = o.fps ?? seqInfo.frameRate ?? 30;
  const frames = detectionFramesFromRows(det, o.seqLength ?? seqInfo.seqLength);
  const options = trackerOptions(o, fps);
  const tracker = o.tracker === "sort" ? Tracker.sortBaseline(options) : new Tracker(options);
  const rows: ResultRow[] = [];
  const ids = new Set<number>();
  const start = process.hrtime.bigint();
  for (let f = 0; f < frames.length; f++) {
    for (const t of tracker.update(frames[f])) {
      rows.push({ frame: f + 1, id: t.trackId, box: t.box, conf: t.score });
      ids.add(t.trackId);
    }
  }
  const trackerSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const output = o.refine ? refineResultRows(rows, fps) : rows;
  mkdirSync(dirname(resolve(outPath)), { recursive: true });
  writeFileSync(outPath, formatResultRows(output));
  return { frames: frames.length, tracks: ids.size, rows: output.length, trackerSeconds };
}

/** The offline refinement (gap filling, tracklet linking, smoothing) of a whole sequence's rows. */
function refineResultRows(rows: readonly ResultRow[], fps: number): ResultRow[] {
  return refineTracks(
    rows.map((r) => ({ frame: r.frame, id: r.id, box: r.box, score: r.conf })),
    { fps },
  ).map((r) => ({ frame: r.frame, id: r.id, box: r.box, conf: r.score }));
}

function describeRun(name: string, run: TrackRun, outPath: string): string {
  const rate = run.trackerSeconds > 0 ? Math.round(run.frames / run.trackerSeconds) : 0;
  return `${name}: ${run.frames} frames, ${run.tracks} tracks, ${run.rows} rows, ${rate} frames/s → ${outPath}`;
}

function runTrack(o: TrackCommandOptions): void {
  if (isDirectory(o.det)) {
    const sequences = findSequences(o.det, join("det", "det.txt"));
    if (sequences.length === 0) throw new MotFormatError(`no <sequence>/det/det.txt found under ${o.det}`);
    if (existsSync(o.out) && !isDirectory(o.out)) {
      throw new MotFormatError(`--out ${o.out} must be a folder when --det is a folder of sequences`);
    }
    for (const seq of sequences) {
      const outPath = join(o.out, `${seq.name}.txt`);
      const run = trackFile(join(seq.dir, "det", "det.txt"), outPath, seq.seqInfo, o);
      process.stdout.write(`${describeRun(seq.name, run, outPath)}\n`);
    }
    // Folders that are not sequences with detections are named, not passed over in silence.
    const found = new Set(sequences.map((s) => s.name));
    const skipped = readdirSync(o.det, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !found.has(e.name))
      .map((e) => e.name)
      .sort();
    if (skipped.length > 0)
      process.stderr.write(
        `skipped ${skipped.length} folder(s) without det/det.txt: ${skipped.join(", ")}\n`,
      );
    return;
  }
  if (!existsSync(o.det)) throw new MotFormatError(`--det ${o.det} does not exist`);
  // <seq>/det/det.txt: seqinfo.ini (frame rate, length) sits two levels up.
  const seqInfo = readSeqInfo(dirname(dirname(resolve(o.det))));
  const run = trackFile(o.det, o.out, seqInfo, o);
  process.stdout.write(`${describeRun(seqInfo.name ?? o.det, run, o.out)}\n`);
}

interface EvalCommandOptions {
  gt: string;
  res: string;
  json?: boolean;
  layout?: GtLayout;
  seqLength?: number;
  iou: number;
  skipMissing?: boolean;
  mtRule: MostlyTrackedRule;
  refine?: boolean;
  fps?: number;
}

function metricsJson(m: SequenceMetrics) {
  const { counts: _counts, perAlpha, ...hota } = m.hota;
  return {
    ...summarize(m),
    details: {
      clear: m.clear,
      clearIouSum: m.clearIouSum,
      identity: m.identity,
      hota: { ...hota, perAlpha },
      vace: m.vace,
      removedDistractorHyps: m.removedDistractorHyps,
      ignoredGtRows: m.ignoredGtRows,
    },
  };
}

function runEval(o: EvalCommandOptions): void {
  let sequences: SequenceMetrics[];
  let combined: SequenceMetrics | undefined;
  if (isDirectory(o.gt)) {
    if (!isDirectory(o.res))
      throw new MotFormatError(`--res ${o.res} must be a folder of <sequence>.txt files`);
    const result = evaluateFolder(o.gt, o.res, {
      layout: o.layout,
      iouThreshold: o.iou,
      mostlyTrackedRule: o.mtRule,
      skipMissing: o.skipMissing,
      ...(o.refine ? { refine: o.fps !== undefined ? { fps: o.fps } : {} } : {}),
    });
    if (result.skipped.length > 0)
      process.stderr.write(`no results for ${result.skipped.join(", ")}: skipped\n`);
    sequences = result.sequences;
    combined = result.combined;
  } else {
    if (!existsSync(o.gt)) throw new MotFormatError(`--gt ${o.gt} does not exist`);
    const seqInfo = readSeqInfo(dirname(dirname(resolve(o.gt))));
    const gt = readMotFile(o.gt, { kind: "gt", layout: o.layout });
    const read = readMotFile(o.res, { kind: "res" });
    const res = o.refine ? refineMotRows(read, { fps: o.fps ?? seqInfo.frameRate ?? 30 }) : read;
    sequences = [
      evaluateSequence(gt, res, {
        name: seqInfo.name ?? o.gt,
        numTimesteps: o.seqLength ?? seqInfo.seqLength,
        iouThreshold: o.iou,
        mostlyTrackedRule: o.mtRule,
      }),
    ];
  }
  if (o.json) {
    const out = {
      sequences: sequences.map(metricsJson),
      combined: combined ? metricsJson(combined) : undefined,
    };
    process.stdout.write(`${JSON.stringify(out, (_k, v) => (Number.isNaN(v) ? null : v), 2)}\n`);
    return;
  }
  const rows = [...sequences, ...(combined ? [combined] : [])].map(summarize);
  process.stdout.write(`${formatSummaryTable(rows)}\n`);
}

export function registerTrackCommands(program: Command): void {
  program
    .command("track")
    .description(
      "track MOTChallenge detections (frame,-1,x,y,w,h,score,…) into result rows (frame,id,x,y,w,h,conf,-1,-1,-1); " +
        "--det may be a folder of <sequence>/det/det.txt, then --out is a folder of <sequence>.txt",
    )
    .requiredOption("--det <path>", "det.txt, or a folder of sequences")
    .requiredOption("--out <path>", "result file, or a folder when --det is a folder")
    .addOption(
      new Option("--tracker <name>", "tracker configuration")
        .choices(["bytetrack", "sort"])
        .default("bytetrack"),
    )
    .option("--fps <n>", "frame rate (default: seqinfo.ini frameRate, else 30)", positiveNumber("--fps"))
    .option(
      "--seq-length <frames>",
      "number of frames (default: seqinfo.ini seqLength, else last detection)",
      wholeNumber("--seq-length"),
    )
    .option(
      "--high-thresh <score>",
      "first-association score threshold (default 0.6)",
      fraction("--high-thresh"),
    )
    .option(
      "--low-thresh <score>",
      "lowest score used to extend tracks (default 0.1)",
      fraction("--low-thresh"),
    )
    .option(
      "--birth-thresh <score>",
      "lowest score that starts a track (default 0.7)",
      fraction("--birth-thresh"),
    )
    .option(
      "--match-iou <iou>",
      "minimum IoU of the first association (default 0.2)",
      fraction("--match-iou"),
    )
    .option(
      "--max-lost <frames>",
      "frames a lost track is kept, at 30 fps (default 30)",
      wholeNumber("--max-lost"),
    )
    .option(
      "--min-hits <n>",
      "matches after birth before a track is reported (default 1)",
      wholeNumber("--min-hits"),
    )
    .option("--class-aware", "only match detections of the track's class")
    .option("--no-oc-reupdate", "disable the OC-SORT observation-centric re-update after occlusions")
    .option("--no-camera-motion", "disable the camera-motion compensation estimated from the detections")
    .option(
      "--first-match-reach <heights/s>",
      "how far a new track's second detection may be, by centre distance, when IoU fails (default 3; 0: off)",
      nonNegativeNumber("--first-match-reach"),
    )
    .option("--no-fuse-score", "do not weight IoU by detection score in the first association")
    .addOption(new Option("--output-box <kind>", "reported box").choices(["filtered", "detection"]))
    .addOption(
      new Option(
        "--motion-model <model>",
        "Kalman state: SORT's x,y,area,ratio or ByteTrack's x,y,aspect,height",
      ).choices(["xysr", "xyah"]),
    )
    .option(
      "--refine",
      "offline refinement of the whole output: fill short gaps, join tracklets, smooth (see docs/tracker.md)",
    )
    .action((options: TrackCommandOptions) => runTrack(options));

  program
    .command("eval")
    .description(
      "MOTChallenge evaluation (CLEAR MOT, IDF1, HOTA) of results against ground truth; " +
        "with folders: <gt>/<sequence>/gt/gt.txt vs <res>/<sequence>.txt plus a combined row",
    )
    .requiredOption("--gt <path>", "gt.txt, or a folder of sequences")
    .requiredOption("--res <path>", "result file, or a folder of <sequence>.txt")
    .option("--json", "print JSON instead of a table")
    .addOption(
      new Option("--layout <layout>", "gt layout (default: from the column count)").choices([
        "mot15",
        "mot17",
      ]),
    )
    .option(
      "--seq-length <frames>",
      "sequence length for a single file (default: seqinfo.ini)",
      wholeNumber("--seq-length"),
    )
    .option("--iou <threshold>", "IoU needed for a CLEAR/IDF1 match", fraction("--iou"), 0.5)
    .option("--skip-missing", "folder form: leave out sequences that have no result file")
    .addOption(
      new Option(
        "--mt-rule <rule>",
        "mostly tracked: ratio > 0.8 (trackeval, as the devkit) or ≥ 0.8 (py-motmetrics)",
      )
        .choices(["trackeval", "py-motmetrics"])
        .default("trackeval"),
    )
    .option(
      "--refine",
      "evaluate the results after the tracker's offline refinement (gaps, tracklets, smoothing)",
    )
    .option(
      "--fps <n>",
      "with --refine: frame rate of the results (default: seqinfo.ini frameRate, else 30)",
      positiveNumber("--fps"),
    )
    .action((options: EvalCommandOptions) => runEval(options));
}
