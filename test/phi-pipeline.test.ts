// The deadline policy in the distributed pipeline: a `vdet worker` process with a simulated accelerator (a latency
// profile, no model) over the real Redis; a producer and an aggregator in this process. A roomy budget runs the
// largest φ the job allows, an impossible one runs its smallest φ and counts every frame as a miss, and both show
// in tracks.jsonl, manifest.json and the job's progress.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type RoleProcess, startRole } from "@vdet/cli/testing";
import { type JobSpecInput, parseJobSpec } from "@vdet/protocol";
import { makeTestClip } from "@vdet/video/testing";
import { REDIS_URL, startRedisPipeline } from "./support/redis-pipeline.ts";
import { simulatedProfile } from "./support/simulated-profile.ts";
import { parseTracks } from "./support/tracks.ts";
import { waitFor } from "./support/wait.ts";

const pipeline = startRedisPipeline({ prefix: `vdet-phi-${randomUUID().slice(0, 8)}`, framesPerChunk: 2 });
const { prefix, transport, jobStore, finished } = pipeline;
const dir = mkdtempSync(join(tmpdir(), "vdet-phi-"));
let worker: RoleProcess | undefined;
let clip = "";

// A fast accelerator: D0 10 ms, D1 20 ms, D2 40 ms for one frame; batches of 2 and 4 cost 1.5× and 2.5×.
const profile = simulatedProfile("e2e-simulated", 10);

before(async () => {
  clip = await makeTestClip(join(dir, "clip.mp4"), 4, 10);
  const profilePath = join(dir, "profile.json");
  writeFileSync(profilePath, JSON.stringify(profile));
  worker = startRole("worker", {
    args: ["--prefix", prefix, "--max-batch", "4", "--preload", "0,1,2"],
    env: {
      VDET_REDIS_URL: REDIS_URL,
      VDET_LOG_LEVEL: "warn",
      VDET_SIMULATE_PROFILE: profilePath,
      VDET_ALLOW_FILE_INPUTS: "1",
    },
    echo: "[worker] ",
  });
  // The worker consumes once its models are loaded and profiled: a job queued before that would spend its
  // budget waiting for the worker to start, which is not what these tests are about.
  await waitFor(
    "the worker to consume segments",
    async () => (await transport.segments.consumerCount()) >= 1,
    60_000,
    50,
  );
});

after(async () => {
  await worker?.stop();
  await pipeline.close();
  rmSync(dir, { recursive: true, force: true });
});

async function runJob(name: string, spec: Omit<JobSpecInput, "input" | "output">) {
  const { job } = await jobStore.create(parseJobSpec({ input: clip, output: join(dir, name), ...spec }));
  await transport.jobs.add({ jobId: job.id }, { id: job.id });
  const state = await waitFor(`job ${name} to finish`, () => finished.get(job.id), 60_000, 50);
  return {
    state,
    job: (await jobStore.get(job.id))!,
    lines: parseTracks(readFileSync(join(dir, name, "tracks.jsonl"), "utf8")),
    manifest: JSON.parse(readFileSync(join(dir, name, "manifest.json"), "utf8")),
  };
}

test("a roomy budget runs the job's largest φ on every frame and misses nothing", async () => {
  // Roomy: the segment's decode (an ffmpeg start, seconds on a loaded machine) and the batches fit many times over.
  const r = await runJob("roomy", { sampling: { fps: 5 }, latencyBudgetMs: 30_000, phi: { min: 0, max: 2 } });
  assert.equal(r.state, "completed");
  assert.equal(r.lines.length, 20);
  assert.deepEqual(
    r.lines.map((l) => l.phi),
    Array(20).fill(2),
  );
  assert.deepEqual(r.manifest.phiHistogram, { "2": 20 });
  assert.deepEqual(r.manifest.deadline, { budgetMs: 30_000, misses: 0 });
  assert.equal(r.job.progress.deadlineMisses, 0);
});

test("a job's φ range caps the choice, and an impossible budget runs the smallest φ, every frame a miss", async () => {
  const capped = await runJob("capped", {
    sampling: { fps: 5 },
    latencyBudgetMs: 30_000,
    phi: { min: 0, max: 1 },
  });
  assert.ok(capped.lines.every((l) => l.phi === 1));
  // 10 ms: gone before a frame even reaches the worker; frames still all arrive, at D1, the range's smallest.
  const tight = await runJob("tight", { sampling: { fps: 5 }, latencyBudgetMs: 10, phi: { min: 1, max: 2 } });
  assert.equal(tight.state, "completed");
  assert.equal(tight.lines.length, 20);
  assert.ok(tight.lines.every((l) => l.phi === 1));
  assert.deepEqual(tight.manifest.deadline, { budgetMs: 10, misses: 20 });
  assert.equal(tight.job.progress.deadlineMisses, 20);
});
