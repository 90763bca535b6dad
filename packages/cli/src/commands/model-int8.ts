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
  DEFAULT_WEIGHT_BITS,
  type QuantizeReport,
  quantize,
  runPair,
} from "@vdet/effdet";
import { decodeImage } from "@vdet/image";
import { averagePrecision, missShare } from "@vdet/mot-eval";
import { cocoLabel, type RgbImage } from "@vdet/protocol";
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
  weightBits: number;
  threads?: number;
}

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
    .option(
      "--weight-bits <b>",
      "int8: 7 (safe on every x86 CPU) or 8 (only where every CPU that runs the model has VNNI)",
      (v) => {
        if (v !== "7" && v !== "8") throw new InvalidArgumentError("--weight-bits must be 7 or 8");
        return Number(v);
      },
      DEFAULT_WEIGHT_BITS,
    );
}

/** Quantises deploy-model bytes as the build options say; returns the int8 bytes and what was done. */
export async function buildInt8(
  fp32: Uint8Array,
  o: Int8BuildOptions,
  sourceName: string,
): Promise<{ bytes: Uint8Array; report: QuantizeReport; calibrationSha256: string }> {
  if (!o.calibrate) throw new InvalidArgumentError("--precision int8 needs --calibrate <video|dir>");
  const frames = await loadFrames(o.calibrate, o.calibrationFrames);
  const calibrationSha256 = calibrationHash(frames);
  const { bytes, report } = await quantize(fp32, frames, {
    method: o.calibrationMethod,
    percentile: o.percentile,
    weightBits: o.weightBits as 7 | 8,
    intraOpThreads: o.threads,
    metadata: {
      "vdet.calibration_sha256": calibrationSha256,
      "vdet.quantized_from": sourceName,
    },
  });
  return { bytes, report, calibrationSha256 };
}

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
