// `vdet doctor`: what a user needs to know before the first job, on one screen (or as JSON): Node and npm,
// onnxruntime-node and its execution providers, ffmpeg, Redis, S3, the model cache and the CPU. Exits 1 when a
// check fails, so scripts and CI can run it as a gate.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { COMMON_DEFAULTS } from "@vdet/config";
import { ModelCache, modelCacheDir } from "@vdet/models";
import {
  assertExecutionProviderInstalled,
  describeOrtInstall,
  type ExecutionProvider,
  GPU_INSTALL_HINT,
  libraryLoadError,
  type OrtInstall,
  ortVersion,
  parseExecutionProvider,
  providerLibraries,
} from "@vdet/runtime";
import { s3ConfigFromEnv } from "@vdet/storage";
import { checkRedis, redactRedisUrl } from "@vdet/transport";
import { bundledFallbackWarning, describeFfmpeg } from "@vdet/video";
import type { Command } from "commander";
import { positiveNumber } from "../options.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  /** One line: what was found. */
  summary: string;
  /** What to do about a warning or failure. */
  advice?: string;
  details?: Record<string, unknown>;
}

export interface DoctorOptions {
  /** The execution provider the user means to run with (`--ep`, else VDET_EP, else cpu). */
  ep: string;
  /** Redis URL and whether the user set it (an unreachable default only warns: local runs need no Redis). */
  redisUrl: string;
  redisConfigured: boolean;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
}

const execFileAsync = promisify(execFile);

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The `engines.node` floor of the root package.json, e.g. [22, 12] for ">=22.12". */
function supportedNodeFloor(): [number, number] {
  const root = JSON.parse(readFileSync(new URL("../../../../package.json", import.meta.url), "utf8")) as {
    engines?: { node?: string };
  };
  const match = /^>=\s*(\d+)(?:\.(\d+))?/.exec(root.engines?.node ?? "");
  return match ? [Number(match[1]), Number(match[2] ?? 0)] : [0, 0];
}

/** `npm --version` starts a whole npm; on a busy 2-core machine that can take seconds. */
const NPM_TIMEOUT_MS = 15_000;

async function checkNode(env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  let npm: string | undefined;
  try {
    npm = (await execFileAsync("npm", ["--version"], { env, timeout: NPM_TIMEOUT_MS })).stdout.trim();
  } catch {
    npm = undefined; // the runtime images carry node only; vdet itself does not need npm
  }
  const [major, minor] = process.versions.node.split(".").map(Number);
  const [floorMajor, floorMinor] = supportedNodeFloor();
  const supported = major > floorMajor || (major === floorMajor && minor >= floorMinor);
  const summary = `node ${process.version}, ${npm ? `npm ${npm}` : "npm not found"}`;
  return {
    name: "node",
    status: supported ? "ok" : "warn",
    summary,
    advice: supported
      ? undefined
      : `Node ${process.versions.node} is older than vdet supports (>= ${floorMajor}.${floorMinor}); install Node 24 LTS`,
    details: { node: process.versions.node, npm: npm ?? null, supportedFrom: `${floorMajor}.${floorMinor}` },
  };
}

interface ProviderState {
  provider: string;
  available: boolean;
  /** Why not: not installed, or the dynamic loader's reason. */
  reason?: string;
  /** Provider libraries absent from the binding folder. */
  missing?: string[];
}

function gpuProviderState(ep: ExecutionProvider, install: OrtInstall): ProviderState {
  const provider = ep.name;
  if (!install.backends.some((b) => b.name === provider)) {
    return {
      provider,
      available: false,
      reason: `the binding for ${install.platform}/${process.arch} has none`,
    };
  }
  const libraries = providerLibraries(ep, install.platform);
  const missing = libraries.filter((lib) => !install.exists(join(install.bindingDir, lib)));
  if (missing.length > 0) return { provider, available: false, reason: "not installed", missing };
  for (const lib of libraries) {
    const loadError = libraryLoadError(join(install.bindingDir, lib));
    if (loadError !== undefined)
      return { provider, available: false, reason: `${lib} does not load: ${loadError}` };
  }
  return { provider, available: true };
}

