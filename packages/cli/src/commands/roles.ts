// `vdet api|producer|worker|aggregator`: the long-running roles of the distributed pipeline. Each reads VDET_*
// environment variables; flags override them. They run until SIGTERM/SIGINT and then drain.

import {
  ConfigError,
  createLogger,
  loadConfig,
  prepareWorker,
  serveRole,
  workerConfigSchema,
} from "@vdet/roles";
import { formatProfile } from "@vdet/scheduler";
import { type Command, Option } from "commander";

function addCommon(command: Command): Command {
  return command
    .option("--redis-url <url>", "Redis (VDET_REDIS_URL, default redis://127.0.0.1:6379)")
    .option("--prefix <name>", "Redis key prefix (VDET_PREFIX, default vdet)")
    .option("--log-level <level>", "fatal|error|warn|info|debug|trace|silent (VDET_LOG_LEVEL)");
}

/** Producer, worker and aggregator serve GET /metrics on a port of their own (the api on its own server). */
function addMetricsPort(command: Command): Command {
  return command.option(
    "--metrics-port <port>",
    "serve GET /metrics on this port (VDET_METRICS_PORT; 0: off)",
  );
}

export function registerRoleCommands(program: Command): void {
  addCommon(program.command("api").description("serve the HTTP API (jobs: submit, status, list, cancel)"))
    .option("--host <host>", "listen address (VDET_API_HOST, default 0.0.0.0)")
    .option("--port <port>", "listen port (VDET_API_PORT, default 8080)")
    .option("--token <token>", "bearer token clients must send (VDET_API_TOKEN)")
    .option("--no-auth", "accept requests without a token (local setups only; VDET_API_NO_AUTH)")
    .option("--allow-file-inputs", "accept local file paths as inputs (VDET_ALLOW_FILE_INPUTS)")
    .option("--allow-directory-outputs", "accept local directories as outputs (VDET_ALLOW_DIRECTORY_OUTPUTS)")
    .action(async (flags: Record<string, unknown>) => {
      await serveRole("api", { ...flags, noAuth: flags.auth === false ? true : undefined });
    });

  addMetricsPort(
    addCommon(
      program
        .command("producer")
        .description(
          "plan queued jobs into segments (re-readable inputs) or decode them into frame chunks (live)",
        ),
    ),
  )
    .option("--frames-per-chunk <n>", "frames per queued chunk (VDET_FRAMES_PER_CHUNK, default 4)")
    .option("--max-frames-in-flight <n>", "pause decoding a job above this many queued frames (default 64)")
    .option(
      "--segment-frames <n>",
      "sampled frames per segment (VDET_SEGMENT_FRAMES; default 2048 for archive jobs, 256 for latency jobs)",
    )
    .option(
      "--max-segments-in-flight <n>",
      "pause planning a job above this many queued segments (default 64)",
    )
    .option("--concurrency <n>", "jobs decoded at once (VDET_PRODUCER_CONCURRENCY, default 2)")
    .action(async (flags: Record<string, unknown>) => {
      await serveRole("producer", flags);
    });

  addMetricsPort(
    addCommon(
      program.command("worker").description("run EfficientDet on queued frames (any number of workers)"),
    ),
  )
    .option("--max-batch <n>", "largest batch (VDET_MAX_BATCH, default 4)")
    .option("--segment-concurrency <n>", "segments decoded at once (VDET_SEGMENT_CONCURRENCY, default 2)")
    .option("--allow-file-inputs", "decode segments of local file paths (VDET_ALLOW_FILE_INPUTS)")
    .option("--max-delay-ms <ms>", "longest wait to fill a batch (VDET_MAX_DELAY_MS, default 20)")
    .option("--ep <provider>", "execution provider: cpu, cuda[:id], tensorrt[:id] (VDET_EP, default cpu)")
    .addOption(new Option("--execution-provider <provider>").hideHelp().conflicts("ep"))
    .option("--threads <n>", "intra-op threads (VDET_THREADS)")
    .option(
      "--intra-op-spinning <on|off>",
      "onnxruntime's intra-op threads spin while waiting (VDET_INTRA_OP_SPINNING, default on; off where other work keeps the CPUs busy)",
    )
    .option(
      "--weights <list>",
      'checkpoints or cached models per φ, each with an optional @precision, e.g. "0=/m/d0.pth,1=d1@int8,3=@int8" (VDET_WEIGHTS)',
    )
    .option(
      "--precision <p>",
      "fp32, or int8 (the cached int8 build of each φ's model) where a --weights entry names none (VDET_PRECISION, default fp32)",
    )
    .option("--seed <n>", "seed of the untrained weights used where no trained ones can be had (VDET_SEED)")
    .option(
      "--offline",
      "never download models: φ without a cached COCO model run untrained seeded weights (VDET_OFFLINE)",
    )
    .option("--preload <list>", 'φ to load at start, e.g. "0,1" (VDET_PRELOAD, default 0)')
    .option(
      "--simulate-profile <file>",
      "simulate the models with a latency profile JSON, no inference (VDET_SIMULATE_PROFILE; tests, benchmarks)",
    )
    .option(
      "--profile <mode>",
      "latency profile: cached (default), fresh (measure again), off (VDET_PROFILE)",
    )
    .option("--profile-only", "measure (or load) the latency profile of the preloaded φ, print it and exit")
    .option("--json", "with --profile-only: print the profile as JSON (the format --simulate-profile reads)")
    .action(async (flags: Record<string, unknown>) => {
      // One vocabulary: --ep everywhere (run, detect, worker); the config key is executionProvider.
      if (flags.ep !== undefined) flags.executionProvider = flags.ep;
      delete flags.ep;
      if (flags.profileOnly) {
        const { profileOnly: _, json, ...rest } = flags;
        await printWorkerProfile(rest, json === true);
        return;
      }
      await serveRole("worker", flags);
    });

  addMetricsPort(
    addCommon(program.command("aggregator").description("order, track and write each job's detections")),
  ).action(async (flags: Record<string, unknown>) => {
    await serveRole("aggregator", flags);
  });
}

/** `vdet worker --profile-only`: the worker's start-up profiling, printed instead of serving. */
async function printWorkerProfile(flags: Record<string, unknown>, json: boolean): Promise<void> {
  const config = loadConfig(workerConfigSchema, process.env, flags);
  const logger = createLogger("worker", flags.logLevel ? config.logLevel : "warn", "stderr");
  if (config.profile === "off")
    throw new ConfigError("--profile-only measures a profile: drop --profile off");
  process.stderr.write(`profiling D${config.preload.join(", D")} at batch sizes up to ${config.maxBatch}…\n`);
  const { models, table } = await prepareWorker(config, logger);
  await models.close();
  process.stdout.write(json ? `${JSON.stringify(table, null, 2)}\n` : `${formatProfile(table!)}\n`);
}
