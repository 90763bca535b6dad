// int8 models on the command line: calibration frames for `vdet model build --precision int8`, and
// `vdet model compare A.onnx B.onnx --video CLIP`: how far B's detections agree with A's on the user's footage.

import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import {
  CALIBRATION_METHODS,
  type CalibrationMethod,
  DEFAULT_CALIBRATION_METHOD,
  DEFAULT_PERCENTILE,
  modelContentSha256,
  type QuantizeReport,
  quantize,
  readOnnxInfo,
  runPair,
  withMetadata,
} from "@vdet/effdet";
import { decodeImage } from "@vdet/image";
import { type CachedModel, defaultLabels, storeInt8Build } from "@vdet/models";
import { averagePrecision, missShare } from "@vdet/mot-eval";
import { cocoLabel, parsePhi, type RgbImage } from "@vdet/protocol";
import { decodeFrames, probeVideo } from "@vdet/video";
import { type Command, InvalidArgumentError, Option } from "commander";
import { integer, probability } from "../options.ts";

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg"]);

/**
 * `count` frames spread over a video (every n-th frame, n from its frame count or duration), or the PNG/JPEG
 * images of a folder (sorted by name, the first `count`). Frames keep their size: the model's own in-graph
 * pre-processing resizes them, exactly as in a worker.
 */
export async function loadFrames(path: string, count: number): Promise<RgbImage[]> {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
    const files = readdirSync(path)
      .filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
      .sort()
      .slice(0, count);
    if (files.length === 0) throw new InvalidArgumentError(`${path} holds no PNG or JPEG images`);
    return files.map((f) => decodeImage(readFileSync(join(path, f)), f));
  }
  const info = await probeVideo(path);
  const total = info.frameCount ?? Math.round((info.durationSeconds ?? 0) * (info.fps ?? 0));
  const everyNth = total > count ? Math.floor(total / count) : 1;
  const frames: RgbImage[] = [];
  for await (const frame of decodeFrames(path, { sampling: { everyNth } })) {
    frames.push(frame);
    if (frames.length >= count) break;
  }
  if (frames.length === 0) throw new InvalidArgumentError(`${path}: no frames decoded`);
  return frames;
}

/** sha256 of the calibration set (sizes and pixels, in order): part of the quantised model's cache key. */
export function calibrationHash(frames: readonly RgbImage[]): string {
  const hash = createHash("sha256");
  for (const f of frames) {
    hash.update(`${f.width}x${f.height};`);
    hash.update(f.data);
  }
  return hash.digest("hex");
}

export interface Int8BuildOptions {
  calibrate?: string;
  calibrationFrames: number;
  calibrationMethod: CalibrationMethod;
  percentile: number;
  weightBits: 7 | 8 | "auto";
  threads?: number;
  /** Store the build in the model cache (where workers with `φ=…@int8` find it); default true. */
  cache?: boolean;
}

/** Frames the build-time agreement is measured on (at most; the first of the calibration frames). */
export const AGREEMENT_FRAMES = 16;

export function addInt8BuildOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--precision <p>", "fp32, or int8 (static QDQ, calibrated with --calibrate)")
        .choices(["fp32", "int8"])
        .default("fp32"),
    )
    .option("--calibrate <video|dir>", "int8: calibration footage (a video, or a folder of PNG/JPEG images)")
    .option(
      "--calibration-frames <n>",
      "int8: frames taken from --calibrate",
      integer("--calibration-frames", 1, 10000),
      200,
    )
    .addOption(
      new Option("--calibration-method <m>", "int8: activation ranges from min/max or a percentile")
        .choices([...CALIBRATION_METHODS])
        .default(DEFAULT_CALIBRATION_METHOD),
    )
    .option(
      "--percentile <p>",
      "int8, percentile method: share of values (%) kept inside each range",
      (v) => {
        const n = Number(v);
        if (!(n > 50 && n <= 100))
          throw new InvalidArgumentError("--percentile must be above 50 and at most 100");
        return n;
      },
      DEFAULT_PERCENTILE,
    )
    .option("--no-cache", "int8: do not store the build in the model cache (workers find cached builds)")
    .option(
      "--weight-bits <b>",
      "int8: 7 (safe on every x86 CPU) or 8 (only where every CPU that runs the model has VNNI)",
      (v) => {
        if (v !== "7" && v !== "8") throw new InvalidArgumentError("--weight-bits must be 7 or 8");
        return Number(v);
      },
    );
}

