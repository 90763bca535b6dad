import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PhiValue } from "@vdet/protocol";
import { chooseArchivePhi } from "./archive-policy.ts";
import { LatencyProfile } from "./latency-profile.ts";
import { type PendingFrame, PhiPolicy } from "./phi-policy.ts";

// Batch times (ms) per φ for batch sizes 1, 2, 4: each φ about twice the one below.
const TIMES: Record<number, [number, number, number]> = {
  0: [20, 30, 50],
  1: [40, 60, 100],
  2: [80, 120, 200],
  3: [160, 240, 400],
};

function profile(): LatencyProfile {
  const p = new LatencyProfile();
  for (const [phi, times] of Object.entries(TIMES)) {
    [1, 2, 4].forEach((b, i) => {
      p.observe(Number(phi) as PhiValue, b, times[i]);
    });
  }
  return p;
}

function frame(nowMs: number, slackMs: number, budgetMs = 1000, range: [PhiValue, PhiValue] = [0, 3]) {
  return {
    group: "job",
    deadlineMs: nowMs + slackMs,
    budgetMs,
    phiMin: range[0],
    phiMax: range[1],
  } satisfies PendingFrame;
}

describe("LatencyProfile", () => {
  it("interpolates between measured batch sizes and extrapolates per frame above them", () => {
    const p = profile();
    assert.equal(p.predict(1, 3), 80);
    assert.equal(p.predict(1, 8), 200);
    assert.equal(p.predict(5, 1), undefined);
    assert.deepEqual(p.phis(), [0, 1, 2, 3]);
  });

  it("follows live measurements with a moving percentile", () => {
    const p = new LatencyProfile({ window: 10, percentile: 0.9 });
    for (let i = 0; i < 10; i++) p.observe(0, 1, 20);
    assert.equal(p.predict(0, 1), 20);
    // The machine gets busy: after a window of slower runs the prediction is the new speed.
    for (let i = 0; i < 10; i++) p.observe(0, 1, 50);
    assert.equal(p.predict(0, 1), 50);
  });

  it("finds the batch size with the best throughput, counting an adjustment to each prediction", () => {
    const p = profile();
    // D0: 20 / 30 / 40 (interpolated) / 50 ms for 1…4 frames.
    assert.equal(p.throughput(0, 4)?.batch, 4);
    assert.equal(p.throughput(0, 4, { maxBatchMs: 45 })?.batch, 3);
    assert.equal(p.throughput(0, 4, { maxBatchMs: 10 }), undefined);
    // A worker that saw batches of four overrun twice over counts 100 ms for them: three frames are now best.
    const adjusted = p.throughput(0, 4, { adjust: (b, ms) => (b === 4 ? 2 * ms : ms) });
    assert.deepEqual([adjusted?.batch, adjusted?.batchMs], [3, 40]);
    // Ranked by median times, the guards only bound what fits: a size with a long tail but the cheapest typical
    // frame wins (two frames: median 40 ms, p90 100 ms; four: 100 ms every time).
    const tails = new LatencyProfile();
    for (const ms of [40, 40, 40, 40, 40, 40, 40, 40, 100, 100]) tails.observe(0, 2, ms);
    for (let i = 0; i < 10; i++) tails.observe(0, 4, 100);
    assert.equal(tails.throughput(0, 4)?.batch, 4);
    const typical = tails.throughput(0, 4, { rankBy: "typical" });
    assert.deepEqual([typical?.batch, typical?.batchMs, typical?.framesPerSecond], [2, 100, 50]);
    assert.equal(
      tails.throughput(0, 4, { rankBy: "typical", maxBatchMs: 90 }),
      undefined,
      "p90s bound the fit",
    );
  });

  it("tells how far a prediction has grown since a snapshot, per batch size", () => {
    const p = new LatencyProfile({ window: 10, percentile: 0.9 });
    for (let i = 0; i < 10; i++) {
      p.observe(0, 1, 20);
      p.observe(0, 4, 50);
    }
    const then = p.snapshot();
    // The machine slows down twice over; only batches of one run again.
    for (let i = 0; i < 10; i++) p.observe(0, 1, 40);
    assert.equal(p.growthSince(then, 0, 1), 2);
    // Batches of four did not run since: their prediction moved with the machine (loadShift), twice over too.
    assert.equal(p.growthSince(then, 0, 4), 2);
    // Sizes between measured ones follow the nearest (the larger on a tie).
    assert.equal(p.growthSince(then, 0, 2), 2);
    assert.equal(p.growthSince(new Map(), 0, 1), 1, "no row in the snapshot: no growth known");
  });

  it("moves the rows not run lately with the rows that ran, and re-levels a stale row on its next run", () => {
    // A profile measured together (as a stored or start-up profile is): D0 at 1, 2 and 4 frames, D1 at 1.
    const table = new LatencyProfile();
    for (const [phi, b, ms] of [
      [0, 1, 20],
      [0, 2, 36],
      [0, 4, 60],
      [1, 1, 40],
    ] as const)
      for (let i = 0; i < 10; i++) table.observe(phi, b, ms);
    const p = LatencyProfile.fromTable(table.toTable("k"));
    for (const [phi, b] of [
      [0, 1],
      [0, 2],
      [0, 4],
      [1, 1],
    ] as const) {
      assert.equal(p.loadShift(phi, b), 1, "nothing has moved yet");
      assert.equal(p.isStale(phi, b), false);
    }
    // The machine gets three times slower and only single frames at D0 run (a shedding job).
    for (let i = 0; i < 12; i++) p.observe(0, 1, 60);
    assert.equal(p.predict(0, 1), 60);
    assert.equal(p.loadShift(0, 4), 3);
    assert.equal(p.predict(0, 4), 180, "batches of four move with the machine, not stay at 60 ms");
    assert.equal(p.predict(1, 1), 120, "so does another φ");
    assert.equal(p.predict(0, 3), 144, "interpolated between the moved rows");
    assert.ok(p.isStale(0, 4) && p.isStale(0, 2) && p.isStale(1, 1));
    assert.equal(p.isStale(0, 1), false, "a row run lately is never stale");
    // Under this load a batch of four is cheaper per frame than the shift says: its first run re-levels the row
    // (the old samples move to the new run's level) instead of being one sample among ten old ones.
    p.observe(0, 4, 120);
    assert.equal(p.predict(0, 4), 120);
    assert.equal(p.isStale(0, 4), false);
    // A small move is no staleness: 20 % slower.
    const q = LatencyProfile.fromTable(table.toTable("k"));
    for (let i = 0; i < 12; i++) q.observe(0, 1, 24);
    assert.ok(Math.abs(q.predict(0, 4)! - 72) < 1e-9);
    assert.equal(q.isStale(0, 4), false);
    q.observe(0, 4, 100);
    assert.equal(
      q.predict(0, 4),
      60,
      "not stale: the run joins its ten old samples, which still set the p90",
    );
    assert.throws(() => new LatencyProfile({ staleShift: 1 }), /staleShift/);
    assert.throws(() => new LatencyProfile({ recentRuns: 0 }), /recentRuns/);
  });

  it("round-trips through its table", () => {
    const table = profile().toTable("k");
    const again = LatencyProfile.fromTable(table);
    assert.equal(again.predict(2, 4), 200);
    assert.equal(table.rows.length, 12);
  });
});

