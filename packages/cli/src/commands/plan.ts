// `vdet plan`: a capacity planner. From a worker's latency profile (measured here, or a profile JSON from the
// machine that will run the workers) and the inputs' load — live streams under a latency budget, or an archive to
// finish by a time — how many workers of that kind each φ needs, and which φ results.

import { captureWaitMs, chooseLiveTransport, isLiveInput } from "@vdet/pipeline";
import { choiceLabel, type PhiValue, parsePhi } from "@vdet/protocol";
import { ConfigError, createLogger, loadConfig, prepareWorker, workerConfigSchema } from "@vdet/roles";
import {
  LatencyProfile,
  type Plan,
  type ProfileTable,
  planArchive,
  planLatency,
  readProfileFile,
} from "@vdet/scheduler";
import { probeVideo } from "@vdet/video";
import { type Command, InvalidArgumentError } from "commander";
import { integer, positiveNumber } from "../options.ts";

interface PlanOptions {
  budget?: number;
  finishBy?: string;
  fps: number;
  profile?: string;
  phis?: string;
  phiMin?: string;
  phiMax?: string;
  maxWorkers?: number;
  maxBatch: number;
  ep?: string;
  threads?: number;
  json?: boolean;
}

interface InputLoad {
  input: string;
  /** Sampled frames per second this input feeds (live). */
  framesPerSecond: number;
  /** Sampled frames in the whole input (archive); null for live streams. */
  frames: number | null;
}