async function checkOnnxruntime(spec: string): Promise<DoctorCheck> {
  let install: OrtInstall;
  try {
    install = await describeOrtInstall();
  } catch (error) {
    return {
      name: "onnxruntime",
      status: "fail",
      summary: `onnxruntime-node does not load: ${errorMessage(error)}`,
      advice: "reinstall dependencies: ONNXRUNTIME_NODE_INSTALL=skip npm ci",
    };
  }
  const providers: ProviderState[] = [
    { provider: "cpu", available: true },
    gpuProviderState({ name: "cuda", deviceId: 0 }, install),
    gpuProviderState({ name: "tensorrt", deviceId: 0 }, install),
  ];
  const listed = providers
    .map((p) => (p.available ? `${p.provider} yes` : `${p.provider} no (${p.reason})`))
    .join("; ");
  const details = {
    version: ortVersion(),
    bindingDir: install.bindingDir,
    backends: install.backends,
    providers,
    requested: spec,
  };
  const summary = `onnxruntime-node ${details.version}; ${listed}`;
  let requested: ExecutionProvider;
  try {
    requested = parseExecutionProvider(spec);
    assertExecutionProviderInstalled(requested, install);
  } catch (error) {
    return { name: "onnxruntime", status: "fail", summary, advice: errorMessage(error), details };
  }
  const unusable = providers.find((p) => p.provider === requested.name && !p.available);
  if (unusable) {
    return {
      name: "onnxruntime",
      status: "fail",
      summary,
      advice: `--ep ${spec}: ${unusable.reason}. Make sure CUDA 12 and cuDNN 9 are on the loader path (LD_LIBRARY_PATH), or ${GPU_INSTALL_HINT}`,
      details,
    };
  }
  return { name: "onnxruntime", status: "ok", summary: `${summary}; --ep ${spec} usable`, details };
}

const withoutCopyright = (versionLine: string) => versionLine.split(" Copyright")[0];

async function checkFfmpeg(): Promise<DoctorCheck> {
  try {
    const ffmpeg = await describeFfmpeg();
    const fallback = bundledFallbackWarning(ffmpeg);
    return {
      name: "ffmpeg",
      status: fallback ? "warn" : "ok",
      summary:
        `${withoutCopyright(ffmpeg.ffmpegVersion)} (${ffmpeg.ffmpegSource}: ${ffmpeg.ffmpegPath}); ` +
        `${withoutCopyright(ffmpeg.ffprobeVersion)} (${ffmpeg.ffprobeSource})`,
      advice: fallback,
      details: { ...ffmpeg, oldFallback: fallback !== undefined },
    };
  } catch (error) {
    return {
      name: "ffmpeg",
      status: "fail",
      summary: "no usable ffmpeg",
      advice: errorMessage(error),
    };
  }
}

async function checkRedisServer(options: DoctorOptions): Promise<DoctorCheck> {
  const where = redactRedisUrl(options.redisUrl);
  try {
    const { serverVersion } = await checkRedis(options.redisUrl, {
      timeoutMs: options.timeoutMs,
      tlsCa: options.env.VDET_REDIS_TLS_CA_FILE
        ? readFileSync(options.env.VDET_REDIS_TLS_CA_FILE, "utf8")
        : undefined,
    });
    return {
      name: "redis",
      status: "ok",
      summary: `Redis ${serverVersion} at ${where}`,
      details: { url: where, serverVersion },
    };
  } catch (error) {
    return {
      name: "redis",
      status: options.redisConfigured ? "fail" : "warn",
      summary: `not reachable at ${where}`,
      advice: options.redisConfigured
        ? errorMessage(error)
        : `${errorMessage(error)}. Only the distributed roles need Redis; \`vdet run\` works without it`,
      details: { url: where, error: errorMessage(error) },
    };
  }
}

