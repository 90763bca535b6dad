// Crash recovery, for real: the roles run as `vdet producer|worker|aggregator` processes and the tests kill them
// with SIGKILL mid-job (and kill and restart a redis-server of their own that keeps an append-only file). Each
// faulted job must give the same tracks.jsonl, byte for byte, as the same job run without a fault, with every
// sampled frame written exactly once; its jobs have a zone and a line, so events.jsonl and analytics.json too. Workers simulate D0 from a latency profile (no inference: fast and
// deterministic), so the outputs depend only on the frames. The clip is a file, so the producer plans it into
// segments of 2 frames and the workers decode their own segments: the unit a worker holds, and that comes back
// after a kill, is a segment.

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { type RoleProcess, startRole, stopRoles } from "@vdet/cli/testing";
import { DeploymentKeys, MemoryJobStore, RedisJobStore } from "@vdet/jobs";
import { startProducer } from "@vdet/pipeline";
import { isTerminal, type JobEvent, parseJobSpec } from "@vdet/protocol";
import {
  createMemoryTransport,
  createRedisTransport,
  deleteKeysWithPrefix,
  redisOptionsFromUrl,
} from "@vdet/transport";
import { makeLavfiClip, makeTestClip } from "@vdet/video/testing";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { OutcomeLog } from "./support/outcomes.ts";
import { parseTracks } from "./support/tracks.ts";
import { waitFor } from "./support/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-recovery-"));
const outcomes = new OutcomeLog("recovery");
const SHARED_REDIS = process.env.VDET_REDIS_URL ?? "redis://127.0.0.1:6379";
const FRAMES = 60;
const LOCK_MS = 2000;
/**
 * A zone the small box (a "person" to the simulated model) passes through and a line both boxes cross, in opposite
 * directions (the clip is 160×120): events at frames 3, 13, 15 and 26, before and after the kills.
 */
const ZONES = {
  inertiaFrames: 2,
  zones: [
    {
      name: "middle",
      polygon: [
        [20, 0],
        [45, 0],
        [45, 60],
        [20, 60],
      ],
    },
  ],
  lines: [{ name: "gate", from: [0, 22], to: [148, 120] }],
};
let clip = "";
let profile = "";

/** Starts `vdet <role>` against `redisUrl`/`prefix`, with short lock and stall intervals. */
function startRecoveryRole(
  role: string,
  redisUrl: string,
  prefix: string,
  env: Record<string, string> = {},
): RoleProcess {
  return startRole(role, {
    env: {
      VDET_REDIS_URL: redisUrl,
      VDET_PREFIX: prefix,
      VDET_LOG_LEVEL: "info",
      VDET_LOCK_DURATION_MS: String(LOCK_MS),
      VDET_STALLED_INTERVAL_MS: "1000",
      VDET_ALLOW_FILE_INPUTS: "1",
      VDET_SEGMENT_FRAMES: "2",
      // Backpressure keeps the producer mid-job while the workers run: at most 4 segments (8 frames) in flight.
      VDET_MAX_SEGMENTS_IN_FLIGHT: "4",
      VDET_SIMULATE_PROFILE: profile,
      VDET_MAX_BATCH: "2",
      // Small parts: the aggregator crosses part boundaries and holds buffered lines when it is killed.
      VDET_TRACKS_PART_BYTES: "1500",
      ...env,
    },
  });
}

/** Polls every 50 ms (the roles' lock and stall intervals are short). */
const until = <T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 60_000) =>
  waitFor(what, check, timeoutMs, 50);

