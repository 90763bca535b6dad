// `vdet run` through the real command: an --out that is an existing file or a missing input fails at once with a
// clear message and creates nothing (it used to hang); the pipeline itself fails such a job instead of retrying
// the output forever; a run offline says which weights ran, and why there are no boxes.

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runLocal } from "@vdet/pipeline";
import { makeTestClip } from "@vdet/video/testing";
import { runVdet } from "../../testing/vdet.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-cli-run-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const offline = { VDET_OFFLINE: "1", VDET_HOME: join(dir, "home") };

test("vdet run --out EXISTING_FILE fails at once, naming the output", { timeout: 60_000 }, async () => {
  const clip = join(dir, "clip.mp4");
  await makeTestClip(clip, 1, 4, 64, 48);
  const file = join(dir, "existing.txt");
  writeFileSync(file, "keep me\n");
  const { code, stdout, stderr } = await runVdet(["run", clip, "--out", file, "--max-frames", "2"], {
    env: offline,
  });
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.match(stderr, /output .*existing\.txt is an existing file; --out takes a directory/);
  assert.equal(readFileSync(file, "utf8"), "keep me\n", "the file is left alone");
});

test("vdet run on a missing input says so and creates no results folder", { timeout: 60_000 }, async () => {
  const out = join(dir, "never");
  const { code, stdout, stderr } = await runVdet(["run", join(dir, "nope.mp4"), "--out", out], {
    env: offline,
  });
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.match(stderr, /input .*nope\.mp4 does not exist/);
  assert.doesNotMatch(stderr, /producer/);
  assert.equal(existsSync(out), false);
});

test("the pipeline fails a job whose output is a file, at once, naming the output", {
  timeout: 120_000,
}, async () => {
  const clip = join(dir, "clip2.mp4");
  await makeTestClip(clip, 1, 4, 64, 48);
  const file = join(dir, "a-file");
  writeFileSync(file, "");
  const { job } = await runLocal({ spec: { input: clip, output: file, sampling: { everyNth: 1 } } });
  assert.equal(job.state, "failed");
  assert.equal(job.errors[0]?.stage, "aggregator");
  assert.match(job.errors[0]?.message ?? "", /cannot write to .*a-file: it is a file, not a directory/);
});

test("offline (with --refine): seeded weights said in the banner, the summary line, the files and the manifest", {
  timeout: 120_000,
}, async () => {
  const clip = join(dir, "clip3.mp4");
  await makeTestClip(clip, 1, 4, 64, 48);
  const out = join(dir, "offline-out");
  const { code, stdout, stderr } = await runVdet(
    ["run", clip, "--out", out, "--every-nth", "1", "--refine"],
    {
      env: offline,
    },
  );
  assert.equal(code, 0, stderr);
  assert.match(stderr, /weights: untrained \(seeded\) for d0: offline/);
  assert.match(stderr, /For real detections: run `vdet models pull d0`/);
  assert.match(stdout, /^completed: 4 frames written, 0 failed, .* φ 0, weights: untrained \(seeded\)$/m);
  assert.match(stdout, /tracks\.jsonl .*: 4 frame lines, 0 detections/);
  assert.match(
    stdout,
    /no boxes: the weights were untrained \(seeded\)\. For real ones, run `vdet models pull d0`/,
  );
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  assert.equal(manifest.models[0].weights, "untrained (seeded, seed 0)");
  // --refine sets the job spec's `refine`: the aggregator wrote and listed the refined tracks, as for a job
  // submitted to a deployment (test/pipeline-refine.test.ts).
  assert.equal(manifest.spec.refine, true);
  assert.ok(manifest.files.includes("tracks.refined.mot.txt"), JSON.stringify(manifest.files));
  assert.match(stdout, /tracks\.refined\.mot\.txt .*: MOTChallenge rows after the offline refinement/);
});

test("vdet run --refine with --budget is refused before anything runs, naming refine", {
  timeout: 60_000,
}, async () => {
  const clip = join(dir, "clip5.mp4");
  await makeTestClip(clip, 1, 4, 64, 48);
  const out = join(dir, "refine-latency-out");
  const { code, stderr } = await runVdet(["run", clip, "--out", out, "--budget", "100", "--refine"], {
    env: offline,
  });
  assert.notEqual(code, 0);
  assert.match(stderr, /refine: refine is for archive jobs/);
  assert.equal(existsSync(join(out, "manifest.json")), false);
});

test("latency mode: misses in the summary line; --fail-on-miss exits 2", { timeout: 180_000 }, async () => {
  const clip = join(dir, "clip4.mp4");
  await makeTestClip(clip, 1, 4, 64, 48);
  // A 10 ms budget at D0 on a CPU: every frame misses it.
  const { code, stdout, stderr } = await runVdet(
    [
      "run",
      clip,
      "--out",
      join(dir, "latency-out"),
      "--every-nth",
      "1",
      "--budget",
      "10",
      "--max-phi",
      "0",
      "--fail-on-miss",
    ],
    { env: offline },
  );
  assert.equal(code, 2, stderr);
  const m = /^completed: 4 frames written, 0 failed, (\d+) missed the 10 ms budget/m.exec(stdout);
  assert.ok(m, stdout);
  assert.ok(Number(m[1]) > 0);
});

test("vdet run --zones with a bad zones file fails before anything starts, naming every problem", {
  timeout: 60_000,
}, async () => {
  const clip = join(dir, "zones-clip.mp4");
  await makeTestClip(clip, 1, 4, 64, 48);
  const zones = join(dir, "bad-zones.json");
  writeFileSync(
    zones,
    JSON.stringify({
      zones: [
        {
          name: "bow",
          polygon: [
            [0, 0],
            [10, 10],
            [10, 0],
            [0, 10],
          ],
        },
      ],
      lines: [{ name: "dot", from: [1, 1], to: [1, 1] }],
    }),
  );
  const out = join(dir, "zones-never");
  const { code, stdout, stderr } = await runVdet(["run", clip, "--out", out, "--zones", zones], {
    env: offline,
  });
  assert.equal(code, 1);
  assert.equal(stdout, "");
  assert.match(stderr, /bad-zones\.json is not a valid zones file/);
  assert.match(stderr, /zones\.0\.polygon: zone "bow" is not a simple polygon/);
  assert.match(stderr, /lines\.0\.to: a line's from and to must differ \(zero-length line\)/);
  assert.equal(existsSync(out), false, "no results folder");
  const missing = await runVdet(["run", clip, "--out", out, "--zones", join(dir, "nope.json")], {
    env: offline,
  });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /--zones .*nope\.json: ENOENT/);
});