async function checkS3(options: DoctorOptions): Promise<DoctorCheck> {
  let endpoint: string | undefined;
  try {
    endpoint = s3ConfigFromEnv(options.env).endpoint;
  } catch (error) {
    // No region and no endpoint: S3 is simply not configured; a malformed endpoint is a real error.
    if (options.env.VDET_S3_ENDPOINT?.trim()) {
      return {
        name: "s3",
        status: "fail",
        summary: "VDET_S3_ENDPOINT is invalid",
        advice: errorMessage(error),
      };
    }
  }
  if (endpoint === undefined) {
    const region = options.env.AWS_REGION ?? options.env.AWS_DEFAULT_REGION;
    return {
      name: "s3",
      status: "skip",
      summary: region
        ? `AWS S3 in ${region} (not probed; set VDET_S3_ENDPOINT for MinIO or another S3 server)`
        : "not configured (VDET_S3_ENDPOINT unset; s3:// inputs and outputs need it or AWS_REGION)",
    };
  }
  try {
    const response = await fetch(endpoint, {
      method: "HEAD",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    return {
      name: "s3",
      status: "ok",
      summary: `${endpoint} answers (HTTP ${response.status})`,
      details: { endpoint, httpStatus: response.status },
    };
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    return {
      name: "s3",
      status: "fail",
      summary: `${endpoint} is not reachable`,
      advice: `${errorMessage(cause ?? error)}; start the S3 server or fix VDET_S3_ENDPOINT`,
      details: { endpoint, error: errorMessage(cause ?? error) },
    };
  }
}

function checkModelCache(env: NodeJS.ProcessEnv): DoctorCheck {
  const cache = new ModelCache(modelCacheDir(env));
  const { models, damaged } = cache.list();
  const list = models.map((m) => `${m.name} (${(m.bytesOnDisk / 2 ** 20).toFixed(1)} MiB)`).join(", ");
  const status: CheckStatus = damaged.length > 0 || models.length === 0 ? "warn" : "ok";
  const advice =
    damaged.length > 0
      ? `damaged entries: ${damaged.map((d) => `${d.name} (${d.reason})`).join("; ")}; \`vdet models remove NAME\` and pull again`
      : models.length === 0
        ? "no models cached: `vdet models pull d0` fetches the published COCO weights (runs without them use seeded random weights)"
        : undefined;
  return {
    name: "models",
    status,
    summary: `${cache.dir}: ${models.length > 0 ? list : "empty"}`,
    advice,
    details: {
      dir: cache.dir,
      home: env.VDET_HOME ?? null,
      models: models.map((m) => ({ name: m.name, phi: m.manifest.phi, bytesOnDisk: m.bytesOnDisk })),
      damaged,
    },
  };
}

/** CPU model and the instruction sets onnxruntime's kernels pick up (Linux: /proc/cpuinfo). */
export function cpuFeatures(cpuinfo: string | undefined): Record<string, boolean> | undefined {
  if (cpuinfo === undefined) return undefined;
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "").split(/\s+/));
  return {
    avx2: flags.has("avx2"),
    avx512: flags.has("avx512f"),
    vnni: flags.has("avx512_vnni") || flags.has("avx_vnni"),
    amx: flags.has("amx_tile") && (flags.has("amx_int8") || flags.has("amx_bf16")),
  };
}

function checkCpu(): DoctorCheck {
  let cpuinfo: string | undefined;
  try {
    cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    cpuinfo = undefined; // not Linux: no flags to read
  }
  const features = cpuFeatures(cpuinfo);
  const threads = availableParallelism();
  const model = cpus()[0]?.model ?? "unknown CPU";
  const listed = features
    ? Object.entries(features)
        .map(([name, has]) => `${name === "avx512" ? "AVX-512" : name.toUpperCase()} ${has ? "yes" : "no"}`)
        .join(", ")
    : "instruction sets unknown (no /proc/cpuinfo)";
  return {
    name: "cpu",
    status: "ok",
    summary: `${model}; ${threads} threads available; ${listed}`,
    details: { model, threads, logicalCpus: cpus().length, features: features ?? null },
  };
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorCheck[]> {
  return Promise.all([
    checkNode(options.env),
    checkOnnxruntime(options.ep),
    checkFfmpeg(),
    checkRedisServer(options),
    checkS3(options),
    checkModelCache(options.env),
    checkCpu(),
  ]);
}

export function formatDoctor(checks: DoctorCheck[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map((c) => {
    const head = `${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.summary}`;
    return c.advice && (c.status === "warn" || c.status === "fail")
      ? `${head}\n${" ".repeat(width + 8)}→ ${c.advice}`
      : head;
  });
  const failed = checks.filter((c) => c.status === "fail").length;
  lines.push(failed > 0 ? `${failed} check(s) failed` : "no check failed");
  return `${lines.join("\n")}\n`;
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description(
      "check this machine before the first job: Node/npm, onnxruntime and its GPU providers, ffmpeg, Redis, S3, models, CPU",
    )
    .option("--ep <provider>", "execution provider you will run with (default: VDET_EP or cpu)")
    .option("--redis-url <url>", "Redis to check (default: VDET_REDIS_URL or redis://127.0.0.1:6379)")
    .option("--timeout <seconds>", "how long each network check may take", positiveNumber("--timeout"), 3)
    .option("--json", "print the checks as JSON")
    .action(async (opts: { ep?: string; redisUrl?: string; timeout: number; json?: boolean }) => {
      const env = process.env;
      const configuredRedis = opts.redisUrl ?? env.VDET_REDIS_URL;
      const checks = await runDoctor({
        ep: opts.ep ?? env.VDET_EP ?? "cpu",
        redisUrl: configuredRedis ?? COMMON_DEFAULTS.redisUrl,
        redisConfigured: configuredRedis !== undefined,
        timeoutMs: Math.round(opts.timeout * 1000),
        env,
      });
      const ok = checks.every((c) => c.status !== "fail");
      process.stdout.write(opts.json ? `${JSON.stringify({ ok, checks }, null, 2)}\n` : formatDoctor(checks));
      if (!ok) process.exitCode = 1;
    });
}
