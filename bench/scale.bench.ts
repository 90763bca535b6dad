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
//
// Two paths per worker count. `rows[i]` (the fields above) is the frame path: the producer decodes and sends raw
// letterboxed pixels through Redis (what live inputs' low-latency path does). `rows[i].segments` is the segment
// path (files, s3://): the producer plans segments, each worker decodes its own and sends packed detections
// only; measured over whole jobs (submit → every job completed) with the simulated model at the GPU assumption
// (8 frames per --gpu-batch-ms), `--segment-frames` sampled frames per segment. Command counts are
// `INFO commandstats` sums: every command, those a Lua script runs included, plus the scripts themselves; the
// projection uses that sum. `--paths frames,segments` picks the paths; `live` adds the live inputs' two paths
// (recorded segments, low-latency JPEG frames; section "Live paths" below) as `livePaths` in the JSON.
// `--live-store redis,s3` picks where the recorded segments wait (default both): the Redis frame store, or the S3
// segment store (VDET_LIVE_SEGMENT_STORE) on a local s3rver, Redis then carrying only descriptors.

import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { stopRoles } from "@vdet/cli/testing";
import { LIVE_DEFAULTS } from "@vdet/config";
import { encodeJpeg } from "@vdet/image";
import { RedisJobStore } from "@vdet/jobs";
import { openJobOutput, startAggregator, startProducer } from "@vdet/pipeline";
import { PACKED_DETECTION_BYTES, parseJobSpec } from "@vdet/protocol";
import { S3SegmentStore } from "@vdet/storage";
import { startTestS3, type TestS3 } from "@vdet/storage/testing";
import { createRedisTransport, deleteKeysWithPrefix, redisOptionsFromUrl } from "@vdet/transport";
import { decodeFrames } from "@vdet/video";
import { makeLavfiClip, makeTestClip } from "@vdet/video/testing";
import { Redis } from "ioredis";
import { REDIS_URL, startWorkers } from "../test/support/redis-pipeline.ts";
import { s3rverEnv } from "../test/support/roles.ts";
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
const paths = arg("paths", "frames,segments").split(",");
// Unset: the producer's defaults (archive jobs: PRODUCER_DEFAULTS.archiveSegmentFrames/archiveSegmentSeconds).
const segmentFramesArg = arg("segment-frames", "");
const segmentFrames = segmentFramesArg ? Number(segmentFramesArg) : undefined;
const segmentJobs = Number(arg("segment-jobs", "2"));
// Archive videos are long: per-job costs (the jobs and events messages, the job record) are spread over 6000
// sampled frames a job by default, as a 4-minute video at 25 fps sampled whole.
const segmentClipSeconds = Number(arg("segment-clip-seconds", "240"));
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

