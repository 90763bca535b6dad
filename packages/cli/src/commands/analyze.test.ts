// `vdet analyze` through the real CLI: a job folder (tracks.jsonl + manifest.json for normalized zones) and a MOT
// result file in, events.jsonl and analytics.json out; bad zones files fail with the shape and the problem.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { BOW_TIE_ZONES } from "@vdet/analytics/testing";
import { execVdet } from "../../testing/vdet.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-cli-analyze-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// A 1000×500 video; car 1 drives down across y = 250 through the zone x 400–600; person 2 stays left of it.
const jobDir = join(dir, "job");
mkdirSync(jobDir);
const lines = Array.from({ length: 20 }, (_, k) => ({
  frame: k,
  ptsMs: k * 500,
  phi: 0,
  detections: [
    { box: [480, 100 + k * 20, 520, 140 + k * 20], score: 0.9, class: 3, label: "car", trackId: 1 },
    { box: [100, 300, 130, 380], score: 0.8, class: 1, label: "person", trackId: 2 },
  ],
}));
writeFileSync(join(jobDir, "tracks.jsonl"), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
writeFileSync(join(jobDir, "manifest.json"), JSON.stringify({ video: { width: 1000, height: 500 } }));
const zonesPath = join(dir, "zones.json");
writeFileSync(
  zonesPath,
  JSON.stringify({
    coordinates: "normalized",
    inertiaFrames: 2,
    zones: [
      {
        name: "lane",
        polygon: [
          [0.4, 0.3],
          [0.6, 0.3],
          [0.6, 0.7],
          [0.4, 0.7],
        ],
      },
    ],
    lines: [{ name: "stop", from: [0, 0.5], to: [1, 0.5], classes: ["car"] }],
  }),
);

test("analyze a job folder: events.jsonl and analytics.json beside the tracks, a table on stdout", async () => {
  const { stdout } = await execVdet(["analyze", "--tracks", jobDir, "--zones", zonesPath]);
  assert.match(stdout, /zone lane\s+car\s+1\s+1\s+1\s+0\s+1/);
  assert.match(stdout, /line stop\s+car\s+1\s+0/);
  const events = readFileSync(join(jobDir, "events.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  // Anchor y = 140 + 20k: inside 150 … 350 from k = 1 to 10, below the line (y > 250) from k = 6.
  assert.deepEqual(
    events.map((e) => [e.type, e.zone ?? e.line, e.trackId, e.frame]),
    [
      ["enter", "lane", 1, 1],
      ["cross-in", "stop", 1, 6],
      ["exit", "lane", 1, 11],
    ],
  );
  const summary = JSON.parse(readFileSync(join(jobDir, "analytics.json"), "utf8"));
  assert.equal(summary.zones[0].classes.car.dwell.maxMs, 5000);
  assert.deepEqual(summary.lines[0].total, { in: 1, out: 0 });
});

test("analyze a MOT result file with --json and --out", async () => {
  const mot = join(dir, "res.txt");
  writeFileSync(
    mot,
    Array.from({ length: 10 }, (_, k) => `${k + 1},4,${100 + k * 10},200,20,50,1,-1,-1,-1\n`).join(""),
  );
  const zones = join(dir, "px.json");
  writeFileSync(
    zones,
    JSON.stringify({ inertiaFrames: 1, lines: [{ name: "x150", from: [150, 0], to: [150, 500] }] }),
  );
  const out = join(dir, "mot-out");
  const { stdout } = await execVdet([
    "analyze",
    "--tracks",
    mot,
    "--zones",
    zones,
    "--json",
    "--out",
    out,
    "--fps",
    "10",
  ]);
  const summary = JSON.parse(stdout);
  // The line points down the image, so its right side on screen is −x: moving towards +x is "out". The anchor
  // x = 110 + 10k is on the line in frame 5 (which does not count) and past it from frame 6.
  assert.deepEqual(summary.lines[0].classes, { person: { in: 0, out: 1 } });
  const events = readFileSync(join(out, "events.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    events.map((e) => [e.type, e.frame, e.ptsMs]),
    [["cross-out", 6, 500]],
  );
});

test("a bad zones file fails with the shape and the problem", async () => {
  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify(BOW_TIE_ZONES));
  await assert.rejects(
    execVdet(["analyze", "--tracks", jobDir, "--zones", bad]),
    /zone "bow" is not a simple polygon/,
  );
  const normalized = join(dir, "norm.json");
  writeFileSync(
    normalized,
    JSON.stringify({ coordinates: "normalized", lines: [{ name: "l", from: [0, 0.5], to: [1, 0.5] }] }),
  );
  const bare = join(dir, "bare.jsonl");
  writeFileSync(bare, `${JSON.stringify(lines[0])}\n`);
  await assert.rejects(
    execVdet(["analyze", "--tracks", bare, "--zones", normalized]),
    /need the video's width and height \(give --size WxH/,
  );
});