export function registerPlanCommand(program: Command): void {
  program
    .command("plan")
    .description("how many workers of a profiled kind the inputs need, and which φ results")
    .argument("<inputs...>", "videos or streams (probed for duration and frame rate)")
    .option("--budget <ms>", "live: each frame's latency budget", integer("--budget", 10, 3_600_000))
    .option("--finish-by <time>", "archive: an ISO date-time, or a duration from now such as 90m, 6h, 2d")
    .option("--fps <n>", "sampled frames per second per input", positiveNumber("--fps"), 5)
    .option(
      "--profile <file>",
      "latency profile JSON (`vdet worker --profile-only --json`); default: measure",
    )
    .option("--phis <list>", 'φ to measure when no --profile is given, e.g. "0,1,2" (default 0)')
    .option("--phi-min <φ>", "smallest φ allowed (default: the profile's smallest)")
    .option("--phi-max <φ>", "largest φ allowed (default: the profile's largest)")
    .option(
      "--max-workers <n>",
      "workers available: which φ that many reach",
      integer("--max-workers", 1, 1e6),
    )
    .option("--max-batch <n>", "largest batch a worker runs", integer("--max-batch", 1, 64), 4)
    .option("--ep <provider>", "execution provider to measure with: cpu, cuda[:id], tensorrt[:id]")
    .option("--threads <n>", "intra-op threads to measure with", integer("--threads", 1, 256))
    .option("--json", "print the plan as JSON")
    .action(async (inputs: string[], o: PlanOptions) => {
      if ((o.budget === undefined) === (o.finishBy === undefined))
        throw new InvalidArgumentError("give --budget (live) or --finish-by (archive), one of them");
      const finishByMs = o.finishBy === undefined ? undefined : parseFinishBy(o.finishBy, Date.now());
      const table = o.profile ? await readProfileFile(o.profile) : await measure(o);
      const profile = LatencyProfile.fromTable(table);
      const profiled = profile.phis();
      const phiMin: PhiValue = o.phiMin === undefined ? profiled[0] : parsePhi(o.phiMin);
      const phiMax: PhiValue = o.phiMax === undefined ? profiled.at(-1)! : parsePhi(o.phiMax);
      const loads = await Promise.all(inputs.map((input) => inputLoad(input, o.fps)));
      let plan: Plan;
      let load: Record<string, unknown>;
      const base = { profile, phiMin, phiMax, maxBatch: o.maxBatch, maxWorkers: o.maxWorkers };
      if (o.budget !== undefined) {
        const framesPerSecond = loads.reduce((sum, l) => sum + l.framesPerSecond, 0);
        // Live inputs on the recorded-segment path: a frame's deadline counts from capture, and it waits for its
        // segment first; only the rest of the budget is the workers'.
        const waitMs = Math.max(
          0,
          ...inputs
            .filter(isLiveInput)
            .map(() => captureWaitMs(chooseLiveTransport({ latencyBudgetMs: o.budget }))),
        );
        if (waitMs >= o.budget)
          throw new InvalidArgumentError(
            `--budget ${o.budget} ms leaves nothing after the live inputs' ${waitMs} ms capture wait`,
          );
        plan = planLatency({ ...base, framesPerSecond, budgetMs: o.budget - waitMs });
        load = { mode: "latency", budgetMs: o.budget, captureWaitMs: waitMs, framesPerSecond };
      } else {
        const unknown = loads.filter((l) => l.frames === null).map((l) => l.input);
        if (unknown.length > 0)
          throw new ConfigError(
            `--finish-by needs inputs of known duration; these have none: ${unknown.join(", ")}`,
          );
        const frames = loads.reduce((sum, l) => sum + l.frames!, 0);
        const seconds = (finishByMs! - Date.now()) / 1000;
        plan = planArchive({ ...base, frames, seconds });
        load = {
          mode: "archive",
          frames,
          seconds: Math.round(seconds),
          finishBy: new Date(finishByMs!).toISOString(),
        };
      }
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ profile: table.key, load, inputs: loads, ...plan }, null, 2)}\n`,
        );
        return;
      }
      process.stdout.write(`${formatPlan(plan, load, table.key, o.maxWorkers)}\n`);
      if (!plan.choice) process.exitCode = 1;
    });
}

/** An ISO date-time with an offset, or a duration from now: 90m, 6h, 2d, 45s. */
export function parseFinishBy(value: string, nowMs: number): number {
  const duration = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value.trim());
  if (duration) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[duration[2] as "s" | "m" | "h" | "d"];
    return nowMs + Number(duration[1]) * unit;
  }
  const at = /\d{4}-\d\d-\d\dT/.test(value) && /(Z|[+-]\d\d:?\d\d)$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at))
    throw new InvalidArgumentError(
      `--finish-by must be an ISO date-time with an offset (2026-12-01T06:00:00Z) or a duration (90m, 6h), got "${value}"`,
    );
  if (at <= nowMs) throw new InvalidArgumentError(`--finish-by ${value} is not in the future`);
  return at;
}

async function measure(o: PlanOptions): Promise<ProfileTable> {
  const config = loadConfig(workerConfigSchema, process.env, {
    preload: o.phis,
    maxBatch: o.maxBatch,
    executionProvider: o.ep,
    threads: o.threads,
  });
  process.stderr.write(
    `measuring D${config.preload.join(", D")} on this machine (or reading its cached profile)…\n`,
  );
  const { models, table } = await prepareWorker(config, createLogger("plan", "warn", "stderr"));
  await models.close();
  return table!;
}

async function inputLoad(input: string, fps: number): Promise<InputLoad> {
  const info = await probeVideo(input);
  const framesPerSecond = Math.min(fps, info.fps ?? fps);
  const frames =
    info.durationSeconds === undefined ? null : Math.ceil(info.durationSeconds * framesPerSecond);
  return { input, framesPerSecond, frames };
}

function formatPlan(
  plan: Plan,
  load: Record<string, unknown>,
  key: string,
  maxWorkers: number | undefined,
): string {
  const what =
    load.mode === "latency"
      ? `live: ${plan.requiredFps} frames/s, each due within ${load.budgetMs} ms${load.captureWaitMs ? ` of capture (${load.captureWaitMs} ms of it waiting for the recorded segment)` : ""}`
      : `archive: ${load.frames} frames by ${load.finishBy} (${plan.requiredFps} frames/s)`;
  const lines = [`${what}; profile ${key}`];
  lines.push(
    ["model", "precision", "COCO AP", "agreement", "utility", "batch", "batch ms", "fps/worker", "workers"]
      .map((c) => c.padStart(11))
      .join(""),
  );
  for (const row of plan.rows) {
    lines.push(
      [
        `D${row.phi}`,
        row.precision,
        row.cocoAp.toFixed(1),
        row.agreement.toFixed(3),
        row.utility.toFixed(1),
        row.batch === null ? "-" : String(row.batch),
        row.batchMs === null ? "-" : row.batchMs.toFixed(1),
        row.perWorkerFps === null ? "-" : row.perWorkerFps.toFixed(1),
        row.workers === null ? "-" : String(row.workers),
      ]
        .map((c) => c.padStart(11))
        .join("") + (row.note ? `  (${row.note})` : ""),
    );
  }
  lines.push(
    plan.choice
      ? `→ ${choiceLabel(plan.choice)} with ${plan.choice.workers} worker${plan.choice.workers === 1 ? "" : "s"} of this kind`
      : `→ no φ of the range fits${maxWorkers === undefined ? "" : ` within ${maxWorkers} worker${maxWorkers === 1 ? "" : "s"}`}: ` +
          (load.mode === "latency"
            ? "even one frame takes longer than a batch may within the budget (see the notes); a faster machine or a larger --budget"
            : `a faster machine, ${maxWorkers === undefined ? "" : "more workers, "}a later --finish-by or fewer inputs`),
  );
  return lines.join("\n");
}
