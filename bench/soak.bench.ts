// Soak: mixed latency and archive jobs through the real role processes (producer, N workers, aggregator over
// Redis), with a worker SIGKILLed and restarted every --kill-every seconds. The inputs are files, so the unit of
// work is a segment that the worker decodes itself: each kill waits (up to --mid-segment-wait seconds) until a
// worker is decoding one (an ffmpeg child process of the worker) and kills that one, so that it dies mid-segment; the segment is
// redelivered, and the frames it had not reported come from the next worker while the aggregator drops nothing
// twice. `killsMidSegment` counts those kills. Workers simulate the models from a
// latency profile (VDET_SIMULATE_PROFILE), so the host's CPU is not what is measured. At the end every job's
// tracks.jsonl is read back: each sampled frame must appear exactly once (duplicated and lost must be 0).
//
//   npm run bench -- soak -- --minutes 10 [--workers 3] [--kill-every 20] [--jobs-in-flight 4]
//     [--mid-segment-wait 5]
//
// Last stdout line: one JSON object with accepted, written, failed (and reasons), duplicated, lost, jobs, peak
// RSS per role process, and Redis INFO memory at start, middle and end.

import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type RoleProcess, startRole } from "@vdet/cli/testing";
import { RedisJobStore } from "@vdet/jobs";
import { isTerminal, type JobSpecInput, parseJobSpec } from "@vdet/protocol";
import { createRedisTransport, deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { makeTestClip } from "@vdet/video/testing";
import { Redis } from "ioredis";
import { REDIS_URL } from "../test/support/redis-pipeline.ts";
import { simulatedProfile } from "../test/support/simulated-profile.ts";

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    minutes: { type: "string", default: "10" },
    workers: { type: "string", default: "3" },
    "kill-every": { type: "string", default: "20" },
    "jobs-in-flight": { type: "string", default: "4" },
    "mid-segment-wait": { type: "string", default: "5" },
  },
});
const positive = (name: string, value: string): number => {
  const n = Number(value);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${value}`);
  return n;
};
const minutes = positive("minutes", args.minutes);
const workerCount = Math.round(positive("workers", args.workers));
const killEveryMs = positive("kill-every", args["kill-every"]) * 1000;
const inFlight = Math.round(positive("jobs-in-flight", args["jobs-in-flight"]));
const midSegmentWaitMs = positive("mid-segment-wait", args["mid-segment-wait"]) * 1000;

const prefix = `vdet-soak-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), "vdet-soak-"));
const log = (message: string) => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}`);

// A fast simulated accelerator: D0 8 ms … D2 32 ms a frame; batches of 2 and 4 cost 1.5× and 2.5×.
const profile = simulatedProfile("soak-simulated", 8);
const profilePath = join(dir, "profile.json");
writeFileSync(profilePath, JSON.stringify(profile));

const roleEnv = {
  VDET_REDIS_URL: REDIS_URL,
  VDET_PREFIX: prefix,
  VDET_LOG_LEVEL: "warn",
  VDET_SIMULATE_PROFILE: profilePath,
  VDET_ALLOW_FILE_INPUTS: "true",
  VDET_ALLOW_DIRECTORY_OUTPUTS: "true",
};

interface SoakRole {
  name: string;
  proc: RoleProcess;
  peakRssKiB: number;
  starts: number;
}
const roles = new Map<string, SoakRole>();
let stopping = false;

function startSoakRole(name: string, role: string, extra: string[] = []): SoakRole {
  const previous = roles.get(name);
  const proc = startRole(role, { args: extra, env: roleEnv, echo: `[${name}] ` });
  const entry: SoakRole = {
    name,
    proc,
    peakRssKiB: previous?.peakRssKiB ?? 0,
    starts: (previous?.starts ?? 0) + 1,
  };
  proc.child.once("exit", (code, signal) => {
    if (!stopping && signal !== "SIGKILL")
      log(`${name} exited unexpectedly (code ${code}, signal ${signal})`);
  });
  roles.set(name, entry);
  return entry;
}

/** Peak RSS (VmHWM) of every role process and its children, e.g. a producer's ffmpeg, kept across restarts. */
function sampleRss(): void {
  for (const role of roles.values()) {
    const pid = role.proc.child.pid;
    if (pid === undefined || role.proc.child.exitCode !== null) continue;
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (hwm) role.peakRssKiB = Math.max(role.peakRssKiB, Number(hwm[1]));
    } catch {
      // exited between the check and the read
    }
  }
}

/** Whether `pid` has an ffmpeg among its descendants: a worker with one is decoding a segment. */
function decodingSegment(pid: number): boolean {
  const children = new Map<number, { ppid: number; comm: string }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …"; comm may hold spaces, so split after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      children.set(Number(entry), { ppid, comm });
    } catch {
      // exited while listed
    }
  }
  const isDescendant = (p: number): boolean => {
    for (let at = children.get(p), depth = 0; at && depth < 8; at = children.get(at.ppid), depth++)
      if (at.ppid === pid) return true;
    return false;
  };
  for (const [p, info] of children) if (info.comm === "ffmpeg" && isDescendant(p)) return true;
  return false;
}

/**
 * The worker to kill: the first (from `preferred` on, round-robin) found decoding a segment within
 * --mid-segment-wait, else `preferred`; and whether it was mid-segment.
 */
async function pickVictim(preferred: number): Promise<{ index: number; midSegment: boolean }> {
  const until = Date.now() + midSegmentWaitMs;
  while (Date.now() < until) {
    for (let k = 0; k < workerCount; k++) {
      const index = (preferred + k) % workerCount;
      const child = roles.get(`worker-${index}`)?.proc.child;
      if (child?.pid !== undefined && child.exitCode === null && decodingSegment(child.pid))
        return { index, midSegment: true };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { index: preferred, midSegment: false };
}

const redis = new Redis(redisOptionsFromUrl(REDIS_URL));
async function redisMemory(): Promise<Record<string, number>> {
  const info = await redis.info("memory");
  const field = (key: string) => Number(new RegExp(`^${key}:(\\d+)`, "m").exec(info)?.[1] ?? Number.NaN);
  const keys = await redis.eval(
    "return #redis.call('keys', ARGV[1])", // bench only: our prefix's key count
    0,
    `${prefix}*`,
  );
  return {
    usedMemoryBytes: field("used_memory"),
    usedMemoryPeakBytes: field("used_memory_peak"),
    usedMemoryRssBytes: field("used_memory_rss"),
    prefixKeys: Number(keys),
  };
}

const transport = createRedisTransport({ url: REDIS_URL, prefix });
const jobStore = new RedisJobStore(redis, prefix);

interface Submitted {
  id: string;
  kind: string;
  out: string;
}

async function main() {
  log(
    `prefix ${prefix}, ${workerCount} workers, ${minutes} min, a worker killed every ${killEveryMs / 1000} s`,
  );
  const clips = [
    await makeTestClip(join(dir, "a.mp4"), 6, 10),
    await makeTestClip(join(dir, "b.mp4"), 10, 15, 384, 288),
    await makeTestClip(join(dir, "c.mp4"), 4, 25, 256, 192),
  ];
  const memory: Record<string, Record<string, number>> = { start: await redisMemory() };
  startSoakRole("producer", "producer", ["--frames-per-chunk", "4"]);
  startSoakRole("aggregator", "aggregator");
  for (let i = 0; i < workerCount; i++)
    startSoakRole(`worker-${i}`, "worker", ["--max-batch", "4", "--preload", "0,1,2"]);

  const specs: { kind: string; spec: Omit<JobSpecInput, "input" | "output"> }[] = [
    { kind: "latency", spec: { sampling: { fps: 5 }, latencyBudgetMs: 2000, phi: { min: 0, max: 2 } } },
    { kind: "latency-tight", spec: { sampling: { fps: 10 }, latencyBudgetMs: 150, phi: { min: 0, max: 2 } } },
    { kind: "archive", spec: { mode: "archive", sampling: { fps: 10 }, phi: { min: 1, max: 1 } } },
    {
      kind: "archive-every-frame",
      spec: { mode: "archive", sampling: { everyNth: 1 }, phi: { min: 0, max: 0 } },
    },
  ];
  const submitted: Submitted[] = [];
  const running = new Set<string>();
  const states = new Map<string, string>();
  const startedAt = Date.now();
  const endAt = startedAt + minutes * 60_000;
  let kills = 0;
  let killsMidSegment = 0;
  let nextKill = startedAt + killEveryMs;
  let middleTaken = false;

  const submit = async () => {
    const n = submitted.length;
    const { kind, spec } = specs[n % specs.length]!;
    const out = join(dir, "out", `${n}`);
    const { job } = await jobStore.create(
      parseJobSpec({ input: clips[n % clips.length]!, output: out, ...spec } as JobSpecInput),
    );
    await transport.jobs.add({ jobId: job.id }, { id: job.id });
    submitted.push({ id: job.id, kind, out });
    running.add(job.id);
  };
  const poll = async () => {
    for (const id of running) {
      const state = (await jobStore.get(id))?.state ?? "missing";
      if (state === "missing" || isTerminal(state)) {
        running.delete(id);
        states.set(id, state);
      }
    }
  };

  while (Date.now() < endAt) {
    await poll();
    while (running.size < inFlight) await submit();
    if (Date.now() >= nextKill) {
      sampleRss();
      const picked = await pickVictim(kills % workerCount);
      const victim = roles.get(`worker-${picked.index}`)!;
      if (picked.midSegment) killsMidSegment++;
      victim.proc.child.kill("SIGKILL");
      await victim.proc.exited;
      startSoakRole(victim.name, "worker", ["--max-batch", "4", "--preload", "0,1,2"]);
      kills++;
      nextKill += killEveryMs;
      log(
        `killed and restarted ${victim.name} (${kills} kills, ${killsMidSegment} mid-segment, ${submitted.length} jobs submitted)`,
      );
    }
    if (!middleTaken && Date.now() >= startedAt + (endAt - startedAt) / 2) {
      memory.middle = await redisMemory();
      middleTaken = true;
    }
    sampleRss();
    await new Promise((r) => setTimeout(r, 500));
  }
  // Drain: no new jobs or kills; wait for what is in flight.
  log(`time up: draining ${running.size} job(s)`);
  const drainUntil = Date.now() + 180_000;
  while (running.size > 0 && Date.now() < drainUntil) {
    await poll();
    sampleRss();
    await new Promise((r) => setTimeout(r, 500));
  }
  memory.end = await redisMemory();

  // Count every frame from the outputs themselves, not from what the roles say they did.
  let accepted = 0;
  let written = 0;
  let failed = 0;
  let duplicated = 0;
  let lost = 0;
  const failedReasons: Record<string, number> = {};
  const jobStates: Record<string, number> = {};
  const jobErrors: string[] = [];
  const phiByKind: Record<string, Record<string, number>> = {};
  for (const job of submitted) {
    const state = states.get(job.id) ?? "unfinished";
    jobStates[state] = (jobStates[state] ?? 0) + 1;
    const stored = await jobStore.get(job.id);
    for (const e of stored?.errors ?? []) jobErrors.push(`${job.id}: ${JSON.stringify(e)}`.slice(0, 200));
    const manifestPath = join(job.out, "manifest.json");
    if (!existsSync(manifestPath)) {
      // Unfinished: every frame the producer accepted but no output holds counts as lost.
      const sampled = stored?.progress.total ?? stored?.progress.decoded ?? 0;
      accepted += sampled;
      lost += sampled;
      continue;
    }
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    const sampled: number = manifest.frames.sampled;
    accepted += sampled;
    const seen = new Map<number, number>();
    for (const line of readFileSync(join(job.out, "tracks.jsonl"), "utf8").split("\n")) {
      if (!line) continue;
      const frame = JSON.parse(line);
      seen.set(frame.frame, (seen.get(frame.frame) ?? 0) + 1);
      if (frame.error) {
        failed++;
        failedReasons[frame.error] = (failedReasons[frame.error] ?? 0) + 1;
      } else {
        written++;
        phiByKind[job.kind] ??= {};
        const phis = phiByKind[job.kind]!;
        phis[frame.phi] = (phis[frame.phi] ?? 0) + 1;
      }
    }
    for (const count of seen.values()) duplicated += count - 1;
    for (let i = 0; i < sampled; i++) if (!seen.has(i)) lost++;
  }
  sampleRss();
  const peakRssMiB = Object.fromEntries(
    [...roles.values()].map((r) => [r.name, Math.round((r.peakRssKiB / 1024) * 10) / 10]),
  );
  const result = {
    bench: "soak",
    minutes,
    elapsedS: Math.round((Date.now() - startedAt) / 1000),
    workers: workerCount,
    workerKills: kills,
    killsMidSegment,
    jobs: submitted.length,
    jobStates,
    accepted,
    written,
    failed,
    failedReasons,
    duplicated,
    lost,
    framesPerSecond: Math.round((written / ((Date.now() - startedAt) / 1000)) * 10) / 10,
    phiByKind,
    jobErrors: jobErrors.slice(0, 10),
    peakRssMiB,
    redisMemory: memory,
  };
  return result;
}

async function shutdown() {
  stopping = true;
  for (const role of roles.values()) role.proc.child.kill("SIGTERM");
  await Promise.race([
    Promise.all([...roles.values()].map((r) => r.proc.exited)),
    new Promise((r) => setTimeout(r, 15_000)),
  ]);
  for (const role of roles.values()) if (role.proc.child.exitCode === null) role.proc.child.kill("SIGKILL");
  await transport.close();
  await deleteKeysWithPrefix(redis, prefix);
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
}

let result: unknown;
try {
  result = await main();
} finally {
  await shutdown();
}
console.log(JSON.stringify(result));
