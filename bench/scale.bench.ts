// `npm run bench -- scale [--workers 1,2,4,8,16,32] [--seconds 20] [--latency-ms 1000] [--jobs 8]
//   [--redis single|cluster] [--partitions 3]`
// Scale-out evidence: N `vdet worker` processes with a simulated accelerator (VDET_SIMULATE_PROFILE: every batch
// sleeps for the profile's median, so the CPU is not the limit) against the real Redis; the producer (ffmpeg
// decode) and the aggregator (tracker + tracks.jsonl) run in this bench process. Each step gets its own key
// prefix and enough jobs that the producer is not one serial decoder. Throughput counts only the steady-state
// window (after every worker is ready and frames flow), as frames written by the aggregator. Redis commands and
// bytes per frame are INFO deltas over the same window; the Redis server is shared with whatever else runs here,
// so those deltas are an upper bound. `--redis cluster` runs the same steps against a local three-master Redis
// Cluster (started and stopped here, bench/support/redis-shards.ts) with `--partitions` queue partitions, and adds
// per row the per-shard deltas of INFO commandstats/stats/cpu (`shards`), to show the commands spread over the
// shards. Last stdout line: one JSON object.

import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { stopRoles } from "@vdet/cli/testing";
import { RedisJobStore } from "@vdet/jobs";
import { openJobOutput, startAggregator, startProducer } from "@vdet/pipeline";
import { parseJobSpec } from "@vdet/protocol";
import { createRedisTransport, deleteKeysWithPrefix } from "@vdet/transport";
import { makeTestClip } from "@vdet/video/testing";
import { REDIS_URL, startWorkers } from "../test/support/redis-pipeline.ts";
import { shardDeltas, startBenchRedis, totals } from "./support/redis-shards.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
};
const workerCounts = arg("workers", "1,2,4,8,16,32")
  .split(",")
  .map((s) => Number(s.trim()));
