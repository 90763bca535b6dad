// The φ policy driving a worker's frame queue end to end, with a model runner that sleeps for the profiled time
// instead of computing (a stand-in accelerator): frames arrive over time, batches take that long, and every run's
// time feeds back into the profile as in production. The time is a virtual clock's (see `virtual` below), so a
// loaded machine's late timers cannot inflate the profile or the deadlines: what each test asserts is what the
// policy decides given those timings.

import assert from "node:assert/strict";
import { after, describe, type TestContext, test } from "node:test";
import type { PhiValue } from "@vdet/protocol";
import { LatencyProfile, type ProfileTable } from "@vdet/scheduler";
import { FrameScheduler, type ScheduledResult, type SkippedFrame } from "./frame-scheduler.ts";
import { createSimulatedModelProvider } from "./models.ts";

// A fast accelerator: batch time grows sub-linearly with the batch, doubles per φ step.
const TABLE: ProfileTable = {
  version: 1,
  key: "test-accelerator",
  measuredAt: "2026-11-28T00:00:00Z",
  rows: ([0, 1, 2, 3] as const).flatMap((phi) =>
    [1, 2, 4].map((batch) => {
      const ms = 20 * 2 ** phi * (1 + 0.4 * (batch - 1));
      return { phi, batch, p50Ms: ms, p90Ms: ms, samplesMs: [ms] };
    }),
  ),
};

// Every test runs on a virtual clock (see `virtual`): the runner "sleeps" its profiled time on it, the scheduler
// measures batches and deadlines on it, and frames arrive on it, so a loaded machine cannot change what happens.
const clock = () => Date.now();
const models = createSimulatedModelProvider(TABLE, { now: clock });
after(() => models.close());

const frame = { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) };

function scheduler(maxBatch = 4) {
  return new FrameScheduler({
    models,
    // The simulated runner keeps the table's times: a profile known to hold from the start.
    profile: LatencyProfile.fromTable(TABLE, { measuredNow: true }),
    maxBatch,
    maxDelayMs: 2,
    now: clock,
    elapsed: clock,
  });
}

/**
 * Runs `body` on a virtual clock: setTimeout and Date advance 1 ms at a time, and only once everything due so far
 * has run (every promise chain settles before the next setImmediate; the runner, scheduler and streams do no real
 * I/O). The order of arrivals, batches and deadlines is then the same on any machine, however loaded.
 */
async function virtual<T>(t: TestContext, body: () => Promise<T>): Promise<T> {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: Date.now() });
  const start = Date.now();
  let done = false;
  const run = body().finally(() => {
    done = true;
  });
  run.catch(() => undefined);
  while (!done) {
    await new Promise((r) => setImmediate(r));
    if (done) break;
    if (Date.now() - start > 120_000) throw new Error("the test ran past 120 s of virtual time");
    t.mock.timers.tick(1);
  }
  return run;
}

interface StreamOptions {
  frames: number;
  intervalMs: number;
  budgetMs?: number;
  phiMin?: PhiValue;
  phiMax?: PhiValue;
  group?: string;
  archivePhi?: PhiValue;
}

/** Frames arriving at a fixed rate; each due `budgetMs` after it arrives (archive without a budget). */
async function stream(s: FrameScheduler, o: StreamOptions): Promise<ScheduledResult[]> {
  const results: Promise<ScheduledResult>[] = [];
  for (let i = 0; i < o.frames; i++) {
    if (i > 0 && o.intervalMs > 0) await new Promise((r) => setTimeout(r, o.intervalMs));
    results.push(
      s.submit({
        group: o.group ?? "job",
        deadlineMs: o.budgetMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + o.budgetMs,
        budgetMs: o.budgetMs,
        phiMin: o.phiMin ?? 0,
        phiMax: o.phiMax ?? 3,
        archivePhi: o.archivePhi,
        frame,
        options: {},
      }),
    );
  }
  return Promise.all(results);
}

const hits = (r: ScheduledResult[]) => r.filter((x) => (x.slackMs ?? 0) >= 0).length / r.length;
const phis = (r: ScheduledResult[]) => r.map((x) => x.phi);