/** One server's INFO deltas source (the segment path's own redis-server). */
async function serverStats(server: Redis) {
  const cmd = await server.info("commandstats");
  let calls = 0;
  const byCommand: Record<string, number> = {};
  for (const m of cmd.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls += Number(m[2]);
    byCommand[m[1]] = Number(m[2]);
  }
  const stats = await server.info("stats");
  const num = (text: string, key: string) =>
    Number(new RegExp(`^${key}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  const cpu = await server.info("cpu");
  return {
    calls,
    byCommand,
    bytes: num(stats, "total_net_input_bytes") + num(stats, "total_net_output_bytes"),
    cpuS: num(cpu, "used_cpu_user") + num(cpu, "used_cpu_sys"),
  };
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
    // The frame path: decoded here, raw pixels through Redis (the segment path is segmentStep's).
    segments: false,
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

// The segment path (kept apart from the frame path's step above). It runs against a redis-server of its own on a
// free loopback port (no persistence), so its INFO deltas count this bench's traffic only, not that of other
// processes sharing the machine's Redis. Two white boxes cross a dimmed testsrc2 at 25 fps, every frame sampled,
// so the simulated model finds something to send; it runs at the GPU assumption, so what limits throughput here
// is this machine's CPU (decode, letterbox), not the model; the Redis figures are per sampled frame. The bench
// learns that jobs finished from the aggregator's callback: no polling adds commands.
const SEGMENT_FPS = 25;
const segmentClip = join(work, `boxes-160x120-${SEGMENT_FPS}fps-${segmentClipSeconds}s.mp4`);
const segmentProfilePath = join(work, "profile-gpu.json");

async function prepareSegmentPath() {
  if (!existsSync(segmentClip)) {
    const graph = [
      `testsrc2=s=160x120:r=${SEGMENT_FPS}:d=${segmentClipSeconds},lutyuv=y=val/4[bg]`,
      `color=c=white:s=24x24:r=${SEGMENT_FPS}[a]`,
      `color=c=white:s=20x30:r=${SEGMENT_FPS}[b]`,
      "[bg][a]overlay=x='mod(5+t*30,140)':y=20:shortest=1[t]",
      "[t][b]overlay=x='130-mod(t*25,120)':y=70:shortest=1",
    ].join(";");
    await makeLavfiClip(segmentClip, graph);
  }
  writeFileSync(
    segmentProfilePath,
    JSON.stringify({
      version: 1,
      key: "scale-bench-gpu-assumption",
      measuredAt: new Date().toISOString(),
      rows: [1, 2, 4, 8].map((batch) => {
        const ms = (gpuBatchMs * batch) / gpuBatch;
        return { phi: 0, batch, p50Ms: ms, p90Ms: ms, samplesMs: [ms] };
      }),
    }),
  );
}

/** A redis-server of the bench's own on a free loopback port, without persistence. */
async function startPrivateRedis(): Promise<{ url: string; stop: () => void }> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const child = spawn(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let seen = "";
    child.stdout!.on("data", (data: Buffer) => {
      seen += data.toString();
      if (seen.includes("Ready to accept connections")) resolve();
    });
    child.on("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  child.stdout!.resume();
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

/** Detections per frame in the written tracks.jsonl files. */
function detectionsPerFrame(outRoot: string, dirs: string[]) {
  let detections = 0;
  let frames = 0;
  for (const d of dirs) {
    const text = readFileSync(join(outRoot, d, "tracks.jsonl"), "utf8");
    for (const line of text.split("\n")) {
      if (!line) continue;
      frames++;
      detections += (JSON.parse(line).detections ?? []).length;
    }
  }
  return frames ? detections / frames : 0;
}

/** INFO deltas of the cluster the bench started, summed, with each shard's sample (the segment path on it). */
async function clusterStats() {
  const shards = await benchRedis.sample();
  const byCommand: Record<string, number> = {};
  for (const s of shards)
    for (const [name, calls] of s.commands) byCommand[name] = (byCommand[name] ?? 0) + calls;
  return { ...totals(shards), byCommand, shards };
}

async function segmentStep(n: number, redisUrl: string, ownRedis: Redis | null) {
  // On a cluster: the bench's own cluster (nothing else talks to it), queues partitioned over its shards.
  const onCluster = ownRedis === null;
  const stats = async (): Promise<Awaited<ReturnType<typeof clusterStats>>> =>
    onCluster ? clusterStats() : { ...(await serverStats(ownRedis)), shards: [] };
  const prefix = `vdet-scale-seg-${randomUUID().slice(0, 8)}`;
  const partitions = onCluster ? benchRedis.partitions : 1;
  const transport = createRedisTransport({ url: redisUrl, prefix, partitions });
  const client = ownRedis ?? redis;
  const jobStore = new RedisJobStore(client, transport.keys);
  const workers = startWorkers(n, prefix, {
    args: ["--max-batch", String(gpuBatch), "--preload", "0"],
    env: {
      VDET_REDIS_URL: redisUrl,
      VDET_LOG_LEVEL: "info",
      VDET_SIMULATE_PROFILE: segmentProfilePath,
      VDET_QUEUE_PARTITIONS: String(partitions),
    },
  });
  await Promise.all(workers.map((w) => w.waitFor("worker ready", 600_000)));
  const finished = new Set<string>();
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const producer = startProducer({ transport, jobStore, segmentFrames, concurrency: segmentJobs });
  const aggregator = startAggregator({
    transport,
    jobStore,
    openOutput: (_id, l) => openJobOutput(l),
    onJobFinished: (id) => {
      finished.add(id);
      if (finished.size === segmentJobs) allDone();
    },
  });
  // The idle rate: every role connected and waiting (the workers' and stages' blocking reads, stall checks).
  const i0 = await stats();
  await sleep(5000);
  const i1 = await stats();
  const idleCallsPerS = (i1.calls - i0.calls) / 5;
  const idleRate = (name: string) => ((i1.byCommand[name] ?? 0) - (i0.byCommand[name] ?? 0)) / 5;
  const outRoot = join(work, prefix);
  const s0 = await stats();
  const p0 = workers.map((w) => procStat(w.child.pid!));
  const t0 = performance.now();
  const ids: string[] = [];
  for (let j = 0; j < segmentJobs; j++) {
    const { job } = await jobStore.create(
      parseJobSpec({
        input: segmentClip,
        output: join(outRoot, `job${j}`),
        sampling: { fps: SEGMENT_FPS },
        phi: { min: 0, max: 0 },
      }),
    );
    await transport.jobs.add({ jobId: job.id }, { id: job.id });
    ids.push(job.id);
  }
  await done;
  const elapsed = (performance.now() - t0) / 1000;
  const s1 = await stats();
  const p1 = workers.map((w) => procStat(w.child.pid!));
  let frames = 0;
  for (const id of ids) frames += (await jobStore.get(id))?.progress.written ?? 0;
  const perFrame = detectionsPerFrame(
    outRoot,
    ids.map((_, j) => `job${j}`),
  );
  // The packed detections cross the network twice (worker → Redis, Redis → aggregator), base64 each time.
  const detectionBytes = Math.round((2 * perFrame * PACKED_DETECTION_BYTES * 4) / 3);

  const bytesPerFrame = frames ? Math.round((s1.bytes - s0.bytes) / frames) : null;
  // Net of idle, per command: each command's count minus its idle rate over the run, never below 0 (a busy worker
  // polls less than an idle one, so subtracting the idle total would go negative at this machine's frame rates).
  let netCalls = 0;
  const workCalls: Record<string, number> = {};
  for (const [name, count] of Object.entries(s1.byCommand)) {
    const net = Math.max(0, count - (s0.byCommand[name] ?? 0) - idleRate(name) * elapsed);
    netCalls += net;
    if (net > 0) workCalls[name] = Math.round(net);
  }
  const row = {
    workers: n,
    jobs: segmentJobs,
    frames,
    seconds: r3(elapsed),
    fps: r3(frames / elapsed),
    /** Sampled frames per segment: given, or the producer's archive default (2048 frames or 120 s). */
    segmentFrames: segmentFrames ?? "archive default",
    redisCallsPerFrame: frames ? r3((s1.calls - s0.calls) / frames) : null,
    redisCallsPerFrameNet: frames ? r3(netCalls / frames) : null,
    redisIdleCallsPerS: r3(idleCallsPerS),
    /** The net calls by command over the run (Lua-run commands under their own names, scripts as evalsha). */
    redisNetCallsByCommand: workCalls,
    redisBytesPerFrame: bytesPerFrame,
    detectionsPerFrame: r3(perFrame),
    detectionBytesPerFrame: detectionBytes,
    redisBytesPerFrameBeyondDetections: bytesPerFrame === null ? null : bytesPerFrame - detectionBytes,
    redisCpuPct: r3((100 * (s1.cpuS - s0.cpuS)) / elapsed),
    workerCpuPct: r3((100 * p1.reduce((s, p, i) => s + p.cpuS - p0[i].cpuS, 0)) / n / elapsed),
    load1: r3(loadavg()[0]),
    ...(onCluster ? { partitions, shards: shardDeltas(s0.shards, s1.shards, elapsed) } : {}),
  };
  log(`segments ${JSON.stringify(row)}`);
  await Promise.race([stopRoles(workers), sleep(15000)]);
  await stopRoles(workers, "SIGKILL");
  await Promise.race([Promise.all([producer.close(), aggregator.close()]), sleep(10000)]);
  await transport.close();
  await deleteKeysWithPrefix(client, prefix);
  rmSync(outRoot, { recursive: true, force: true });
  return row;
}

// ---- Live paths (issue 16's live inputs): `--paths live` ---------------------------------------------------------
// A VOD HLS playlist of the segment path's clip (1 s segments, served over loopback) read as a live input, so the
// producer records it (recordLive) as fast as ffmpeg reads it: `liveSegments` sends the recorded segments (their
// bytes in the frame store, descriptors on the segment queue; archive mode), `liveFrames` the low-latency path
// (a 1000 ms budget: decoded frames as JPEG at LIVE_DEFAULTS.jpegQuality). Same workers, simulated model and
// Redis accounting as the segment path; plus the JPEG encode cost per frame measured here on decoded frames.

const LIVE_JOBS = Number(arg("live-jobs", "2"));
const liveStores = arg("live-store", "redis,s3").split(",");
if (liveStores.some((s) => s !== "redis" && s !== "s3")) throw new Error("--live-store: redis, s3 or both");
const liveDir = join(work, `live-hls-${segmentClipSeconds}s`);

async function prepareLivePath(): Promise<{ url: string; close: () => Promise<void> }> {
  if (!existsSync(join(liveDir, "index.m3u8"))) {
    mkdirSync(liveDir, { recursive: true });
    execFileSync("ffmpeg", [
      ...["-hide_banner", "-loglevel", "error", "-y", "-i", segmentClip],
      ...[
        "-c:v",
        "libx264",
        "-g",
        String(SEGMENT_FPS),
        "-keyint_min",
        String(SEGMENT_FPS),
        "-sc_threshold",
        "0",
      ],
      ...["-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod"],
      ...["-hls_segment_filename", join(liveDir, "seg%d.ts"), join(liveDir, "index.m3u8")],
    ]);
  }
  const server = createHttpServer((request, response) => {
    const name = new URL(request.url ?? "/", "http://x").pathname.slice(1);
    const path = join(liveDir, name);
    if (!/^[\w.]+$/.test(name) || !existsSync(path)) return response.writeHead(404).end();
    response.writeHead(200).end(readFileSync(path));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/index.m3u8`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** JPEG bytes and encode time per frame for the clip's frames letterboxed for D0 (512 × 384 content). */
async function jpegCost() {
  const sizes: number[] = [];
  let ms = 0;
  for await (const frame of decodeFrames(segmentClip, {
    sampling: { fps: 5 },
    size: { width: 512, height: 384 },
  })) {
    if (sizes.length === 50) break;
    const t = performance.now();
    sizes.push(
      encodeJpeg({ width: frame.width, height: frame.height, data: frame.data }, LIVE_DEFAULTS.jpegQuality)
        .length,
    );
    ms += performance.now() - t;
  }
  sizes.sort((a, b) => a - b);
  return {
    quality: LIVE_DEFAULTS.jpegQuality,
    frames: sizes.length,
    medianBytes: sizes[sizes.length >> 1],
    rawBytes: 512 * 512 * 3,
    encodeMsPerFrame: r3(ms / sizes.length),
  };
}

async function liveStep(
  n: number,
  kind: "segments" | "frames",
  input: string,
  redisUrl: string,
  ownRedis: Redis,
  s3?: { server: TestS3; bucket: string },
) {
  const stats = () => serverStats(ownRedis);
  const prefix = `vdet-scale-live-${randomUUID().slice(0, 8)}`;
  const transport = createRedisTransport({ url: redisUrl, prefix });
  const jobStore = new RedisJobStore(ownRedis, prefix);
  const workers = startWorkers(n, prefix, {
    args: ["--max-batch", String(gpuBatch), "--preload", "0"],
    env: {
      VDET_REDIS_URL: redisUrl,
      VDET_LOG_LEVEL: "info",
      VDET_SIMULATE_PROFILE: segmentProfilePath,
      ...(s3
        ? { ...s3rverEnv(s3.server.endpoint), VDET_LIVE_SEGMENT_STORE: `s3://${s3.bucket}/${prefix}` }
        : {}),
    },
  });
  const segmentStore = s3 ? new S3SegmentStore(`s3://${s3.bucket}/${prefix}`, s3.server.client()) : undefined;
  let segmentBytes = 0;
  const liveSegmentStore = segmentStore && {
    put: (jobId: string, name: string, bytes: Uint8Array) => {
      segmentBytes += bytes.byteLength;
      return segmentStore.put(jobId, name, bytes);
    },
  };
  await Promise.all(workers.map((w) => w.waitFor("worker ready", 600_000)));
  const finished = new Set<string>();
  let allDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const producer = startProducer({ transport, jobStore, concurrency: LIVE_JOBS, liveSegmentStore });
  const aggregator = startAggregator({
    transport,
    jobStore,
    openOutput: (_id, l) => openJobOutput(l),
    onJobFinished: (id) => {
      finished.add(id);
      if (finished.size === LIVE_JOBS) allDone();
    },
  });
  const i0 = await stats();
  await sleep(5000);
  const i1 = await stats();
  const idleRate = (name: string) => ((i1.byCommand[name] ?? 0) - (i0.byCommand[name] ?? 0)) / 5;
  const outRoot = join(work, prefix);
  const s0 = await stats();
  const t0 = performance.now();
  const ids: string[] = [];
  for (let j = 0; j < LIVE_JOBS; j++) {
    const { job } = await jobStore.create(
      parseJobSpec({
        input,
        output: join(outRoot, `job${j}`),
        sampling: { fps: SEGMENT_FPS },
        ...(kind === "frames" ? { latencyBudgetMs: 1000 } : {}),
      }),
    );
    await transport.jobs.add({ jobId: job.id }, { id: job.id });
    ids.push(job.id);
  }
  await done;
  const elapsed = (performance.now() - t0) / 1000;
  const s1 = await stats();
  let frames = 0;
  for (const id of ids) frames += (await jobStore.get(id))?.progress.written ?? 0;
  const perFrame = detectionsPerFrame(
    outRoot,
    ids.map((_, j) => `job${j}`),
  );
  const detectionBytes = Math.round((2 * perFrame * PACKED_DETECTION_BYTES * 4) / 3);
  const bytesPerFrame = frames ? Math.round((s1.bytes - s0.bytes) / frames) : null;
  let netCalls = 0;
  for (const [name, count] of Object.entries(s1.byCommand))
    netCalls += Math.max(0, count - (s0.byCommand[name] ?? 0) - idleRate(name) * elapsed);
  const row = {
    path: kind === "segments" ? "live recorded segments" : "live low-latency JPEG frames",
    ...(kind === "segments" ? { store: s3 ? "s3" : "redis" } : {}),
    workers: n,
    jobs: LIVE_JOBS,
    frames,
    seconds: r3(elapsed),
    fps: r3(frames / elapsed),
    redisCallsPerFrame: frames ? r3((s1.calls - s0.calls) / frames) : null,
    redisCallsPerFrameNet: frames ? r3(netCalls / frames) : null,
    redisBytesPerFrame: bytesPerFrame,
    detectionBytesPerFrame: detectionBytes,
    redisBytesPerFrameBeyondDetections: bytesPerFrame === null ? null : bytesPerFrame - detectionBytes,
    // S3 store: the segment bytes that went to S3 instead of Redis, and the objects left once the workers are done.
    ...(segmentStore
      ? {
          s3SegmentBytesPerFrame: frames ? Math.round(segmentBytes / frames) : null,
          s3ObjectsLeft: await waitForEmpty(segmentStore),
        }
      : {}),
    load1: r3(loadavg()[0]),
  };
  log(`live ${JSON.stringify(row)}`);
  await Promise.race([stopRoles(workers), sleep(15000)]);
  await stopRoles(workers, "SIGKILL");
  await Promise.race([Promise.all([producer.close(), aggregator.close()]), sleep(10000)]);
  await transport.close();
  await deleteKeysWithPrefix(ownRedis, prefix);
  rmSync(outRoot, { recursive: true, force: true });
  return row;
}

/** The store's objects once the workers' deletes (just after their reports) are through: 0, or what was left. */
async function waitForEmpty(store: S3SegmentStore): Promise<number> {
  for (let i = 0; i < 100; i++) {
    if ((await store.list()).length === 0) return 0;
    await sleep(100);
  }
  return (await store.list()).length;
}

// Redis ceilings on this machine: small-command ops/s (pipelined 1 and 16) and 786 KB SET/GET throughput.
function redisBenchmark(port = 6379) {
  const run = (args: string[]) =>
    execFileSync("redis-benchmark", ["-h", "127.0.0.1", "-p", String(port), "-q", ...args], {
      encoding: "utf8",
    });
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
type FrameRow = Awaited<ReturnType<typeof step>>;
type SegmentRow = Awaited<ReturnType<typeof segmentStep>>;
const rows: (Partial<FrameRow> & { workers: number; efficiency?: number; segments?: SegmentRow })[] = [];
// The segment path on one Redis: a redis-server of its own; on a cluster: the cluster the bench started. The live
// paths run on a redis-server of their own too.
const segmentsOnOwn = paths.includes("segments") && benchRedis.mode === "single";
const own = segmentsOnOwn || paths.includes("live") ? await startPrivateRedis() : null;
const ownRedis = own ? new Redis(redisOptionsFromUrl(own.url)) : null;
if (paths.includes("segments") || paths.includes("live")) await prepareSegmentPath();
const liveOrigin = paths.includes("live") ? await prepareLivePath() : null;
const liveS3Server = liveOrigin && liveStores.includes("s3") ? await startTestS3() : null;
const liveS3 = liveS3Server ? { server: liveS3Server, bucket: await liveS3Server.createBucket() } : undefined;
const liveRows: Awaited<ReturnType<typeof liveStep>>[] = [];
for (const n of workerCounts) {
  const row: (typeof rows)[number] = paths.includes("frames") ? await step(n) : { workers: n };
  if (segmentsOnOwn && own && ownRedis) row.segments = await segmentStep(n, own.url, ownRedis);
  else if (paths.includes("segments")) row.segments = await segmentStep(n, benchRedis.url, null);
  if (own && ownRedis && liveOrigin) {
    if (liveStores.includes("redis"))
      liveRows.push(await liveStep(n, "segments", liveOrigin.url, own.url, ownRedis));
    if (liveS3) liveRows.push(await liveStep(n, "segments", liveOrigin.url, own.url, ownRedis, liveS3));
    liveRows.push(await liveStep(n, "frames", liveOrigin.url, own.url, ownRedis));
  }
  rows.push(row);
}
await liveOrigin?.close();
await liveS3Server?.close();
const liveJpeg = liveOrigin ? await jpegCost() : null;
// The ceiling is measured on the bench's own server when there is one (nothing else talks to it).
const ceiling = redisBenchmark(own ? Number(new URL(own.url).port) : 6379);
await benchRedis.close();
await ownRedis?.quit();
own?.stop();

const frameRows = rows.filter((r): r is FrameRow & { efficiency?: number } => r.fps !== undefined);
const base =
  frameRows.find((r) => r.workers === 1)?.fps ?? (frameRows[0]?.fps ?? 0) / (frameRows[0]?.workers ?? 1);
for (const r of frameRows) Object.assign(r, { efficiency: r3(r.fps / (r.workers * base)) });
const last = frameRows[frameRows.length - 1] ?? { redisCallsPerFrameNet: null, redisBytesPerFrame: null };
// Extrapolation: one GPU worker at D0 runs gpuBatch frames per gpuBatchMs; per frame it costs the measured Redis
// commands and bytes (frames move in and detections out), so one Redis serves ceiling / (per-frame × fps) workers.
const gpuFps = (gpuBatch * 1000) / gpuBatchMs;
const callsPerFrame = last.redisCallsPerFrameNet ?? Number.NaN;
const bytesPerFrame = last.redisBytesPerFrame ?? Number.NaN;
const workersByOps = ceiling ? ceiling.smallOpsPerS / (callsPerFrame * gpuFps) : null;
const workersByBytes = ceiling ? (ceiling.frameMBPerS * 1e6) / (bytesPerFrame * gpuFps) : null;
// The segment path's projection, from its largest step: per-frame commands (net) and bytes (detections included).
const lastSegment = rows.filter((r) => r.segments).at(-1)?.segments;
// What an idle worker adds (its queues' blocking reads, stall checks, heartbeats): the slope of the idle rate over
// the segment steps' worker counts. A fleet of W workers costs W × (per-frame commands × frame rate + this).
const segmentRows = rows.flatMap((r) => (r.segments ? [r.segments] : []));
const idlePerWorker =
  segmentRows.length >= 2
    ? Math.max(
        0,
        (segmentRows.at(-1)!.redisIdleCallsPerS - segmentRows[0].redisIdleCallsPerS) /
          (segmentRows.at(-1)!.workers - segmentRows[0].workers),
      )
    : null;
const segmentProjection = (value: number | null | undefined, ceilingValue: number | undefined) =>
  value && ceilingValue ? r3(ceilingValue / (value * gpuFps)) : null;
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
    segmentPath: lastSegment
      ? {
          clip: `two white boxes over a dimmed testsrc2, 160x120 ${SEGMENT_FPS} fps, ${segmentClipSeconds} s, every frame sampled, ${segmentJobs} jobs per step`,
          redis:
            benchRedis.mode === "cluster"
              ? "the bench's own three-master cluster (INFO deltas summed over the shards, per shard in the rows); the ceiling is redis-benchmark on one server (the shared one)"
              : "a redis-server of the bench's own (its INFO deltas and redis-benchmark ceiling)",
          segmentFrames: lastSegment.segmentFrames,
          commandCount: "INFO commandstats: scripts and the commands they run, all counted",
          projection:
            "byOps: redis-benchmark's small-command rate / (redisCallsPerFrameNet, every command Lua runs counted, × the GPU frame rate); byBytes: the 786 KB SET/GET rate in bytes / (redisBytesPerFrame, detections included, × the GPU frame rate)",
          redisCallsPerFrameNet: lastSegment.redisCallsPerFrameNet,
          redisIdleCallsPerWorkerPerS: idlePerWorker === null ? null : r3(idlePerWorker),
          redisBytesPerFrame: lastSegment.redisBytesPerFrame,
          detectionBytesPerFrame: lastSegment.detectionBytesPerFrame,
          redisBytesPerFrameBeyondDetections: lastSegment.redisBytesPerFrameBeyondDetections,
          workersPerRedis: {
            byOps: segmentProjection(lastSegment.redisCallsPerFrameNet, ceiling?.smallOpsPerS),
            /** byOps with each worker's idle command rate added to its work (needs two or more steps). */
            byOpsWithIdle:
              ceiling && idlePerWorker !== null && lastSegment.redisCallsPerFrameNet !== null
                ? r3(ceiling.smallOpsPerS / (lastSegment.redisCallsPerFrameNet * gpuFps + idlePerWorker))
                : null,
            byBytes: segmentProjection(
              lastSegment.redisBytesPerFrame,
              ceiling ? ceiling.frameMBPerS * 1e6 : undefined,
            ),
          },
        }
      : null,
    livePaths: liveOrigin
      ? {
          clip: `the segment path's clip as a VOD HLS playlist (1 s segments) read as a live input, every frame sampled, ${LIVE_JOBS} jobs per step`,
          redis: "the bench's own redis-server, as the segment path",
          stores: `recorded segments in: ${liveStores.join(", ")} (s3: a local s3rver; Redis carries descriptors only)`,
          commandCount:
            "INFO commandstats: scripts and the commands they run, all counted; net of the idle rate",
          rows: liveRows,
          jpeg: liveJpeg,
        }
      : null,
  }),
);