export interface Int8Agreement {
  /** AP@0.5 of the int8 detections with the fp32 ones (score ≥ 0.05) as ground truth: the utility factor. */
  ap50: number;
  ap50to95: number;
  /** Share of fp32's confident (score ≥ 0.5) detections the int8 model misses. */
  missShare: number;
  frames: number;
  /** Which frames it was measured on. */
  on: string;
}

/**
 * Quantises deploy-model bytes as the build options say, measures the int8 model's agreement with fp32 on the
 * first calibration frames (recorded as `vdet.agreement`: the φ policy's utility factor for this build), and
 * stores it in the model cache unless `cache` is false. Returns the int8 bytes and what was done.
 */
export async function buildInt8(
  fp32: Uint8Array,
  o: Int8BuildOptions,
  sourceName: string,
): Promise<{
  bytes: Uint8Array;
  report: QuantizeReport;
  calibrationSha256: string;
  agreement: Int8Agreement;
  cached?: CachedModel;
}> {
  if (!o.calibrate) throw new InvalidArgumentError("--precision int8 needs --calibrate <video|dir>");
  const frames = await loadFrames(o.calibrate, o.calibrationFrames);
  const calibrationSha256 = calibrationHash(frames);
  const options = {
    method: o.calibrationMethod,
    percentile: o.percentile,
    ...(o.weightBits === "auto" ? {} : { weightBits: o.weightBits }),
    intraOpThreads: o.threads,
  };
  const first = await quantize(fp32, frames, options);
  // Agreement on calibration frames: in-sample (the frames set the ranges), so an upper bound of what other
  // footage shows; `vdet model compare` on other footage is the check a user should make.
  const sample = frames.slice(0, AGREEMENT_FRAMES);
  const pair = await runPair(fp32, first.bytes, sample, { intraOpThreads: o.threads });
  const ap = averagePrecision(pair.a, pair.b, { minGroundTruthScore: 0.05 });
  const miss = missShare(pair.a, pair.b, 0.5);
  const agreement: Int8Agreement = {
    // No ground truth at all (fp32 finds nothing above 0.05): nothing to disagree on.
    ap50: Number.isNaN(ap.ap50) ? 1 : round4(ap.ap50),
    ap50to95: Number.isNaN(ap.ap50to95) ? 1 : round4(ap.ap50to95),
    missShare: Number.isNaN(miss.share) ? 0 : round4(miss.share),
    frames: pair.frames,
    on: `the first ${pair.frames} calibration frames`,
  };
  const sourceModelSha256 = modelContentSha256(fp32);
  const quantization = JSON.parse(readOnnxInfo(first.bytes).metadata["vdet.quantization"] ?? "{}") as Record<
    string,
    unknown
  >;
  const { report } = first;
  const bytes = withMetadata(first.bytes, {
    "vdet.calibration_sha256": calibrationSha256,
    "vdet.quantized_from": sourceName,
    "vdet.source_model_sha256": sourceModelSha256,
    "vdet.agreement": JSON.stringify(agreement),
  });
  let cached: CachedModel | undefined;
  if (o.cache !== false) {
    const info = readOnnxInfo(fp32);
    const phi = parsePhi(info.phi ?? "0");
    const numClasses = info.numClasses ?? 90;
    cached = await storeInt8Build({
      phi,
      baseName: `d${phi}`,
      model: bytes,
      resolution: info.imageSize ?? 0,
      numClasses,
      labels: defaultLabels(numClasses),
      parameters: info.parameters ?? 0,
      sourceLocation: sourceName,
      sourceModelSha256,
      calibrationSha256,
      settings: quantization,
      agreement: agreement.ap50,
    });
  }
  return { bytes, report, calibrationSha256, agreement, ...(cached ? { cached } : {}) };
}

