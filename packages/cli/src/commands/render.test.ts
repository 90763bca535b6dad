// `vdet render` through the real command: a results directory and a clip in, an MP4 with every source frame
// out, the result as JSON; and the progress line's rate and ETA.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { decodeImage } from "@vdet/image";
import { LINE_COLOR, ZONE_COLOR } from "@vdet/render";
import { probeVideo } from "@vdet/video";
import { makeTestClip } from "@vdet/video/testing";
import { Command } from "commander";
import { rateAndEta } from "../progress.ts";
import { registerRenderCommand } from "./render.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-cli-render-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("vdet render --tracks DIR --video CLIP --out FILE --json", async () => {
  const clip = join(dir, "clip.mp4");
  await makeTestClip(clip, 1, 10, 160, 120);
  const line = (frame: number) =>
    JSON.stringify({
      frame,
      ptsMs: frame * 500,
      phi: 0,
      detections: [{ box: [10, 10, 60, 60], score: 0.9, class: 1, label: "person", trackId: 1 }],
    });
  writeFileSync(join(dir, "tracks.jsonl"), `${line(0)}\n${line(1)}\n`);
  const out = join(dir, "annotated.mp4");
  const program = new Command("vdet").exitOverride();
  registerRenderCommand(program);
  const printed: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => printed.push(String(chunk)) > 0) as typeof process.stdout.write;
  try {
    await program.parseAsync([
      "node",
      "vdet",
      "render",
      "--tracks",
      dir,
      "--video",
      clip,
      "--out",
      out,
      "--json",
    ]);
  } finally {
    process.stdout.write = write;
  }
  const result = JSON.parse(printed.join(""));
  assert.equal(result.frames, 10);
  assert.equal(result.output, out);
  assert.equal((await probeVideo(out)).frameCount, 10);
});

test("progress: rate from the work done, ETA from what is left", () => {
  assert.deepEqual(rateAndEta("frames", 50, 200, 10_000), { rate: "5.0 frames/s", eta: "0:30" });
  assert.deepEqual(rateAndEta("frames", 600, 1200, 20_000), { rate: "30 frames/s", eta: "0:20" });
  assert.deepEqual(rateAndEta("frames", 0, 100, 1000).eta, "?");
  assert.deepEqual(rateAndEta("frames", 10, null, 1000).eta, "?");
  assert.deepEqual(rateAndEta("frames", 100, 100, 1000).eta, "0:00");
});

test("vdet render --zones FILE --out FRAME.png --at S: one frame with the zone and the line drawn", async () => {
  const clip = join(dir, "zones-clip.mp4");
  await makeTestClip(clip, 2, 10, 160, 120);
  // One track moving right through the zone and across the line.
  const lines = Array.from({ length: 20 }, (_, frame) =>
    JSON.stringify({
      frame,
      ptsMs: frame * 100,
      phi: 0,
      detections: [
        { box: [20 + frame * 6, 40, 40 + frame * 6, 80], score: 0.9, class: 1, label: "person", trackId: 1 },
      ],
    }),
  );
  const tracks = join(dir, "zones-tracks.jsonl");
  writeFileSync(tracks, `${lines.join("\n")}\n`);
  const zones = join(dir, "zones.json");
  writeFileSync(
    zones,
    JSON.stringify({
      zones: [
        {
          name: "left",
          polygon: [
            [10, 10],
            [60, 10],
            [60, 110],
            [10, 110],
          ],
        },
      ],
      lines: [{ name: "gate", from: [100, 0], to: [100, 120] }],
    }),
  );
  const out = join(dir, "frame.png");
  const program = new Command("vdet").exitOverride();
  registerRenderCommand(program);
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await program.parseAsync(
      ["render", "--tracks", tracks, "--video", clip, "--zones", zones, "--out", out, "--at", "1.5"],
      { from: "user" },
    );
  } finally {
    process.stdout.write = write;
  }
  const image = decodeImage(readFileSync(out));
  assert.deepEqual([image.width, image.height], [160, 120]);
  const pixel = (x: number, y: number) => [...image.data.subarray((y * 160 + x) * 3, (y * 160 + x) * 3 + 3)];
  assert.deepEqual(pixel(60, 100), [...ZONE_COLOR], "the zone's right edge");
  assert.deepEqual(pixel(100, 110), [...LINE_COLOR], "the line");
  // --at without a PNG, and a bad zones file, are refused before anything is decoded.
  await assert.rejects(
    program.parseAsync(
      ["render", "--tracks", tracks, "--video", clip, "--out", join(dir, "x.mp4"), "--at", "1"],
      {
        from: "user",
      },
    ),
    /--at writes one frame: give --out x.png/,
  );
  writeFileSync(zones, JSON.stringify({ lines: [{ name: "flat", from: [1, 1], to: [1, 1] }] }));
  await assert.rejects(
    program.parseAsync(["render", "--tracks", tracks, "--video", clip, "--zones", zones, "--out", out], {
      from: "user",
    }),
    /zero-length line/,
  );
});