if (workerCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("--workers: a list like 1,2,4");
const windowS = Number(arg("seconds", "20"));
const latencyMs = Number(arg("latency-ms", "1000"));
const jobsPerStep = Number(arg("jobs", "8"));
const redisMode = arg("redis", "single");
if (redisMode !== "single" && redisMode !== "cluster") throw new Error("--redis: single or cluster");
// Assumed D0 speed of one GPU worker for the extrapolation: a batch of 8 512² frames in 20 ms (400 frames/s).
const gpuBatch = 8;
const gpuBatchMs = Number(arg("gpu-batch-ms", "20"));
if (!(windowS > 0) || !(latencyMs > 0) || !(jobsPerStep >= 1))
  throw new Error("bad --seconds/--latency-ms/--jobs");

const work = join(tmpdir(), "vdet-bench-scale");
mkdirSync(work, { recursive: true });
const log = (m: string) => process.stderr.write(`${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r3 = (v: number) => Math.round(v * 1000) / 1000;
const FPS = 10;
const clip = join(work, "clip-160x120-60s.mp4");
if (!existsSync(clip)) await makeTestClip(clip, 60, FPS, 160, 120);

// One frame per batch (max batch 1): per-frame latency = latencyMs. D0 only, the smallest frame side (512).
const profilePath = join(work, "profile.json");
writeFileSync(
  profilePath,
  JSON.stringify({
    version: 1,
    key: "scale-bench-simulated",
    measuredAt: new Date().toISOString(),
    rows: [1, 2, 4].map((batch) => {
      const ms = latencyMs * batch;
      return { phi: 0, batch, p50Ms: ms, p90Ms: ms, samplesMs: [ms] };
    }),
  }),
);

const benchRedis = await startBenchRedis(redisMode, REDIS_URL, Number(arg("partitions", "3")));
const redis = benchRedis.client;

/** Commands, bytes and CPU summed over the shards (one on the shared Redis), with each shard's sample. */
async function redisStats() {
  const shards = await benchRedis.sample();
  return { ...totals(shards), shards };
}

const TICK = 100; // Linux USER_HZ
function procStat(pid: number) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    return { cpuS: (Number(f[11]) + Number(f[12])) / TICK, rssMb: rss / 1024 };
  } catch {
    return { cpuS: 0, rssMb: 0 };
  }
}

async function step(n: number) {
  const prefix = `vdet-scale-${randomUUID().slice(0, 8)}`;
  const transport = createRedisTransport({ url: benchRedis.url, prefix, partitions: benchRedis.partitions });
  const jobStore = new RedisJobStore(redis, transport.keys);
  const workers = startWorkers(n, prefix, {
    args: ["--max-batch", "1", "--preload", "0"],
    env: {
      VDET_LOG_LEVEL: "info",
      VDET_SIMULATE_PROFILE: profilePath,
      VDET_REDIS_URL: benchRedis.url,
      VDET_QUEUE_PARTITIONS: String(benchRedis.partitions),
    },
  });
  const spawnedAt = performance.now();
  await Promise.all(workers.map((w) => w.waitFor("worker ready", 600_000)));
  const startupS = (performance.now() - spawnedAt) / 1000;
  // Idle worker: CPU over 2 s with nothing to do, and RSS.
  // The same idle window gives Redis's background command rate (idle polling here and other clients of this
  // shared server), subtracted from the window's deltas for the net per-frame figure.
  const idle0 = workers.map((w) => procStat(w.child.pid!));
  const i0 = await redisStats();
  await sleep(2000);
  const i1 = await redisStats();
  const idle1 = workers.map((w) => procStat(w.child.pid!));
  const idleCallsPerS = (i1.calls - i0.calls) / 2;
  const idleCpuPct = (100 * idle1.reduce((s, p, i) => s + p.cpuS - idle0[i].cpuS, 0)) / n / 2;
  const idleRssMb = idle1.reduce((s, p) => s + p.rssMb, 0) / n;

  const producer = startProducer({
    transport,
    jobStore,
    framesPerChunk: 1,
    concurrency: jobsPerStep,
    maxFramesInFlight: Math.max(8, Math.ceil((4 * n) / jobsPerStep)),
  });
  const aggregator = startAggregator({ transport, jobStore, openOutput: (_id, l) => openJobOutput(l) });
  const outRoot = join(work, prefix);
  const ids: string[] = [];
  for (let j = 0; j < jobsPerStep; j++) {
    const { job } = await jobStore.create(
      parseJobSpec({
        input: clip,
        output: join(outRoot, `job${j}`),
        sampling: { fps: FPS },
        phi: { min: 0, max: 0 },
      }),
    );
    await transport.jobs.add({ jobId: job.id }, { id: job.id });
    ids.push(job.id);
  }
  const written = async () => {
    let sum = 0;
    for (const id of ids) sum += (await jobStore.get(id))?.progress.written ?? 0;
    return sum;
  };
  // Warm-up: until frames flow, then long enough for every worker to have taken a few frames.
  while ((await written()) === 0) await sleep(200);
  await sleep(Math.max(3000, 3 * latencyMs));

  const w0 = await written();
  const s0 = await redisStats();
  const p0 = workers.map((w) => procStat(w.child.pid!));
  const me0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(windowS * 1000);
  const w1 = await written();
  const s1 = await redisStats();
  const p1 = workers.map((w) => procStat(w.child.pid!));
  const me1 = process.cpuUsage(me0);
  const elapsed = (performance.now() - t0) / 1000;
  const frames = w1 - w0;
  const row = {
    workers: n,
    frames,
    seconds: r3(elapsed),
    fps: r3(frames / elapsed),
    redisCallsPerFrame: frames ? r3((s1.calls - s0.calls) / frames) : null,
    redisCallsPerFrameNet: frames ? r3((s1.calls - s0.calls - idleCallsPerS * elapsed) / frames) : null,
    redisIdleCallsPerS: r3(idleCallsPerS),
    redisBytesPerFrame: frames ? Math.round((s1.bytes - s0.bytes) / frames) : null,
    redisCpuPct: r3((100 * (s1.cpuS - s0.cpuS)) / elapsed),
    benchProcessCpuPct: r3((me1.user + me1.system) / 1e4 / elapsed),
    workerCpuPct: r3((100 * p1.reduce((s, p, i) => s + p.cpuS - p0[i].cpuS, 0)) / n / elapsed),
    workerRssMb: r3(p1.reduce((s, p) => s + p.rssMb, 0) / n),
    idleWorkerCpuPct: r3(idleCpuPct),
    idleWorkerRssMb: r3(idleRssMb),
    startupS: r3(startupS),
    load1: r3(loadavg()[0]),
    ...(benchRedis.mode === "cluster" ? { shards: shardDeltas(s0.shards, s1.shards, elapsed) } : {}),
  };
  log(JSON.stringify(row));

  // Tear down: cancel jobs so the producer stops, stop workers, close stages (bounded: frames still queued).
  for (const id of ids) await jobStore.requestCancel(id);
  await Promise.race([stopRoles(workers), sleep(15000)]);
  await stopRoles(workers, "SIGKILL");
  await Promise.race([Promise.all([producer.close(), aggregator.close()]), sleep(10000)]);
  await transport.close();
  await deleteKeysWithPrefix(redis, prefix);
  rmSync(outRoot, { recursive: true, force: true });
  return row;
}

// Redis ceilings on this machine: small-command ops/s (pipelined 1 and 16) and 786 KB SET/GET throughput.
function redisBenchmark() {
  const run = (args: string[]) =>
    execFileSync("redis-benchmark", ["-h", "127.0.0.1", "-p", "6379", "-q", ...args], { encoding: "utf8" });
  const rate = (text: string, name: string) =>
    Number(new RegExp(`${name}: ([\\d.]+) requests per second`).exec(text)?.[1] ?? Number.NaN);
  try {
    const small = run(["-t", "set,get", "-n", "50000", "-c", "32"]);
    const big = run(["-t", "set,get", "-n", "300", "-c", "8", "-d", String(512 * 512 * 3)]);
    const bigGet = rate(big, "GET");
    const bigSet = rate(big, "SET");
    return {
      smallOpsPerS: Math.round((rate(small, "SET") + rate(small, "GET")) / 2),
      frameSetPerS: bigSet,
      frameGetPerS: bigGet,
      frameMBPerS: r3(((bigSet + bigGet) / 2) * 0.786432),
    };
  } catch (err) {
    log(`redis-benchmark failed: ${(err as Error).message}`);
    return null;
  }
}

log(`load before: ${loadavg().map(r3).join(" ")}`);
const rows: (Awaited<ReturnType<typeof step>> & { efficiency?: number })[] = [];
for (const n of workerCounts) rows.push(await step(n));
const ceiling = redisBenchmark();
await benchRedis.close();

const base = rows.find((r) => r.workers === 1)?.fps ?? rows[0].fps / rows[0].workers;
for (const r of rows) Object.assign(r, { efficiency: r3(r.fps / (r.workers * base)) });
const last = rows[rows.length - 1];
// Extrapolation: one GPU worker at D0 runs gpuBatch frames per gpuBatchMs; per frame it costs the measured Redis
// commands and bytes (frames move in and detections out), so one Redis serves ceiling / (per-frame × fps) workers.
const gpuFps = (gpuBatch * 1000) / gpuBatchMs;
const callsPerFrame = last.redisCallsPerFrameNet ?? Number.NaN;
const bytesPerFrame = last.redisBytesPerFrame ?? Number.NaN;
const workersByOps = ceiling ? ceiling.smallOpsPerS / (callsPerFrame * gpuFps) : null;
const workersByBytes = ceiling ? (ceiling.frameMBPerS * 1e6) / (bytesPerFrame * gpuFps) : null;
console.log(
  JSON.stringify({
    bench: "scale",
    redis: benchRedis.mode === "cluster" ? { masters: 3, partitions: benchRedis.partitions } : "single",
    producerAggregator: "in the bench process",
    simulatedLatencyMsPerFrame: latencyMs,
    maxBatch: 1,
    phi: 0,
    frameBytes: 512 * 512 * 3,
    clip: `testsrc2 160x120 ${FPS} fps, 60 s, ${jobsPerStep} jobs per step`,
    windowSeconds: windowS,
    efficiency32: rows.find((r) => r.workers === 32)?.efficiency ?? null,
    rows,
    redisCeiling: ceiling,
    gpuAssumption: { phi: 0, batch: gpuBatch, batchMs: gpuBatchMs, framesPerSecond: gpuFps },
    workersPerRedis: {
      byOps: workersByOps === null ? null : r3(workersByOps),
      byBytes: workersByBytes === null ? null : r3(workersByBytes),
    },
  }),
);