describe("PhiPolicy", () => {
  it("chooses the largest φ whose batch fits the slack and half the budget", () => {
    const now = 1_000_000;
    // Budget 1000: half is 500, slack 1000: D3 (160 ms) fits.
    assert.equal(new PhiPolicy(profile(), { maxBatch: 4 }).decide([frame(now, 1000)], now).phi, 3);
    // Budget 250: a batch may take 125 ms, so D2 (80 ms) but not D3.
    const d = new PhiPolicy(profile(), { maxBatch: 4 }).decide([frame(now, 250, 250)], now);
    assert.equal(d.phi, 2);
    assert.equal(d.reason, "deadline");
    // Slack of 170 ms left of a 1000 ms budget, 10 % of which stays spare: 70 ms, so D1 (40 ms) only.
    assert.equal(new PhiPolicy(profile(), { maxBatch: 4 }).decide([frame(now, 170)], now).phi, 1);
  });

  it("runs a job at its smallest φ while the overload shedder drops its frames, and only that job", () => {
    const now = 1_000_000;
    const policy = new PhiPolicy(profile(), { maxBatch: 4, arrivalWindowMs: 2000 });
    const other = { ...frame(now, 1000), group: "other" };
    // D3 fits a lone frame with a roomy budget…
    assert.equal(policy.decide([frame(now, 1000)], now).phi, 3);
    // …but once a frame of the job was shed, each larger φ would cost more frames: D0 until the window passes.
    policy.noteShed("job", now);
    const shedding = policy.decide([frame(now + 10, 1000)], now + 10);
    assert.equal(shedding.phi, 0);
    assert.equal(shedding.reason, "catch-up");
    assert.equal(policy.decide([other], now + 10).phi, 3, "another job is not affected");
    assert.equal(policy.decide([frame(now + 1900, 1000)], now + 1900).phi, 0);
    // After the window the job steps up again, one φ at a time as usual (hysteresis).
    const after = Array.from({ length: 8 }, (_, i) => {
      const t = now + 2100 + i * 10;
      return policy.decide([frame(t, 1000)], t).phi;
    });
    assert.equal(after[0], 0);
    assert.ok(Number(after.at(-1)) > 0, `after the window: ${after.join(" ")}`);
  });

  it("while a job sheds, its batches are sized for throughput within its slack, not half its budget", () => {
    const now = 1_000_000;
    const shedding = (p: LatencyProfile, slackMs: number, budgetMs: number) => {
      const policy = new PhiPolicy(p, { maxBatch: 4 });
      policy.noteShed("job", now);
      const waiting = Array.from({ length: 6 }, () => frame(now, slackMs, budgetMs, [0, 0]));
      return policy.decide(waiting, now);
    };
    // D0 runs 4 frames in 50 ms (12.5 ms each), 3 in 40, 2 in 30, 1 in 20: the more, the cheaper per frame.
    const d = shedding(profile(), 200, 200);
    assert.deepEqual([d.phi, d.frames.length, d.reason], [0, 4, "catch-up"]);
    // Half the budget (90 ms: 45) does not bound it (it bounds a job that is not shedding: three frames, 40 ms).
    assert.equal(shedding(profile(), 90, 90).frames.length, 4);
    const calm = new PhiPolicy(profile(), { maxBatch: 4 });
    assert.equal(
      calm.decide(
        Array.from({ length: 6 }, () => frame(now, 90, 90, [0, 0])),
        now,
      ).frames.length,
      3,
    );
    // The head's slack less 10 % of the budget spare bounds it: 45 − 9 = 36 ms fits two frames (30 ms).
    assert.equal(shedding(profile(), 45, 90).frames.length, 2);
    // Not the largest batch that squeezes in: where four frames cost more per frame than two, two run.
    const flat = profile();
    for (let i = 0; i < 40; i++) flat.observe(0, 4, 100);
    assert.equal(shedding(flat, 400, 400).frames.length, 2);
  });

  it("while a job sheds, a batch size the machine has moved away from runs again, with the newest frames", () => {
    const now = 1_000_000;
    const measured = new LatencyProfile();
    for (const [b, ms] of [
      [1, 20],
      [2, 36],
      [4, 60],
    ] as const)
      for (let i = 0; i < 10; i++) measured.observe(0, b, ms);
    const p = LatencyProfile.fromTable(measured.toTable("k"));
    // Three times slower, and only single frames ran: batches of two and four are stale (predicted 108 and 180 ms).
    for (let i = 0; i < 12; i++) p.observe(0, 1, 60);
    const policy = new PhiPolicy(p, { maxBatch: 4 });
    policy.noteShed("job", now);
    // Budget 1000 (100 spare); the oldest frames are near their deadlines, the newest fresh.
    const waiting = [150, 300, 500, 700, 850, 950].map((slack) => frame(now, slack, 1000, [0, 0]));
    const d = policy.decide(waiting, now);
    assert.deepEqual([d.phi, d.frames, d.reason], [0, [2, 3, 4, 5], "explore"]);
    assert.equal(d.predictedMs, 180);
    // With the worker's overruns counted (three times over), four frames no longer surely fit their slack (540 ms
    // against 400): the frame scheduler would trim them to a size that is not stale. Two do (324 against 750).
    const cautious = new PhiPolicy(p, { maxBatch: 4, adjust: (_phi, _batch, ms) => 3 * ms });
    cautious.noteShed("job", now);
    assert.deepEqual(cautious.decide(waiting, now).frames, [4, 5]);
    // It ran in 120 ms, cheaper per frame than the shift said: the row is current again; two frames still stale.
    p.observe(0, 4, 120);
    const next = policy.decide(waiting, now);
    assert.deepEqual([next.frames, next.reason], [[4, 5], "explore"]);
    p.observe(0, 2, 80);
    // Nothing stale: throughput-sized batches from the head, now four frames (30 ms each against 40 and 60).
    const settled = policy.decide(
      [700, 800, 850, 900, 950].map((slack) => frame(now, slack, 1000, [0, 0])),
      now,
    );
    assert.deepEqual([settled.frames, settled.reason], [[0, 1, 2, 3], "catch-up"]);
    // A stale size runs only where it fits the newest frames' slack less the spare share: here it does not.
    const tight = LatencyProfile.fromTable(measured.toTable("k"));
    for (let i = 0; i < 12; i++) tight.observe(0, 1, 60);
    const tightPolicy = new PhiPolicy(tight, { maxBatch: 4 });
    tightPolicy.noteShed("job", now);
    const late = tightPolicy.decide(
      [150, 180, 200, 205].map((slack) => frame(now, slack, 1000, [0, 0])),
      now,
    );
    assert.notEqual(late.reason, "explore");
  });

  it("a job on a profile not yet confirmed by a run starts at its smallest φ, then steps up", () => {
    const now = 1_000_000;
    const cached = profile().toTable("k");
    // Budget 1000: D3 (160 ms) fits. A profile measured just now is trusted at once.
    assert.equal(
      new PhiPolicy(LatencyProfile.fromTable(cached, { measuredNow: true }), { maxBatch: 4 }).decide(
        [frame(now, 1000)],
        now,
      ).phi,
      3,
    );
    // A cached one is not: the machine may be busier than when it was measured. The job starts at D0 …
    const p = LatencyProfile.fromTable(cached);
    assert.equal(p.confirmed, false);
    const policy = new PhiPolicy(p, { maxBatch: 4 });
    const first = policy.decide([frame(now, 1000)], now);
    assert.deepEqual([first.phi, first.reason], [0, "deadline"]);
    // … and, as its runs confirm the profile, steps up one φ at a time (three batches per step).
    p.observe(0, 1, 20);
    assert.equal(p.confirmed, true);
    const phis = Array.from({ length: 10 }, (_, i) => {
      const t = now + 100 * (i + 1);
      const d = policy.decide([frame(t, 1000)], t);
      p.observe(d.phi, 1, TIMES[Number(d.phi)][0]);
      return d.phi;
    });
    assert.deepEqual(phis, [0, 0, 1, 1, 1, 2, 2, 2, 3, 3]);
  });

  it("runs a larger φ only while the smallest would be busy at most 80 % of the time at the arrival rate", () => {
    const now = 1_000_000;
    // D0 runs 80 frames/s at its best (4 in 50 ms). Arrivals over the last 2 s at `fps`, then one fresh frame.
    const phiAt = (fps: number, maxUtilization?: number) => {
      const policy = new PhiPolicy(profile(), { maxBatch: 4, maxUtilization });
      for (let t = now - 2000; t < now; t += 1000 / fps) policy.noteArrival(t);
      return policy.decide([frame(now, 1000)], now).phi;
    };
    assert.ok(Number(phiAt(30)) > 0, "busy 38 %: a larger φ");
    // At 70 frames/s D0 is busy 88 % of the time: D2's batch would still pass the drain check (its backlog falls
    // under one batch in time), but a queue that full never settles.
    assert.equal(phiAt(70), 0);
    assert.ok(Number(phiAt(70, 0.9)) > 0, "allowed up to 90 %: a larger φ again");
  });

  it("chooses among (φ, precision) pairs by utility: D1-int8 where D1-fp32 misses and D0-fp32 is worth less", () => {
    // D1 also built as int8: about half D1-fp32's time. Utility: COCO AP × agreement with fp32 (from its build).
    const withInt8 = (agreement?: number) => {
      const p = profile();
      [22, 33, 55].forEach((ms, i) => {
        p.observe(1, [1, 2, 4][i], ms, "int8");
      });
      if (agreement !== undefined) p.setAgreement({ phi: 1, precision: "int8" }, agreement);
      return p;
    };
    const now = 0;
    const pick = (p: LatencyProfile, budgetMs: number) => {
      const d = new PhiPolicy(p, { maxBatch: 4 }).decide([frame(now, budgetMs, budgetMs, [0, 1])], now);
      return `D${d.phi}-${d.precision}`;
    };
    // Budget 100: a batch may take 50 ms, D1-fp32 (40 ms) fits and is worth most (40.2 against 38.2 for int8).
    assert.equal(pick(withInt8(0.95), 100), "D1-fp32");
    // Budget 60: 30 ms. D1-fp32 does not fit; D1-int8 (22 ms, 40.2 × 0.95 = 38.2) beats D0-fp32 (20 ms, 34.3).
    assert.equal(pick(withInt8(0.95), 60), "D1-int8");
    // The same deadline without the int8 build falls to D0-fp32.
    assert.equal(pick(profile(), 60), "D0-fp32");
    // An int8 build that agrees poorly (40.2 × 0.5 = 20.1 < 34.3), or whose agreement is unknown, is not preferred.
    assert.equal(pick(withInt8(0.5), 60), "D0-fp32");
    assert.equal(pick(withInt8(), 60), "D0-fp32");
    // The choice, its utility and the agreement survive the profile's table (the cached profile, `vdet plan`).
    const again = LatencyProfile.fromTable(withInt8(0.95).toTable("k"), { measuredNow: true });
    assert.equal(pick(again, 60), "D1-int8");
    assert.deepEqual(
      again.choices().map((c) => `${c.phi}-${c.precision}`),
      ["0-fp32", "1-int8", "1-fp32", "2-fp32", "3-fp32"],
    );
  });

  it("batches every waiting frame when the batch still fits", () => {
    const now = 0;
    const pending = [frame(now, 900), frame(now, 950), frame(now, 980)];
    const d = new PhiPolicy(profile(), { maxBatch: 4 }).decide(pending, now);
    assert.equal(d.phi, 3);
    assert.deepEqual(d.frames, [0, 1, 2]);
    assert.equal(d.predictedMisses, 0);
  });

  it("steps φ down under backlog and back up, one step at a time, when it clears", () => {
    const policy = new PhiPolicy(profile(), { maxBatch: 4, stepUpAfter: 3 });
    let now = 0;
    assert.equal(policy.decide([frame(now, 1000)], now).phi, 3);
    // Backlog: eight frames due within 100-240 ms. A larger φ for the first ones would leave the rest late.
    const backlog = Array.from({ length: 8 }, (_, i) => frame(now, 100 + 20 * i));
    const down = policy.decide(backlog, now);
    assert.ok(Number(down.phi) < 3, `stepped down to D${down.phi}`);
    assert.equal(down.frames.length, 4);
    // The backlog is gone: single frames with their full budget again. φ climbs one step per three batches.
    const seen: PhiValue[] = [];
    for (let i = 0; i < 12; i++) {
      now += 100;
      seen.push(policy.decide([frame(now, 1000)], now).phi);
    }
    const start = Number(down.phi);
    assert.equal(seen[0], down.phi, "no immediate jump back up");
    for (let i = 1; i < seen.length; i++) assert.ok(Number(seen[i]) - Number(seen[i - 1]) <= 1, `${seen}`);
    assert.equal(seen.at(-1), 3, `recovered to D3: ${seen}`);
    assert.ok(start < 3);
  });

  it("does not flap when the best φ alternates between batches", () => {
    const policy = new PhiPolicy(profile(), { maxBatch: 4, stepUpAfter: 3 });
    let now = 0;
    const chosen: PhiValue[] = [];
    for (let i = 0; i < 10; i++) {
      now += 100;
      // Odd batches allow D2 (slack 250, 150 ms after the 10 % spare), even batches only D1 (slack 170).
      chosen.push(policy.decide([frame(now, i % 2 === 0 ? 170 : 250)], now).phi);
    }
    const changes = chosen.slice(1).filter((phi, i) => phi !== chosen[i]).length;
    assert.equal(changes, 0, `φ changed ${changes} times: ${chosen}`);
    assert.ok(chosen.every((phi) => phi === 1));
  });

  it("keeps to each job's φ range", () => {
    const now = 0;
    assert.equal(
      new PhiPolicy(profile(), { maxBatch: 4 }).decide([frame(now, 1000, 1000, [0, 1])], now).phi,
      1,
    );
    assert.equal(
      new PhiPolicy(profile(), { maxBatch: 4 }).decide([frame(now, 1000, 1000, [2, 2])], now).phi,
      2,
    );
    // Frames of a job that only allows D0 never join a D3 batch.
    const mixed = [frame(now, 900), { ...frame(now, 950, 1000, [0, 0]), group: "other" }];
    const d = new PhiPolicy(profile(), { maxBatch: 4 }).decide(mixed, now);
    assert.equal(d.phi, 3);
    assert.deepEqual(d.frames, [0]);
  });

  it("uses the smallest φ and counts misses when the budget is impossible", () => {
    const now = 0;
    const pending = [frame(now, 10, 10), frame(now, 10, 10), frame(now, 10, 10)];
    const d = new PhiPolicy(profile(), { maxBatch: 4 }).decide(pending, now);
    assert.equal(d.phi, 0);
    assert.equal(d.reason, "late");
    assert.equal(d.frames.length, 3, "the late frames still run, in one batch");
    assert.equal(d.predictedMisses, 3);
    // Within reach of D0 alone but no φ fits half the budget: smallest φ, squeezed.
    const squeezed = new PhiPolicy(profile(), { maxBatch: 4 }).decide([frame(now, 30, 30)], now);
    assert.equal(squeezed.phi, 0);
    assert.equal(squeezed.reason, "squeezed");
    assert.equal(squeezed.predictedMisses, 0);
  });

  it("falls back to the smaller φ even when load made its recent runs slower than a larger φ's", () => {
    // A busy machine: D1's recent runs were slowed (a CPU hog, a late timer) past D2's older measurements. At the
    // same precision a larger φ is never really faster: the fallback stays the range's smallest φ.
    const p = profile();
    for (let i = 0; i < 32; i++) p.observe(1, 1, 120);
    const now = 0;
    const d = new PhiPolicy(p, { maxBatch: 4 }).decide(
      [frame(now, 10, 10, [1, 2]), frame(now, 10, 10, [1, 2])],
      now,
    );
    assert.equal(d.phi, 1);
    assert.equal(d.reason, "late");
    const squeezed = new PhiPolicy(p, { maxBatch: 4 }).decide([frame(now, 130, 130, [1, 2])], now);
    assert.equal(squeezed.phi, 1);
  });

  it("lets one job's late frames wait while another job's frames need the runner, then catches them up", () => {
    const now = 0;
    const late = Array.from({ length: 4 }, () => ({ ...frame(now, 10), group: "behind" }));
    const other = (slackMs: number) => ({ ...frame(now, slackMs), group: "other" });
    // The other job's frames are still in time but not by much: running the late ones first would make them late.
    const tight = new PhiPolicy(profile(), { maxBatch: 4 }).decide(
      [...late, other(140), other(140), other(140)],
      now,
    );
    assert.deepEqual(tight.frames, [4, 5, 6]);
    assert.equal(tight.phi, 0, "catching up comes before accuracy");
    assert.equal(tight.reason, "catch-up");
    assert.equal(tight.predictedMisses, 0);
    // The other job's frames have room to spare: the late ones run first, in one batch at the smallest φ.
    const roomy = new PhiPolicy(profile(), { maxBatch: 4 }).decide([other(900), other(950), ...late], now);
    assert.deepEqual(roomy.frames, [2, 3, 4, 5]);
    assert.equal(roomy.phi, 0);
    assert.equal(roomy.reason, "late");
    assert.equal(roomy.predictedMisses, 4);
    // Within one job, output is in frame order: its late frames go first, at the smallest φ, whatever the rest.
    const ownLive = [1, 2].map(() => ({ ...frame(now, 60), group: "behind" }));
    const own = new PhiPolicy(profile(), { maxBatch: 4 }).decide([...ownLive, ...late.slice(0, 2)], now);
    assert.deepEqual(own.frames, [2, 3, 0, 1]);
    assert.equal(own.reason, "late");
  });

  it("runs a larger φ only while the smallest can clear the backlog it leaves, arrivals included", () => {
    const decideAt = (perSecond: number, waiting: number) => {
      const policy = new PhiPolicy(profile(), { maxBatch: 4 });
      for (let t = 0; t <= 1000; t += 1000 / perSecond) policy.noteArrival(t);
      const pending = Array.from({ length: waiting }, (_, i) => frame(1000, 1000 - i * 10));
      return policy.decide(pending, 1000);
    };
    // 20 frames/s: D0 (4 frames in 50 ms, 80/s) clears whatever D3 leaves behind.
    assert.equal(decideAt(20, 8).phi, 3);
    // 60 frames/s with 8 waiting: a D3 batch of 4 (400 ms) leaves ~28 frames, more than D0 clears in half the
    // budget; D2 leaves few enough.
    assert.equal(decideAt(60, 8).phi, 2);
    // 90 frames/s: more than even D0 can take; nothing fits, the smallest φ runs full batches.
    const over = decideAt(90, 8);
    assert.equal(over.phi, 0);
    assert.equal(over.reason, "squeezed");
    assert.equal(over.frames.length, 4);
  });

  it("estimates the arrival rate over the last stretch of the stream, falling when it stops", () => {
    const policy = new PhiPolicy(profile(), { maxBatch: 1 });
    for (let t = 0; t <= 1000; t += 50) policy.noteArrival(t);
    assert.ok(Math.abs(policy.arrivalRate(1010) - 20) < 1.5, `${policy.arrivalRate(1010)}`);
    assert.ok(policy.arrivalRate(1500) < 15);
    assert.equal(policy.arrivalRate(5000), 0, "arrivals older than the window are forgotten");
    // A chunk of 8 frames arriving at once is a backlog, not 8 frames per millisecond.
    const chunked = new PhiPolicy(profile(), { maxBatch: 1 });
    for (let i = 0; i < 8; i++) chunked.noteArrival(10_000 + i);
    assert.equal(chunked.arrivalRate(10_010), 16);
    // Chunks of 8 every 800 ms (10 frames/s) read as about 10 frames/s once the window is full.
    for (let c = 1; c <= 5; c++) for (let i = 0; i < 8; i++) chunked.noteArrival(10_000 + 800 * c + i);
    const steady = chunked.arrivalRate(14_010);
    assert.ok(steady >= 8 && steady <= 12.5, `${steady}`);
  });

  it("runs archive frames at their φ, in full batches, after latency frames", () => {
    const now = 0;
    const archive = (phi: PhiValue): PendingFrame => ({
      group: "a",
      deadlineMs: Number.POSITIVE_INFINITY,
      phiMin: 0,
      phiMax: 3,
      archivePhi: phi,
    });
    const pending = [archive(2), archive(2), frame(now, 1000), archive(1), archive(2)];
    const policy = new PhiPolicy(profile(), { maxBatch: 4 });
    const first = policy.decide(pending, now);
    assert.deepEqual(first.frames, [2]);
    const rest = [archive(2), archive(2), archive(1), archive(2)];
    const second = policy.decide(rest, now);
    assert.equal(second.reason, "archive");
    assert.equal(second.phi, 2);
    assert.deepEqual(second.frames, [0, 1, 3]);
  });
});

