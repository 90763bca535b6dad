// Profiles are cached on disk, keyed by everything that changes the timings: the models' hashes, the hardware
// (CPU model and count, GPU name), the execution provider and the thread count. A worker restarted on the same
// machine skips the measurement; any change makes a new key.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, homedir, loadavg } from "node:os";
import { join } from "node:path";
import { codedError, defineErrorCodes } from "@vdet/errors";
import { type ProfileTable, profileTableSchema } from "./latency-profile.ts";

export interface ProfileKeyParts {
  /** φ → hash of the model bytes (or of what determines them). */
  modelHashes: Record<string, string>;
  hardware: string;
  executionProvider: string;
  threads: number;
  /** false: intra-op spinning off (timings differ); absent or true: onnxruntime's default, on. */
  intraOpSpinning?: boolean;
  batchSizes: number[];
}

export function profileKey(parts: ProfileKeyParts): string {
  const canonical = JSON.stringify({
    models: Object.fromEntries(Object.entries(parts.modelHashes).sort(([a], [b]) => a.localeCompare(b))),
    hardware: parts.hardware,
    ep: parts.executionProvider,
    threads: parts.threads,
    // Only when off, so the keys of profiles taken with the default stay as they were.
    ...(parts.intraOpSpinning === false ? { spinning: false } : {}),
    batches: [...parts.batchSizes].sort((a, b) => a - b),
  });
  const digest = createHash("sha256").update(canonical).digest("hex").slice(0, 16);
  return `${parts.executionProvider}-t${parts.threads}${parts.intraOpSpinning === false ? "-nospin" : ""}-${digest}`;
}

/** CPU model and count, plus the GPU name for GPU execution providers (from nvidia-smi when present). */
export function describeHardware(executionProvider: string): string {
  const list = cpus();
  const cpu = `${list[0]?.model.trim() ?? "unknown CPU"} ×${list.length}`;
  if (executionProvider === "cpu") return cpu;
  let gpu = "unknown GPU";
  try {
    gpu = execFileSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], {
      encoding: "utf8",
      timeout: 5000,
      stdio: ["ignore", "pipe", "ignore"],
    })
      .trim()
      .split("\n")[0];
  } catch (error) {
    // No nvidia-smi: the key still separates GPU from CPU runs; the GPU name stays unknown.
    gpu = `unknown GPU (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`.slice(
      0,
      80,
    );
  }
  return `${cpu} + ${gpu}`;
}

/** The machine's load now, recorded with a profile measured now. */
export function currentLoad(): NonNullable<ProfileTable["load"]> {
  return { loadAverage1m: Math.round(loadavg()[0] * 100) / 100, cpus: availableParallelism() };
}

/** Why a cached profile must be measured again (too old), or undefined when it can be used. */
export function profileStaleReason(
  table: ProfileTable,
  options: { maxAgeMs: number; now?: number },
): string | undefined {
  const measured = Date.parse(table.measuredAt);
  if (!Number.isFinite(measured)) return "its measurement time is unreadable";
  const ageMs = (options.now ?? Date.now()) - measured;
  if (ageMs > options.maxAgeMs)
    return `measured ${(ageMs / 3_600_000).toFixed(0)} h ago, over the ${(options.maxAgeMs / 3_600_000).toFixed(0)} h limit`;
  return undefined;
}

/** `$VDET_HOME/profiles`, else `$XDG_CACHE_HOME/vdet/profiles`, else `~/.cache/vdet/profiles`. */
export function profileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VDET_HOME) return join(env.VDET_HOME, "profiles");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "vdet", "profiles");
}

/** The cached profile for `key`, or undefined when there is none (a corrupt file counts as none). */
export async function loadProfile(dir: string, key: string): Promise<ProfileTable | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, `${key}.json`), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // a half-written or hand-edited file: measure again and overwrite it
  }
  const result = profileTableSchema.safeParse(parsed);
  return result.success && result.data.key === key ? result.data : undefined;
}

export async function saveProfile(dir: string, table: ProfileTable): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${table.key}.json`);
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(table, null, 2)}\n`);
  await rename(temp, path);
  return path;
}

export const SCHEDULER_ERRORS = defineErrorCodes("scheduler", {
  PROFILE_FILE_INVALID: {
    retryable: false,
    description: "a latency profile file cannot be read or is not one",
  },
});

/** A latency profile file that cannot be read, or is not a profile. */
export class ProfileFileError extends codedError(SCHEDULER_ERRORS.PROFILE_FILE_INVALID) {}

/** A profile JSON a user gives (`vdet worker --profile-only --json`); errors name the file and what is wrong. */
export async function readProfileFile(path: string): Promise<ProfileTable> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ProfileFileError(`cannot read the profile ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ProfileFileError(`${path} is not a latency profile: ${(error as Error).message}`);
  }
  const result = profileTableSchema.safeParse(parsed);
  if (!result.success) {
    throw new ProfileFileError(
      `${path} is not a latency profile (make one with \`vdet worker --profile-only --json\`): ${result.error.issues
        .map((i) => `${i.path.join(".")}: ${i.message}`)
        .join("; ")}`,
    );
  }
  return result.data;
}
