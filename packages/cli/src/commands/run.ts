// `vdet run`: the whole pipeline in this process (in-process queues, no Redis), writing results to a directory.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { resolveModelReference } from "@vdet/models";
import { REFINED_MOT_FILE, runLocal } from "@vdet/pipeline";
import {
  DEFAULT_PRECISION,
  describeJobError,
  type JobSpecInput,
  PHI_VALUES,
  type PhiValue,
  PRECISIONS,
  type Precision,
  parsePhi,
  phiRank,
  sampledFps,
} from "@vdet/protocol";
import { type Command, InvalidArgumentError, Option } from "commander";
import { checkLocalInput, checkLocalOutput } from "../local-paths.ts";
import { integer, positiveNumber, probability } from "../options.ts";
import { createProgress } from "../progress.ts";
import { describeOutputs, resolveWeights, seededBanner, weightsSummary } from "../weights.ts";
import { readZonesFile } from "../zones-file.ts";

interface RunOptions {
  out: string;
  fps?: number;
  everyNth?: number;
  phi?: string;
  budget?: number;
  maxPhi?: string;
  weights?: string;
  precision: Precision;
  seed: number;
  scoreThreshold: number;
  classes?: string;
  maxFrames?: number;
  batch: number;
  threads?: number;
  intraOpSpinning?: "on" | "off";
  ep: string;
  json?: boolean;
  preview?: boolean;
  wholeVideo?: boolean;
  offline?: boolean;
  failOnMiss?: boolean;
  refine?: boolean;
  zones?: string;
  overload?: "drop" | "queue";
}

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("detect and track objects in a video, all stages in this process")
    .argument("<input>", "video file, http(s):// URL or live stream URL")
    .requiredOption("--out <dir>", "directory for tracks.jsonl, tracks.mot.txt, summary.json, manifest.json")
    .option("--fps <n>", "sample this many frames per second (default 5)", positiveNumber("--fps"))
    .option(
      "--every-nth <n>",
      "sample every n-th frame instead of --fps",
      integer("--every-nth", 1, 1_000_000),
    )
    .option("--phi <φ>", "EfficientDet coefficient for every frame: 0…7 or 7x (default 0)")
    .option(
      "--budget <ms>",
      "latency budget per frame in ms (latency mode) instead of a fixed φ",
      integer("--budget", 10, 3_600_000),
    )
    .option("--max-phi <φ>", "largest φ the budget may use (default 3)")
    .option(
      "--weights <file|name>",
      "checkpoint for the chosen φ (.pth, .safetensors or deploy .onnx), or a cached model name such as d0 " +
        "(default: the COCO model for the φ, pulled on first use)",
    )
    .addOption(
      new Option(
        "--precision <p>",
        "fp32, or int8: the cached int8 build of the model (made by `vdet model build --precision int8 --calibrate`)",
      )
        .choices([...PRECISIONS])
        .default(DEFAULT_PRECISION),
    )
    .option(
      "--offline",
      "never download models: without a cached one, run untrained seeded weights (VDET_OFFLINE=1)",
    )
    .option(
      "--seed <n>",
      "seed of the untrained weights used when no trained ones can be had",
      integer("--seed", 0, 2 ** 31),
      0,
    )
    .option("--score-threshold <p>", "minimum detection score", probability, 0.3)
    .option("--classes <names>", "keep only these classes, e.g. person,car")
    .option("--max-frames <n>", "stop after this many sampled frames", integer("--max-frames", 1, 10_000_000))
    .option("--batch <n>", "largest inference batch", integer("--batch", 1, 64), 4)
    .option("--threads <n>", "inference threads (cpu)", integer("--threads", 1, 256))
    .addOption(
      new Option(
        "--intra-op-spinning <on|off>",
        "onnxruntime's intra-op threads spin while waiting (default on; off where other work keeps the CPUs busy)",
      ).choices(["on", "off"]),
    )
    .option("--ep <provider>", "execution provider: cpu, cuda[:id], tensorrt[:id] (VDET_EP, default cpu)")
    .addOption(new Option("--execution-provider <provider>").hideHelp().conflicts("ep"))
    .option(
      "--overload <policy>",
      "with --budget: drop (skip frames that can no longer make their deadline) or queue (run them late); default drop for live inputs, queue for files",
      (value: string) => {
        if (value !== "drop" && value !== "queue")
          throw new InvalidArgumentError(`--overload must be drop or queue, not "${value}"`);
        return value;
      },
    )
    .option("--fail-on-miss", "latency mode: exit with status 2 when any frame missed its budget")
    .option("--json", "print the finished job as JSON on stdout (progress stays on stderr)")
    .option(
      "--preview",
      "also write preview.mp4: the processed part of the video with the tracks drawn on it",
    )
    .option("--whole-video", "with --preview: render the whole video, not only the processed time range")
    .option(
      "--refine",
      "also write tracks.refined.mot.txt: the tracks after offline refinement (short gaps filled, tracklets joined, smoothed)",
    )
    .option(
      "--zones <file>",
      "zones.json: zones and lines to count (writes events.jsonl and analytics.json; docs/analytics.md)",
    )
    .action(async (input: string, o: RunOptions & { executionProvider?: string }) => {
      o.ep = o.executionProvider ?? o.ep ?? process.env.VDET_EP ?? "cpu";
      if (o.fps !== undefined && o.everyNth !== undefined)
        throw new InvalidArgumentError("give --fps or --every-nth, not both");
      if (o.phi !== undefined && o.budget !== undefined)
        throw new InvalidArgumentError("give --phi or --budget, not both");
      // A cached model name without --phi runs at the model's own φ.
      const cachedPhi =
        o.weights && o.phi === undefined && o.budget === undefined && !existsSync(o.weights)
          ? resolveModelReference(o.weights).cached?.manifest.phi
          : undefined;
      const phi = o.phi === undefined ? (cachedPhi ?? 0) : parsePhi(o.phi);
      const maxPhi = o.maxPhi === undefined ? 3 : parsePhi(o.maxPhi);
      if (o.failOnMiss && o.budget === undefined)
        throw new InvalidArgumentError("--fail-on-miss needs --budget (misses are counted in latency mode)");
      // Nothing is created before the input and output are known to be usable.
      checkLocalInput(input);
      checkLocalOutput(o.out);
      const zones = o.zones !== undefined ? readZonesFile(o.zones) : undefined;
      const spec: JobSpecInput = {
        input,
        output: o.out,
        sampling: o.everyNth !== undefined ? { everyNth: o.everyNth } : { fps: o.fps ?? 5 },
        scoreThreshold: o.scoreThreshold,
        classes: o.classes?.split(",").map((c) => c.trim()),
        maxFrames: o.maxFrames,
        preview: o.preview,
        zones,
        refine: o.refine,
        ...(o.preview && o.wholeVideo ? { previewRange: "video" as const } : {}),
        overload: o.overload,
        ...(o.budget !== undefined
          ? { latencyBudgetMs: o.budget, phi: { min: 0, max: maxPhi } }
          : { phi: { min: phi, max: phi } }),
      };
      const phis: PhiValue[] = o.budget !== undefined ? PHI_VALUES.slice(0, phiRank(maxPhi) + 1) : [phi];
      const weights = o.weights
        ? { chosen: { [String(o.budget !== undefined ? maxPhi : phi)]: o.weights }, seeded: [] }
        : await resolveWeights(phis, { offline: o.offline, quiet: o.json === true });
      if (weights.seeded.length > 0) process.stderr.write(seededBanner(weights.seeded));
      const progress = createProgress("frames");
      const started = performance.now();
      const result = await runLocal({
        spec,
        seed: o.seed,
        weights: weights.chosen,
        precision: o.precision,
        maxBatch: o.batch,
        executionProvider: o.ep,
        intraOpThreads: o.threads,
        intraOpSpinning: o.intraOpSpinning === undefined ? undefined : o.intraOpSpinning === "on",
        // With a budget, the policy chooses among the allowed φ from this machine's measured latencies.
        profileLatency: o.budget !== undefined,
        onProfileStep: (step) => {
          if (!o.json)
            process.stderr.write(`profiling D${step.phi} × ${step.batch}: ${step.ms.toFixed(0)} ms\n`);
        },
        onProgress: (job) => {
          const estimate =
            job.progress.total ??
            estimateFrames(job.video?.durationMs ?? null, job.video?.fps ?? null, spec, o.maxFrames);
          progress.update(
            job.progress.written + job.progress.failed,
            estimate,
            `${job.state}, ${job.progress.decoded} decoded`,
          );
        },
      });
      progress.stop();
      const seconds = (performance.now() - started) / 1000;
      const { job } = result;
      // The aggregator wrote the refinement (spec `refine`) before the manifest, as for a submitted job.
      const refined = join(result.output, REFINED_MOT_FILE);
      const frames = job.progress.written;
      const misses = job.progress.deadlineMisses;
      const exitCode = job.state !== "completed" ? 1 : o.failOnMiss && misses > 0 ? 2 : 0;
      const weightsText = weightsSummary(phis, weights);
      const phiText = o.budget !== undefined ? `φ ${phis[0]}…${phis.at(-1)} (budget)` : `φ ${phi}`;
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ job, output: result.output, seconds, framesPerSecond: frames / seconds, weights: weightsText, ...(existsSync(refined) ? { refined } : {}) })}\n`,
        );
        if (exitCode !== 0) process.exitCode = exitCode;
        return;
      }
      // The reason first, then the summary: a failed run says why before anything else.
      for (const error of job.errors) process.stderr.write(`error: ${describeJobError(error)}\n`);
      process.stdout.write(
        `${job.state}: ${frames} frames written, ${job.progress.failed} failed` +
          (o.budget !== undefined ? `, ${misses} missed the ${o.budget} ms budget` : "") +
          `, ${seconds.toFixed(1)} s (${(frames / seconds).toFixed(1)} frames/s), ${phiText}, weights: ${weightsText}\n`,
      );
      if (frames > 0 || job.state === "completed")
        process.stdout.write(describeOutputs(result.output, weights.seeded));
      if (exitCode !== 0) process.exitCode = exitCode;
    });
}

function estimateFrames(
  durationMs: number | null,
  sourceFps: number | null,
  spec: JobSpecInput,
  maxFrames: number | undefined,
): number | null {
  if (durationMs === null) return null;
  const estimate = Math.ceil((durationMs / 1000) * sampledFps(spec.sampling ?? { fps: 5 }, sourceFps));
  return maxFrames !== undefined ? Math.min(estimate, maxFrames) : estimate;
}