/** One deployment: a prefix (on the shared Redis or a private one), a job store and a submit function. */
function deployment(redisUrl: string) {
  const prefix = `vdet-rec-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(redisOptionsFromUrl(redisUrl));
  const transport = createRedisTransport({ url: redisUrl, prefix, onError: () => {} });
  const keys = new DeploymentKeys(prefix);
  const jobStore = new RedisJobStore(redis, keys);
  return {
    prefix,
    keys,
    redis,
    transport,
    jobStore,
    async submit(name: string): Promise<{ id: string; out: string }> {
      const out = join(dir, name);
      const spec = parseJobSpec({
        input: clip,
        output: out,
        sampling: { fps: 10 },
        phi: { min: 0, max: 0 },
        zones: ZONES,
      });
      const { job } = await jobStore.create(spec);
      await transport.jobs.add({ jobId: job.id }, { id: job.id });
      return { id: job.id, out };
    },
    async finished(id: string, timeoutMs = 90_000): Promise<string> {
      return until(
        async () => {
          const job = await jobStore.get(id);
          return job && isTerminal(job.state) ? job.state : undefined;
        },
        `job ${id} to finish`,
        timeoutMs,
      );
    },
    async progress(id: string) {
      return (await jobStore.get(id))!.progress;
    },
    /** Checks that the job's progress counts each of the FRAMES frames once under every one of `counters`. */
    async assertEveryFrameCounted(id: string, counters: ("decoded" | "written" | "total")[]) {
      const progress = (await jobStore.get(id))!.progress;
      for (const counter of counters) assert.equal(progress[counter], FRAMES, `progress.${counter}`);
      return progress;
    },
    async close(): Promise<void> {
      await transport.close();
      await deleteKeysWithPrefix(redis, prefix).catch(() => 0);
      redis.disconnect();
    },
  };
}

interface JobFiles {
  tracks: string;
  events: string;
  analytics: string;
  mot: string;
  summary: { trackList: unknown[] };
  manifest: {
    state: string;
    frames: { sampled: number; written: number; failed: number; duplicatesDropped: number };
  };
}

function readOutput(out: string): JobFiles {
  return {
    tracks: readFileSync(join(out, "tracks.jsonl"), "utf8"),
    events: readFileSync(join(out, "events.jsonl"), "utf8"),
    analytics: readFileSync(join(out, "analytics.json"), "utf8"),
    mot: readFileSync(join(out, "tracks.mot.txt"), "utf8"),
    summary: JSON.parse(readFileSync(join(out, "summary.json"), "utf8")),
    manifest: JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")),
  };
}

/** Exactly once: frames 0…n-1, each once, none failed; the same bytes and tracks as the uninterrupted run. */
function assertSameAsReference(files: JobFiles, reference: JobFiles): void {
  const frames = parseTracks(files.tracks).map((l) => l.frame);
  assert.deepEqual(frames, [...Array(FRAMES).keys()], "every frame once, in order");
  assert.equal(files.manifest.state, "completed");
  assert.equal(files.manifest.frames.sampled, FRAMES);
  assert.equal(files.manifest.frames.written + files.manifest.frames.failed, FRAMES);
  assert.equal(files.manifest.frames.failed, 0);
  assert.ok(files.tracks === reference.tracks, "tracks.jsonl is byte-identical to the uninterrupted run");
  assert.ok(files.mot === reference.mot, "tracks.mot.txt is byte-identical to the uninterrupted run");
  assert.equal(files.events, reference.events, "events.jsonl is byte-identical to the uninterrupted run");
  assert.equal(
    files.analytics,
    reference.analytics,
    "analytics.json is byte-identical to the uninterrupted run",
  );
  assert.deepEqual(files.summary.trackList, reference.summary.trackList);
}

/** Two white boxes crossing a black 160×120 frame at 10 fps: the simulated model finds and tracks them. */
async function makeMovingClip(path: string, seconds: number): Promise<string> {
  const graph = [
    `color=c=black:s=160x120:r=10:d=${seconds}[bg]`,
    "color=c=white:s=24x24:r=10[a]",
    "color=c=white:s=20x30:r=10[b]",
    "[bg][a]overlay=x='5+t*12':y=20:shortest=1[t]",
    "[t][b]overlay=x='120-t*10':y=70:shortest=1",
  ].join(";");
  return makeLavfiClip(path, graph);
}

before(async () => {
  clip = await makeMovingClip(join(dir, "clip.mp4"), FRAMES / 10);
  profile = join(dir, "profile.json");
  const rows = [1, 2].map((batch) => ({ phi: 0, batch, p50Ms: 150, p90Ms: 150, samplesMs: [150] }));
  writeFileSync(profile, JSON.stringify({ version: 1, key: "recovery-test", measuredAt: "", rows }));
});

after(() => {
  outcomes.flush();
  rmSync(dir, { recursive: true, force: true });
});

describe("SIGKILL of a role mid-job", () => {
  const d = deployment(SHARED_REDIS);
  let producer: RoleProcess;
  let aggregator: RoleProcess;
  const workers: RoleProcess[] = [];
  let reference: JobFiles;

  before(async () => {
    producer = startRecoveryRole("producer", SHARED_REDIS, d.prefix);
    aggregator = startRecoveryRole("aggregator", SHARED_REDIS, d.prefix);
    workers.push(
      startRecoveryRole("worker", SHARED_REDIS, d.prefix),
      startRecoveryRole("worker", SHARED_REDIS, d.prefix),
    );
    const job = await d.submit("reference");
    assert.equal(await d.finished(job.id), "completed");
    reference = readOutput(job.out);
    // The comparison means something only if frames have tracked detections.
    const tracked = parseTracks(reference.tracks).filter((l) => l.detections.some((x) => x.trackId !== null));
    assert.ok(tracked.length > FRAMES / 2, `tracked detections in ${tracked.length} frames`);
    assert.ok(reference.summary.trackList.length > 0);
    // … and only if the zone and the line saw tracks come and go.
    const types = new Set(
      reference.events
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).type),
    );
    for (const type of ["enter", "exit", "cross-in", "cross-out"])
      assert.ok(types.has(type), `a ${type} event in ${reference.events}`);
  });

  /** A test that failed after a kill leaves its role dead; the next test gets a full set again. */
  beforeEach(() => {
    const dead = (r: RoleProcess) => !r.running();
    if (dead(producer)) producer = startRecoveryRole("producer", SHARED_REDIS, d.prefix);
    if (dead(aggregator)) aggregator = startRecoveryRole("aggregator", SHARED_REDIS, d.prefix);
    for (let i = 0; i < workers.length; i++)
      if (dead(workers[i])) workers[i] = startRecoveryRole("worker", SHARED_REDIS, d.prefix);
  });

  after(async () => {
    await stopRoles([producer, aggregator, ...workers]);
    await d.close();
  });

  test("a worker killed mid-segment: its segments come back after the lock interval and are written once", async () => {
    const events = new QueueEvents("segments", {
      connection: redisOptionsFromUrl(SHARED_REDIS),
      prefix: d.prefix,
    });
    await events.waitUntilReady();
    const stalled = new Set<string>();
    events.on("stalled", ({ jobId }) => stalled.add(jobId));
    // Which worker holds a segment at a given moment is a race; the test makes it certain instead. The other
    // worker is frozen (SIGSTOP) while the queue is idle, so it holds nothing and takes nothing; the victim then
    // runs the job alone. Each look at the queue is taken with the victim frozen too, so the segments seen active
    // are the victim's and stay in its hands until the SIGKILL.
    const [victim, bystander] = workers.splice(0, 2);
    assert.equal(
      (await d.transport.segments.counts()).active,
      0,
      "no segment in any worker's hands before the job",
    );
    bystander.child.kill("SIGSTOP");
    try {
      const job = await d.submit("worker-kill");
      await until(async () => (await d.progress(job.id)).inferred >= 10, "10 frames inferred");
      const heldAtKill = await until(async () => {
        victim.child.kill("SIGSTOP");
        const held = await d.transport.segments.counts();
        if (held.active > 0) return held.active;
        victim.child.kill("SIGCONT");
        await new Promise((r) => setTimeout(r, 20));
        return undefined;
      }, "the victim to hold a segment");
      await victim.kill9();
      const killedAtMs = Date.now();
      bystander.child.kill("SIGCONT");
      workers.push(bystander, startRecoveryRole("worker", SHARED_REDIS, d.prefix));
      assert.equal(await d.finished(job.id), "completed");
      // The stalled events come through their own stream; wait for them rather than race the job's end.
      await until(async () => stalled.size >= heldAtKill, `${heldAtKill} stalled events`, 10_000);
      const files = readOutput(job.out);
      assertSameAsReference(files, reference);
      assert.equal(
        stalled.size,
        heldAtKill,
        "exactly the killed worker's segments were redelivered as stalled",
      );
      assert.equal(files.manifest.frames.written, FRAMES);
      await d.assertEveryFrameCounted(job.id, ["written", "decoded"]);
      outcomes.add(
        "crash",
        "worker SIGKILL mid-segment",
        `${heldAtKill} segments in the killed worker's hands; all ${stalled.size} redelivered as stalled after the ${LOCK_MS} ms lock; job completed ${Date.now() - killedAtMs} ms after the kill: ${files.manifest.frames.written}/${FRAMES} frames written once, 0 failed, ${files.manifest.frames.duplicatesDropped} duplicates dropped; tracks.jsonl byte-identical to the uninterrupted run`,
      );
    } finally {
      bystander.child.kill("SIGCONT");
      if (!workers.includes(bystander)) workers.push(bystander);
      if (victim.running()) victim.child.kill("SIGCONT");
      if (!workers.includes(victim) && victim.child.signalCode !== "SIGKILL") workers.push(victim);
      await events.close();
    }
  });

  test("the aggregator killed twice mid-job: each new one resumes from the checkpoint, same lines and track ids", async () => {
    // The segments queue is paused between the two kills, so the job cannot end before the second one: without it,
    // the workers infer the rest of the job while no aggregator runs and a resumed aggregator can drain it all
    // between two looks. Each kill is made with the aggregator frozen (SIGSTOP), so what is read is what it left.
    const frames = new Queue("segments", { connection: redisOptionsFromUrl(SHARED_REDIS), prefix: d.prefix });
    try {
      const job = await d.submit("aggregator-kill");
      const kills: string[] = [];
      const killAggregator = async (): Promise<void> => {
        aggregator.child.kill("SIGSTOP");
        const written = (await d.progress(job.id)).written;
        const checkpoint = JSON.parse((await d.redis.get(d.keys.checkpoint(job.id))) ?? "null");
        await aggregator.kill9();
        assert.ok(checkpoint, "a checkpoint was saved");
        assert.ok(checkpoint.tracksPartsWritten >= 1, "tracks.jsonl parts were written before the kill");
        assert.ok(
          checkpoint.analytics?.frames > 0,
          "the analytics state is checkpointed with the aggregator's",
        );
        assert.equal(checkpoint.next, written, "the job's progress is the checkpoint's");
        assert.ok(written < FRAMES, "killed mid-job");
        const buffered = await d.redis.llen(d.keys.checkpoint(job.id, "lines"));
        kills.push(
          `at ${written}/${FRAMES} written (${checkpoint.tracksPartsWritten} parts + ${buffered} buffered lines, ${checkpoint.pending.length} frames in the reorder buffer, events.jsonl ${checkpoint.eventsPartsWritten} parts + ${checkpoint.eventsBuffered.length} buffered events)`,
        );
      };
      const restartAggregator = async (): Promise<void> => {
        aggregator = startRecoveryRole("aggregator", SHARED_REDIS, d.prefix);
        await until(async () => aggregator.output().includes("resumed from checkpoint"), "the resume");
      };

      // First kill: the workers carry on while no aggregator runs; their results wait in the queue.
      await until(async () => (await d.progress(job.id)).written >= 12, "12 frames written");
      await killAggregator();
      await new Promise((r) => setTimeout(r, 500));
      await frames.pause();
      await until(
        async () => (await d.transport.segments.counts()).active === 0,
        "the workers' segments done",
      );
      assert.ok((await d.progress(job.id)).inferred < FRAMES, "frames left for after the second kill");
      await restartAggregator();
      // Second kill: once the new aggregator has taken every result there was (the backlog of the first outage).
      await until(async () => {
        const r = await d.transport.results.counts();
        return r.waiting + r.active === 0;
      }, "the results drained");
      await killAggregator();
      await frames.resume();
      await new Promise((r) => setTimeout(r, 500));
      await restartAggregator();

      assert.equal(await d.finished(job.id), "completed");
      const files = readOutput(job.out);
      assertSameAsReference(files, reference);
      assert.equal((await d.progress(job.id)).written, FRAMES);
      assert.equal(
        await d.redis.exists(d.keys.checkpoint(job.id)),
        0,
        "the checkpoint is removed at the end",
      );
      outcomes.add(
        "crash",
        "aggregator SIGKILL mid-job (twice), restarted",
        `killed ${kills.join(" and ")}; each new aggregator resumed from the checkpoint: ${files.manifest.frames.written}/${FRAMES} written once, 0 failed, ${files.manifest.frames.duplicatesDropped} redelivered duplicates dropped; tracks.jsonl, tracks.mot.txt, track ids, events.jsonl and analytics.json identical to the uninterrupted run`,
      );
    } finally {
      await frames.resume().catch(() => {});
      await frames.close();
    }
  });

  test("the producer killed mid-job: a new one resumes after the last queued segment", async () => {
    const job = await d.submit("producer-kill");
    await until(async () => (await d.progress(job.id)).decoded >= 16, "16 frames queued");
    await producer.kill9();
    const decodedAtKill = (await d.progress(job.id)).decoded;
    assert.ok(decodedAtKill < FRAMES, "killed before decoding finished");
    producer = startRecoveryRole("producer", SHARED_REDIS, d.prefix);
    assert.equal(await d.finished(job.id), "completed");
    const files = readOutput(job.out);
    assertSameAsReference(files, reference);
    const resumed = producer
      .output()
      .split("\n")
      .filter((l) => l.includes("resuming after a producer restart"))
      .map((l) => JSON.parse(l));
    assert.equal(resumed.length, 1);
    assert.ok(resumed[0].resumeFrom >= decodedAtKill && resumed[0].resumeFrom < FRAMES);
    // Each frame counted once as queued: nothing before the checkpoint was queued again.
    const progress = await d.assertEveryFrameCounted(job.id, ["decoded", "total"]);
    outcomes.add(
      "crash",
      "producer SIGKILL mid-job, restarted",
      `killed with ${decodedAtKill}/${FRAMES} frames queued; the new producer got the job after the ${LOCK_MS} ms lock and resumed at frame ${resumed[0].resumeFrom}: ${progress.decoded} frames queued in all, ${files.manifest.frames.written} written, ${files.manifest.frames.duplicatesDropped} duplicates dropped; tracks.jsonl byte-identical to the uninterrupted run`,
    );
  });
});