describe("frame scheduler with a sleeping runner", () => {
  test("a relaxed budget runs the largest feasible φ and meets every deadline", (t) =>
    virtual(t, async () => {
      // 6.7 frames/s, 600 ms budget: a batch may take 300 ms; D3 in pairs (224 ms) fits and keeps up.
      const s = scheduler();
      const results = await stream(s, { frames: 15, intervalMs: 150, budgetMs: 600 });
      assert.equal(hits(results), 1);
      assert.ok(
        phis(results).filter((p) => p === 3).length >= 13,
        `expected D3 nearly always, got ${phis(results)}`,
      );
    }));

  test("a faster stream than the largest φ can sustain mixes in smaller φ, and meets its deadlines", (t) =>
    virtual(t, async () => {
      // 12.5 frames/s: D3 in batches that fit 300 ms (3 in 288 ms) gives only 10.4 frames/s, so its backlog grows
      // until the smaller φ must clear it.
      const s = scheduler();
      const results = await stream(s, { frames: 40, intervalMs: 80, budgetMs: 600 });
      assert.ok(hits(results) >= 0.95, `hit rate ${hits(results)}`);
      const d3 = phis(results).filter((p) => p === 3).length;
      assert.ok(d3 >= 10 && d3 < 40, `D3 for ${d3} of 40 frames: ${phis(results)}`);
    }));

  test("a tighter budget picks a smaller φ than a looser one on the same stream", (t) =>
    virtual(t, async () => {
      // 100 ms budget: a batch may take 50 ms, so D1 alone (40 ms) is the largest that fits.
      const results = await stream(scheduler(), { frames: 12, intervalMs: 100, budgetMs: 100 });
      assert.ok(hits(results) >= 0.9, `hit rate ${hits(results)}`);
      const counts = new Map<PhiValue, number>();
      for (const p of phis(results)) counts.set(p, (counts.get(p) ?? 0) + 1);
      assert.ok((counts.get(1) ?? 0) >= 8, `expected mostly D1, got ${phis(results)}`);
      assert.ok(!phis(results).some((p) => p === 2 || p === 3), `D2/D3 cannot fit 50 ms: ${phis(results)}`);
    }));

  test("a backlog makes φ step down, and φ steps back up one step at a time after it clears", (t) =>
    virtual(t, async () => {
      const s = scheduler();
      const budgetMs = 500;
      // A steady stream settles at D3; then a burst of 16 frames at once, then the steady stream again.
      const before = await stream(s, { frames: 6, intervalMs: 150, budgetMs });
      const burst = await stream(s, { frames: 16, intervalMs: 0, budgetMs });
      const recovery = await stream(s, { frames: 24, intervalMs: 150, budgetMs });
      assert.equal(before.at(-1)!.phi, 3);
      // D3 cannot clear 16 frames in 500 ms (4 × 352 ms): the burst steps down to small φ as its slack shrinks.
      const burstPhis = phis(burst).map(Number);
      assert.ok(Math.min(...burstPhis) <= 1, `burst ran at ${burstPhis}`);
      assert.ok(hits(burst) >= 0.9, `burst hit rate ${hits(burst)}`);
      // Recovery: φ never jumps by more than one step between batches, and reaches D3 again.
      const sequence = s.batches.slice(-24).map((b) => Number(b.phi));
      for (let i = 1; i < sequence.length; i++) {
        assert.ok(sequence[i] - sequence[i - 1] <= 1, `φ jumped up: ${sequence}`);
      }
      assert.equal(recovery.at(-1)!.phi, 3, `recovered to ${phis(recovery)}`);
      assert.ok(hits(recovery) >= 0.95);
    }));

  test("hysteresis: a stream at the edge of two φ does not flap between them", (t) =>
    virtual(t, async () => {
      const s = scheduler();
      const results = await stream(s, { frames: 30, intervalMs: 60, budgetMs: 330 });
      let changes = 0;
      for (let i = 1; i < s.batches.length; i++) if (s.batches[i].phi !== s.batches[i - 1].phi) changes++;
      assert.ok(changes <= 4, `φ changed ${changes} times in ${s.batches.length} batches: ${phis(results)}`);
      assert.ok(hits(results) >= 0.95, `hit rate ${hits(results)}`);
    }));

  test("the job's φ range is respected at both ends", (t) =>
    virtual(t, async () => {
      // Eight frames 100 ms apart with this budget and φ range.
      const inRange = (budgetMs: number, phiMin: PhiValue, phiMax: PhiValue) =>
        stream(scheduler(), { frames: 8, intervalMs: 100, budgetMs, phiMin, phiMax });
      const roomy = await inRange(2000, 1, 2);
      assert.ok(
        phis(roomy).every((p) => p === 2),
        `a roomy budget runs the range's top, not D3: ${phis(roomy)}`,
      );
      const tight = await inRange(60, 2, 3);
      assert.ok(
        phis(tight).every((p) => p === 2),
        `a tight budget stays at the range's bottom: ${phis(tight)}`,
      );
    }));

  test("an impossible budget: every frame still runs, at the smallest allowed φ, and counts as missed", (t) =>
    virtual(t, async () => {
      const results = await stream(scheduler(), {
        frames: 10,
        intervalMs: 30,
        budgetMs: 15,
        phiMin: 1,
        phiMax: 3,
      });
      assert.equal(results.length, 10);
      assert.ok(
        phis(results).every((p) => p === 1),
        `${phis(results)}`,
      );
      assert.equal(hits(results), 0);
      assert.ok(results.every((r) => r.reason === "late" || r.reason === "squeezed"));
    }));

  test("one job's burst it cannot meet does not make another job's frames late", (t) =>
    virtual(t, async () => {
      const s = scheduler();
      // Job "steady": 10 frames/s over 3 s, 250 ms budget. Job "burst": 40 frames at once with a 100 ms budget, which
      // D0 alone needs ≈ 440 ms for. Its late frames run when the steady job's frames can spare the runner.
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const [steady, burst] = await Promise.all([
        stream(s, { frames: 30, intervalMs: 100, budgetMs: 250, group: "steady" }),
        sleep(500).then(() =>
          stream(s, { frames: 40, intervalMs: 0, budgetMs: 100, group: "burst", phiMax: 0 }),
        ),
      ]);
      assert.equal(burst.length, 40, "every frame of the burst runs");
      assert.ok(hits(burst) < 0.5, `the burst cannot make its budget: hit rate ${hits(burst)}`);
      assert.ok(
        burst.every((r) => r.phi === 0),
        `${phis(burst)}`,
      );
      // In deadline order the burst's 40 frames would hold the runner for ≈ 440 ms: steady frames would miss.
      assert.ok(
        hits(steady) >= 0.95,
        `steady hit rate ${hits(steady)}: ${steady.map((r) => Math.round(r.slackMs!))}`,
      );
    }));

  test("archive frames run at their φ in full batches, and latency frames go first", (t) =>
    virtual(t, async () => {
      const s = scheduler();
      const archive = stream(s, { frames: 12, intervalMs: 0, archivePhi: 2 });
      await new Promise((r) => setTimeout(r, 5));
      const live = await stream(s, { frames: 3, intervalMs: 0, budgetMs: 400, group: "live" });
      const archived = await archive;
      assert.ok(phis(archived).every((p) => p === 2));
      assert.ok(archived.every((r) => r.slackMs === undefined && r.reason === "archive"));
      const archiveBatches = s.batches.filter((b) => b.reason === "archive").map((b) => b.size);
      assert.deepEqual(archiveBatches, [4, 4, 4]);
      // The live frames overtook the archive backlog: at most one archive batch ran before them.
      const firstLive = s.batches.findIndex((b) => b.reason !== "archive");
      assert.ok(firstLive >= 0 && firstLive <= 1, `live batch at position ${firstLive}`);
      assert.equal(hits(live), 1);
    }));
});