describe("chooseArchivePhi", () => {
  const base = { phiMin: 0, phiMax: 3, profile: profile(), maxBatch: 4, nowMs: 0 } as const;

  it("runs the φ the job asks for when it sets no throughput target", () => {
    assert.equal(chooseArchivePhi({ ...base, workers: 1 }).phi, 3);
  });

  it("chooses the largest φ that keeps a frames-per-second target with the live workers", () => {
    // Per worker at batch 4: D3 10/s, D2 20/s, D1 40/s, D0 80/s; planned at 90%.
    assert.equal(chooseArchivePhi({ ...base, workers: 1, target: { framesPerSecond: 30 } }).phi, 1);
    assert.equal(chooseArchivePhi({ ...base, workers: 2, target: { framesPerSecond: 30 } }).phi, 2);
    assert.equal(chooseArchivePhi({ ...base, workers: 4, target: { framesPerSecond: 30 } }).phi, 3);
  });

  it("turns a finish-by time into a rate over the remaining frames", () => {
    const choice = chooseArchivePhi({
      ...base,
      workers: 1,
      target: { finishByMs: 100_000 },
      remainingFrames: 1500,
    });
    assert.equal(choice.requiredFps, 15);
    assert.equal(choice.phi, 2);
    const late = chooseArchivePhi({ ...base, workers: 1, target: { framesPerSecond: 1000 } });
    assert.equal(late.phi, 0);
    assert.equal(late.meetsTarget, false);
  });
});