describe("a producer that cannot re-read its input fails the job clearly", () => {
  /** Runs one job with a producer checkpoint already saved (as a crashed producer leaves it). */
  async function resumeJob(input: string): Promise<Extract<JobEvent, { type: "decoded" }>> {
    const transport = createMemoryTransport();
    const jobStore = new MemoryJobStore();
    const producer = startProducer({ transport, jobStore });
    try {
      const { job } = await jobStore.create(parseJobSpec({ input, output: join(dir, "unused") }));
      await jobStore.commitChunk(job.id, 8, { chunks: 2, nextFrame: 8 });
      const event = new Promise<Extract<JobEvent, { type: "decoded" }>>((resolve) => {
        transport.events.consume(async (e) => resolve(e as Extract<JobEvent, { type: "decoded" }>));
      });
      await transport.jobs.add({ jobId: job.id }, { id: job.id });
      return await event;
    } finally {
      await producer.close();
      await transport.close();
    }
  }

  test("a live stream", async () => {
    const event = await resumeJob("rtsp://127.0.0.1:9/live");
    assert.match(
      event.error ?? "",
      /restarted after queueing 8 frames.*live stream that cannot be read again/,
    );
    assert.equal(event.totalFrames, 8, "the frames queued before the crash are kept");
    outcomes.add("crash", "producer restart on a live stream (RTSP)", `job failed: ${event.error}`);
  });

  test("an input file removed before the restart", async () => {
    const gone = join(dir, "gone.mp4");
    await makeTestClip(gone, 1, 10, 64, 48);
    unlinkSync(gone);
    const event = await resumeJob(gone);
    assert.match(event.error ?? "", /gone\.mp4/);
    assert.equal(event.totalFrames, 8);
    outcomes.add("crash", "producer restart with the input file removed", `job failed: ${event.error}`);
  });
});