/**
 * A live stream at `rate` frames/s on a fixed clock (the frames due by now are submitted at each tick, so a busy
 * event loop delays arrivals but never thins them), each due `budgetMs` after it arrives.
 */
async function overloadStream(
  s: FrameScheduler,
  o: { frames: number; rate: number; budgetMs: number; overload: "drop" | "queue" },
) {
  const results: Promise<{ outcome: ScheduledResult | SkippedFrame; seq: number }>[] = [];
  const started = Date.now();
  for (let i = 0; i < o.frames; ) {
    const due = Math.min(o.frames, Math.floor(((Date.now() - started) * o.rate) / 1000) + 1);
    for (; i < due; i++) {
      const seq = i;
      results.push(
        s
          .submit({
            group: "live",
            deadlineMs: Date.now() + o.budgetMs,
            budgetMs: o.budgetMs,
            phiMin: 0,
            phiMax: 3,
            frame,
            options: {},
            overload: o.overload,
          })
          .then((outcome) => ({ outcome, seq })),
      );
    }
    if (i < o.frames) await new Promise((r) => setTimeout(r, 10));
  }
  return Promise.all(results);
}

describe("overload", () => {
  // D0 runs 4 frames in 44 ms here: at most ≈ 91 frames/s. The stream comes at 200 frames/s (2.2×).
  const capacity = (4 / (20 * (1 + 0.4 * 3))) * 1000;

  test('"drop": frames that can no longer make it are skipped, oldest first; processed frames meet their deadlines', (t) =>
    virtual(t, async () => {
      const s = scheduler();
      const rate = 200;
      const out = await overloadStream(s, { frames: 2000, rate, budgetMs: 1000, overload: "drop" });
      const processed = out.flatMap((o) => ("skipped" in o.outcome ? [] : [o.outcome]));
      const skipped = out.filter((o) => "skipped" in o.outcome);
      assert.ok(skipped.length > 0, `nothing was skipped at ${rate / capacity}× capacity`);
      assert.equal(s.skipped, skipped.length);
      for (const o of skipped)
        assert.match((o.outcome as SkippedFrame).skipped, /^overload: .* ms left .*D0 needs/);
      // Never the newest: the stream's last frame is run.
      assert.ok(!("skipped" in out.at(-1)!.outcome), "the newest frame was skipped");
      assert.ok(
        hits(processed) >= 0.99,
        `processed hit rate ${hits(processed)}: ${processed.map((r) => Math.round(r.slackMs!))}`,
      );
      // Shedding keeps the runner busy at D0 in full batches, its highest throughput, rather than running one late
      // frame at a time: of the frames that came while the stream overran it (all but the last budget's worth, which
      // drain after the stream ends), it processes the share its capacity allows, within 10 %.
      const steady = out.slice(0, out.length - rate);
      const share = steady.filter((o) => !("skipped" in o.outcome)).length / steady.length;
      const capacityShare = capacity / rate;
      assert.ok(
        Math.abs(share - capacityShare) <= 0.1 * capacityShare,
        `processed share ${share.toFixed(3)}, capacity share ${capacityShare.toFixed(3)}; batch sizes ${s.batches.map((b) => b.size).join("")}`,
      );
      const full = s.batches.filter((b) => b.size === 4).length / s.batches.length;
      assert.ok(
        full >= 0.9,
        `${(full * 100).toFixed(0)} % of batches full: ${s.batches.map((b) => b.size).join("")}`,
      );
    }));

  test('"drop": a slowdown the profile has absorbed is not counted twice', (t) =>
    virtual(t, async () => {
      // The worker's profile says D0 takes 20 ms for one frame; the machine now takes twice that (a second job, a
      // CPU hog): the runner sleeps the slow table's times.
      const slow = createSimulatedModelProvider(
        {
          ...TABLE,
          rows: TABLE.rows.map((r) => ({
            ...r,
            p50Ms: 2 * r.p50Ms,
            p90Ms: 2 * r.p90Ms,
            samplesMs: [2 * r.p50Ms],
          })),
        },
        { now: clock },
      );
      t.after(() => slow.close());
      const s = new FrameScheduler({
        models: slow,
        profile: LatencyProfile.fromTable(TABLE),
        maxBatch: 4,
        maxDelayMs: 2,
        now: clock,
        elapsed: clock,
      });
      const submit = (slackMs: number) =>
        s.submit({
          group: "live",
          deadlineMs: Date.now() + slackMs,
          budgetMs: 100,
          phiMin: 0,
          phiMax: 0,
          frame,
          options: {},
          overload: "drop",
        });
      // Three lone frames: the first overruns its prediction twice over, and the profile learns the new speed.
      for (let i = 0; i < 3; i++) await submit(100);
      assert.ok(s.policy.currentPhi("live") === 0);
      // A frame 30 ms into its 100 ms budget: 40 ms for the run plus 10 ms spare make it. Counting the first
      // overrun on top of the prediction that has absorbed it (80 + 10 ms) would skip it.
      const [older, newest] = await Promise.all([submit(70), submit(100)]);
      assert.ok(!("skipped" in older), `skipped: ${"skipped" in older ? older.skipped : ""}`);
      assert.ok(!("skipped" in newest));
      assert.ok(
        (older as ScheduledResult).slackMs! >= 0,
        `late by ${-(older as ScheduledResult).slackMs!} ms`,
      );
    }));

  test('"queue": every frame runs, however late (the backlog grows past the budget)', (t) =>
    virtual(t, async () => {
      const s = scheduler();
      const out = await overloadStream(s, { frames: 300, rate: 200, budgetMs: 1000, overload: "queue" });
      assert.equal(s.skipped, 0);
      const processed = out.map((o) => o.outcome as ScheduledResult);
      assert.ok(processed.every((r) => r.detections !== undefined));
      assert.ok(
        hits(processed) < 0.9,
        `hit rate ${hits(processed)}: the stream should have outrun the runner`,
      );
    }));
});