const round4 = (v: number) => Math.round(v * 10_000) / 10_000;

interface CompareOptions {
  video: string;
  frames: number;
  scoreThreshold: number;
  confident: number;
  threads?: number;
  json?: boolean;
}

const fixed = (v: number, digits = 3) => (Number.isNaN(v) ? "n/a" : v.toFixed(digits));

export function registerModelCompare(model: Command): void {
  model
    .command("compare")
    .description(
      "agreement of model B with model A on your footage: AP of B's detections with A's as ground truth, " +
        "the share of A's confident detections B misses, and the drift of the raw head outputs",
    )
    .argument("<a.onnx>", "the reference model (e.g. the fp32 build)")
    .argument("<b.onnx>", "the model checked against it (e.g. the int8 build)")
    .requiredOption("--video <clip|dir>", "footage to compare on (a video, or a folder of PNG/JPEG images)")
    .option("--frames <n>", "frames spread over the clip", integer("--frames", 1, 100000), 50)
    .option(
      "--score-threshold <p>",
      "A's detections with at least this score are the ground truth",
      probability,
      0.05,
    )
    .option("--confident <p>", "A's detections counted as confident for the miss share", probability, 0.5)
    .option("--threads <n>", "intra-op threads per model", integer("--threads", 1, 256))
    .option("--json", "machine-readable output")
    .action(async (a: string, b: string, o: CompareOptions) => {
      const frames = await loadFrames(o.video, o.frames);
      const pair = await runPair(readFileSync(a), readFileSync(b), frames, { intraOpThreads: o.threads });
      const ap = averagePrecision(pair.a, pair.b, { minGroundTruthScore: o.scoreThreshold });
      const miss = missShare(pair.a, pair.b, o.confident);
      const result = {
        a,
        b,
        frames: pair.frames,
        groundTruthMinScore: o.scoreThreshold,
        groundTruth: ap.groundTruth,
        ap50: ap.ap50,
        ap50to95: ap.ap50to95,
        perClass: ap.perClass.map((c) => ({ ...c, label: cocoLabel(c.classId) })),
        confidentMinScore: o.confident,
        confident: miss.confident,
        missed: miss.missed,
        missShare: miss.share,
        headDrift: pair.drift,
      };
      if (o.json) {
        process.stdout.write(`${JSON.stringify(result, (_, v) => (Number.isNaN(v) ? null : v), 2)}\n`);
        return;
      }
      const lines = [
        `frames          ${pair.frames} of ${o.video}`,
        `ground truth    ${ap.groundTruth} detections of A with score ≥ ${o.scoreThreshold} (${ap.classes} classes)`,
        `AP@0.5          ${fixed(ap.ap50)}`,
        `AP@[.5:.95]     ${fixed(ap.ap50to95)}`,
        `missed          ${miss.missed} of ${miss.confident} confident detections of A (score ≥ ${o.confident}): ${fixed(miss.share * 100, 1)} %`,
        pair.drift
          ? `head drift      class logits max ${fixed(pair.drift.classMaxAbs)}, mean ${fixed(pair.drift.classMeanAbs, 4)}; ` +
            `box regressions max ${fixed(pair.drift.boxMaxAbs)}, mean ${fixed(pair.drift.boxMeanAbs, 4)}`
          : "head drift      n/a (the models do not share head tensor names: not both built by vdet)",
        ...ap.perClass.map(
          (c) =>
            `  ${cocoLabel(c.classId).padEnd(16)} ${String(c.groundTruth).padStart(6)} boxes  AP@0.5 ${fixed(c.ap50)}  AP@[.5:.95] ${fixed(c.ap50to95)}`,
        ),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
