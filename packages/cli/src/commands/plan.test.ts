// `vdet plan` and `vdet worker --profile-only` through the real CLI: a profile in, worker counts and the chosen φ
// out; live and archive loads from probed clips; clear errors for wrong option combinations and bad profiles.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { makeNumberedHls, makeTestClip } from "@vdet/video/testing";
import { execVdet, runVdet } from "../../testing/vdet.ts";
import { parseFinishBy } from "./plan.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-cli-plan-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// Per-frame times 10, 40, 160 ms for D0, D1, D2; batches of 2 cost 1.5× one frame.
const profile = {
  version: 1,
  key: "test-profile",
  measuredAt: "2026-11-28T00:00:00Z",
  rows: [0, 1, 2].flatMap((phi) =>
    [1, 2].map((batch) => {
      const ms = 10 * 4 ** phi * (batch === 1 ? 1 : 1.5);
      return { phi, batch, p50Ms: ms, p90Ms: ms, samplesMs: [ms] };
    }),
  ),
};
const profilePath = join(dir, "profile.json");
const clip = join(dir, "clip.mp4");

before(async () => {
  writeFileSync(profilePath, JSON.stringify(profile));
  await makeTestClip(clip, 20, 10, 64, 48);
});

const vdet = (...args: string[]) => execVdet([...args], { env: { ...process.env } });