describe("Redis restarted mid-job (append-only file)", () => {
  let port = 0;
  let server: ChildProcess | undefined;
  const redisDir = mkdtempSync(join(tmpdir(), "vdet-recovery-redis-"));
  after(() => {
    server?.kill("SIGKILL");
    rmSync(redisDir, { recursive: true, force: true });
  });

  async function startRedis(): Promise<void> {
    const child = spawn(
      "redis-server",
      [
        ...["--bind", "127.0.0.1", "--port", String(port), "--dir", redisDir, "--save", ""],
        ...["--appendonly", "yes", "--appendfsync", "always"],
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    server = child;
    await new Promise<void>((resolve, reject) => {
      let seen = "";
      child.stdout!.on("data", (data: Buffer) => {
        seen += data.toString();
        if (seen.includes("Ready to accept connections")) resolve();
      });
      child.once("exit", (code) =>
        reject(new Error(`redis-server exited with ${code}: ${seen.slice(-500)}`)),
      );
      child.once("error", (error) =>
        reject(
          new Error(`cannot run redis-server (${error.message}); install it: apt-get install redis-server`),
        ),
      );
    });
  }

  test("SIGKILL of redis-server mid-job, restarted from its AOF: the roles reconnect and the job completes", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    await startRedis();
    const url = `redis://127.0.0.1:${port}`;
    const d = deployment(url);
    const roles = [
      startRecoveryRole("producer", url, d.prefix),
      startRecoveryRole("aggregator", url, d.prefix),
      startRecoveryRole("worker", url, d.prefix),
    ];
    try {
      const job = await d.submit("redis-restart");
      await until(async () => (await d.progress(job.id)).written >= 10, "10 frames written");
      const before = await d.progress(job.id);
      const redis = server!;
      const redisGone = new Promise((resolve) => redis.once("exit", resolve));
      redis.kill("SIGKILL");
      await redisGone;
      await new Promise((r) => setTimeout(r, 1000));
      await startRedis();
      assert.equal(await d.finished(job.id, 120_000), "completed");
      const files = readOutput(job.out);
      const frames = parseTracks(files.tracks).map((l) => l.frame);
      assert.deepEqual(frames, [...Array(FRAMES).keys()], "every frame once, in order");
      assert.equal(files.manifest.frames.written, FRAMES);
      assert.equal(files.manifest.frames.failed, 0);
      assert.equal((await d.progress(job.id)).written, FRAMES);
      for (const r of roles) assert.equal(r.child.exitCode, null, `${r.name} kept running`);
      outcomes.add(
        "redis",
        "redis-server SIGKILL mid-job, restarted with appendonly yes",
        `killed with ${before.written}/${FRAMES} frames written, down 1 s; producer, worker and aggregator reconnected; job completed: ${files.manifest.frames.written} written once, 0 failed, ${files.manifest.frames.duplicatesDropped} duplicates dropped`,
      );
    } finally {
      await stopRoles(roles);
      await d.close();
    }
  });
});