describe("vdet plan", () => {
  test("live: 4 streams at 10 frames/s under a 200 ms budget", async () => {
    const { stdout } = await vdet(
      "plan",
      ...[clip, clip, clip, clip],
      ...["--budget", "200", "--fps", "10", "--profile", profilePath, "--max-batch", "2", "--json"],
    );
    const plan = JSON.parse(stdout);
    assert.equal(plan.requiredFps, 40);
    // A batch may take 100 ms. D0: pairs in 15 ms → 133 frames/s; D1: pairs in 60 ms → 33/s, ×0.7 → 2 workers;
    // D2: one frame takes 160 ms, over the 100 ms.
    const byPhi = Object.fromEntries(plan.rows.map((r: { phi: number }) => [r.phi, r]));
    assert.equal(byPhi[0].workers, 1);
    assert.equal(byPhi[1].workers, 2);
    assert.equal(byPhi[2].workers, null);
    assert.equal(plan.choice.phi, 1);
  });

  test("live: (φ, precision) choices: D1-int8 keeps a load that D1-fp32 cannot, and the plan prints precision", async () => {
    // D1-int8 at half D1's time (20 ms a frame, 30 ms a pair), agreement 0.9 with fp32: utility 40.2 × 0.9 = 36.2,
    // above D0's 34.3. A batch may take 25 ms of the 50 ms budget: D1 fp32 (40 ms) does not fit, D1-int8 does.
    const withInt8 = {
      ...profile,
      rows: [
        ...profile.rows,
        ...[1, 2].map((batch) => {
          const ms = batch === 1 ? 20 : 30;
          return { phi: 1, precision: "int8", batch, p50Ms: ms, p90Ms: ms, samplesMs: [ms] };
        }),
      ],
      agreements: [{ phi: 1, precision: "int8", agreement: 0.9 }],
    };
    const path = join(dir, "profile-int8.json");
    writeFileSync(path, JSON.stringify(withInt8));
    const args = [clip, "--budget", "50", "--fps", "10", "--profile", path, "--max-batch", "2"];
    const plan = JSON.parse((await vdet("plan", ...args, "--json")).stdout);
    assert.deepEqual(
      plan.rows.map((r: { phi: number; precision: string }) => `${r.phi}-${r.precision}`),
      ["0-fp32", "1-int8", "1-fp32", "2-fp32"],
      "rows by utility",
    );
    assert.equal(plan.choice.phi, 1);
    assert.equal(plan.choice.precision, "int8");
    assert.equal(plan.choice.agreement, 0.9);
    const { stdout } = await vdet("plan", ...args);
    assert.match(stdout, /\bprecision\b/);
    assert.match(stdout, /D1\s+int8\s+40\.2\s+0\.900\s+36\.2/);
    assert.match(stdout, /→ D1-int8 with 1 worker of this kind/);
  });

  test("live streams: the recorded segment's wait comes off the budget; a short budget (frame path) has none", async () => {
    const hls = join(dir, "hls");
    mkdirSync(hls);
    const playlist = await makeNumberedHls(hls, {
      frames: 40,
      rate: 10,
      width: 64,
      height: 48,
      segmentSeconds: 1,
    });
    const plan = async (budget: string) =>
      JSON.parse(
        (
          await vdet(
            "plan",
            playlist,
            ...["--budget", budget, "--fps", "10", "--profile", profilePath, "--json"],
          )
        ).stdout,
      );
    const segments = await plan("2500");
    assert.equal(segments.load.captureWaitMs, 1000);
    assert.equal(segments.load.budgetMs, 2500);
    const frames = await plan("1500");
    assert.equal(frames.load.captureWaitMs, 0);
  });

  test("live: a budget no φ keeps says why, without naming an option that was not given", async () => {
    // A batch may take half the 10 ms budget: D0's one frame alone takes 10 ms.
    const { code, stdout } = await runVdet([
      "plan",
      clip,
      ...["--budget", "10", "--fps", "10", "--profile", profilePath, "--max-batch", "2"],
    ]);
    assert.equal(code, 1);
    assert.match(
      stdout,
      /→ no φ of the range fits: even one frame takes longer than a batch may within the budget/,
    );
    assert.doesNotMatch(stdout, /--max-workers/);
  });

  test("archive: 20 s of video sampled at 10 frames/s (200 frames) by a time; --max-workers caps the choice", async () => {
    const args = [
      "--finish-by",
      "20s",
      "--fps",
      "20",
      "--profile",
      profilePath,
      "--max-batch",
      "2",
      "--json",
    ];
    const plan = JSON.parse((await vdet("plan", clip, ...args)).stdout);
    assert.equal(plan.load.frames, 200);
    // ≈10 frames/s (up to 13 if the process is slow to start): D2 pairs in 240 ms → 8.3/s, ×0.9 → 2 workers.
    assert.equal(plan.choice.phi, 2);
    assert.equal(plan.choice.workers, 2);
    const capped = JSON.parse((await vdet("plan", clip, ...args, "--max-workers", "1")).stdout);
    assert.equal(capped.choice.phi, 1);
  });

  test("the text table names each φ and the choice", async () => {
    const { stdout } = await vdet(
      "plan",
      clip,
      "--budget",
      "200",
      "--profile",
      profilePath,
      "--max-batch",
      "2",
    );
    assert.match(stdout, /live: 5 frames\/s, each due within 200 ms; profile test-profile/);
    assert.match(stdout, /D2 .*one frame takes 160 ms, over the 100 ms a batch may take/);
    assert.match(stdout, /→ D1 with 1 worker of this kind/);
  });

  test("wrong combinations and bad profiles are named", async () => {
    await assert.rejects(
      vdet("plan", clip, "--profile", profilePath),
      /give --budget \(live\) or --finish-by/,
    );
    await assert.rejects(
      vdet("plan", clip, "--budget", "100", "--finish-by", "1h", "--profile", profilePath),
      /one of them/,
    );
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"rows": []}');
    await assert.rejects(
      vdet("plan", clip, "--budget", "100", "--profile", bad),
      /bad\.json is not a latency profile/,
    );
    await assert.rejects(
      vdet("plan", clip, "--finish-by", "tomorrow", "--profile", profilePath),
      /--finish-by must be/,
    );
  });

  test("finish-by: durations and ISO times with an offset; the past is refused", () => {
    const now = Date.parse("2026-11-28T12:00:00Z");
    assert.equal(parseFinishBy("90m", now), now + 90 * 60e3);
    assert.equal(parseFinishBy("2d", now), now + 2 * 86400e3);
    assert.equal(parseFinishBy("2026-11-28T14:00:00+01:00", now), now + 3600e3);
    assert.throws(() => parseFinishBy("2026-11-28T13:00:00+01:00", now), /not in the future/);
    assert.throws(() => parseFinishBy("2026-11-28T13:00:00", now), /with an offset/);
  });
});

test("vdet worker --profile-only --json prints the profile the worker plans with", async () => {
  const { stdout } = await vdet(
    "worker",
    ...["--profile-only", "--json", "--simulate-profile", profilePath, "--preload", "0,1"],
  );
  const table = JSON.parse(stdout);
  assert.equal(table.key, "test-profile");
  assert.equal(table.rows.length, 6);
  const text = (await vdet("worker", "--profile-only", "--simulate-profile", profilePath, "--preload", "0"))
    .stdout;
  assert.match(text, /profile test-profile/);
  assert.match(text, /D2\s+2\s+240\.0\s+240\.0\s+120\.0\s+8\.3/);
});
